"""Remotes: configuration, push and pull to a folder and to S3 (moto on loopback), lazy fetch,
fsck --remote, gc --pushed, and bad input and faults: one ``error:`` line, the documented exit
code, nothing half-written, and a re-run that completes."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from helpers import Cli
from remote_helpers import Bucket, S3Server, free_port, remote_blob

from mreg import Registry
from mreg.errors import AlreadyExists, InvalidInput, NotFound


def blobs(registry: Registry) -> list[str]:
    objects = registry.root / "objects" / "sha256"
    return sorted(p.parent.name + p.name for p in objects.glob("*/*") if p.is_file())


def tmp_files(registry: Registry) -> list[Path]:
    return [p for p in (registry.root / "tmp").rglob("*") if p.is_file() and p.name != "pin"]


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr
    return errors[0]


@pytest.fixture
def two_versions(registry: Registry, model_file: Path, model_dir: Path) -> Registry:
    registry.create_model_version("fraud", model_file)
    registry.create_model_version("fraud", model_dir)
    return registry


# ------------------------------------------------------------------------------ configuration


def test_remote_add_list_default_remove(registry: Registry, cli: Cli, tmp_path: Path) -> None:
    assert cli("remote", "add", "team", "s3://bucket/models").exit_code == 0
    assert cli("remote", "add", "share", str(tmp_path / "share")).exit_code == 0
    listed = json.loads(cli("remote", "list", "--json").stdout)["remotes"]
    assert [(r["name"], r["default"], r["protocol"]) for r in listed] == [
        ("share", False, "file"),
        ("team", True, "s3"),
    ]
    config = (registry.root / "config.toml").read_text()
    assert '[remote]\ndefault = "team"' in config and '[remotes.team]\nurl = "s3://bucket/models"' in config
    assert cli("remote", "default", "share").exit_code == 0
    assert [r.name for r in registry.list_remotes() if r.default] == ["share"]
    assert cli("remote", "remove", "share").exit_code == 0
    assert [r.name for r in registry.list_remotes()] == ["team"]
    assert not any(r.default for r in registry.list_remotes())
    assert "/config.local.toml" in (registry.root / ".gitignore").read_text().splitlines()


@pytest.mark.parametrize(
    ("args", "code", "pattern"),
    [
        (("remote", "add", "Team", "s3://b"), 2, "invalid remote name"),
        (("remote", "add", "team", "s3://"), 2, "name a bucket"),
        (("remote", "add", "team", "nosuchproto://x/y"), 2, "unknown protocol 'nosuchproto'"),
        (("remote", "add", "team", "file://relative"), 2, "absolute path"),
        (("remote", "add", "team", ".mreg/objects"), 2, "inside the store"),
        (("remote", "remove", "nope"), 3, "not configured"),
        (("remote", "default", "nope"), 3, "not configured"),
        (("push", "--remote", "nope"), 3, "remote 'nope' is not configured"),
        (("pull",), 3, "no remote is configured"),
        (("fsck", "--remote", "nope"), 3, "remote 'nope' is not configured"),
        (("push", "--jobs", "0"), 2, "jobs"),
        (("push", "fraud/1", "--all"), 2, "not both"),
    ],
)
def test_bad_input(two_versions: Registry, cli: Cli, args: tuple[str, ...], code: int, pattern: str) -> None:
    result = cli(*args)
    assert result.exit_code == code, result.stderr
    assert re.search(pattern, result.stderr), result.stderr
    assert result.stderr.startswith("error: ") or "Usage" in result.stderr or "Invalid value" in result.stderr


def test_add_twice_and_api_errors(registry: Registry, tmp_path: Path) -> None:
    registry.add_remote("team", str(tmp_path / "r"))
    with pytest.raises(AlreadyExists):
        registry.add_remote("team", str(tmp_path / "r2"))
    with pytest.raises(InvalidInput):
        registry.add_remote("x", "")
    with pytest.raises(NotFound):
        registry.set_default_remote("nope")


def test_credentials_are_refused_in_config(registry: Registry, cli: Cli) -> None:
    path = registry.root / "config.toml"
    path.write_text(path.read_text() + '\n[remotes.team]\nurl = "s3://b"\nsecret_access_key = "x"\n')
    result = cli("remote", "list")
    assert result.exit_code == 5
    line = one_error_line(result.stderr)
    assert "config.toml" in line and "credential" in line and "AWS_ACCESS_KEY_ID" in line


def test_unknown_key_in_local_config_names_file_and_line(registry: Registry, cli: Cli) -> None:
    registry.add_remote("team", "s3://b/p")
    (registry.root / "config.local.toml").write_text(
        '[remotes.team]\nendpoint_url = "http://x"\ncolour = 1\n'
    )
    result = cli("remote", "list")
    assert result.exit_code == 5
    assert "config.local.toml:3:" in one_error_line(result.stderr)


def test_local_config_overrides_url_and_default(registry: Registry, tmp_path: Path) -> None:
    registry.add_remote("team", "s3://b/p")
    registry.add_remote("mine", str(tmp_path / "mine"))
    (registry.root / "config.local.toml").write_text(
        '[remote]\ndefault = "mine"\n\n[remotes.team]\nendpoint_url = "http://127.0.0.1:9"\nprofile = "dev"\n'
    )
    by_name = {r.name: r for r in registry.list_remotes()}
    assert by_name["mine"].default and not by_name["team"].default
    assert by_name["team"].endpoint_url == "http://127.0.0.1:9" and by_name["team"].local
    assert by_name["team"].url == "s3://b/p"


# ------------------------------------------------------------------------------ folder remote


def test_push_pull_folder_remote(two_versions: Registry, cli: Cli, tmp_path: Path) -> None:
    share = tmp_path / "share"
    two_versions.add_remote("team", str(share))
    result = cli("push", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"remote", "url", "pushed", "skipped", "failed", "bytes"}
    wanted = blobs(two_versions)
    assert sorted(item["sha256"] for item in report["pushed"]) == wanted
    for digest in wanted:
        held = remote_blob(share, digest)
        assert hashlib.sha256(held.read_bytes()).hexdigest() == digest
    # A second push finds everything there: nothing moves.
    again = json.loads(cli("push", "--json").stdout)
    assert again["pushed"] == [] and len(again["skipped"]) == len(wanted)
    # Leftover temp names of a killed push are never taken for objects.
    (remote_blob(share, wanted[0]).parent / ".tmp-deadbeef").write_bytes(b"partial")
    # Lose the local objects and pull them back, verified.
    for digest in wanted:
        os.chmod(two_versions.root / "objects" / "sha256" / digest[:2], 0o755)
        (two_versions.root / "objects" / "sha256" / digest[:2] / digest[2:]).unlink()
    pulled = json.loads(cli("pull", "--json").stdout)
    assert sorted(item["sha256"] for item in pulled["pulled"]) == wanted and pulled["failed"] == []
    assert blobs(two_versions) == wanted and tmp_files(two_versions) == []
    assert cli("fsck", "--full").exit_code == 0


def test_push_refs_selects_versions(two_versions: Registry, tmp_path: Path) -> None:
    two_versions.add_remote("team", str(tmp_path / "share"))
    report = two_versions.push(["fraud/1"])
    file_digest = two_versions.get_model_version("fraud", 1).artifact.digest
    assert [e.sha256 for e in report.done] == [file_digest]
    assert two_versions.push("models:/fraud/2").done  # a URI; the folder's files
    assert two_versions.push(["fraud"]).done == []  # the whole model: all there already
    with pytest.raises(NotFound):
        two_versions.push(["nosuch"])


def test_corrupt_folder_object_on_pull_is_never_kept(
    two_versions: Registry, cli: Cli, tmp_path: Path
) -> None:
    share = tmp_path / "share"
    two_versions.add_remote("team", str(share))
    cli("push")
    digest = two_versions.get_model_version("fraud", 1).artifact.digest
    assert digest is not None
    held = remote_blob(share, digest)
    os.chmod(held, 0o644)
    held.write_bytes(b"tampered" + held.read_bytes()[8:])
    local = two_versions.root / "objects" / "sha256" / digest[:2] / digest[2:]
    local.unlink()
    result = cli("pull")
    assert result.exit_code == 5
    line = one_error_line(result.stderr)
    assert "remote 'team'" in line and digest[:12] in line and "corrupt" in line
    assert not local.exists() and tmp_files(two_versions) == []


def test_lazy_get_fetches_and_a_corrupt_object_leaves_nothing(
    two_versions: Registry, cli: Cli, tmp_path: Path, model_file: Path
) -> None:
    share = tmp_path / "share"
    two_versions.add_remote("team", str(share))
    cli("push")
    digest = two_versions.get_model_version("fraud", 1).artifact.digest
    assert digest is not None
    local = two_versions.root / "objects" / "sha256" / digest[:2] / digest[2:]
    local.unlink()
    out = tmp_path / "out.bin"
    assert cli("get", "fraud/1", "-o", str(out)).exit_code == 0
    assert out.read_bytes() == model_file.read_bytes() and local.is_file()
    # resolve --field path hands out the fetched blob
    local.unlink()
    path = cli("resolve", "fraud/1", "--field", "path").stdout.strip()
    assert Path(path).read_bytes() == model_file.read_bytes()
    # A corrupt remote object: exit 5, nothing at DEST, nothing in objects/ or tmp/.
    local.unlink()
    held = remote_blob(share, digest)
    os.chmod(held, 0o644)
    held.write_bytes(b"X" * held.stat().st_size)
    bad = tmp_path / "bad.bin"
    result = cli("get", "fraud/1", "-o", str(bad))
    assert result.exit_code == 5
    assert "remote 'team'" in one_error_line(result.stderr)
    assert not bad.exists() and not local.exists() and tmp_files(two_versions) == []
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("bad.bin")]


def test_fsck_remote_catches_a_version_never_pushed(two_versions: Registry, cli: Cli, tmp_path: Path) -> None:
    two_versions.add_remote("team", str(tmp_path / "share"))
    cli("push")
    assert cli("fsck", "--remote").exit_code == 0
    new = tmp_path / "new.bin"
    new.write_bytes(b"never pushed")
    mv = two_versions.create_model_version("fraud", new)
    assert cli("fsck", "--remote").exit_code == 0  # here, so not lost
    digest = mv.artifact.digest
    assert digest is not None
    (two_versions.root / "objects" / "sha256" / digest[:2] / digest[2:]).unlink()
    result = cli("fsck", "--remote", "team", "--json")
    assert result.exit_code == 5
    found = [f for f in json.loads(result.stdout)["findings"] if f["kind"] == "not-on-remote"]
    assert [f["path"] for f in found] == [f"models/fraud/versions/{mv.version}.toml"]


def test_gc_pushed_drops_only_what_the_remote_holds(two_versions: Registry, cli: Cli, tmp_path: Path) -> None:
    two_versions.add_remote("team", str(tmp_path / "share"))
    two_versions.push(["fraud/1"])
    before = blobs(two_versions)
    assert cli("gc", "--yes").exit_code == 0 and blobs(two_versions) == before  # gc alone keeps them
    assert cli("gc", "--pushed", "--yes").exit_code == 0
    file_digest = two_versions.get_model_version("fraud", 1).artifact.digest
    assert file_digest not in blobs(two_versions)
    assert set(blobs(two_versions)) == set(before) - {file_digest}  # the folder was never pushed
    assert cli("fsck").exit_code == 0


def test_register_push(registry: Registry, cli: Cli, tmp_path: Path, model_file: Path) -> None:
    share = tmp_path / "share"
    registry.add_remote("team", str(share))
    result = cli("register", str(model_file), "--name", "fraud", "--push")
    assert result.exit_code == 0, result.stderr
    digest = registry.get_model_version("fraud", 1).artifact.digest
    assert digest is not None and remote_blob(share, digest).is_file()


# ------------------------------------------------------------------------------------- S3


def test_push_pull_s3(two_versions: Registry, cli: Cli, bucket: Bucket) -> None:
    two_versions.add_remote("team", bucket.url)
    result = cli("push", "--json", "--jobs", "4")
    assert result.exit_code == 0, result.stderr
    wanted = blobs(two_versions)
    assert bucket.keys() == sorted(f"models/objects/sha256/{d[:2]}/{d[2:]}" for d in wanted)
    assert json.loads(cli("push", "--json").stdout)["pushed"] == []
    for digest in wanted:
        (two_versions.root / "objects" / "sha256" / digest[:2] / digest[2:]).unlink()
    pulled = json.loads(cli("pull", "--json").stdout)
    assert sorted(i["sha256"] for i in pulled["pulled"]) == wanted
    assert cli("fsck", "--full", "--remote").exit_code == 0


def test_a_large_file_goes_to_s3_in_8_mib_parts(registry: Registry, bucket: Bucket, tmp_path: Path) -> None:
    """A file of two parts or more is a multipart upload of 8 MiB parts (S3's ETag of such an
    object ends in its number of parts); one of under two parts is a single PUT."""
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(20 * 2**20))
    small = tmp_path / "small.bin"
    small.write_bytes(os.urandom(15 * 2**20))
    registry.create_model_version("big", big)
    registry.create_model_version("small", small)
    registry.add_remote("team", bucket.url)
    assert len(registry.push().done) == 2
    client = bucket.server.client()
    for path, parts in ((big, "-3"), (small, "")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        key = f"models/objects/sha256/{digest[:2]}/{digest[2:]}"
        head = client.head_object(Bucket=bucket.name, Key=key)
        assert head["ContentLength"] == path.stat().st_size
        assert head["ETag"].strip('"').endswith(parts) and ("-" in head["ETag"]) == bool(parts)
        if parts:
            first = client.head_object(Bucket=bucket.name, Key=key, PartNumber=1)
            assert first["ContentLength"] == 8 * 2**20


def test_s3_part_size_stays_within_the_part_count_limit() -> None:
    from mreg.remotes.backend import S3_MAX_PARTS, S3_PART_SIZE, s3_part_size

    assert s3_part_size(0) == s3_part_size(2**30) == S3_PART_SIZE == 8 * 2**20
    for size in (S3_PART_SIZE * S3_MAX_PARTS, S3_PART_SIZE * S3_MAX_PARTS + 1, 5 * 2**40):
        part = s3_part_size(size)
        assert part >= S3_PART_SIZE and -(-size // part) <= S3_MAX_PARTS


def test_s3_listing_is_used_for_many_objects(registry: Registry, bucket: Bucket, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(40):
        (folder / f"f{i:02}").write_text(f"file {i}")
    registry.create_model_version("many", folder)
    registry.add_remote("team", bucket.url)
    assert len(registry.push().done) == 40
    backend = registry.remote_objects()
    assert len(backend.listing()) == 40
    report = registry.push()
    assert len(report.skipped) == 40 and not report.done


def test_corrupt_s3_object_on_pull_and_lazy_get(
    two_versions: Registry, cli: Cli, bucket: Bucket, tmp_path: Path
) -> None:
    two_versions.add_remote("team", bucket.url)
    cli("push")
    digest = two_versions.get_model_version("fraud", 1).artifact.digest
    assert digest is not None
    bucket.put(f"models/objects/sha256/{digest[:2]}/{digest[2:]}", b"corrupt bytes")
    (two_versions.root / "objects" / "sha256" / digest[:2] / digest[2:]).unlink()
    result = cli("pull", "fraud/1")
    assert result.exit_code == 5 and digest[:12] in one_error_line(result.stderr)
    out = tmp_path / "out.bin"
    result = cli("get", "fraud/1", "-o", str(out))
    assert result.exit_code == 5 and "remote 'team'" in one_error_line(result.stderr)
    assert not out.exists() and digest not in blobs(two_versions) and tmp_files(two_versions) == []


def test_missing_bucket_is_one_error_and_a_rerun_completes(
    two_versions: Registry, cli: Cli, bucket: Bucket, s3_server: S3Server
) -> None:
    url = f"s3://{bucket.name}-later/models"
    two_versions.add_remote("team", url)
    result = cli("push")
    assert result.exit_code == 1
    line = one_error_line(result.stderr)
    assert "remote 'team'" in line and "sha256 " in line and "bucket does not exist" in line
    s3_server.client().create_bucket(Bucket=f"{bucket.name}-later")
    assert cli("push").exit_code == 0
    assert json.loads(cli("push", "--json").stdout)["pushed"] == []


def test_no_credentials_is_one_error(
    two_versions: Registry, cli: Cli, bucket: Bucket, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    two_versions.add_remote("team", bucket.url)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = cli("push")
    assert result.exit_code == 1
    line = one_error_line(result.stderr)
    assert "remote 'team'" in line and "credentials" in line


def test_server_gone_is_one_error_and_a_rerun_completes(
    two_versions: Registry, cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from moto.server import ThreadedMotoServer

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in S3Server(endpoint, None).env().items():
        monkeypatch.setenv(name, value)
    two_versions.add_remote("team", "s3://gone/models")
    result = cli("push")  # nothing listens on the port
    assert result.exit_code == 1
    line = one_error_line(result.stderr)
    assert "remote 'team'" in line and "cannot reach the server" in line
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        S3Server(endpoint, server).client().create_bucket(Bucket="gone")
        assert cli("push").exit_code == 0
        assert json.loads(cli("push", "--json").stdout)["failed"] == []
    finally:
        server.stop()


def test_a_missing_extra_names_it(registry: Registry, cli: Cli, model_file: Path) -> None:
    registry.create_model_version("fraud", model_file)
    registry.add_remote("team", "gs://bucket/models")
    assert importlib.util.find_spec("gcsfs") is None  # not in the test extra: what a user without it sees
    result = cli("push")
    assert result.exit_code == 1
    assert one_error_line(result.stderr) == (
        "error: remote 'team' (gs://bucket/models) needs gcsfs: pip install 'mreg[gcs]'"
    )


def test_fsck_points_at_pull_for_objects_not_here(two_versions: Registry, cli: Cli, tmp_path: Path) -> None:
    """A clone's missing objects: with a default remote, fsck's hint is `mreg pull` from it."""
    shutil.rmtree(two_versions.root / "cache")
    blob = two_versions.root / "objects" / "sha256"
    file_version = two_versions.get_model_version("fraud", 1)
    digest = file_version.artifact.digest
    assert digest is not None
    (blob / digest[:2] / digest[2:]).unlink()
    without = cli("fsck")
    assert "copy them from the working copy" in without.stdout
    two_versions.add_remote("team", str(tmp_path / "share"), default=True)
    found = cli("fsck")
    assert found.exit_code == 0
    assert "its object is not here" in found.stdout
    assert "`mreg pull` fetches them from remote 'team'" in found.stdout
    assert "copy them from the working copy" not in found.stdout
    shutil.rmtree(two_versions.root / "objects")
    absent = cli("fsck")
    assert "no object of any version is here" in absent.stdout
    assert "`mreg pull` fetches them from remote 'team'" in absent.stdout
