"""The registry's entity types: frozen dataclasses with ``to_dict`` for JSON.

Field names follow MLflow's ``RegisteredModel`` and ``ModelVersion`` where one exists
(``current_stage``, ``user_id``, ``run_id``, ``creation_timestamp`` in epoch milliseconds …);
mreg's own additions (``created_at`` as ISO-8601 UTC, ``artifact``, ``lineage``) sit beside them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from mreg.value import Value


def iso(when: dt.datetime | None) -> str | None:
    """``2026-11-26T10:30:00.123456Z``: UTC with microseconds, the form of every JSON time."""
    if when is None:
        return None
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def epoch_ms(when: dt.datetime | None) -> int | None:
    return None if when is None else int(when.timestamp() * 1000)


@dataclass(frozen=True, eq=False, repr=False)
class ArtifactFile(Value):
    """One file of an artifact: its path inside the artifact (POSIX), sha256 and size."""

    path: str
    sha256: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "size": self.size}


@dataclass(frozen=True, eq=False, repr=False)
class Artifact(Value):
    """What a version points at. ``kind`` is ``file``, ``directory`` or ``uri``; for a URI only
    ``uri`` is set, since mreg holds no copy of its bytes."""

    kind: str
    digest: str | None = None
    size: int | None = None
    files: tuple[ArtifactFile, ...] = ()
    uri: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "digest": None if self.digest is None else f"sha256:{self.digest}",
            "size": self.size,
            "files": [f.to_dict() for f in self.files],
            "uri": self.uri,
        }


@dataclass(frozen=True, eq=False, repr=False)
class Lineage(Value):
    """Where a version came from: the git state of the working tree when it was registered."""

    git_commit: str | None = None
    git_branch: str | None = None
    git_dirty: bool | None = None
    source_path: str | None = None

    def git_summary(self) -> str | None:
        """``abc123… on main (clean)``, as ``versions show`` and the page say it; None when the
        version was registered outside git."""
        if not (self.git_commit or self.git_branch):
            return None
        dirty = {True: " (dirty: uncommitted changes)", False: " (clean)", None: ""}[self.git_dirty]
        return f"{self.git_commit or 'no commit yet'} on {self.git_branch or 'detached HEAD'}{dirty}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "git_commit": self.git_commit,
            "git_branch": self.git_branch,
            "git_dirty": self.git_dirty,
            "source_path": self.source_path,
        }


class _Timed(Value):
    """MLflow's epoch-millisecond times, from the ``created_at``/``updated_at`` fields."""

    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def creation_timestamp(self) -> int:
        return int(self.created_at.timestamp() * 1000)

    @property
    def last_updated_timestamp(self) -> int:
        return int(self.updated_at.timestamp() * 1000)

    def _times(self) -> dict[str, Any]:
        return {
            "creation_timestamp": self.creation_timestamp,
            "last_updated_timestamp": self.last_updated_timestamp,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


@dataclass(frozen=True, eq=False, repr=False)
class ModelVersion(_Timed):
    """A version of a registered model, with MLflow's field names (``user_id``, ``current_stage``)."""

    name: str
    version: int
    source: str
    artifact: Artifact
    created_at: dt.datetime
    updated_at: dt.datetime
    user_id: str
    description: str | None = None  # None when unset, as MLflow's stores return it
    run_id: str | None = None
    run_link: str | None = None
    current_stage: str = "None"
    status: str = "READY"
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    lineage: Lineage = field(default_factory=Lineage)
    mlmodel: MLmodelInfo | None = None  # what an MLflow ``MLmodel`` file at the top says

    @property
    def status_message(self) -> str | None:
        """MLflow's explanation of a pending or failed registration: always None, since mreg
        records a version only once its artifact is stored."""
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            **self._times(),
            "user_id": self.user_id,
            "current_stage": self.current_stage,
            "description": self.description,
            "source": self.source,
            "run_id": self.run_id,
            "run_link": self.run_link,
            "status": self.status,
            "tags": dict(self.tags),
            "aliases": list(self.aliases),
            "artifact": self.artifact.to_dict(),
            "lineage": self.lineage.to_dict(),
            "mlmodel": None if self.mlmodel is None else self.mlmodel.to_dict(),
        }


@dataclass(frozen=True, eq=False, repr=False)
class RegisteredModel(_Timed):
    """A registered model with its aliases and the latest version of each stage."""

    name: str
    created_at: dt.datetime
    updated_at: dt.datetime
    created_by: str
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    latest_versions: list[ModelVersion] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            **self._times(),
            "created_by": self.created_by,
            "description": self.description,
            "tags": dict(self.tags),
            "aliases": dict(self.aliases),
            "latest_versions": [v.to_dict() for v in self.latest_versions],
        }


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class Change(Value):
    """What changed in the registry, in the history's vocabulary (``action`` is ``alias_moved``,
    ``version_registered`` …): what an event records, and what ``mreg diff`` finds between two
    revisions (``user`` and ``message`` from the event that explains it, when there is one)."""

    action: str
    model: str
    version: int | None = None
    alias: str | None = None
    key: str | None = None
    old: str | int | None = None
    new: str | int | None = None
    user: str | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "model": self.model,
            "version": self.version,
            "alias": self.alias,
            "key": self.key,
            "old": self.old,
            "new": self.new,
            "user": self.user,
            "message": self.message,
        }


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class Event(Change):
    """One change to the registry, recorded: ``id`` is the event file's name, and sorts in time
    order."""

    id: str
    time: dt.datetime
    user: str
    reason: str | None = None
    git_commit: str | None = None
    # For alias events: the sha256 of policy.toml when the change passed it (None: no policy).
    policy_digest: str | None = None

    def to_dict(self) -> dict[str, Any]:
        what = super().to_dict()
        del what["user"], what["message"]  # placed as the history's JSON always placed them
        return {
            "id": self.id,
            "time": iso(self.time),
            "user": self.user,
            **what,
            "reason": self.reason,
            "message": self.message,
            "git_commit": self.git_commit,
            "policy_digest": self.policy_digest,
        }


@dataclass(frozen=True, eq=False, repr=False)
class AliasSpan(Value):
    """A stretch of time during which an alias pointed at one version (``until`` None: still)."""

    alias: str
    version: int
    since: dt.datetime
    until: dt.datetime | None
    set_by: str
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "alias": self.alias,
            "version": self.version,
            "since": iso(self.since),
            "until": iso(self.until),
            "set_by": self.set_by,
            "message": self.message,
        }


@dataclass(frozen=True, eq=False, repr=False)
class SignatureField(Value):
    """One input, output or param of an MLflow model signature. ``type`` is a column type
    (``double``, ``Array(string)`` …) or ``tensor``, which has ``dtype`` and ``shape`` (-1: any
    size); a param has a ``default`` (as JSON text) and may have a ``shape``."""

    name: str | None
    type: str
    required: bool = True
    dtype: str | None = None
    shape: tuple[int, ...] | None = None
    default: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "dtype": self.dtype,
            "shape": None if self.shape is None else list(self.shape),
            "default": self.default,
        }


@dataclass(frozen=True, eq=False, repr=False)
class Signature(Value):
    """An MLflow model signature: what the model takes and gives."""

    inputs: tuple[SignatureField, ...] = ()
    outputs: tuple[SignatureField, ...] = ()
    params: tuple[SignatureField, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": [f.to_dict() for f in self.inputs],
            "outputs": [f.to_dict() for f in self.outputs],
            "params": [f.to_dict() for f in self.params],
        }


@dataclass(frozen=True, eq=False, repr=False)
class MLmodelInfo(Value):
    """What an MLflow ``MLmodel`` file at the top of a registered folder says: each flavor with
    its one-line fields (``loader_module``, ``python_version``, ``sklearn_version`` …), the
    signature, and who wrote it when."""

    flavors: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    signature: Signature | None = None
    mlflow_version: str | None = None
    model_uuid: str | None = None
    utc_time_created: str | None = None

    @property
    def flavor_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.flavors)

    def to_dict(self) -> dict[str, Any]:
        return {
            "flavors": {name: dict(fields) for name, fields in self.flavors},
            "signature": None if self.signature is None else self.signature.to_dict(),
            "mlflow_version": self.mlflow_version,
            "model_uuid": self.model_uuid,
            "utc_time_created": self.utc_time_created,
        }
