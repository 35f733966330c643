"""Faults during push and pull, with real processes, a real S3 protocol server on loopback (moto)
and folder remotes: SIGKILL at seeded random moments, Ctrl-C, the server going away, a server
that never answers, a disk filling up. After each: no partial object under its final name on the
remote (listed and hashed), nothing partial in ``objects/``, fsck finds no error, and a re-run
completes."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import Cli
from remote_helpers import Bucket, S3Server, free_port

from mreg import Registry

pytest_plugins = ["remote_helpers"]  # the s3_server and bucket fixtures

BIG = 200 * 2**20  # the size the issue names for the kills during a push
MEDIUM = 104 * 2**20  # large enough for a multipart upload (s3fs: from 100 MiB), cheaper to move
MANY = 1000
MREG = [sys.executable, "-m", "mreg"]
SETTLE = 60.0  # seconds a command may take to finish before the test gives up (a hang guard)


# ------------------------------------------------------------------------------------ sources


@pytest.fixture(scope="session")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 MiB of random bytes, made once."""
    path = tmp_path_factory.mktemp("big") / "big.bin"
    with open(path, "wb") as out:
        for _ in range(BIG // (8 * 2**20)):
            out.write(os.urandom(8 * 2**20))
    return path


@pytest.fixture(scope="session")
def medium_file(big_file: Path) -> Path:
    """The first 104 MiB of the big file."""
    path = big_file.with_name("medium.bin")
    with open(big_file, "rb") as src, open(path, "wb") as out:
        out.write(src.read(MEDIUM))
    return path


@pytest.fixture(scope="session")
def many_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of 1,000 small files, all different."""
    folder = tmp_path_factory.mktemp("many") / "many"
    for i in range(MANY):
        sub = folder / f"part{i // 100}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i:04}.bin").write_bytes(f"file {i}\n".encode() + os.urandom(512 + i))
    return folder


def _template(base: Path, source: Path) -> Path:
    project = base / "project"
    project.mkdir()
    Registry.init(project).create_model_version("model", source)
    return project


@pytest.fixture(scope="session")
def big_template(tmp_path_factory: pytest.TempPathFactory, big_file: Path) -> Path:
    return _template(tmp_path_factory.mktemp("big-template"), big_file)


@pytest.fixture(scope="session")
def medium_template(tmp_path_factory: pytest.TempPathFactory, medium_file: Path) -> Path:
    return _template(tmp_path_factory.mktemp("medium-template"), medium_file)


@pytest.fixture(scope="session")
def many_template(tmp_path_factory: pytest.TempPathFactory, many_folder: Path) -> Path:
    return _template(tmp_path_factory.mktemp("many-template"), many_folder)


def clone_project(template: Path, dest: Path) -> Registry:
    """The template's store at ``dest``; its blobs hard-linked (read-only, never written in place),
    so that a test costs no copy of 200 MiB."""

    def link(src: str, dst: str) -> None:
        if "/objects/" in src:
            os.link(src, dst)
        else:
            shutil.copy2(src, dst)

    shutil.copytree(template / ".mreg", dest / ".mreg", copy_function=link)
    return Registry(dest)


# ------------------------------------------------------------------------------------- checks


def blob_digests(registry: Registry) -> set[str]:
    return {f.sha256 for v in registry.search_model_versions() for f in v.artifact.files}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(2**20):
            digest.update(chunk)
    return digest.hexdigest()


def local_objects(registry: Registry) -> set[str]:
    """The blobs in objects/, each checked to hash to its name: nothing partial is there."""
    found = set()
    for path in (registry.root / "objects" / "sha256").glob("*/*"):
        digest = path.parent.name + path.name
        assert file_sha256(path) == digest, f"partial or corrupt blob {path}"
        found.add(digest)
    return found


def assert_fsck_clean(registry: Registry, *, allow_missing: bool = False) -> None:
    """No error: leftovers (a temp file a kill left in tmp/) are debris, not damage; with
    ``allow_missing``, blobs not pulled yet are not damage either."""
    errors = [f for f in registry.fsck() if f.severity == "error"]
    if allow_missing:
        errors = [f for f in errors if f.kind != "missing-object"]
    assert errors == [], errors


class FolderRemote:
    """A folder remote and what it holds."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = str(root)
        self.checked: set[str] = set()

    def objects(self, registry: Registry) -> set[str]:
        """Every object under its final name, each hashed (once: objects never change)."""
        found = set()
        base = self.root / "objects" / "sha256"
        for path in base.glob("*/*") if base.is_dir() else ():
            if path.name.startswith(".tmp-"):
                continue  # an upload in flight when the process died: never taken for an object
            digest = path.parent.name + path.name
            if digest not in self.checked:
                assert file_sha256(path) == digest, f"partial object under its final name: {path}"
                self.checked.add(digest)
            found.add(digest)
        return found

    def in_flight(self) -> bool:
        """Whether an upload's temp name is there."""
        return any((self.root / "objects").rglob(".tmp-*")) if (self.root / "objects").is_dir() else False

    def started(self) -> bool:
        """Whether a push has begun to write: a temp name, or an object (temp names of small
        files live for microseconds, objects stay)."""
        return (self.root / "objects").is_dir() and any((self.root / "objects").rglob("*"))


class S3Remote:
    """A bucket remote and what it holds."""

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket
        self.url = bucket.url
        self.client = bucket.server.client()
        self.checked: set[str] = set()

    def objects(self, registry: Registry) -> set[str]:
        """Every object under its final name (one listing), each checked once: one of a single
        PUT by the MD5 the server computed of what it stored (its ETag) against the MD5 of the
        local blob, which hashes to its name; one of a multipart upload downloaded and hashed."""
        found = set()
        prefix = "models/objects/sha256/"
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket.name, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                digest = item["Key"][len(prefix) :].replace("/", "")
                etag = item["ETag"].strip('"')
                if digest not in self.checked and "-" not in etag:
                    blob = registry.root / "objects" / "sha256" / digest[:2] / digest[2:]
                    local = hashlib.md5(blob.read_bytes(), usedforsecurity=False).hexdigest()
                    assert (etag, item["Size"]) == (local, blob.stat().st_size), (
                        f"partial object {item['Key']}"
                    )
                    self.checked.add(digest)
                if digest not in self.checked:
                    body = self.client.get_object(Bucket=self.bucket.name, Key=item["Key"])["Body"]
                    hashed = hashlib.sha256()
                    while chunk := body.read(2**20):
                        hashed.update(chunk)
                    assert hashed.hexdigest() == digest, f"partial object under its final name: {item['Key']}"
                    self.checked.add(digest)
                found.add(digest)
        return found

    def in_flight(self) -> bool:
        uploads = self.client.list_multipart_uploads(Bucket=self.bucket.name).get("Uploads", [])
        return bool(uploads) or bool(self.client.list_objects_v2(Bucket=self.bucket.name).get("KeyCount"))

    started = in_flight


Remote = FolderRemote | S3Remote


def make_remote(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Remote:
    if kind == "folder":
        return FolderRemote(tmp_path / "share")
    return S3Remote(request.getfixturevalue("bucket"))


# ------------------------------------------------------------------------------------ running


def start(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*MREG, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = start(*args, cwd=cwd, env=env)
    out, err = proc.communicate(timeout=SETTLE)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str]) -> bool:
    """Poll until ``condition`` holds (True) or the process has ended (False)."""
    deadline = time.monotonic() + SETTLE
    while proc.poll() is None and time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def one_error_line(stderr: str) -> str:
    """The one ``error:`` line (a summary of what was done may come before it); no traceback."""
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    return errors[0]


def kill_moments(
    seed: int, started: Callable[[], bool], count: int, spread: float
) -> Iterator[tuple[bool, float]]:
    """Seeded kill moments: the first measured from the process start (it may land while the
    command is still starting), the others from the moment the transfer is seen under way."""
    rng = random.Random(seed)
    yield False, rng.uniform(0.2, 1.5)
    for _ in range(count - 1):
        yield True, rng.uniform(0.0, spread)


def kill_during(
    args: tuple[str, ...],
    cwd: Path,
    moments: Iterator[tuple[bool, float]],
    started: Callable[[], bool],
    after: Callable[[], None],
) -> int:
    """SIGKILL ``mreg ARGS`` at each moment, calling ``after`` once it is dead; how many kills hit
    the transfer under way (the process running, past the start of the transfer)."""
    hits = 0
    for anchored, delay in moments:
        proc = start(*args, cwd=cwd)
        under_way = wait_for(started, proc) if anchored else True
        time.sleep(delay)
        running = proc.poll() is None
        proc.kill()
        proc.communicate(timeout=SETTLE)
        hits += int(anchored and under_way and running)
        after()
    return hits


# ------------------------------------------------------------------------------ SIGKILL: push


@pytest.mark.parametrize("kind", ["s3", "folder"])
@pytest.mark.parametrize("which", ["big", "many"])
def test_kill_during_push_leaves_no_partial_object(
    which: str, kind: str, isolated: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    remote = make_remote(kind, request, tmp_path)
    template = request.getfixturevalue(f"{which}_template")
    registry = clone_project(template, isolated)
    registry.add_remote("team", remote.url, default=True)
    wanted = blob_digests(registry)
    seed = {"big": 1301, "many": 1302}[which] + (0 if isinstance(remote, S3Remote) else 10)

    def after() -> None:
        assert remote.objects(registry) <= wanted  # each one complete: hashed to its name
        assert_fsck_clean(registry)
        assert local_objects(registry) == wanted

    # Fewer kills on S3: each moves its bytes through the server in this process (CPU).
    # A folder takes 200 MiB or 1,000 files in a fraction of a second: kill soon after the start.
    spread = 0.05 if kind == "folder" else 0.6
    moments = kill_moments(seed, remote.started, 2 if kind == "s3" else 3, spread)
    hits = kill_during(("push",), isolated, moments, remote.started, after)
    assert hits >= 1, "no kill landed while the transfer was under way"
    result = run("push", cwd=isolated)
    assert result.returncode == 0, result.stderr
    assert remote.objects(registry) == wanted
    result = run("fsck", "--remote", cwd=isolated)
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------------------ SIGKILL: pull


@pytest.mark.parametrize(("kind", "which"), [("s3", "medium"), ("folder", "big"), ("folder", "many")])
def test_kill_during_pull_leaves_nothing_partial(
    kind: str, which: str, isolated: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    remote = make_remote(kind, request, tmp_path)
    template = request.getfixturevalue(f"{which}_template")
    registry = clone_project(template, isolated)
    registry.add_remote("team", remote.url, default=True)
    registry.push().check()
    wanted = blob_digests(registry)
    shutil.rmtree(registry.root / "objects" / "sha256")
    shutil.rmtree(registry.root / "cache", ignore_errors=True)
    tmp = registry.root / "tmp"

    def fetching() -> bool:
        """A temp file in tmp/, or a blob in objects/ (those of small files stay)."""
        objects = registry.root / "objects" / "sha256"
        return (tmp.is_dir() and any(p.name != "pin" for p in tmp.iterdir())) or (
            objects.is_dir() and any(objects.iterdir())
        )

    def after() -> None:
        assert local_objects(registry) <= wanted  # each one complete: hashed to its name
        assert_fsck_clean(registry, allow_missing=True)

    seed = {"medium": 1310, "big": 1311, "many": 1312}[which]
    # Many small files from a folder arrive within a fraction of a second: kill soon after.
    moments = kill_moments(seed, fetching, 2 if kind == "s3" else 3, 0.05 if kind == "folder" else 0.5)
    hits = kill_during(("pull",), isolated, moments, fetching, after)
    assert hits >= 1, "no kill landed while the transfer was under way"
    result = run("pull", cwd=isolated)
    assert result.returncode == 0, result.stderr
    assert local_objects(registry) == wanted
    assert run("gc", "--yes", cwd=isolated).returncode == 0  # what the kills left in tmp/
    assert [p.name for p in tmp.iterdir()] in ([], ["pin"])
    errors = [f for f in registry.fsck(full=True) if f.severity in ("error", "warning")]
    assert errors == [], errors


# --------------------------------------------------------------------------------- Ctrl-C


@pytest.mark.parametrize(
    ("kind", "command", "which"),
    [
        ("s3", "push", "medium"),
        ("folder", "push", "many"),
        ("s3", "pull", "medium"),
        ("folder", "pull", "many"),
    ],
)
def test_ctrl_c_during_a_transfer(
    kind: str, command: str, which: str, isolated: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Exit 130 with one line, the workers stopped at their next chunk: on S3 the multipart
    upload in flight is aborted, not left to finish; on a folder no temp name is left; a pull
    leaves nothing in objects/ or tmp/."""
    remote = make_remote(kind, request, tmp_path)
    registry = clone_project(request.getfixturevalue(f"{which}_template"), isolated)
    registry.add_remote("team", remote.url, default=True)
    wanted = blob_digests(registry)
    tmp = registry.root / "tmp"
    if command == "pull":
        registry.push().check()
        shutil.rmtree(registry.root / "objects" / "sha256")

    def started() -> bool:
        if command == "push":
            return remote.started()
        objects = registry.root / "objects" / "sha256"
        return (tmp.is_dir() and any(p.name != "pin" for p in tmp.iterdir())) or (
            objects.is_dir() and any(objects.iterdir())
        )

    proc = start(command, cwd=isolated)
    assert wait_for(started, proc), proc.communicate()
    time.sleep(random.Random(1320).uniform(0.0, 0.3))
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=SETTLE)
    assert (proc.returncode, err) == (130, "error: interrupted\n"), (out, err)
    if command == "push":
        assert remote.objects(registry) <= wanted
        if isinstance(remote, S3Remote):
            uploads = remote.client.list_multipart_uploads(Bucket=remote.bucket.name).get("Uploads", [])
            assert uploads == []
        else:
            assert not remote.in_flight()
    else:
        assert local_objects(registry) <= wanted
        assert [p.name for p in tmp.iterdir()] in ([], ["pin"])
    assert_fsck_clean(registry, allow_missing=command == "pull")
    result = run(command, cwd=isolated)
    assert result.returncode == 0, result.stderr
    assert (remote.objects(registry) if command == "push" else local_objects(registry)) == wanted


# ------------------------------------------------------------------------ the server goes away


class MotoProcess:
    """moto's S3 server in a process of its own, so that it can go away as a real server does
    (every connection reset at once) and come back on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        code = (
            "import sys\n"
            "from moto.server import ThreadedMotoServer\n"
            f"ThreadedMotoServer(ip_address='127.0.0.1', port={self.port}, verbose=False).start()\n"
            "print('ready', flush=True)\n"
            "sys.stdin.read()\n"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.communicate(timeout=SETTLE)
            self.proc = None


@pytest.fixture
def moto_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoProcess]:
    server = MotoProcess()
    for name, value in S3Server(server.endpoint, None).env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.mark.parametrize("command", ["push", "pull"])
def test_server_going_away_mid_transfer(
    command: str, moto_process: MotoProcess, medium_template: Path, isolated: Path
) -> None:
    """One ``error:`` line naming the remote and the object, exit 1, nothing partial on either
    side; after the server is back, a re-run completes."""
    registry = clone_project(medium_template, isolated)
    bucket = Bucket("gone", S3Server(moto_process.endpoint, None))
    bucket.server.client().create_bucket(Bucket=bucket.name)
    remote = S3Remote(bucket)
    registry.add_remote("team", remote.url, default=True)
    (digest,) = wanted = blob_digests(registry)
    tmp = registry.root / "tmp"
    if command == "pull":
        registry.push().check()
        shutil.rmtree(registry.root / "objects" / "sha256")

    def started() -> bool:
        if command == "push":
            return remote.in_flight()
        return tmp.is_dir() and any(p.name != "pin" for p in tmp.iterdir())

    proc = start(command, cwd=isolated)
    assert wait_for(started, proc), proc.communicate()
    moto_process.kill()
    out, err = proc.communicate(timeout=SETTLE)
    assert proc.returncode == 1, (out, err)
    line = one_error_line(err)
    assert "remote 'team'" in line and f"sha256 {digest[:12]}" in line, line
    assert local_objects(registry) == (wanted if command == "push" else set())
    assert [p.name for p in tmp.iterdir()] in ([], ["pin"])
    assert_fsck_clean(registry, allow_missing=command == "pull")

    moto_process.start()  # back, empty: a server that lost its disk, the worst case for a pull
    remote.client.create_bucket(Bucket=bucket.name)
    if command == "pull":
        remote.client.upload_file(
            str(medium_template / ".mreg/objects/sha256" / digest[:2] / digest[2:]),
            bucket.name,
            f"models/objects/sha256/{digest[:2]}/{digest[2:]}",
        )
    result = run(command, cwd=isolated)
    assert result.returncode == 0, result.stderr
    assert (remote.objects(registry) if command == "push" else local_objects(registry)) == wanted


# ---------------------------------------------------------------------------------- timeouts


@pytest.fixture
def silent_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A loopback TCP server that accepts connections (the kernel completes each handshake) and
    never answers a byte."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        endpoint = f"http://127.0.0.1:{sock.getsockname()[1]}"
        for name, value in S3Server(endpoint, None).env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        yield endpoint


@pytest.mark.parametrize("command", ["push", "pull"])
def test_a_server_that_never_answers_times_out(
    command: str, silent_server: str, registry: Registry, model_file: Path, isolated: Path
) -> None:
    version = registry.create_model_version("fraud", model_file)
    digest = version.artifact.digest
    assert digest is not None
    registry.add_remote("team", "s3://silent/models", default=True)
    if command == "pull":
        shutil.rmtree(registry.root / "objects" / "sha256")
    before = local_objects(registry)
    result = run(command, cwd=isolated, env={"MREG_REMOTE_TIMEOUT": "0.5"})
    assert result.returncode == 1, result.stderr
    line = one_error_line(result.stderr)
    assert "remote 'team'" in line and f"sha256 {digest[:12]}" in line and "timeout" in line.lower(), line
    assert local_objects(registry) == before
    assert [p.name for p in (registry.root / "tmp").iterdir()] in ([], ["pin"])


@pytest.mark.parametrize("value", ["0", "soon", "nan", "7200"])
def test_a_bad_timeout_setting_is_a_usage_error(
    value: str, registry: Registry, model_file: Path, cli: Cli
) -> None:
    registry.create_model_version("fraud", model_file)
    registry.add_remote("team", "s3://bucket/models", default=True)
    result = cli("push", env={"MREG_REMOTE_TIMEOUT": value})
    assert result.exit_code == 2, result.stderr
    assert "MREG_REMOTE_TIMEOUT" in one_error_line(result.stderr)


# ------------------------------------------------------------------------------- a full disk


def mount_small_disk(path: Path, mib: int) -> bool:
    """A tmpfs of ``mib`` MiB at ``path``, where mounting is allowed (root); False elsewhere."""
    if shutil.which("mount") is None:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={mib}m", "tmpfs", str(path)], capture_output=True
    )
    return done.returncode == 0


def limit_file_size(limit: int) -> Callable[[], None]:
    """For a child process: files may not grow past ``limit`` bytes (a write past it fails with
    EFBIG instead of killing the process with SIGXFSZ)."""

    def apply() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_disk_filling_during_pull(isolated: Path, tmp_path: Path) -> None:
    """One ``error:`` line naming the remote and the object, exit 1, nothing left in objects/ or
    tmp/; with space again, a re-run completes."""
    source = isolated / "weights.bin"
    source.write_bytes(os.urandom(24 * 2**20))
    origin = Registry.init(isolated)
    digest = origin.create_model_version("fraud", source).artifact.digest
    assert digest is not None
    share = tmp_path / "share"
    origin.add_remote("team", str(share), default=True)
    origin.push().check()

    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = mount_small_disk(disk, 16)
    try:
        project = disk / "project"
        shutil.copytree(
            origin.root, project / ".mreg", ignore=shutil.ignore_patterns("objects", "cache", "tmp")
        )
        clone = Registry(project)
        command = [*MREG, "pull"]
        proc = subprocess.run(
            command,
            cwd=project,
            capture_output=True,
            text=True,
            timeout=SETTLE,
            preexec_fn=None if mounted else limit_file_size(16 * 2**20),
        )
        assert proc.returncode == 1, proc.stderr
        line = one_error_line(proc.stderr)
        assert "remote 'team'" in line and f"sha256 {digest[:12]}" in line, line
        assert ("No space left" if mounted else "File too large") in line, line
        assert local_objects(clone) == set()
        assert [p.name for p in (clone.root / "tmp").iterdir()] in ([], ["pin"])
        if mounted:
            subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        result = run("pull", cwd=project)
        assert result.returncode == 0, result.stderr
        assert local_objects(clone) == {digest}
    finally:
        if mounted:
            subprocess.run(["umount", str(disk)], check=True)
