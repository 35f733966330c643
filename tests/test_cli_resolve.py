"""``mreg resolve`` and ``mreg get`` through the command line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import Cli, run_mreg

from mreg import Registry


@pytest.fixture
def fraud(registry: Registry, isolated: Path) -> Registry:
    for n in (1, 2):
        source = isolated / f"m{n}.bin"
        source.write_bytes(f"weights {n}\n".encode())
        registry.create_model_version("fraud", source, run_id=f"run{n}")
    registry.set_registered_model_alias("fraud", "champion", 1)
    return registry


@pytest.mark.parametrize(
    ("uri", "version"),
    [
        ("models:/fraud/1", "1"),
        ("models:/fraud@champion", "1"),
        ("models:/fraud/latest", "2"),
        ("fraud/2", "2"),
        ("fraud@champion", "1"),
        ("fraud@latest", "2"),
        ("fraud@v1", "1"),
    ],
)
def test_resolve_every_uri_form(cli: Cli, fraud: Registry, uri: str, version: str) -> None:
    result = cli("resolve", uri, "--field", "version")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{version}\n"


def test_resolve_field_path_prints_exactly_one_line_the_artifact(cli: Cli, fraud: Registry) -> None:
    result = cli("resolve", "models:/fraud@champion", "--field", "path")
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 1
    assert result.stdout.endswith("\n")
    assert result.stderr == ""
    assert Path(result.stdout.strip()).read_bytes() == b"weights 1\n"


def test_resolve_field_path_of_a_directory_is_a_folder(cli: Cli, registry: Registry, model_dir: Path) -> None:
    registry.create_model_version("fraud", model_dir)
    result = cli("resolve", "fraud/1", "-f", "path")
    assert len(result.stdout.splitlines()) == 1
    folder = Path(result.stdout.strip())
    assert (folder / "sub" / "vocab.txt").read_text() == "a\nb\nc\n"


def test_resolve_field_path_in_a_real_process(fraud: Registry, isolated: Path) -> None:
    result = run_mreg("resolve", "fraud@champion", "--field", "path", cwd=isolated)
    assert result.returncode == 0
    assert result.stderr == ""
    assert result.stdout.count("\n") == 1
    assert Path(result.stdout.strip()).read_bytes() == b"weights 1\n"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("version", "1"),
        ("name", "fraud"),
        ("uri", "models:/fraud/1"),
        ("stage", "None"),
        ("run_id", "run1"),
        ("source", "m1.bin"),
    ],
)
def test_resolve_other_fields(cli: Cli, fraud: Registry, isolated: Path, field: str, value: str) -> None:
    result = cli("resolve", "fraud@champion", "--field", field)
    expected = str(isolated / value) if field == "source" else value
    assert result.stdout == f"{expected}\n"


def test_resolve_field_digest(cli: Cli, fraud: Registry) -> None:
    digest = fraud.get_model_version("fraud", 1).artifact.digest
    assert cli("resolve", "fraud/1", "--field", "digest").stdout == f"sha256:{digest}\n"


def test_resolve_without_field_and_with_json(cli: Cli, fraud: Registry) -> None:
    lines = cli("resolve", "fraud@champion").stdout.splitlines()
    assert lines[0] == "uri      models:/fraud/1"
    assert lines[1] == "aliases  champion"
    assert lines[-1].startswith("path     ") and lines[-1].endswith(
        fraud.get_model_version("fraud", 1).artifact.digest[2:]
    )  # type: ignore[index]
    data = json.loads(cli("resolve", "fraud@champion", "--json").stdout)
    assert data["uri"] == "models:/fraud/1"
    assert data["version"] == 1
    assert Path(data["path"]).read_bytes() == b"weights 1\n"


def test_resolve_a_reference(cli: Cli, registry: Registry) -> None:
    registry.create_model_version("fraud", "https://example.com/m.onnx")
    assert cli("resolve", "fraud/1").stdout.splitlines()[-1] == "path     https://example.com/m.onnx"
    assert json.loads(cli("resolve", "fraud/1", "--json").stdout)["path"] is None


def test_resolve_an_unknown_field_is_a_usage_error(cli: Cli, fraud: Registry) -> None:
    assert cli("resolve", "fraud/1", "--field", "color").exit_code == 2


def test_get_a_verified_copy(cli: Cli, fraud: Registry, isolated: Path) -> None:
    result = cli("get", "models:/fraud@champion", "-o", "build/model.bin")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "Copied fraud version 1 to build/model.bin (verified)\n"
    assert (isolated / "build" / "model.bin").read_bytes() == b"weights 1\n"
    assert cli("get", "fraud/2", "--output", "quiet.bin", "-q").stderr == ""


def test_get_a_directory(cli: Cli, registry: Registry, model_dir: Path, isolated: Path) -> None:
    registry.create_model_version("fraud", model_dir)
    assert cli("get", "fraud/1", "-o", "copy").exit_code == 0
    assert (isolated / "copy" / "sub" / "vocab.txt").read_text() == "a\nb\nc\n"


def test_get_refuses_to_overwrite_without_force(cli: Cli, fraud: Registry, isolated: Path) -> None:
    (isolated / "out.bin").write_bytes(b"mine")
    refused = cli("get", "fraud/1", "-o", "out.bin")
    assert refused.exit_code == 4
    assert refused.stderr == "error: out.bin already exists (use --force to replace it)\n"
    assert (isolated / "out.bin").read_bytes() == b"mine"
    assert cli("get", "fraud/1", "-o", "out.bin", "--force").exit_code == 0
    assert (isolated / "out.bin").read_bytes() == b"weights 1\n"


def test_get_of_a_tampered_blob_exits_5_and_leaves_nothing_at_dest(fraud: Registry, isolated: Path) -> None:
    blob = fraud.artifact_path(fraud.get_model_version("fraud", 1))
    assert not os.access(blob, os.W_OK) or os.geteuid() == 0  # blobs are read-only
    assert blob.stat().st_mode & 0o222 == 0
    os.chmod(blob, 0o644)
    blob.write_bytes(b"weights 666\n")
    before = sorted(p.name for p in isolated.iterdir())
    result = run_mreg("get", "fraud@champion", "-o", "out.bin", cwd=isolated)
    assert result.returncode == 5
    assert result.stderr.startswith("error: object for 'm1.bin' is corrupt: expected sha256 ")
    assert len(result.stderr.splitlines()) == 1
    assert not (isolated / "out.bin").exists()
    assert sorted(p.name for p in isolated.iterdir()) == before  # no temp file either


def test_get_of_a_tampered_directory_with_force_keeps_the_old_dest(
    cli: Cli, registry: Registry, model_dir: Path, isolated: Path
) -> None:
    mv = registry.create_model_version("fraud", model_dir)
    entry = mv.artifact.files[0]
    blob = registry.root / "objects" / "sha256" / entry.sha256[:2] / entry.sha256[2:]
    os.chmod(blob, 0o644)
    blob.write_bytes(b"x" * entry.size)
    (isolated / "dest").mkdir()
    (isolated / "dest" / "keep.txt").write_text("keep")
    result = cli("get", "fraud/1", "-o", "dest", "--force")
    assert result.exit_code == 5
    assert sorted(p.name for p in (isolated / "dest").iterdir()) == ["keep.txt"]
    assert not [p for p in isolated.iterdir() if p.name.startswith(".dest")]


def test_get_to_a_destination_with_a_long_unicode_name(cli: Cli, fraud: Registry, isolated: Path) -> None:
    name = "\U0001f600" * 62 + ".bin"  # 252 bytes: a legal name, whose temp name must stay legal too
    result = cli("get", "fraud/1", "-o", name)
    assert result.exit_code == 0, result.stderr
    assert (isolated / name).read_bytes() == b"weights 1\n"
