"""Hostile input and a hostile store: every value is validated before it reaches the filesystem,
a symlink planted anywhere in .mreg/ is refused with nothing outside the store touched, and files
are written with modes that respect the umask."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import Cli, run_mreg, snapshot

from mreg import InvalidInput, MregError, Registry, parse_model_uri

# --------------------------------------------------------------------------------- bad values

BAD_NAMES = [
    "",
    "a" * 129,
    "../x",
    "a/b",
    "a\\b",
    "/abs",
    ".hidden",
    "x.",
    "x ",
    " x",
    "a..b",
    "CON",
    "con.txt",
    "Nul",
    "COM1",
    "lpt0",
    "a\x00b",
    "a\nb",
    "a\tb",
    "a\udcffb",
    "mod\u00e8le",
    "mode\u0300le",
    "\uff41",
    "a:b",
    "a*b",
]
BAD_ALIASES = [
    "",
    "latest",
    "LATEST",
    "v1",
    "V12",
    "a.b",
    "a b",
    "con",
    "AUX",
    "x" * 256,
    "a\udcff",
    "\u00e4",
]
BAD_TAG_KEYS = ["", "a=b", "k\n", "x" * 251, "\u043a\u043b\u044e\u0447", "a\x00", "a\udcff"]
BAD_TEXTS = ["a\x00", "\x1b[31mred", "\x9b2J", "\udcff", "a\x7f", "\u0085"]
BAD_VERSIONS: list[Any] = [0, -1, 2**53 + 1, 10**30, "1.5", "", "\u0661", True, "0x10", " ", None, 1.0]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_model_names_change_nothing(populated: Registry, model_file: Path, name: str) -> None:
    before = snapshot(populated.root, everything=True)
    for call in (
        lambda: populated.create_registered_model(name),
        lambda: populated.create_model_version(name, model_file),
        lambda: populated.rename_registered_model("m", name),
        lambda: populated.get_registered_model(name),
    ):
        with pytest.raises(InvalidInput):
            call()
    assert snapshot(populated.root, everything=True) == before


@pytest.mark.parametrize("alias", BAD_ALIASES)
def test_bad_aliases_change_nothing(populated: Registry, alias: str) -> None:
    before = snapshot(populated.root, everything=True)
    with pytest.raises(InvalidInput):
        populated.set_registered_model_alias("m", alias, 1)
    with pytest.raises(InvalidInput):
        populated.delete_registered_model_alias("m", alias)
    assert snapshot(populated.root, everything=True) == before


@pytest.mark.parametrize("key", BAD_TAG_KEYS)
def test_bad_tag_keys_change_nothing(populated: Registry, key: str) -> None:
    before = snapshot(populated.root, everything=True)
    with pytest.raises(InvalidInput):
        populated.set_registered_model_tag("m", key, "v")
    with pytest.raises(InvalidInput):
        populated.set_model_version_tag("m", 1, key, "v")
    assert snapshot(populated.root, everything=True) == before


@pytest.mark.parametrize("text", [*BAD_TEXTS, "x" * 100_001])
def test_bad_text_changes_nothing(populated: Registry, model_file: Path, text: str) -> None:
    before = snapshot(populated.root, everything=True)
    calls: list[Callable[[], object]] = [
        lambda: populated.set_registered_model_tag("m", "k", text),
        lambda: populated.update_registered_model("m", text),
        lambda: populated.update_model_version("m", 1, text),
        lambda: populated.create_model_version("m", model_file, run_link=text),
        lambda: populated.set_registered_model_alias("m", "a", 1, message=text),
    ]
    for call in calls:
        with pytest.raises(InvalidInput):
            call()
    assert snapshot(populated.root, everything=True) == before


@pytest.mark.parametrize("version", BAD_VERSIONS)
def test_bad_version_numbers_change_nothing(populated: Registry, version: Any) -> None:
    before = snapshot(populated.root, everything=True)
    with pytest.raises(InvalidInput):
        populated.set_registered_model_alias("m", "a", version)
    with pytest.raises(InvalidInput):
        populated.delete_model_version("m", version)
    assert snapshot(populated.root, everything=True) == before


@pytest.mark.parametrize("expect", [-1, 2**53 + 1, True])
def test_bad_expected_version(populated: Registry, expect: Any) -> None:
    with pytest.raises(InvalidInput):
        populated.set_registered_model_alias("m", "champion", 2, expect=expect)
    assert populated.get_aliases("m") == {"champion": 1}


@pytest.mark.parametrize(
    "uri",
    [
        "models:/",
        "models:/a/",
        "models:/a@",
        "models:/../x/1",
        "models:/a/1/2",
        "models:/a@b.c",
        "models:a/1",
        "models:/a/\udcff",
        "models:/a@\x00",
        "models:/a/99999999999999999999",
    ],
)
def test_bad_uris(uri: str) -> None:
    with pytest.raises(InvalidInput):
        parse_model_uri(uri)


@pytest.mark.parametrize("source", ["", "a\x00b", "x\udcff.bin", "y" * 5000])
def test_bad_sources(populated: Registry, source: str) -> None:
    before = snapshot(populated.root, everything=True)
    with pytest.raises(InvalidInput):
        populated.create_model_version("m", source)
    assert snapshot(populated.root, everything=True) == before


@pytest.mark.parametrize("user", ["a\x1bb", "a\udcffb", "x" * 300])
def test_user_names_from_the_environment_are_checked(
    populated: Registry, model_file: Path, monkeypatch: pytest.MonkeyPatch, user: str
) -> None:
    before = snapshot(populated.root, everything=True)
    monkeypatch.setenv("MREG_USER", user)
    with pytest.raises(InvalidInput, match="MREG_USER"):
        populated.create_model_version("m", model_file)
    monkeypatch.delenv("MREG_USER")
    monkeypatch.setenv("USER", user)
    monkeypatch.setenv("LOGNAME", user)
    with pytest.raises(InvalidInput, match="set MREG_USER"):
        populated.create_model_version("m", model_file)
    assert snapshot(populated.root, everything=True) == before


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["register", "model.bin", "--name", "\udcff"], 2, "invalid model name '\\udcff'"),
        (["register", "model.bin", "--name", "m", "-d", "a\udcffb"], 2, "description contains a forbidden"),
        (["register", "model.bin", "--name", "m", "-t", "k=\udc9b"], 2, "tag value contains a forbidden"),
        (["register", "\udcff.bin", "--name", "m"], 2, "source contains a forbidden character"),
        (["models", "show", "a\udcffb"], 2, "invalid model name"),
        (["alias", "set", "m", "\udcff", "1"], 2, "invalid alias"),
        (["alias", "set", "m", "a", "1", "-m", "\x1b[2J"], 2, "message contains a forbidden"),
        (["alias", "set", "m", "a", "1", "--expect", "99999999999999999999999"], 2, "invalid version"),
        (["versions", "show", "m", "\udcff"], 2, "invalid model URI"),
        (["versions", "show", "m", "99999999999999999999"], 2, "invalid version"),
        (["resolve", "models:/m\udcff/1"], 2, "invalid model name"),
        (["tag", "set", "m", "\udcff=v"], 2, "invalid tag key"),
        (["--store", "\udcff", "models", "list"], 3, "no mreg store at"),
    ],
)
def test_undecodable_and_hostile_argv(
    populated: Registry, isolated: Path, args: list[str], code: int, message: str
) -> None:
    """Real processes, since only they get argv as bytes: a byte that is not UTF-8 arrives as a
    lone surrogate, and must give the same one-line error as any bad value."""
    (isolated / "model.bin").write_bytes(b"weights")
    (isolated / "\udcff.bin").write_bytes(b"x")  # the file name is the byte 0xff, then ".bin"
    before = snapshot(populated.root, everything=True)
    result = run_mreg(*args, cwd=isolated)
    assert result.returncode == code, result.stderr
    assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert snapshot(populated.root, everything=True) == before


# ----------------------------------------------------------------------------- planted symlinks


def snapshot_outside(folder: Path) -> dict[str, tuple[bytes | None, int]]:
    return {
        str(path.relative_to(folder)): (None if path.is_dir() else path.read_bytes(), path.stat().st_mode)
        for path in sorted(folder.rglob("*"))
    }


def plant_dir(store: Path, outside: Path, inside: str) -> None:
    """Move a folder of the store outside it, and leave a symlink to it in its place."""
    target = outside / Path(inside).name
    if (store / inside).exists():
        shutil.move(store / inside, target)
    else:
        target.mkdir(parents=True)
    (store / inside).symlink_to(target, target_is_directory=True)


def plant_model_copy(store: Path, outside: Path, name: str) -> None:
    """``models/NAME`` → a copy of model m's folder outside the store."""
    shutil.copytree(store / "models" / "m", outside / name)
    (store / "models" / name).symlink_to(outside / name, target_is_directory=True)


def plant_file(store: Path, outside: Path, inside: str) -> None:
    target = outside / Path(inside).name
    if (store / inside).exists():
        shutil.move(store / inside, target)
    else:
        target.write_text("precious\n")
    (store / inside).symlink_to(target)


PLANTS: dict[str, tuple[Callable[[Path, Path], None], list[list[str]]]] = {
    "a model folder": (
        lambda s, o: plant_model_copy(s, o, "x"),
        [
            ["models", "show", "x"],
            ["register", "new.bin", "--name", "x"],
            ["alias", "set", "x", "a", "1"],
            ["models", "delete", "x", "--yes"],
            ["models", "rename", "x", "y"],
            ["models", "update", "x", "-d", "new"],
            ["tag", "set", "x", "k=v"],
            ["history", "x"],
            ["models", "list"],
        ],
    ),
    "the models folder": (
        lambda s, o: plant_dir(s, o, "models"),
        [["models", "list"], ["register", "new.bin", "--name", "m"], ["models", "create", "n"]],
    ),
    "the objects folder": (
        lambda s, o: plant_dir(s, o, "objects"),
        [
            ["register", "new.bin", "--name", "m"],
            ["resolve", "m/1", "--field", "path"],
            ["get", "m/1", "-o", "out.bin"],
        ],
    ),
    "the lock file": (
        lambda s, o: plant_file(s, o, "lock"),
        [["alias", "set", "m", "a", "1"], ["register", "new.bin", "--name", "m"], ["models", "create", "n"]],
    ),
    "a version file": (
        lambda s, o: plant_file(s, o, "models/m/versions/1.toml"),
        [
            ["versions", "show", "m", "1"],
            ["versions", "list", "m"],
            ["versions", "delete", "m", "1", "--yes"],
            ["versions", "update", "m", "1", "-d", "new"],
            ["tag", "set", "m", "--version", "1", "k=v"],
            ["stage", "set", "m", "1", "Production"],
            ["resolve", "m@champion"],
        ],
    ),
    "an alias file": (
        lambda s, o: plant_file(s, o, "models/m/aliases/champion"),
        [
            ["resolve", "m@champion"],
            ["alias", "set", "m", "champion", "2"],
            ["alias", "set", "m", "other", "2"],
            ["alias", "delete", "m", "champion"],
            ["alias", "list", "m"],
            ["versions", "delete", "m", "1", "--yes"],
        ],
    ),
    "the config file": (lambda s, o: plant_file(s, o, "config.toml"), [["models", "list"], ["init"]]),
    "the tmp folder": (lambda s, o: plant_dir(s, o, "tmp"), [["register", "new.bin", "--name", "m"]]),
    "the trash folder": (lambda s, o: plant_dir(s, o, "trash"), [["models", "delete", "m", "--yes"]]),
    "the store history": (lambda s, o: plant_dir(s, o, "history"), [["models", "delete", "m", "--yes"]]),
    "the cache folder": (lambda s, o: plant_dir(s, o, "cache"), [["resolve", "m/2", "--field", "path"]]),
    "a model's history": (
        lambda s, o: plant_dir(s, o, "models/m/history"),
        [["history", "m"], ["models", "update", "m", "-d", "new"]],
    ),
}


@pytest.mark.parametrize("plant", list(PLANTS))
def test_planted_symlinks_are_refused(populated: Registry, isolated: Path, cli: Cli, plant: str) -> None:
    (isolated / "new.bin").write_text("new weights\n")
    for folder in ("tmp", "trash", "history", "cache"):
        (populated.root / folder).mkdir(exist_ok=True)
    outside = isolated.parent / "outside"
    outside.mkdir()
    make, commands = PLANTS[plant]
    make(populated.root, outside)
    before = snapshot_outside(outside)
    for args in commands:
        result = cli(*args)
        # a symlink planted in the store is damage: every command that meets it exits 5
        assert result.exit_code == 5, (args, result.stdout, result.stderr)
        assert result.stderr.startswith("error: refusing to follow symlink .mreg/"), (args, result.stderr)
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert snapshot_outside(outside) == before, args
    assert not (isolated / "out.bin").exists()
    result = cli("fsck")
    if plant == "the config file":  # the store cannot even be opened
        assert result.exit_code == 5 and "refusing to follow symlink .mreg/config.toml" in result.stderr
    else:
        assert result.exit_code == 5
        assert "is a symlink; mreg never follows symlinks inside the store" in result.stdout


def test_a_symlinked_store_folder_itself_is_followed(tmp_path: Path, model_file: Path) -> None:
    """The .mreg folder may be a link to a store kept elsewhere (the user's choice); what is
    refused is a link inside it."""
    real = Registry.init(tmp_path / "real")
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / ".mreg").symlink_to(real.root)
    registry = Registry(tmp_path / "project")
    assert registry.root == real.root
    registry.create_model_version("m", model_file)
    assert registry.fsck() == []


# ------------------------------------------------------------------------------------- modes


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_file_modes_respect_the_umask(tmp_path: Path, model_file: Path, model_dir: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        registry = Registry.init(tmp_path / "store")
        registry.create_model_version("m", model_file, aliases=["champion"])
        registry.create_model_version("m", model_dir)
        registry.artifact_path(registry.get_model_version("m", 2))
    finally:
        os.umask(old)
    blobs = registry.store.layout.objects
    seen = 0
    for folder, dirnames, filenames in os.walk(registry.root):
        for name in dirnames:
            assert stat.S_IMODE(os.stat(os.path.join(folder, name)).st_mode) == 0o777 & ~umask
        for name in filenames:
            path = Path(folder, name)
            mode = stat.S_IMODE(path.stat().st_mode)
            if blobs in path.parents or "cache" in path.parts:  # blobs and links to them
                assert mode == 0o444 & ~umask, path
            else:
                assert mode & ~(0o666 & ~umask) == 0, (path, oct(mode))
            seen += 1
    assert seen > 10


def test_blobs_are_read_only(populated: Registry) -> None:
    path = populated.artifact_path(populated.get_model_version("m", 1))
    assert stat.S_IMODE(path.stat().st_mode) & 0o222 == 0


def test_errors_from_the_library_are_one_line(populated: Registry) -> None:
    for value in BAD_NAMES:
        with pytest.raises(MregError) as info:
            populated.get_registered_model(value)
        assert "\n" not in str(info.value) and "\x00" not in str(info.value)


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ["--\udcff"],
        ["\udcff"],
        ["--lock-timeout", "\udcff", "models", "list"],
        ["models", "show", "--\udcff"],
    ],
)
def test_undecodable_argv_in_usage_errors(populated: Registry, isolated: Path, args: list[str]) -> None:
    result = run_mreg(*args, cwd=isolated)
    assert result.returncode == 2
    assert "\\udcff" in result.stderr and "Traceback" not in result.stderr
