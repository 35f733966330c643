"""Registry: the Python API, with the method names of MLflow's ``MlflowClient``.

Every change follows one path: validate the input → do the heavy work outside the lock (hash and
copy an artifact, ask git for lineage) → take the store lock → re-read the records it depends on
→ write the changed records → append one event per change. The store (``mreg.store``) owns every
file; this module decides what changes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mreg import history, names, policy, sources
from mreg.entities import Event, Lineage, ModelVersion, RegisteredModel
from mreg.errors import AlreadyExists, InvalidInput, MregError, NotFound
from mreg.registry_queries import QueryMethods
from mreg.registry_remotes import RemoteMethods
from mreg.store import files, store
from mreg.store.records import ModelRecord, Tombstone, VersionRecord
from mreg.store.store import Store
from mreg.uris import SCHEME, ModelRef, parse_model_uri

if TYPE_CHECKING:  # imported by the methods that need them: no other command pays for them
    from mreg.fsck import Finding
    from mreg.gc import GcReport
    from mreg.gitmerge import MergePlan

locate_store, init_store = store.locate, store.init  # also exported by mreg


class Registry(QueryMethods, RemoteMethods):
    """A model registry stored in a ``.mreg`` folder.

    ``Registry(path)`` takes the ``.mreg`` folder or the folder holding it; ``Registry()`` finds
    it as the command line does (``MREG_STORE``, then walking up from the working directory).
    Method names and arguments follow MLflow's ``MlflowClient`` registry methods.
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, lock_timeout: float | None = None
    ) -> None:
        self.store = Store(path, lock_timeout=lock_timeout)
        self.store.fallback_objects = self._default_remote_objects  # lazy fetch (docs/remotes.md)

    @classmethod
    def init(cls, path: str | os.PathLike[str] | None = None, *, commit_objects: bool = False) -> Registry:
        root, _ = store.init(path, commit_objects=commit_objects)
        return cls(root)

    @property
    def root(self) -> Path:
        """The ``.mreg`` folder."""
        return self.store.root

    def __repr__(self) -> str:
        return f"Registry({str(self.root)!r})"

    def _event(self, model: str, action: str, **fields: Any) -> Event:
        return history.record(self.store, model, action, **fields)

    # --------------------------------------------------------------------------------- reading

    @staticmethod
    def _version_entity(name: str, n: int, record: VersionRecord, aliases: dict[str, int]) -> ModelVersion:
        return record.entity(name, n, sorted(a for a, v in aliases.items() if v == n))

    def _latest_per_stage(
        self, name: str, aliases: dict[str, int], stages: Iterable[str] | None = None
    ) -> list[ModelVersion]:
        wanted = set(names.STAGES if stages is None else (names.canonical_stage(s) for s in stages))
        return [
            self._version_entity(name, *found, aliases) for found in self.store.latest_per_stage(name, wanted)
        ]

    def _registered_model(
        self, name: str, record: ModelRecord, *, newest_only: bool = False
    ) -> RegisteredModel:
        aliases = self.store.aliases(name)
        newest = [next(self.store.live_versions_descending(name), None)] if newest_only else []
        latest = [self._version_entity(name, *v, aliases) for v in newest if v is not None]
        return record.entity(name, aliases, latest or self._latest_per_stage(name, aliases))

    def model_names(self) -> list[str]:
        """Every registered model's name, sorted."""
        return self.store.model_names()

    # -------------------------------------------------------------------------- registered models

    def create_registered_model(
        self,
        name: str,
        tags: Mapping[str, Any] | None = None,
        description: str | None = None,
        *,
        message: str | None = None,
    ) -> RegisteredModel:
        """Create an empty registered model. Raises AlreadyExists if the name (in any case) is taken."""
        names.validate_model_name(name)
        tags = names.validate_tags(tags)
        description = names.validate_text(description or "", "description")
        message = names.validate_message(message)
        with self.store.changing():
            self._create_model_locked(name, tags, description, message)
        return self.get_registered_model(name)

    def _create_model_locked(
        self, name: str, tags: dict[str, str], description: str, message: str | None
    ) -> None:
        if self.store.has_model(name):
            raise AlreadyExists(f"model {name!r} already exists")
        self.store.refuse_case_twin(name)
        self.store.trash_other_case_folders(name, history.event_id(history.now()))
        when = history.now()
        user = history.current_user()
        self.store.write_model(name, ModelRecord(when, user, when, description, tags))
        self._event(name, "model_created", message=message, new=name)
        for key, value in tags.items():
            self._event(name, "model_tag_set", key=key, new=value, message=message)

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self._registered_model(name, self.store.model(name))

    @files.scanning()
    def list_registered_models(self) -> list[RegisteredModel]:
        """Every registered model, by name; an unreadable model folder raises its StoreError
        (``search_registered_models`` lists such errors in the page's ``problems``)."""
        return [self.get_registered_model(n) for n in self.store.model_names(strict=True)]

    def rename_registered_model(
        self, name: str, new_name: str, *, message: str | None = None
    ) -> RegisteredModel:
        """Rename a model; its versions, aliases, tags and history move with it (one folder rename)."""
        names.validate_model_name(name)
        names.validate_model_name(new_name)
        message = names.validate_message(message)
        with self.store.changing():
            record = self.store.model(name)
            if new_name == name:
                return self.get_registered_model(name)
            if self.store.has_model(new_name) and new_name.casefold() != name.casefold():
                raise AlreadyExists(f"model {new_name!r} already exists")
            self.store.refuse_case_twin(new_name, ignore=name)
            self.store.rename_model(name, new_name)
            self.store.write_model(new_name, record.changed(history.now()))
            self._event(new_name, "model_renamed", old=name, new=new_name, message=message)
        return self.get_registered_model(new_name)

    def update_registered_model(
        self, name: str, description: str | None = None, *, message: str | None = None
    ) -> RegisteredModel:
        """Replace a model's description (Markdown)."""
        names.validate_model_name(name)
        description = names.validate_text(description or "", "description")
        message = names.validate_message(message)
        with self.store.changing():
            record = self.store.model(name)
            if record.description != description:
                self.store.write_model(name, record.changed(history.now(), description=description))
                self._event(name, "model_described", old=record.description, new=description, message=message)
        return self.get_registered_model(name)

    def delete_registered_model(self, name: str, *, message: str | None = None) -> None:
        """Delete a model with all its versions, aliases and history (its name becomes free).
        The deletion itself is recorded in the store-level history."""
        names.validate_model_name(name)
        message = names.validate_message(message)
        with self.store.changing():
            self.store.model(name)
            live = sum(1 for _ in self.store.live_versions_descending(name))
            trash = self.store.trash_model_folder(name, history.event_id(history.now()))
            old = f"{live} live version(s)"
            history.record(self.store, name, "model_deleted", old=old, message=message, store_level=True)
            self.store.empty_trash(trash)

    # ------------------------------------------------------------------------------ model tags

    def set_registered_model_tag(
        self, name: str, key: str, value: Any, *, message: str | None = None
    ) -> None:
        self.set_registered_model_tags(name, {key: value}, message=message)

    def set_registered_model_tags(
        self, name: str, tags: Mapping[str, Any], *, message: str | None = None
    ) -> None:
        """Set several tags of a model in one step."""
        names.validate_model_name(name)
        self._change_tags(name, None, names.validate_tags(tags), [], names.validate_message(message))

    def delete_registered_model_tag(self, name: str, key: str, *, message: str | None = None) -> None:
        self.delete_registered_model_tags(name, [key], message=message)

    def delete_registered_model_tags(
        self, name: str, keys: Iterable[str], *, message: str | None = None
    ) -> None:
        """Delete tags of a model; a key that is not set is not an error."""
        names.validate_model_name(name)
        self._change_tags(
            name, None, {}, [names.validate_tag_key(k) for k in keys], names.validate_message(message)
        )

    def _change_tags(
        self, name: str, version: int | None, new: dict[str, str], gone: list[str], message: str | None
    ) -> None:
        """Set ``new`` and delete ``gone`` tags of a model (``version`` None) or a version; one event each."""
        with self.store.changing():
            record = self.store.model(name) if version is None else self.store.live_version(name, version)
            changed = {k: v for k, v in new.items() if record.tags.get(k) != v}
            present = [k for k in gone if k in record.tags]
            if not changed and not present:
                return
            tags = {k: v for k, v in {**record.tags, **changed}.items() if k not in present}
            if isinstance(record, ModelRecord):
                self.store.write_model(name, record.changed(history.now(), tags=tags))
            else:
                assert version is not None
                self.store.write_version(name, version, record.changed(history.now(), tags=tags))
            action = "model_tag" if version is None else "version_tag"
            for key, value in changed.items():
                old = record.tags.get(key)
                self._event(
                    name, f"{action}_set", version=version, key=key, old=old, new=value, message=message
                )
            for key in present:
                old = record.tags[key]
                self._event(name, f"{action}_deleted", version=version, key=key, old=old, message=message)

    # ---------------------------------------------------------------------------------- versions

    def create_model_version(
        self,
        name: str,
        source: str | os.PathLike[str],
        run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        await_creation_for: int | None = None,
        model_id: str | None = None,
        *,
        local_model_path: str | os.PathLike[str] | None = None,
        aliases: Iterable[str] = (),
        message: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> ModelVersion:
        """Register a new version of ``name`` (created if missing) from a local file or folder,
        copied into the object store, from a URI, recorded as a reference, or from a ``models:/``
        URI of this registry, whose artifact it shares. MlflowClient's ``await_creation_for`` and
        ``model_id`` are accepted and unused (a version is READY once registered; mreg keeps no
        logged models); ``local_model_path`` is where the bytes are when ``source`` only names them."""
        names.validate_model_name(name)
        tags = names.validate_tags(tags)
        run_id = names.validate_run_id(run_id) if run_id else ""
        run_link = names.validate_text(run_link or "", "run link", names.SOURCE_MAX)
        description = names.validate_text(description or "", "description")
        alias_list = list(dict.fromkeys(names.validate_alias(a) for a in aliases))
        message = names.validate_message(message)
        # Refuse what the locked step below would refuse before copying the artifact in, so that a
        # failed register leaves no blob behind; the locked step checks again.
        history.current_user()
        self.store.refuse_during_merge()
        if self.store.has_model(name):
            self.store.model(name)
        else:
            self.store.refuse_case_twin(name, ignore=name)
        # Objects go into the store before the lock and the record: the pin keeps gc off them.
        with self.store.pin.shared():
            found = sources.version_source(
                self.store, source, resolve=self.resolve, local_model_path=local_model_path, progress=progress
            )
            listed = self.store.version_numbers(name)  # before the lock: it grows with the model
            with self.store.changing():
                if not self.store.has_model(name):
                    self._create_model_locked(name, {}, "", message)
                else:
                    self.store.model(name)
                version = self.store.next_version(name, listed[-1] if listed else 0)
                # Everything that could refuse is asked before the first write: a register that
                # fails writes nothing.
                current = self.store.aliases(name)
                for alias in alias_list:
                    self.store.refuse_alias_case_twin(name, alias, current)
                when = history.now()
                record = VersionRecord(
                    created_at=when,
                    created_by=history.current_user(),
                    updated_at=when,
                    source=found.source,
                    artifact=found.artifact,
                    run_id=run_id,
                    run_link=run_link,
                    description=description,
                    lineage=found.lineage,
                    tags=tags,
                    mlmodel=found.mlmodel,
                )
                self.store.write_version(name, version, record)
                reason = None if found.copied_from is None else f"copied from {found.copied_from}"
                self._event(
                    name,
                    "version_registered",
                    version=version,
                    new=record.artifact_id,
                    reason=reason,
                    message=message,
                )
                for alias in alias_list:
                    self._set_alias_locked(name, alias, version, current, message)
        return self.get_model_version(name, version)

    def copy_model_version(
        self, src_model_version: ModelVersion | str, dst_name: str, *, message: str | None = None
    ) -> ModelVersion:
        """MLflow's copy: a new version of ``dst_name`` (created if missing) from a version given
        as a ``ModelVersion`` or a model URI, sharing its artifact (no bytes are copied), with its
        tags, description, run id and link; its source is ``models:/NAME/VERSION``, and its
        ``version_registered`` event says where it was copied from."""
        src = src_model_version
        if isinstance(src, str):
            src = self.resolve(src)
        return self.create_model_version(
            dst_name,
            f"{SCHEME}{src.name}/{src.version}",
            src.run_id,
            src.tags,
            src.run_link,
            src.description,
            message=message,
        )

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        names.validate_model_name(name)
        number = names.validate_version(version)
        record = self.store.live_version(name, number)
        return self._version_entity(name, number, record, self.store.aliases(name))

    @files.scanning()
    def list_model_versions(self, name: str | None = None) -> list[ModelVersion]:
        """Every live version of ``name`` (or of every model), by model then version; an unreadable
        file raises its StoreError (``search_model_versions`` lists them in ``problems``)."""
        result = []
        for model in [name] if name is not None else self.store.model_names(strict=True):
            self.store.model(model)
            aliases = self.store.aliases(model)
            for number, record in self.store.versions(model, self.store.version_numbers(model)):
                if isinstance(record, VersionRecord):
                    result.append(self._version_entity(model, number, record, aliases))
        return result

    def update_model_version(
        self, name: str, version: int | str, description: str | None = None, *, message: str | None = None
    ) -> ModelVersion:
        """Replace a version's description."""
        names.validate_model_name(name)
        number = names.validate_version(version)
        description = names.validate_text(description or "", "description")
        message = names.validate_message(message)
        with self.store.changing():
            record = self.store.live_version(name, number)
            if record.description != description:
                self.store.write_version(name, number, record.changed(history.now(), description=description))
                self._event(
                    name,
                    "version_described",
                    version=number,
                    old=record.description,
                    new=description,
                    message=message,
                )
        return self.get_model_version(name, number)

    def delete_model_version(self, name: str, version: int | str, *, message: str | None = None) -> None:
        """Delete a version: its aliases go first, then its record becomes a tombstone keeping its number."""
        names.validate_model_name(name)
        number = names.validate_version(version)
        message = names.validate_message(message)
        with self.store.changing():
            record = self.store.live_version(name, number)
            for alias, target in self.store.aliases(name).items():
                if target == number:  # removing a protected alias obeys its rules (policy.toml)
                    rules = policy.check_alias_delete(self.store, name, alias, number, message=message)
                    self.store.delete_alias(name, alias)
                    self._event(
                        name,
                        "alias_deleted",
                        alias=alias,
                        old=number,
                        reason=f"version {number} deleted",
                        message=message,
                        **rules,
                    )
            tombstone = Tombstone(
                created_at=record.created_at,
                created_by=record.created_by,
                updated_at=history.now(),
                source=record.source,
                deleted_by=history.current_user(),
            )
            self.store.write_version(name, number, tombstone)
            self._event(name, "version_deleted", version=number, old=record.artifact_id, message=message)

    # ------------------------------------------------------------------------------ version tags

    def set_model_version_tag(
        self, name: str, version: int | str, key: str, value: Any, *, message: str | None = None
    ) -> None:
        self.set_model_version_tags(name, version, {key: value}, message=message)

    def set_model_version_tags(
        self, name: str, version: int | str, tags: Mapping[str, Any], *, message: str | None = None
    ) -> None:
        names.validate_model_name(name)
        number = names.validate_version(version)
        self._change_tags(name, number, names.validate_tags(tags), [], names.validate_message(message))

    def delete_model_version_tag(
        self, name: str, version: int | str, key: str, *, message: str | None = None
    ) -> None:
        self.delete_model_version_tags(name, version, [key], message=message)

    def delete_model_version_tags(
        self, name: str, version: int | str, keys: Iterable[str], *, message: str | None = None
    ) -> None:
        names.validate_model_name(name)
        number = names.validate_version(version)
        keys = [names.validate_tag_key(k) for k in keys]
        self._change_tags(name, number, {}, keys, names.validate_message(message))

    # ------------------------------------------------------------------------------------ stages

    def transition_model_version_stage(
        self,
        name: str,
        version: int | str,
        stage: str,
        archive_existing_versions: bool = False,
        *,
        message: str | None = None,
    ) -> ModelVersion:
        """Move a version to a stage (None, Staging, Production, Archived); with
        ``archive_existing_versions`` the other versions in that stage become Archived."""
        names.validate_model_name(name)
        number = names.validate_version(version)
        stage = names.canonical_stage(stage)
        if archive_existing_versions and stage not in ("Staging", "Production"):
            raise InvalidInput("archive_existing_versions applies only to the Staging and Production stages")
        message = names.validate_message(message)
        with self.store.changing():
            record = self.store.live_version(name, number)
            when = history.now()  # one time for the version and those it archives, as in MLflow
            policy.check_stage(self.store, name, number, record.stage, stage)
            if archive_existing_versions:
                for other, other_record in self.store.live_versions_descending(name):
                    if other != number and other_record.stage == stage:
                        self.store.write_version(name, other, other_record.changed(when, stage="Archived"))
                        self._event(
                            name,
                            "version_stage_changed",
                            version=other,
                            old=stage,
                            new="Archived",
                            reason=f"version {number} moved to {stage}",
                            message=message,
                        )
            if record.stage != stage:
                self.store.write_version(name, number, record.changed(when, stage=stage))
                self._event(
                    name,
                    "version_stage_changed",
                    version=number,
                    old=record.stage,
                    new=stage,
                    message=message,
                )
        return self.get_model_version(name, number)

    def get_latest_versions(self, name: str, stages: Iterable[str] | None = None) -> list[ModelVersion]:
        """The latest version in each of ``stages`` (None or empty: every stage), as MLflow's."""
        self.store.model(name)
        return self._latest_per_stage(name, self.store.aliases(name), stages or None)

    # ----------------------------------------------------------------------------------- aliases

    def set_registered_model_alias(
        self,
        name: str,
        alias: str,
        version: int | str,
        *,
        expect: int | None = None,
        message: str | None = None,
    ) -> None:
        """Point ``alias`` at ``version`` (creating or moving it). With ``expect``, the alias must
        currently point at that version (0: must not exist yet), or Conflict is raised."""
        names.validate_model_name(name)
        names.validate_alias(alias)
        number = names.validate_version(version)
        if expect is not None and expect != 0:
            expect = names.validate_version(expect)
        message = names.validate_message(message)
        with self.store.changing():
            self.store.live_version(name, number)
            current = self.store.aliases(name)
            policy.check_expected(name, alias, current, expect)
            self._set_alias_locked(name, alias, number, current, message, cas=expect is not None)

    def _set_alias_locked(
        self, name: str, alias: str, version: int, now: dict[str, int], message: str | None, cas: bool = False
    ) -> None:
        old = now.get(alias)
        if old == version:
            return
        self.store.refuse_alias_case_twin(name, alias, now)
        rules = policy.check_alias(self.store, name, alias, old, version, message=message, expected=cas)
        self.store.write_alias(name, alias, version)
        now[alias] = version
        action = "alias_set" if old is None else "alias_moved"
        self._event(name, action, alias=alias, old=old, new=version, message=message, **rules)

    def delete_registered_model_alias(self, name: str, alias: str, *, message: str | None = None) -> None:
        """Remove an alias; removing one that does not exist is not an error."""
        names.validate_model_name(name)
        names.validate_alias(alias)
        message = names.validate_message(message)
        with self.store.changing():
            self.store.model(name)
            current = self.store.aliases(name)
            if alias in current:
                rules = policy.check_alias_delete(self.store, name, alias, current[alias], message=message)
                self.store.delete_alias(name, alias)
                self._event(name, "alias_deleted", alias=alias, old=current[alias], message=message, **rules)

    def get_aliases(self, name: str) -> dict[str, int]:
        """A model's aliases: alias → version."""
        self.store.model(name)
        return self.store.aliases(name)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        names.validate_model_name(name)
        if alias.lower() == "latest":
            return self.resolve(ModelRef(name, latest=True))
        names.validate_alias(alias)
        return self.resolve(ModelRef(name, alias=alias))

    # -------------------------------------------------------------------------------------- URIs

    def resolve(self, uri: str | ModelRef) -> ModelVersion:
        """The version a model URI names: ``models:/NAME/7``, ``models:/NAME@champion``,
        ``models:/NAME/latest``, ``models:/NAME/Production``, ``NAME/7``, ``NAME@champion``."""
        ref = parse_model_uri(uri) if isinstance(uri, str) else uri
        name = ref.name
        if ref.version is not None:
            return self.get_model_version(name, ref.version)
        if ref.alias is not None:
            target = self.store.alias(name, ref.alias)
            if target is None:
                self.store.model(name)
                raise NotFound(f"alias {ref.alias!r} of model {name!r} not found")
            return self.get_model_version(name, target)
        self.store.model(name)
        aliases = self.store.aliases(name)
        if ref.latest:
            for number, record in self.store.live_versions_descending(name):
                return self._version_entity(name, number, record, aliases)
            raise NotFound(f"model {name!r} has no versions")
        assert ref.stage is not None
        latest = self._latest_per_stage(name, aliases, [ref.stage])
        if not latest:
            raise NotFound(f"model {name!r} has no version in stage {ref.stage}")
        return latest[0]

    def artifact_path(self, version: ModelVersion) -> Path:
        """A local path holding the version's artifact: the blob for a file, a materialized
        folder for a directory. A URI reference has no local path (MregError, exit 1)."""
        artifact = version.artifact
        if artifact.kind == "uri":
            raise MregError(
                f"version {version.version} of model {version.name!r} is a reference to {artifact.uri}; "
                "mreg holds no local copy (use --field source)"
            )
        with self.store.pin.shared():
            return self.store.objects.local_path(artifact, f"version {version.version} of {version.name!r}")

    def get_model_version_download_uri(self, name: str, version: int | str) -> str:
        return (mv := self.get_model_version(name, version)).artifact.uri or str(self.artifact_path(mv))

    def download_artifact(
        self,
        version: ModelVersion,
        dest: str | os.PathLike[str],
        *,
        force: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> Path:
        """Copy a version's artifact to ``dest``, checking every file's sha256 on the way. Nothing
        is left at ``dest`` on failure; an existing ``dest`` is replaced only with ``force``."""
        if version.artifact.kind == "uri":
            self.artifact_path(version)  # raises the explanatory error
        return self.store.objects.copy_out(version.artifact, Path(dest), force=force, progress=progress)

    def check_integrity(self, version: ModelVersion) -> None:
        """Re-hash every blob of a version; IntegrityError on the first mismatch."""
        self.store.objects.verify(version.artifact, f"version {version.version} of {version.name!r}")

    # ------------------------------------------------------------------------------- git merges

    def resolve_merge_conflicts(self, *, keep: str = "ours", dry_run: bool = False) -> MergePlan:
        """Resolve the registry conflicts of the git merge (or rebase, cherry-pick) in progress:
        the side not kept is renumbered with its aliases and history, records merge three-way, the
        result is staged (``mreg.gitmerge``); Conflict, changing nothing, when a person must decide."""
        from mreg import gitmerge

        return gitmerge.resolve(self.store, keep=keep, dry_run=dry_run)

    # ------------------------------------------------------------------------------- maintenance

    def fsck(self, full: bool = False) -> list[Finding]:
        """Check the whole store (docs/reliability.md): every file parses and matches its schema,
        every reference holds; ``full`` also re-hashes every object. Findings of severity
        ``error`` mean the store is damaged; ``leftover`` ones are debris that ``gc`` removes."""
        from mreg import fsck

        return fsck.check_store(self.store, full=full)

    def gc(self, *, delete: bool = False, pushed: bool = False) -> GcReport:
        """Find the leftovers fsck reports (temp files, unreferenced objects, trash, stale caches;
        ``pushed``: objects the default remote holds) and, with ``delete``, remove them (locked)."""
        from mreg import gc

        remote = self.remote_objects() if pushed else None
        return gc.collect_garbage(self.store, delete=delete, remote=remote)


__all__ = ["Lineage", "Registry", "init_store", "locate_store"]
