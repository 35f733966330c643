"""The remote half of ``Registry``: configuring remotes, push, pull, and the checks against one.

``Registry`` inherits these methods; each is a thin call into ``mreg.remotes`` (imported here,
inside the methods, so that a command that never touches a remote never loads it or fsspec).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mreg.store.records import VersionRecord
from mreg.uris import parse_model_uri

if TYPE_CHECKING:
    from collections.abc import Iterable

    from mreg.entities import Artifact, ModelVersion
    from mreg.fsck import Finding
    from mreg.remotes.backend import RemoteObjects
    from mreg.remotes.config import Remote
    from mreg.remotes.transfer import TransferProgress, TransferReport
    from mreg.store.objects import FileEntry, ObjectBackend
    from mreg.store.store import Store
    from mreg.uris import ModelRef


class RemoteMethods:
    """Remote configuration and transfers, with the same semantics as ``mreg remote``,
    ``mreg push`` and ``mreg pull`` (docs/remotes.md)."""

    store: Store

    if TYPE_CHECKING:

        def resolve(self, uri: str | ModelRef) -> ModelVersion: ...

    # ---------------------------------------------------------------------------- configuration

    def add_remote(self, name: str, url: str, *, default: bool = False) -> Remote:
        """Add a remote to ``config.toml`` (the default with ``default``, or when it is the
        first). InvalidInput for a bad name or URL, AlreadyExists when the name is taken."""
        from mreg.remotes import config

        return config.add(self.store, name, url, default=default)

    def remove_remote(self, name: str) -> None:
        """Remove a remote from ``config.toml`` (its objects stay where they are)."""
        from mreg.remotes import config

        config.remove(self.store, name)

    def set_default_remote(self, name: str) -> Remote:
        """Make ``name`` the default remote (``config.toml``)."""
        from mreg.remotes import config

        return config.set_default(self.store, name)

    def list_remotes(self) -> list[Remote]:
        """Every remote, with this user's ``config.local.toml`` applied, by name."""
        from mreg.remotes import config

        return config.remotes(self.store)

    def remote_objects(self, remote: str | None = None) -> RemoteObjects:
        """The blobs of ``remote`` (default: the default remote); NotFound when there is none."""
        from mreg.remotes import backend, config

        return backend.RemoteObjects(config.find(self.store, remote), self.store.root.parent)

    def _default_remote_objects(self) -> ObjectBackend | None:
        """Where a blob missing here is fetched from: the default remote, if one is set."""
        from mreg.remotes import backend, config

        found = config.default_or_none(self.store)
        return None if found is None else backend.RemoteObjects(found, self.store.root.parent)

    # -------------------------------------------------------------------------------- transfers

    def _entries(self, refs: Iterable[str] | None) -> list[FileEntry]:
        """The blobs of the versions ``refs`` name: a model name (every live version of it),
        ``NAME/VERSION``, ``NAME@ALIAS``, any ``models:/`` URI; None: every live version."""
        from mreg.remotes import transfer

        if refs is None:
            return transfer.entries_of_versions(r.artifact for _, _, r in transfer.live_versions(self.store))
        if isinstance(refs, str):
            refs = [refs]
        artifacts: list[Artifact] = []
        for ref in refs:
            if "/" in ref or "@" in ref:
                artifacts.append(self.resolve(parse_model_uri(ref)).artifact)
                continue
            self.store.model(ref)
            numbers = self.store.version_numbers(ref)
            artifacts.extend(
                r.artifact for _, r in self.store.versions(ref, numbers) if isinstance(r, VersionRecord)
            )
        return transfer.entries_of_versions(artifacts)

    def push(
        self,
        refs: Iterable[str] | None = None,
        *,
        remote: str | None = None,
        jobs: int | None = None,
        progress: TransferProgress | None = None,
    ) -> TransferReport:
        """Upload the objects of the versions ``refs`` name (None: every live version) that
        ``remote`` (default: the default remote) lacks, ``jobs`` at a time (default 8). Objects
        already there are skipped. Returns the report; an object that failed is listed in
        ``report.failed`` and ``report.check()`` raises (RemoteError, or IntegrityError for a
        local blob that does not hash to its name, which is never pushed)."""
        from mreg.remotes import transfer

        count = transfer.check_jobs(jobs)
        backend = self.remote_objects(remote)
        return transfer.push(self.store, backend, self._entries(refs), jobs=count, progress=progress)

    def pull(
        self,
        refs: Iterable[str] | None = None,
        *,
        remote: str | None = None,
        jobs: int | None = None,
        progress: TransferProgress | None = None,
    ) -> TransferReport:
        """Fetch the objects of the versions ``refs`` name (None: every live version) that are
        not here from ``remote`` (default: the default remote), each checked against its sha256
        on the way in (a mismatch is kept nowhere: IntegrityError in ``report.failed``)."""
        from mreg.remotes import transfer

        count = transfer.check_jobs(jobs)
        backend = self.remote_objects(remote)
        return transfer.pull(self.store, backend, self._entries(refs), jobs=count, progress=progress)

    def fsck_remote(self, remote: str | None = None) -> list[Finding]:
        """Live versions with an object that neither this store nor ``remote`` (default: the
        default remote) holds, one ``error`` finding each (kind ``not-on-remote``): the CI check
        that a change only references pushed models."""
        from mreg.fsck import ERROR, Finding
        from mreg.remotes import transfer
        from mreg.store.files import display_path
        from mreg.store.layout import rel_version_file

        backend = self.remote_objects(remote)
        findings = []
        for name, number, entry in transfer.not_held(self.store, backend):
            path = self.store.layout.version_file(name, number)
            findings.append(
                Finding(
                    ERROR,
                    "not-on-remote",
                    rel_version_file(name, number),
                    f"{display_path(path)}: object sha256:{entry.sha256[:12]}… of {entry.path!r} is neither "
                    f"here nor on {backend.where()}: push it (`mreg push {name}/{number}`)",
                )
            )
        return findings
