"""A crafted ``.git`` is untrusted input: lineage and events record the true commit or None,
never the content of a file that HEAD or a ref points at, and nothing hangs.

Each plant below is a ``.git`` file or folder made by hand (or a real repository tampered with);
a real ``mreg register`` process (with a timeout) records a version, and the test reads back
what the version and its event say. The secret is itself 40 hex digits, so only the checks on
where a ref is read from keep it out: a check on the id's shape alone would not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import git, run_mreg

from mreg import Registry, gitinfo

SECRET = "deadbeef" * 5  # looks like a commit id on purpose
SECRET_FILE_TEXT = f"{SECRET}\nTOPSECRET password=hunter2\n"
TIMEOUT = 20.0


def _ceiling(tmp_path: Path) -> dict[str, str]:
    # git must not walk up past the test folder and find some unrelated repository.
    return {"GIT_CEILING_DIRECTORIES": str(tmp_path)}


def _register(project: Path, tmp_path: Path) -> tuple[str | None, str | None]:
    """Register a file through a real process; (version's git_commit, its event's git_commit)."""
    (project / "model.bin").write_bytes(b"weights\n")
    env = _ceiling(tmp_path)
    done = run_mreg("register", "model.bin", "--name", "m", "--json", cwd=project, env=env, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    version = json.loads(done.stdout)
    shown = run_mreg("history", "m", "--json", cwd=project, env=env, timeout=TIMEOUT)
    assert shown.returncode == 0, shown.stderr
    events = json.loads(shown.stdout)["events"]
    assert [e["action"] for e in events] == ["model_created", "version_registered"]
    assert events[0]["git_commit"] == events[1]["git_commit"]
    return version["lineage"]["git_commit"], events[1]["git_commit"]


def _store_bytes(project: Path) -> bytes:
    found = []
    for folder, _, names in os.walk(project / ".mreg"):
        for name in names:
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                found.append(path.read_bytes())
    return b"\n".join(found)


def _secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret"
    path.write_text(SECRET_FILE_TEXT)
    return path


def _git_dir(project: Path) -> Path:
    folder = project / ".git"
    for sub in ("objects", "refs/heads", "refs/tags"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return folder


# Each plant builds a project folder with a crafted .git; it returns nothing: the expectation is
# always "git_commit is None".


def gitdir_to_attacker_folder(project: Path, tmp_path: Path) -> None:
    secret = _secret(tmp_path)
    evil = tmp_path / "evil"
    (evil / "refs").mkdir(parents=True)
    (evil / "HEAD").write_text(f"ref: {os.path.relpath(secret, evil)}\n")
    (project / ".git").write_text(f"gitdir: {evil}\n")


def gitdir_to_attacker_folder_with_dotdot_ref(project: Path, tmp_path: Path) -> None:
    secret = _secret(tmp_path)
    evil = tmp_path / "evil"
    (evil / "refs" / "heads").mkdir(parents=True)
    (evil / "HEAD").write_text(f"ref: refs/heads/../../{os.path.relpath(secret, evil)}\n")
    (project / ".git").write_text("gitdir: ../evil\n")


def head_ref_absolute(project: Path, tmp_path: Path) -> None:
    (_git_dir(project) / "HEAD").write_text(f"ref: {_secret(tmp_path)}\n")


def head_ref_refs_absolute(project: Path, tmp_path: Path) -> None:
    (_git_dir(project) / "HEAD").write_text(f"ref: refs//{_secret(tmp_path)}\n")


def head_ref_climbing_out(project: Path, tmp_path: Path) -> None:
    _secret(tmp_path)
    (_git_dir(project) / "HEAD").write_text("ref: refs/heads/../../../../secret\n")


def head_symlinked_out(project: Path, tmp_path: Path) -> None:
    (_git_dir(project) / "HEAD").symlink_to(_secret(tmp_path))


def refs_folder_symlinked_out(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "main").write_text(SECRET_FILE_TEXT)
    git_dir = _git_dir(project)
    os.rmdir(git_dir / "refs" / "heads")
    (git_dir / "refs" / "heads").symlink_to(outside)
    (git_dir / "HEAD").write_text("ref: refs/heads/main\n")


def ref_file_symlinked_out(project: Path, tmp_path: Path) -> None:
    git_dir = _git_dir(project)
    (git_dir / "refs" / "heads" / "main").symlink_to(_secret(tmp_path))
    (git_dir / "HEAD").write_text("ref: refs/heads/main\n")


def nested_symref_climbing_out(project: Path, tmp_path: Path) -> None:
    _secret(tmp_path)
    git_dir = _git_dir(project)
    (git_dir / "refs" / "heads" / "main").write_text("ref: refs/heads/../../../../secret\n")
    (git_dir / "HEAD").write_text("ref: refs/heads/main\n")


def head_ref_outside_refs(project: Path, tmp_path: Path) -> None:
    git_dir = _git_dir(project)
    (git_dir / "config").write_text("[core]\n")
    (git_dir / "notaref").write_text(f"{SECRET}\n")
    (git_dir / "HEAD").write_text("ref: notaref\n")


def head_is_a_fifo(project: Path, tmp_path: Path) -> None:
    os.mkfifo(_git_dir(project) / "HEAD")


def ref_is_a_fifo(project: Path, tmp_path: Path) -> None:
    git_dir = _git_dir(project)
    os.mkfifo(git_dir / "refs" / "heads" / "main")
    (git_dir / "HEAD").write_text("ref: refs/heads/main\n")


def config_is_a_fifo(project: Path, tmp_path: Path) -> None:
    git_dir = _git_dir(project)
    os.mkfifo(git_dir / "config")
    (git_dir / "HEAD").write_text("ref: refs/heads/main\n")


def packed_refs_is_a_fifo(project: Path, tmp_path: Path) -> None:
    git_dir = _git_dir(project)
    os.mkfifo(git_dir / "packed-refs")
    (git_dir / "HEAD").write_text("ref: refs/heads/main\n")


def head_of_ten_megabytes(project: Path, tmp_path: Path) -> None:
    (_git_dir(project) / "HEAD").write_text(f"{SECRET}\n" + "x" * 10_000_000)


def head_not_hex(project: Path, tmp_path: Path) -> None:
    (_git_dir(project) / "HEAD").write_text("TOPSECRET password=hunter2 and more text\n")


def head_uppercase_hex(project: Path, tmp_path: Path) -> None:
    (_git_dir(project) / "HEAD").write_text(SECRET.upper() + "\n")


def head_hex_of_wrong_length(project: Path, tmp_path: Path) -> None:
    (_git_dir(project) / "HEAD").write_text(SECRET + "00\n")


def packed_refs_garbage(project: Path, tmp_path: Path) -> None:
    git_dir = _git_dir(project)
    (git_dir / "HEAD").write_text("ref: refs/heads/main\n")
    (git_dir / "packed-refs").write_bytes(
        b"# pack-refs with: peeled fully-peeled sorted \n\xff\xfe garbage\n"
        b"TOPSECRET refs/heads/main\n" + b"z" * 100_000 + b"\n"
    )


def symref_loop(project: Path, tmp_path: Path) -> None:
    git_dir = _git_dir(project)
    (git_dir / "refs" / "heads" / "a").write_text("ref: refs/heads/b\n")
    (git_dir / "refs" / "heads" / "b").write_text("ref: refs/heads/a\n")
    (git_dir / "HEAD").write_text("ref: refs/heads/a\n")


def dotgit_is_a_fifo(project: Path, tmp_path: Path) -> None:
    os.mkfifo(project / ".git")


def dotgit_file_of_ten_megabytes(project: Path, tmp_path: Path) -> None:
    (project / ".git").write_text(f"gitdir: {tmp_path / 'evil'}\n" + "x" * 10_000_000)


PLANTS: list[Callable[[Path, Path], None]] = [
    gitdir_to_attacker_folder,
    gitdir_to_attacker_folder_with_dotdot_ref,
    head_ref_absolute,
    head_ref_refs_absolute,
    head_ref_climbing_out,
    head_symlinked_out,
    refs_folder_symlinked_out,
    ref_file_symlinked_out,
    nested_symref_climbing_out,
    head_ref_outside_refs,
    head_is_a_fifo,
    ref_is_a_fifo,
    config_is_a_fifo,
    packed_refs_is_a_fifo,
    head_of_ten_megabytes,
    head_not_hex,
    head_uppercase_hex,
    head_hex_of_wrong_length,
    packed_refs_garbage,
    symref_loop,
    dotgit_is_a_fifo,
    dotgit_file_of_ten_megabytes,
]


@pytest.mark.parametrize("plant", PLANTS, ids=[p.__name__ for p in PLANTS])
def test_a_crafted_git_never_puts_file_content_into_the_store(
    plant: Callable[[Path, Path], None], tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    Registry.init(project)
    plant(project, tmp_path)

    assert _register(project, tmp_path) == (None, None)
    stored = _store_bytes(project)
    assert SECRET.encode() not in stored
    assert b"TOPSECRET" not in stored


def _head_state_in_a_process(project: Path, tmp_path: Path) -> list[str | None]:
    code = (
        "import json, pathlib, sys; from mreg import gitinfo; "
        "print(json.dumps(gitinfo.head_state(pathlib.Path(sys.argv[1]))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(project)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, **_ceiling(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


@pytest.mark.parametrize("plant", PLANTS, ids=[p.__name__ for p in PLANTS])
def test_head_state_of_a_crafted_git_is_unknown(plant: Callable[[Path, Path], None], tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    plant(project, tmp_path)
    commit, branch = _head_state_in_a_process(project, tmp_path)
    assert commit is None
    assert branch is None or (SECRET not in branch and "secret" not in branch)


# --------------------------------------------------------------- real repositories, tampered


def _real_repo(top: Path) -> str:
    top.mkdir(parents=True, exist_ok=True)
    git("init", "-q", "-b", "main", cwd=top)
    git("commit", "-q", "--allow-empty", "-m", "first", cwd=top)
    return git("rev-parse", "HEAD", cwd=top).strip()


def test_a_real_repository_records_its_true_commit(tmp_path: Path) -> None:
    project = tmp_path / "project"
    head = _real_repo(project)
    Registry.init(project)
    assert _register(project, tmp_path) == (head, head)


def test_packed_refs_with_garbage_around_the_true_line(tmp_path: Path) -> None:
    project = tmp_path / "project"
    head = _real_repo(project)
    git("pack-refs", "--all", cwd=project)
    packed = project / ".git" / "packed-refs"
    packed.write_bytes(
        b"\xff\xfe garbage\nTOPSECRET refs/heads/other\n"
        + packed.read_bytes()
        + b"^not-a-peel\n"
        + b"z" * 5000
    )
    assert gitinfo.head_state(project) == (head, "main")


def test_a_symbolic_ref_chain_is_followed_a_few_levels(tmp_path: Path) -> None:
    project = tmp_path / "project"
    head = _real_repo(project)
    heads = project / ".git" / "refs" / "heads"
    chain = ["main", "l1", "l2", "l3"]
    for here, there in zip(chain[1:], chain[:-1], strict=True):
        (heads / here).write_text(f"ref: refs/heads/{there}\n")
    (project / ".git" / "HEAD").write_text("ref: refs/heads/l3\n")
    assert gitinfo.head_state(project) == (head, "l3")
    for n in range(4, 12):
        (heads / f"l{n}").write_text(f"ref: refs/heads/l{n - 1}\n")
    (project / ".git" / "HEAD").write_text("ref: refs/heads/l11\n")
    assert gitinfo.head_state(project) == (None, "l11")  # too deep: unknown, as git says too


def test_a_worktree_gitdir_elsewhere_is_still_read(tmp_path: Path) -> None:
    # A .git file naming a git directory elsewhere is what `git worktree add` writes: allowed,
    # as long as refs stay inside the git directories.
    main = tmp_path / "main"
    _real_repo(main)
    git("worktree", "add", "-q", "-b", "side", str(tmp_path / "side"), cwd=main)
    side = tmp_path / "side"
    assert (side / ".git").is_file()
    head = git("rev-parse", "HEAD", cwd=side).strip()
    assert gitinfo.head_state(side) == (head, "side")


# ------------------------------------------------------------------------- the rules themselves

REF_NAMES = [
    "refs/heads/main",
    "refs/heads/feature/x-1",
    "refs/heads/ü",
    "refs/heads/(detached)",
    "refs/heads/a..b",
    "refs/heads/a/../b",
    "refs/heads/.hidden",
    "refs/heads/x.lock",
    "refs/heads/x.lock/y",
    "refs/heads/x.",
    "refs/heads/x/",
    "refs/heads//x",
    "/refs/heads/x",
    "refs/heads/a@{1}",
    "refs/heads/a@b",
    "@",
    "refs/heads/a b",
    "refs/heads/a\tb",
    "refs/heads/a\x7fb",
    "refs/heads/a~1",
    "refs/heads/a^",
    "refs/heads/a:b",
    "refs/heads/a?",
    "refs/heads/a*",
    "refs/heads/a[b",
    "refs/heads/a\\b",
    "refs/heads/" + "x" * 300,
]


@pytest.mark.parametrize("name", REF_NAMES)
def test_ref_names_are_checked_as_git_checks_them(name: str, isolated: Path) -> None:
    verdict = subprocess.run(["git", "check-ref-format", name], capture_output=True, timeout=TIMEOUT)
    assert gitinfo.check_ref_format(name) == (verdict.returncode == 0)


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("a" * 40, True),
        ("0123456789abcdef" * 4, True),
        ("A" * 40, False),
        ("a" * 39, False),
        ("a" * 41, False),
        ("a" * 63, False),
        ("a" * 65, False),
        ("g" * 40, False),
        ("a" * 40 + "\n", False),
        (" " + "a" * 40, False),
        ("", False),
    ],
)
def test_commit_ids_are_40_or_64_lowercase_hex_digits(text: str, valid: bool) -> None:
    assert gitinfo.is_commit_id(text) is valid


def test_reading_a_git_file_is_bounded_and_never_blocks(isolated: Path) -> None:
    small = isolated / "small"
    small.write_bytes(b"x" * 4096)
    big = isolated / "big"
    big.write_bytes(b"x" * 4097)
    fifo = isolated / "fifo"
    os.mkfifo(fifo)
    assert gitinfo.read_git_file(small) == b"x" * 4096
    assert gitinfo.read_git_file(big) is None
    assert gitinfo.read_git_file(fifo) is None
    assert gitinfo.read_git_file(isolated) is None
    assert gitinfo.read_git_file(isolated / "missing") is None


@pytest.mark.parametrize(
    "ref",
    ["refs/heads/x.lock", "refs/heads/a@{1}", "refs/heads/.hidden", "refs/heads/a\x1bb", "refs/heads/x."],
)
def test_ref_names_git_refuses_are_not_read(ref: str, isolated: Path) -> None:
    git_dir = _git_dir(isolated)
    target = git_dir / ref
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(f"{SECRET}\n")
    (git_dir / "HEAD").write_text(f"ref: {ref}\n")
    assert gitinfo.head_state(isolated) == (None, None)
