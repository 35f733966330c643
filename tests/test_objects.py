"""Artifacts in the content-addressed object store: blobs, manifests, the directory digest."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import threading
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mreg import IntegrityError, InvalidInput, Registry
from mreg.store import objects
from mreg.store.layout import Layout


def blobs(registry: Registry) -> list[Path]:
    return sorted(p for p in (registry.root / "objects").rglob("*") if p.is_file())


def test_a_file_is_stored_once_under_its_sha256_read_only(registry: Registry, model_file: Path) -> None:
    mv = registry.create_model_version("fraud", model_file)
    digest = hashlib.sha256(model_file.read_bytes()).hexdigest()
    blob = registry.root / "objects" / "sha256" / digest[:2] / digest[2:]
    assert blobs(registry) == [blob]
    assert blob.read_bytes() == model_file.read_bytes()
    assert not blob.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert mv.artifact.digest == digest
    assert mv.artifact.files[0].sha256 == digest


def test_the_registry_keeps_its_copy_when_the_training_folder_goes(
    registry: Registry, model_file: Path
) -> None:
    registry.create_model_version("fraud", model_file)
    model_file.unlink()
    path = registry.artifact_path(registry.resolve("fraud/1"))
    assert path.read_bytes() == b"weights v1\n"


def test_a_directory_of_three_files_has_a_manifest_with_each_sha256_and_size(
    registry: Registry, model_dir: Path
) -> None:
    mv = registry.create_model_version("fraud", model_dir)
    expected = {
        p.relative_to(model_dir).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_size)
        for p in model_dir.rglob("*")
        if p.is_file()
    }
    assert len(expected) == 3
    assert mv.artifact.kind == "directory"
    assert {f.path: (f.sha256, f.size) for f in mv.artifact.files} == expected
    assert mv.artifact.size == sum(size for _, size in expected.values())
    record = tomllib.loads((registry.root / "models" / "fraud" / "versions" / "1.toml").read_text())
    manifest = {f["path"]: (f["sha256"], f["size"]) for f in record["artifact"]["files"]}
    assert manifest == expected
    assert record["artifact"]["digest"] == f"sha256:{mv.artifact.digest}"
    assert len(blobs(registry)) == 3


def test_registering_identical_content_again_stores_no_second_copy(
    registry: Registry, model_dir: Path
) -> None:
    first = registry.create_model_version("fraud", model_dir)
    stored = {p: p.stat().st_ino for p in blobs(registry)}
    copy = model_dir.parent / "copy"
    copy.mkdir()
    for path in model_dir.rglob("*"):
        target = copy / path.relative_to(model_dir)
        if path.is_dir():
            target.mkdir()
        else:
            target.write_bytes(path.read_bytes())
    second = registry.create_model_version("other-model", copy)
    assert second.artifact.digest == first.artifact.digest
    assert {p: p.stat().st_ino for p in blobs(registry)} == stored
    assert list(registry.root.rglob("*.tmp")) == []  # the second copy was not left behind


def test_two_files_with_the_same_bytes_in_one_folder_share_a_blob(registry: Registry, isolated: Path) -> None:
    folder = isolated / "dup"
    folder.mkdir()
    for name in ("a.bin", "b.bin", "c.bin"):
        (folder / name).write_bytes(b"same")
    mv = registry.create_model_version("fraud", folder)
    assert [f.path for f in mv.artifact.files] == ["a.bin", "b.bin", "c.bin"]
    assert len(blobs(registry)) == 1


def test_the_directory_digest_is_the_sha256_of_the_documented_manifest_lines(
    registry: Registry, model_dir: Path
) -> None:
    mv = registry.create_model_version("fraud", model_dir)
    lines = "".join(
        f"{f.sha256} {f.size} {f.path}\n" for f in sorted(mv.artifact.files, key=lambda f: f.path)
    )
    assert mv.artifact.digest == hashlib.sha256(lines.encode()).hexdigest()


def test_the_directory_digest_ignores_listing_order_but_not_names_or_content() -> None:
    a = objects.FileEntry("a", "0" * 64, 1)
    b = objects.FileEntry("b/c", "1" * 64, 2)
    assert objects.tree_digest([a, b]) == objects.tree_digest([b, a])
    assert objects.tree_digest([a, b]) != objects.tree_digest([a, objects.FileEntry("b/d", "1" * 64, 2)])
    assert objects.tree_digest([a, b]) != objects.tree_digest([a, objects.FileEntry("b/c", "2" * 64, 2)])


def test_a_directory_resolves_to_a_folder_with_its_files(registry: Registry, model_dir: Path) -> None:
    mv = registry.create_model_version("fraud", model_dir)
    path = registry.artifact_path(mv)
    assert path.is_dir()
    assert (path / "sub" / "vocab.txt").read_text() == "a\nb\nc\n"
    assert registry.artifact_path(mv) == path  # built once


def test_check_integrity_finds_a_tampered_blob(registry: Registry, model_file: Path) -> None:
    mv = registry.create_model_version("fraud", model_file)
    registry.check_integrity(mv)
    blob = blobs(registry)[0]
    os.chmod(blob, 0o644)
    blob.write_bytes(b"tampered")
    with pytest.raises(IntegrityError, match="corrupt"):
        registry.check_integrity(mv)


def test_a_missing_blob_is_an_integrity_error(registry: Registry, model_file: Path) -> None:
    mv = registry.create_model_version("fraud", model_file)
    blobs(registry)[0].unlink()
    with pytest.raises(IntegrityError, match="missing"):
        registry.artifact_path(mv)


def test_put_file_hashes_while_copying_in_chunks(registry: Registry, isolated: Path) -> None:
    big = isolated / "big.bin"
    data = os.urandom(objects.CHUNK * 2 + 123)
    big.write_bytes(data)
    seen: list[int] = []
    entry = objects.put_file(Layout(registry.root), big, seen.append)
    assert entry.sha256 == hashlib.sha256(data).hexdigest()
    assert entry.size == len(data) == sum(seen)
    assert len(seen) == 3


SMALL_CHUNK = 4096


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> int:
    """Chunks of 4 KiB, so that a small file crosses many of them and every buffer is reused."""
    monkeypatch.setattr(objects, "CHUNK", SMALL_CHUNK)
    return SMALL_CHUNK


@pytest.mark.parametrize(
    "size",
    [0, 1, SMALL_CHUNK - 1, SMALL_CHUNK, SMALL_CHUNK + 1, 2 * SMALL_CHUNK, 257 * SMALL_CHUNK + 7],
)
def test_the_copy_holds_and_hashes_exactly_the_source_bytes_at_every_chunk_boundary(
    registry: Registry, isolated: Path, small_chunks: int, size: int
) -> None:
    data = os.urandom(size)
    source = isolated / "model.bin"
    source.write_bytes(data)
    seen: list[int] = []
    entry = objects.put_file(Layout(registry.root), source, seen.append)
    assert (entry.sha256, entry.size) == (hashlib.sha256(data).hexdigest(), size)
    assert Layout(registry.root).blob(entry.sha256).read_bytes() == data
    assert seen == [small_chunks] * (size // small_chunks) + (
        [size % small_chunks] if size % small_chunks else []
    )


def test_get_copies_a_many_chunk_blob_exactly(registry: Registry, isolated: Path, small_chunks: int) -> None:
    data = os.urandom(100 * small_chunks + 1)
    source = isolated / "model.bin"
    source.write_bytes(data)
    mv = registry.create_model_version("fraud", source)
    assert registry.download_artifact(mv, isolated / "out.bin").read_bytes() == data


def threads_hashing() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if getattr(t, "_target", None) is objects._hash_chunks]


def failing_after(calls: int, real: Callable[..., Any], error: BaseException) -> Callable[..., Any]:
    count = {"n": 0}

    def fail(*args: Any) -> Any:
        count["n"] += 1
        if count["n"] > calls:
            raise error
        return real(*args)

    return fail


@pytest.mark.parametrize(
    ("target", "error"),
    [
        ("write", OSError(errno.ENOSPC, "No space left on device")),
        ("readv", OSError(errno.EIO, "Input/output error")),
        ("progress", KeyboardInterrupt()),
    ],
)
def test_a_copy_failing_midway_leaves_no_temp_file_and_no_hashing_thread(
    registry: Registry,
    isolated: Path,
    small_chunks: int,
    monkeypatch: pytest.MonkeyPatch,
    target: str,
    error: BaseException,
) -> None:
    source = isolated / "model.bin"
    source.write_bytes(os.urandom(50 * small_chunks))
    progress = failing_after(10, lambda n: None, error) if target == "progress" else None
    with monkeypatch.context() as patch:
        if target != "progress":
            patch.setattr(os, target, failing_after(10, getattr(os, target), error))
        with pytest.raises(type(error)):
            objects.put_file(Layout(registry.root), source, progress)
    assert list((registry.root / "tmp").iterdir()) == []
    assert blobs(registry) == []
    assert threads_hashing() == []


def test_a_large_copy_asks_the_kernel_to_write_it_back_as_it_goes(
    registry: Registry, isolated: Path, small_chunks: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(objects, "WRITEBACK", 10 * small_chunks)
    advice: list[tuple[int, int, int]] = []
    real = os.posix_fadvise

    def fadvise(fd: int, offset: int, length: int, what: int) -> None:
        advice.append((offset, length, what))
        real(fd, offset, length, what)

    monkeypatch.setattr(os, "posix_fadvise", fadvise)
    source = isolated / "model.bin"
    source.write_bytes(os.urandom(35 * small_chunks))
    objects.put_file(Layout(registry.root), source)
    written_back = [(offset, length) for offset, length, what in advice if what == os.POSIX_FADV_DONTNEED]
    assert written_back == [(i * 10 * small_chunks, 10 * small_chunks) for i in range(3)]


def test_a_symlinked_folder_inside_a_source_is_followed(registry: Registry, isolated: Path) -> None:
    outside = isolated / "outside"
    outside.mkdir()
    (outside / "secret").write_text("x")
    source = isolated / "src"
    source.mkdir()
    (source / "model.bin").write_text("m")
    (source / "link").symlink_to(outside, target_is_directory=True)
    mv = registry.create_model_version("fraud", source)
    assert [f.path for f in mv.artifact.files] == ["link/secret", "model.bin"]  # as `cp -rL` copies


def test_a_broken_symlink_in_a_source_is_refused(registry: Registry, isolated: Path) -> None:
    source = isolated / "src"
    source.mkdir()
    (source / "model.bin").write_text("m")
    (source / "dangling").symlink_to(isolated / "nowhere")
    with pytest.raises(InvalidInput, match="broken symlink"):
        registry.create_model_version("fraud", source)
    assert registry.model_names() == []
