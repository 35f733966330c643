"""The store lock: timeouts, killed holders, one process with several Registry objects and
threads, and refusing to run without real OS locks."""

from __future__ import annotations

import errno
import fcntl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import WORKERS, Cli, run_mreg

from mreg import InvalidInput, LockTimeout, Registry, StoreError
from mreg.store.lock import StoreLock


@pytest.fixture
def held(registry: Registry) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the store lock (until the test ends or kills it)."""
    proc = subprocess.Popen(
        [sys.executable, str(WORKERS), "hold-lock", str(registry.root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "locked\n"
    yield proc
    proc.kill()
    proc.communicate(timeout=30)


@pytest.fixture
def with_version(registry: Registry, model_file: Path) -> Registry:
    registry.create_model_version("m", model_file)
    return registry


@pytest.mark.slow
@pytest.mark.parametrize("how", ["option", "environment"])
def test_timeout_exits_75_naming_the_lock_file(
    with_version: Registry, held: subprocess.Popen[str], isolated: Path, how: str
) -> None:
    args, env = (["--lock-timeout", "0.2"], {}) if how == "option" else ([], {"MREG_LOCK_TIMEOUT": "0.2"})
    result = run_mreg(*args, "alias", "set", "m", "champion", "1", cwd=isolated, env=env)
    assert result.returncode == 75
    assert result.stderr.startswith("error: timed out after 0.2s waiting for the store lock .mreg/lock")
    assert "try again" in result.stderr and "--lock-timeout" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert with_version.get_aliases("m") == {}


@pytest.mark.slow
def test_readers_take_no_lock(with_version: Registry, held: subprocess.Popen[str], isolated: Path) -> None:
    result = run_mreg("--lock-timeout", "0", "resolve", "m/1", "--field", "version", cwd=isolated)
    assert (result.returncode, result.stdout) == (0, "1\n")


@pytest.mark.slow
def test_a_holder_killed_with_sigkill_never_blocks_the_next_writer(
    with_version: Registry, held: subprocess.Popen[str]
) -> None:
    with pytest.raises(LockTimeout):
        Registry(with_version.root, lock_timeout=0).set_registered_model_alias("m", "champion", 1)
    held.kill()
    held.wait(timeout=30)
    # The kernel dropped the flock with the process: no wait at all is needed.
    Registry(with_version.root, lock_timeout=0).set_registered_model_alias("m", "champion", 1)
    assert with_version.get_aliases("m") == {"champion": 1}


def test_two_registries_in_one_process_share_the_lock(with_version: Registry) -> None:
    other = Registry(with_version.root, lock_timeout=0)
    with with_version.store.locked():
        other.set_registered_model_alias("m", "champion", 1)  # re-entrant: no deadlock
        with other.store.locked():
            other.delete_registered_model_alias("m", "champion")
    assert other.get_aliases("m") == {}


def test_threads_wait_for_each_other(with_version: Registry) -> None:
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with Registry(with_version.root).store.locked():
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(30)
    try:
        with pytest.raises(LockTimeout):
            Registry(with_version.root, lock_timeout=0.05).set_registered_model_alias("m", "a", 1)
    finally:
        release.set()
        holder.join()
    Registry(with_version.root, lock_timeout=0).set_registered_model_alias("m", "a", 1)
    assert with_version.get_aliases("m") == {"a": 1}


def test_threads_with_their_own_registries_lose_nothing(registry: Registry, isolated: Path) -> None:
    def register(worker: int) -> list[int]:
        own = Registry(registry.root)
        numbers = []
        for i in range(10):
            source = isolated / f"t{worker}-{i}.bin"
            source.write_text(f"{worker} {i}")
            numbers.append(own.create_model_version("threads", source).version)
        return numbers

    results: list[list[int]] = []
    threads = [threading.Thread(target=lambda w=w: results.append(register(w))) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(n for ns in results for n in ns) == list(range(1, 81))
    assert registry.fsck() == []


@pytest.mark.parametrize("value", ["abc", "-1", "nan", "inf", "1e999"])
def test_bad_timeout_in_the_environment(
    registry: Registry, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("MREG_LOCK_TIMEOUT", value)
    with pytest.raises(StoreError, match="MREG_LOCK_TIMEOUT"):
        Registry(registry.root)


@pytest.mark.parametrize("value", [-1, float("nan"), float("inf"), True, "5"])
def test_bad_timeout_in_python(registry: Registry, value: object) -> None:
    with pytest.raises(InvalidInput, match="lock timeout"):
        Registry(registry.root, lock_timeout=value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--lock-timeout", "nan"], {}, "lock timeout must be a finite number"),
        (["--lock-timeout", "-1"], {}, "--lock-timeout"),
        ([], {"MREG_LOCK_TIMEOUT": "soon"}, "--lock-timeout"),
    ],
)
def test_bad_timeout_on_the_command_line(
    cli: Cli, with_version: Registry, args: list[str], env: dict[str, str], message: str
) -> None:
    result = cli(*args, "alias", "set", "m", "champion", "1", env=env)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def _no_flock(code: int) -> object:
    def flock(fd: int, operation: int) -> None:
        raise OSError(code, "simulated: " + errno.errorcode[code])

    return flock


@pytest.mark.parametrize("code", [errno.ENOSYS, errno.ENOLCK, errno.EOPNOTSUPP])
def test_refuses_to_run_without_os_locks(
    with_version: Registry, model_file: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli, code: int
) -> None:
    """filelock (fallback_to_soft=False) lets flock's error through instead of silently using a
    lock file that a killed process would leave behind; mreg turns it into a refusal."""
    real_flock = fcntl.flock
    monkeypatch.setattr(fcntl, "flock", _no_flock(code))
    with pytest.raises(StoreError, match=r"does not support OS file locks.*refuses to run"):
        with_version.set_registered_model_alias("m", "champion", 1)
    with pytest.raises(StoreError, match="does not support OS file locks"):
        with_version.create_model_version("m", model_file)  # the objects pin, too
    result = cli("alias", "set", "m", "champion", "1")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot lock .mreg/lock: the filesystem does not support")
    monkeypatch.setattr(fcntl, "flock", real_flock)
    # Nothing changed, and the lock is usable again (the failed attempt released what it held).
    assert with_version.get_aliases("m") == {}
    assert [mv.version for mv in with_version.list_model_versions("m")] == [1]
    with_version.set_registered_model_alias("m", "champion", 1)


def test_other_lock_errors_are_not_swallowed(with_version: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fcntl, "flock", _no_flock(errno.EIO))
    with pytest.raises(OSError, match="EIO"):
        with_version.set_registered_model_alias("m", "champion", 1)


def test_the_timeout_error_names_the_file_and_what_to_do(registry: Registry) -> None:
    lock = StoreLock(registry.store.layout.lock, 1.5)
    message = str(lock._timeout_error())
    assert "1.5s" in message and "lock" in message and "MREG_LOCK_TIMEOUT" in message


def test_a_huge_timeout_means_wait_as_long_as_it_takes(registry: Registry, model_file: Path) -> None:
    slow = Registry(registry.root, lock_timeout=1e300)
    assert slow.create_model_version("m", model_file).version == 1
