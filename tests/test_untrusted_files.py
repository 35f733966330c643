"""Files of a store that mreg never wrote (issue 12, items 11 to 16): a FIFO, a folder, a huge
integer, an out-of-range version number, a bad model folder name, a manifest path 2,000 folders
deep. Each is one error naming the file, never a hang, a crash or a half-done write."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from helpers import Cli, run_mreg, snapshot

from mreg import Registry, StoreError
from mreg.names import VERSION_MAX
from mreg.store.records import _checked_version, _fast_version

HANG_GUARD = 20  # seconds; a read that blocks on a FIFO never ends on its own


@pytest.fixture
def store(registry: Registry, isolated: Path) -> Registry:
    for n in (1, 2):
        source = isolated / f"m{n}.bin"
        source.write_bytes(f"weights {n}\n".encode())
        registry.create_model_version("m", source, aliases=["champion"] if n == 2 else [])
    return registry


def _replace_with_fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


# ---------------------------------------------------------------------------- 11: FIFOs


@pytest.mark.parametrize(
    ("place", "commands"),
    [
        ("models/m/model.toml", [["models", "show", "m"], ["alias", "list", "m"]]),
        ("models/m/aliases/champion", [["resolve", "m@champion"], ["alias", "list", "m"]]),
        ("models/m/versions/1.toml", [["resolve", "m/1"], ["models", "show", "m"]]),
        ("event", [["history", "m"]]),
    ],
)
def test_a_fifo_where_a_record_belongs_is_refused_not_waited_on(
    store: Registry, isolated: Path, place: str, commands: list[list[str]]
) -> None:
    if place == "event":
        place = "models/m/history/" + sorted(os.listdir(store.root / "models/m/history"))[0]
    _replace_with_fifo(store.root / place)
    for args in [*commands, ["fsck"]]:
        result = run_mreg(*args, cwd=isolated, timeout=HANG_GUARD)
        assert result.returncode in (1, 5), (args, result.stderr)
        assert f".mreg/{place}" in (result.stdout if args == ["fsck"] else result.stderr), (args, result)
        assert "Traceback" not in result.stderr
    fsck = run_mreg("fsck", cwd=isolated, timeout=HANG_GUARD)
    assert fsck.stdout.count(f".mreg/{place}") == 1, fsck.stdout  # reported once, not per reader


def test_init_refuses_a_config_that_is_a_fifo_and_leaves_it(store: Registry, isolated: Path) -> None:
    config = store.root / "config.toml"
    _replace_with_fifo(config)
    result = run_mreg("init", cwd=isolated, timeout=HANG_GUARD)
    assert result.returncode == 5
    assert result.stderr == "error: .mreg/config.toml is not a regular file (it is a named pipe (FIFO))\n"
    assert config.is_fifo()  # not replaced by a fresh store
    show = run_mreg("models", "list", cwd=isolated, timeout=HANG_GUARD)
    assert show.returncode == 5 and ".mreg/config.toml is not a regular file" in show.stderr


def test_a_fifo_gitignore_does_not_hang_init(store: Registry, isolated: Path) -> None:
    _replace_with_fifo(store.root / ".gitignore")
    result = run_mreg("init", cwd=isolated, timeout=HANG_GUARD)
    assert result.returncode == 5
    assert result.stderr.startswith("error: .mreg/.gitignore is not a regular file")


# ------------------------------------------------------------------- 12: huge integers


def test_an_integer_of_5000_digits_is_an_error_naming_the_file(store: Registry, cli: Cli) -> None:
    alias = store.root / "models/m/aliases/champion"
    alias.write_text("version = " + "9" * 5000 + "\n")
    wanted = "error: .mreg/models/m/aliases/champion:1: invalid TOML: an integer is outside the 64-bit range"
    for args in (["resolve", "m@champion"], ["alias", "list", "m"], ["versions", "show", "m", "2"]):
        result = cli(*args)
        assert result.exit_code == 5, args
        assert result.stderr.startswith(wanted) and result.stderr.count("\n") == 1, (args, result.stderr)
    listing = cli("versions", "list")
    assert listing.exit_code == 5 and listing.stderr.startswith(wanted)
    fsck = cli("fsck")
    assert fsck.exit_code == 5 and ".mreg/models/m/aliases/champion:1: invalid TOML" in fsck.stdout
    gc = cli("gc")
    assert gc.exit_code == 5 and ".mreg/models/m/aliases/champion:1" in gc.stderr


def test_an_integer_beyond_64_bits_is_refused_like_tomllib_should(store: Registry, cli: Cli) -> None:
    path = store.root / "models/m/versions/1.toml"
    path.write_text(
        re.sub(r"^size = \d+$", "size = 99999999999999999999", path.read_text(), count=1, flags=re.M)
    )
    result = cli("versions", "show", "m", "1")
    assert result.exit_code == 5
    assert re.match(r"error: \.mreg/models/m/versions/1\.toml:\d+: invalid TOML: an integer", result.stderr)


# ----------------------------------------------------------------- 13: folders as files


@pytest.mark.parametrize(
    ("place", "args"),
    [
        ("models/m/aliases/champion", ["resolve", "m@champion"]),
        ("models/m/versions/1.toml", ["resolve", "m/1"]),
    ],
)
def test_a_folder_where_a_file_belongs_is_named(
    store: Registry, cli: Cli, place: str, args: list[str]
) -> None:
    path = store.root / place
    path.unlink()
    path.mkdir()
    result = cli(*args)
    assert result.exit_code == 5
    assert result.stderr == f"error: .mreg/{place} is not a regular file (it is a folder)\n"
    fsck = cli("fsck")
    assert fsck.exit_code == 5
    assert re.search(rf"^error +\.mreg/{re.escape(place)} is not a regular file", fsck.stdout, re.M), (
        fsck.stdout
    )


# ----------------------------------------------------- 14: version numbers above 2^53


def test_a_version_file_above_the_maximum_is_ignored_by_every_reader(
    store: Registry, cli: Cli, isolated: Path
) -> None:
    versions = store.root / "models/m/versions"
    big = versions / f"{VERSION_MAX + 1}.toml"
    big.write_bytes((versions / "2.toml").read_bytes())
    assert cli("resolve", "m/latest", "--field", "version").stdout == "2\n"
    assert cli("versions", "list", "m", "-q").stdout == "2\n1\n"
    fsck = cli("fsck")
    assert fsck.exit_code == 0 and f"{VERSION_MAX + 1}.toml: not a version file" in fsck.stdout
    (isolated / "m3.bin").write_bytes(b"weights 3\n")
    register = cli("register", "m3.bin", "--name", "m", "-q")
    assert register.exit_code == 0 and register.stdout == "3\n"


def test_register_refuses_before_writing_when_no_number_is_left(store: Registry, isolated: Path) -> None:
    versions = store.root / "models/m/versions"
    (versions / f"{VERSION_MAX}.toml").write_bytes((versions / "2.toml").read_bytes())
    (isolated / "m3.bin").write_bytes(b"weights 3\n")
    before = snapshot(store.root)
    with pytest.raises(StoreError, match="has used every version number"):
        store.create_model_version("m", isolated / "m3.bin")
    after = {k: v for k, v in snapshot(store.root).items() if not k.startswith("objects/")}
    assert after == {k: v for k, v in before.items() if not k.startswith("objects/")}


def test_a_register_whose_alias_is_refused_writes_no_version(
    store: Registry, cli: Cli, isolated: Path
) -> None:
    (isolated / "m3.bin").write_bytes(b"weights 3\n")
    before = snapshot(store.root)
    result = cli("register", "m3.bin", "--name", "m", "--alias", "Champion")
    assert result.exit_code == 4 and "differ only in case" in result.stderr
    after = {k: v for k, v in snapshot(store.root).items() if not k.startswith("objects/")}
    assert after == {k: v for k, v in before.items() if not k.startswith("objects/")}


# ------------------------------------------------------------- 15: bad model folders


def test_a_listing_shows_the_good_models_and_names_each_bad_one(store: Registry, cli: Cli) -> None:
    models = store.root / "models"
    for bad in ("bad\x1b[31m", "x..y"):
        (models / bad).mkdir()
        (models / bad / "model.toml").write_bytes((models / "m/model.toml").read_bytes())
    (models / "n").mkdir()
    os.mkfifo(models / "n/model.toml")
    result = cli("models", "list", "-q")
    assert result.exit_code == 5
    assert result.stdout == "m\n"
    lines = result.stderr.splitlines()
    assert lines == [
        "error: .mreg/models: model folder 'bad\\x1b[31m' is not a valid model name; skipped",
        "error: .mreg/models: model folder 'x..y' is not a valid model name; skipped",
        "error: .mreg/models/n/model.toml is not a regular file (it is a named pipe (FIFO))",
    ]
    assert "\x1b" not in result.stderr
    versions = cli("versions", "list", "-q")
    assert versions.exit_code == 5 and versions.stdout == "m/2\nm/1\n"
    assert len(versions.stderr.splitlines()) == 2
    as_json = cli("models", "list", "--json")
    assert as_json.exit_code == 5 and '"name": "m"' in as_json.stdout
    # the Python API: searches return the good ones and the problems; plain lists raise
    page = store.search_registered_models()
    assert [m.name for m in page] == ["m"] and len(page.problems) == 3
    assert all(isinstance(p, StoreError) for p in page.problems)
    assert [v.version for v in store.search_model_versions()] == [2, 1]
    with pytest.raises(StoreError, match="is not a valid model name"):
        store.list_registered_models()


def test_a_listing_names_an_unreadable_version_and_shows_the_rest(store: Registry, cli: Cli) -> None:
    (store.root / "models/m/versions/1.toml").write_text("status = \n")
    result = cli("versions", "list", "m", "-q")
    assert result.exit_code == 5 and result.stdout == "2\n"
    assert result.stderr.startswith("error: .mreg/models/m/versions/1.toml:1:")


# ------------------------------------------------------- 16: deep manifest paths


def _deep_version(store: Registry, depth: int) -> Path:
    path = store.root / "models/m/versions/1.toml"
    text = path.read_text()
    name = re.search(r'^path = "(.*)"$', text, re.M)
    assert name is not None
    path.write_text(text.replace(f'path = "{name.group(1)}"', 'path = "' + "d/" * depth + 'f.bin"'))
    return path


def test_a_manifest_path_2000_folders_deep_is_refused_when_read(store: Registry, cli: Cli) -> None:
    _deep_version(store, 2000)
    for args in (["get", "m/1", "-o", "out"], ["resolve", "m/1"], ["versions", "show", "m", "1"]):
        result = cli(*args)
        assert result.exit_code == 5, args
        assert result.stderr.startswith("error: .mreg/models/m/versions/1.toml: artifact file path"), args
        assert "RecursionError" not in result.stderr and result.stderr.count("\n") == 1
    assert not Path("out").exists()
    fsck = cli("fsck")
    assert fsck.exit_code == 5 and "at most 256 folders" in fsck.stdout


@pytest.mark.parametrize("depth", [255, 256, 2000])
def test_both_version_readers_agree_on_deep_paths(store: Registry, depth: int) -> None:
    import tomllib

    path = _deep_version(store, depth)
    raw = tomllib.loads(path.read_text())
    fast = _fast_version(raw)
    if depth < 256:
        assert fast is not None and fast == _checked_version(path, raw)
    else:
        assert fast is None
        with pytest.raises(StoreError, match="artifact file path"):
            _checked_version(path, raw)


def test_register_refuses_a_source_deeper_than_a_record_may_hold(registry: Registry, isolated: Path) -> None:
    deep = isolated / "deep"
    leaf = deep.joinpath(*["d"] * 257)
    leaf.mkdir(parents=True)
    (leaf / "f.bin").write_bytes(b"x")
    with pytest.raises(Exception, match="at most 256 folders") as raised:
        registry.create_model_version("m", deep)
    assert getattr(raised.value, "exit_code", None) == 2
    assert registry.model_names() == []
