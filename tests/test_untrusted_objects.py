"""Objects and tree caches that came from someone else: what `resolve --field path` hands out is
verified against the manifest, register repairs a damaged blob, a clone's missing objects are
"not here", and a read-only store still resolves and lists garbage.

The git scenarios run real git: a bare repository between two clones, a commit in one that
force-adds files under `.mreg/cache/` or `.mreg/objects/`, a pull into the other. Read-only
stores are simulated by making every write under the store fail with EROFS (the tests run as
root, which ignores permission bits)."""

from __future__ import annotations

import builtins
import errno
import io
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from helpers import Cli, Repo, git

from mreg import IntegrityError, InvalidInput, MregError, Registry
from mreg.store import objects

# ------------------------------------------------------------------------------------ helpers


def manifest_matches(registry: Registry, name: str, version: int, path: Path) -> bool:
    """Whether ``path`` holds exactly the version's files, each a regular file of its bytes."""
    import hashlib

    mv = registry.get_model_version(name, version)
    seen = {}
    for folder, dirnames, filenames in os.walk(path):
        for entry in dirnames + filenames:
            assert not os.path.islink(os.path.join(folder, entry)), entry
        for filename in filenames:
            full = Path(folder, filename)
            seen[full.relative_to(path).as_posix()] = hashlib.sha256(full.read_bytes()).hexdigest()
    return seen == {f.path: f.sha256 for f in mv.artifact.files}


class Team:
    """Two working copies, ``a`` and ``b``, of one project, sharing a bare repository."""

    def __init__(self, root: Path, model_dir: Path) -> None:
        self.bare = root / "shared.git"
        git("init", "-q", "--bare", "-b", "main", str(self.bare), cwd=root)
        self.a = Repo(root / "a")
        self.a.register("fraud", "weights 1")
        self.a.registry.create_model_version("fraud", model_dir)  # version 2: a folder
        self.a.commit("fraud 1 and 2")
        self.a.git("remote", "add", "origin", str(self.bare))
        self.a.git("push", "-q", "origin", "main")
        git("clone", "-q", str(self.bare), str(root / "b"), cwd=root)
        self.b_top = root / "b"
        self.b = Registry(self.b_top)

    def b_git(self, *args: str) -> str:
        return git(*args, cwd=self.b_top)

    def b_push(self, message: str) -> None:
        self.b_git("commit", "-q", "-m", message)
        self.b_git("push", "-q", "origin", "main")

    def a_pull(self) -> None:
        self.a.git("pull", "-q", "--no-rebase", "origin", "main")


@pytest.fixture
def team(isolated: Path, model_dir: Path) -> Team:
    return Team(isolated, model_dir)


def resolve_path(cli: Cli, top: Path, uri: str) -> Any:
    return cli("--store", str(top), "resolve", uri, "--field", "path")


# ------------------------------------------------------------- (1) poisoned tree cache via git


@pytest.mark.parametrize("resolved_before", [True, False], ids=["cache-built", "no-cache-yet"])
@pytest.mark.parametrize("plant", ["other-bytes", "symlink-outside"])
def test_a_tree_cache_poisoned_through_git_is_never_handed_out(
    team: Team, cli: Cli, isolated: Path, plant: str, resolved_before: bool
) -> None:
    digest = team.a.registry.get_model_version("fraud", 2).artifact.digest
    assert digest is not None
    if resolved_before:
        first = resolve_path(cli, team.a.top, "fraud/2")
        assert first.exit_code == 0
    secret = isolated / "secret.txt"
    secret.write_text("root:x:0:0\n")
    planted = team.b_top / ".mreg" / "cache" / "trees" / digest / "config.json"
    planted.parent.mkdir(parents=True)
    if plant == "symlink-outside":
        planted.symlink_to(secret)
    else:
        planted.write_text('{"layers": 666}\n')
    team.b_git("add", "-f", str(planted))
    team.b_push("a harmless change")
    team.a_pull()
    on_disk = team.a.top / ".mreg" / "cache" / "trees" / digest / "config.json"
    assert on_disk.is_symlink() if plant == "symlink-outside" else "666" in on_disk.read_text()

    result = resolve_path(cli, team.a.top, "fraud/2")
    assert result.exit_code == 0, result.stderr
    served = Path(result.stdout.strip())
    assert manifest_matches(team.a.registry, "fraud", 2, served)
    assert (served / "config.json").read_text() == '{"layers": 2}\n'
    assert (
        os.stat(served / "config.json").st_ino
        == os.stat(
            team.a.registry.store.layout.blob(
                next(
                    f.sha256
                    for f in team.a.registry.get_model_version("fraud", 2).artifact.files
                    if f.path == "config.json"
                )
            )
        ).st_ino
    )  # a hard link to the blob again
    assert secret.read_text() == "root:x:0:0\n"
    # The poisoned tree went to trash/, which gc removes (fsck still flags the commit).
    kinds = {f.kind for f in team.a.registry.fsck()}
    assert "trash" in kinds and "committed-debris" in kinds
    assert "symlink" not in kinds  # a set-aside symlink is debris, not damage


def test_a_blob_poisoned_through_git_is_refused_with_exit_5(team: Team, cli: Cli, isolated: Path) -> None:
    # b registers version 3, a version a lacks, and commits a blob of other bytes under its name.
    source = team.b_top / "v3.bin"
    source.write_bytes(b"weights 3\n")
    mv = team.b.create_model_version("fraud", source)
    blob = team.b.store.layout.blob(mv.artifact.files[0].sha256)
    os.chmod(blob, 0o644)
    blob.write_bytes(b"evil 3!!!\n")  # the same size
    source.unlink()
    team.b_git("add", ".mreg")
    team.b_git("add", "-f", str(blob))
    team.b_push("fraud 3")
    team.a_pull()
    result = resolve_path(cli, team.a.top, "fraud/3")
    assert result.exit_code == 5
    assert result.stdout == ""
    assert f"object sha256:{mv.artifact.files[0].sha256[:12]}" in result.stderr
    assert "version 3 of 'fraud'" in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")


def test_a_blob_overwritten_by_a_pull_is_no_longer_trusted(team: Team, cli: Cli) -> None:
    # a has version 1's blob; b commits other bytes under its name; the pull overwrites a's
    # (git-ignored) copy.
    entry = team.a.registry.get_model_version("fraud", 1).artifact.files[0]
    assert resolve_path(cli, team.a.top, "fraud/1").exit_code == 0
    rel = team.a.registry.store.layout.blob(entry.sha256).relative_to(team.a.top)
    planted = team.b_top / rel
    planted.parent.mkdir(parents=True)
    planted.write_bytes(b"X" * entry.size)
    team.b_git("add", "-f", str(planted))
    team.b_push("tidy")
    team.a_pull()
    assert (team.a.top / rel).read_bytes() == b"X" * entry.size
    result = resolve_path(cli, team.a.top, "fraud/1")
    assert result.exit_code == 5 and "version 1 of 'fraud'" in result.stderr
    # The folder artifact does not share that blob and still resolves.
    assert resolve_path(cli, team.a.top, "fraud/2").exit_code == 0


def test_a_verified_blob_is_served_without_hashing(
    registry: Registry, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mv = registry.create_model_version("fraud", model_file)
    hashed: list[int] = []
    real = objects._hash_fd
    monkeypatch.setattr(objects, "_hash_fd", lambda fd: hashed.append(fd) or real(fd))
    path = registry.artifact_path(mv)
    assert hashed == []  # register left a marker that matches the blob
    assert path.read_bytes() == b"weights v1\n"


@pytest.mark.parametrize("forge", ["old-inode", "wrong-ctime", "garbage"])
def test_a_marker_that_does_not_match_the_blob_means_hashing_again(
    registry: Registry, model_file: Path, forge: str
) -> None:
    mv = registry.create_model_version("fraud", model_file)
    layout = registry.store.layout
    sha = mv.artifact.files[0].sha256
    blob, marker = layout.blob(sha), layout.verified_marker(sha)
    before = os.lstat(blob)
    blob.unlink()
    blob.write_bytes(b"weights v2\n")  # same size, other bytes, a new file
    now = os.lstat(blob)
    fields = {
        "old-inode": (before.st_dev, before.st_ino, now.st_size, now.st_mtime_ns, now.st_ctime_ns),
        "wrong-ctime": (now.st_dev, now.st_ino, now.st_size, now.st_mtime_ns, now.st_ctime_ns + 1),
    }
    os.chmod(marker, 0o644)
    text = " ".join(map(str, fields[forge])) + "\n" if forge in fields else "verified\n"
    marker.write_text(text)
    with pytest.raises(IntegrityError, match="version 1 of 'fraud'"):
        registry.artifact_path(mv)


# ------------------------------------------------------------------ (7) register over a bad blob


@pytest.mark.parametrize("damage", ["same-size", "truncated", "no-marker-same-size", "a-folder"])
def test_register_replaces_a_blob_that_does_not_hold_its_bytes(
    registry: Registry, model_file: Path, damage: str
) -> None:
    mv = registry.create_model_version("fraud", model_file)
    layout = registry.store.layout
    sha = mv.artifact.files[0].sha256
    blob = layout.blob(sha)
    os.chmod(blob, 0o644)
    if damage == "a-folder":
        blob.unlink()
        blob.mkdir()
    else:
        blob.write_bytes(b"weights v9\n" if "same-size" in damage else b"w")
    if damage.startswith("no-marker"):
        layout.verified_marker(sha).unlink()
    with pytest.raises(MregError):
        registry.check_integrity(mv)
    again = registry.create_model_version("fraud", model_file)
    model_file.unlink()  # the source is gone: the store's copy is all there is
    assert blob.read_bytes() == b"weights v1\n"
    assert stat.S_IMODE(os.lstat(blob).st_mode) & 0o222 == 0  # read-only, as every blob
    registry.check_integrity(again)
    registry.check_integrity(mv)
    assert registry.artifact_path(mv) == blob
    assert [f for f in registry.fsck(full=True) if f.severity == "error"] == []


def test_register_keeps_a_sound_blob_and_hashes_it_only_without_a_marker(
    registry: Registry, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mv = registry.create_model_version("fraud", model_file)
    blob = registry.store.layout.blob(mv.artifact.files[0].sha256)
    inode = os.lstat(blob).st_ino
    hashed: list[int] = []
    real = objects._hash_fd
    monkeypatch.setattr(objects, "_hash_fd", lambda fd: hashed.append(fd) or real(fd))
    registry.create_model_version("fraud", model_file)
    assert hashed == [] and os.lstat(blob).st_ino == inode
    registry.store.layout.verified_marker(mv.artifact.files[0].sha256).unlink()
    registry.create_model_version("fraud", model_file)
    assert len(hashed) == 1 and os.lstat(blob).st_ino == inode  # hashed, found sound, kept


# ------------------------------------------------------------------- (9) symlinked subfolders


def test_symlinked_folders_are_followed_like_symlinked_files(registry: Registry, isolated: Path) -> None:
    shared = isolated / "shared"
    (shared / "deep").mkdir(parents=True)
    (shared / "deep" / "vocab.txt").write_text("a b c\n")
    (isolated / "tok.json").write_text("{}\n")
    source = isolated / "export"
    source.mkdir()
    (source / "model.bin").write_text("m")
    (source / "tokenizer").symlink_to(shared, target_is_directory=True)
    (source / "again").symlink_to(shared, target_is_directory=True)  # twice is not a loop
    (source / "tok.json").symlink_to(isolated / "tok.json")
    mv = registry.create_model_version("fraud", source)
    assert [f.path for f in mv.artifact.files] == [
        "again/deep/vocab.txt",
        "model.bin",
        "tok.json",
        "tokenizer/deep/vocab.txt",
    ]
    assert manifest_matches(registry, "fraud", 1, registry.artifact_path(mv))


@pytest.mark.parametrize("where", ["top", "nested"])
def test_a_symlink_loop_in_a_source_is_refused_by_name(
    registry: Registry, isolated: Path, cli: Cli, where: str
) -> None:
    source = isolated / "export"
    (source / "a" / "b").mkdir(parents=True)
    (source / "a" / "b" / "w.bin").write_text("w")
    target = source if where == "top" else source / "a"
    (source / "a" / "b" / "back").symlink_to(target, target_is_directory=True)
    with pytest.raises(InvalidInput, match=r"export/a/b/back is a symlink loop: it leads back to"):
        registry.create_model_version("fraud", source)
    result = cli("register", str(source), "--name", "fraud")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "a/b/back is a symlink loop" in result.stderr
    assert registry.model_names() == []
    assert list(registry.store.layout.objects.rglob("*")) == []  # nothing copied in


# ------------------------------------------------------------ (10) a teammate's clone is not broken


def test_a_clone_with_its_own_registrations_has_a_clean_fsck_and_a_working_gc(
    team: Team, cli: Cli, isolated: Path
) -> None:
    store = ("--store", str(team.b_top))
    source = isolated / "local.bin"
    source.write_bytes(b"trained here\n")
    team.b.create_model_version("churn", source)  # the first local register
    findings = team.b.fsck()
    assert [f for f in findings if f.severity == "error"] == []
    not_here = {f.path: f for f in findings if f.kind == "object-not-here"}
    assert set(not_here) == {"models/fraud/versions/1.toml", "models/fraud/versions/2.toml"}
    assert "3 of its 3 objects are not here" in not_here["models/fraud/versions/2.toml"].message
    assert (
        "copy them from the working copy that registered it"
        in not_here["models/fraud/versions/1.toml"].message
    )
    result = cli(*store, "fsck")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert cli(*store, "gc").exit_code == 0
    assert cli(*store, "gc", "--yes").exit_code == 0
    assert team.b.get_model_version("churn", 1).artifact.files[0].sha256 in {
        p.parent.name + p.name for p in team.b.store.layout.objects.rglob("*") if p.is_file()
    }
    # Asked to check every byte, the clone lacks them.
    assert {f.kind for f in team.b.fsck(full=True) if f.severity == "error"} == {"missing-object"}


def test_an_object_that_was_here_and_is_gone_is_still_an_error(registry: Registry, model_file: Path) -> None:
    mv = registry.create_model_version("fraud", model_file)
    registry.store.layout.blob(mv.artifact.files[0].sha256).unlink()
    (finding,) = [f for f in registry.fsck() if f.severity == "error"]
    assert finding.kind == "missing-object" and "it was here" in finding.message
    with pytest.raises(IntegrityError):
        registry.gc()


# ------------------------------------------------------------------------------ read-only stores


@contextmanager
def read_only(root: Path) -> Iterator[list[str]]:
    """Every write under ``root`` fails with EROFS, as on a read-only mount; yields the refused
    calls."""
    refused: list[str] = []
    prefix = os.fspath(root) + os.sep
    writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    saved: dict[str, Callable[..., Any]] = {}

    def inside(path: Any) -> bool:
        return not isinstance(path, int) and (os.fsdecode(os.fspath(path)) + os.sep).startswith(prefix)

    def refuse(name: str, *paths: Any) -> None:
        if any(inside(p) for p in paths):
            refused.append(name)
            raise OSError(errno.EROFS, "Read-only file system", os.fspath(paths[0]))

    def guarded_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & writes:
            refuse("open", path)
        return saved["open"](path, flags, *args, **kwargs)

    def one(name: str) -> Callable[..., Any]:
        def guarded(path: Any, *args: Any, **kwargs: Any) -> Any:
            refuse(name, path)
            return saved[name](path, *args, **kwargs)

        return guarded

    def two(name: str) -> Callable[..., Any]:
        def guarded(src: Any, dst: Any, *args: Any, **kwargs: Any) -> Any:
            refuse(name, src, dst)
            return saved[name](src, dst, *args, **kwargs)

        return guarded

    def guarded_io_open(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if set(mode) & set("wax+"):
            refuse("open", path)
        return saved["io_open"](path, mode, *args, **kwargs)

    patches: dict[str, Callable[..., Any]] = {"open": guarded_open}
    patches.update({n: one(n) for n in ("mkdir", "unlink", "rmdir", "chmod", "utime")})
    patches.update({n: two(n) for n in ("rename", "replace", "link", "symlink")})
    for name, function in patches.items():
        saved[name] = getattr(os, name)
        setattr(os, name, function)
    saved["io_open"] = io.open
    io.open = builtins.open = guarded_io_open  # type: ignore[assignment]
    try:
        yield refused
    finally:
        io.open = builtins.open = saved.pop("io_open")  # type: ignore[assignment]
        for name, function in saved.items():
            setattr(os, name, function)


def test_the_read_only_helper_refuses_writes_and_allows_reads(registry: Registry) -> None:
    with read_only(registry.root) as refused:
        assert registry.root.joinpath("config.toml").read_text().startswith("format")
        with pytest.raises(OSError, match="Read-only"):
            (registry.root / "new").write_text("x")
    assert refused == ["open"]


def test_a_read_only_store_serves_a_sound_tree_and_verifies_every_time(
    registry: Registry, model_dir: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.create_model_version("fraud", model_dir)
    first = cli("resolve", "fraud/1", "--field", "path")
    for marker in registry.store.layout.verified_markers.iterdir():
        marker.unlink()  # hashing is all that is left to trust the blobs
    hashed: list[int] = []
    real = objects._hash_fd
    monkeypatch.setattr(objects, "_hash_fd", lambda fd: hashed.append(fd) or real(fd))
    with read_only(registry.root):
        for _ in range(2):
            result = cli("resolve", "fraud/1", "--field", "path")
            assert (result.exit_code, result.stdout) == (0, first.stdout)
    assert len(hashed) == 2 * 3  # three files, hashed on each resolve: no marker can be kept


@pytest.mark.parametrize("cache", ["none", "poisoned"])
def test_a_read_only_store_without_a_sound_tree_points_at_get(
    registry: Registry, model_dir: Path, cli: Cli, cache: str
) -> None:
    mv = registry.create_model_version("fraud", model_dir)
    if cache == "poisoned":
        tree = registry.artifact_path(mv)
        os.chmod(tree / "config.json", 0o644)
        (tree / "config.json").unlink()
        (tree / "config.json").write_text('{"layers": 666}\n')
    with read_only(registry.root):
        result = cli("resolve", "fraud/1", "--field", "path")
        got = cli("get", "fraud/1", "-o", str(registry.root.parent / "out"))
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("error: cannot build the folder of version 1 of 'fraud'")
    assert "`mreg get`" in result.stderr and result.stderr.count("\n") == 1
    assert got.exit_code == 0, got.stderr
    assert manifest_matches(registry, "fraud", 1, registry.root.parent / "out")


def test_gc_lists_leftovers_of_a_read_only_store_and_refuses_to_remove_them(
    registry: Registry, model_file: Path, cli: Cli
) -> None:
    registry.create_model_version("fraud", model_file)
    stray = registry.store.layout.tmp / ".blob.1a2b3c4d.tmp"
    stray.write_bytes(b"partial")
    with read_only(registry.root):
        listed = cli("gc")
        removed = cli("gc", "--yes")
    assert listed.exit_code == 0, listed.stderr
    assert (
        listed.stdout
        == "would remove  .mreg/tmp/.blob.1a2b3c4d.tmp: partial copy of an artifact being registered\n"
    )
    assert removed.exit_code == 1 and "Read-only file system" in removed.stderr
    assert stray.exists()
    assert cli("gc", "--yes").exit_code == 0 and not stray.exists()
