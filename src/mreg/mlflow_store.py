"""MLflow's model-registry store on an mreg store: the ``mreg`` scheme of MLflow's
``mlflow.model_registry_store`` entry points (docs/mlflow.md, "Using mreg from MLflow").

With ``mlflow.set_registry_uri("mreg:///abs/path/to/project")`` (or ``mreg:`` to find the store
from the working directory, as the command line does) MlflowClient's registry methods,
``mlflow.register_model`` and ``models:/`` loading work on the folder, and
``mlflow server --registry-store-uri mreg:///…`` serves it.

Only MLflow imports this module (through the entry point): no command of mreg does, so none pays
for importing MLflow. MLflow caches one store object per URI for the life of the process, so the
store keeps nothing between calls: each call opens the registry afresh and sees what the command
line wrote a moment before.
"""

from __future__ import annotations

import contextlib
import os
import re
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

from mlflow.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelTag,
)
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    NOT_IMPLEMENTED,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    TEMPORARILY_UNAVAILABLE,
)
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.model_registry.abstract_store import AbstractStore

from mreg import entities
from mreg.errors import AlreadyExists, InvalidFilter, InvalidInput, LockTimeout, MregError, NotFound
from mreg.registry import Registry

SCHEME = "mreg"
URI_FORMS = (
    "mreg:///ABSOLUTE/PATH (the project or its .mreg folder), "
    "or mreg: to find the store from the working directory"
)

# MLflow's defaults when a caller passes max_results=None (its stores' own constants).
MODELS_PAGE_DEFAULT = 100
VERSIONS_PAGE_DEFAULT = 10_000

# The tag by which MLflow tells a prompt from a model (mlflow.prompt.constants.IS_PROMPT_TAG_KEY).
PROMPT_TAG = "mlflow.prompt.is_prompt"

# MlflowClient appends this condition to every registered-model search (``… AND <clause>``) so that
# prompts stay out of model listings. mreg holds no prompts, so the condition is dropped.
_PROMPT_CLAUSE = re.compile(r"""(?:^|\s+AND\s+)tags?\.`mlflow\.prompt\.is_prompt`\s*!=\s*'true'\s*$""", re.I)


def store_path(store_uri: str) -> Path | None:
    """The store folder an ``mreg`` registry URI names, or None for the form that finds the store
    from the working directory (``mreg:``, ``mreg://``). MlflowException for anything else."""
    parsed = urllib.parse.urlparse(store_uri)
    if parsed.scheme != SCHEME or parsed.netloc or parsed.params or parsed.query or parsed.fragment:
        raise MlflowException(f"invalid registry URI {store_uri!r}: use {URI_FORMS}", INVALID_PARAMETER_VALUE)
    path = urllib.parse.unquote(parsed.path)
    if not path:
        return None
    if not os.path.isabs(path):
        raise MlflowException(
            f"invalid registry URI {store_uri!r}: the path must be absolute; use {URI_FORMS}",
            INVALID_PARAMETER_VALUE,
        )
    return Path(path)


@contextlib.contextmanager
def mlflow_errors() -> Iterator[None]:
    """mreg's errors as MlflowExceptions with MLflow's error codes (and so its HTTP statuses)."""
    try:
        yield
    except NotFound as err:
        raise MlflowException(str(err), RESOURCE_DOES_NOT_EXIST) from err
    except AlreadyExists as err:  # and Conflict
        raise MlflowException(str(err), RESOURCE_ALREADY_EXISTS) from err
    except (InvalidInput, InvalidFilter) as err:
        raise MlflowException(str(err), INVALID_PARAMETER_VALUE) from err
    except LockTimeout as err:
        raise MlflowException(str(err), TEMPORARILY_UNAVAILABLE) from err
    except MregError as err:
        raise MlflowException(str(err), INTERNAL_ERROR) from err


def not_supported(feature: str, method: str) -> Callable[..., NoReturn]:
    """A store method for something mreg does not hold: it raises a MlflowException saying so."""

    def refuse(self: MregRegistryStore, *args: Any, **kwargs: Any) -> NoReturn:
        raise MlflowException(
            f"{feature} are not supported by mreg (the {method} call of an mreg:// registry)",
            NOT_IMPLEMENTED,
        )

    refuse.__name__ = refuse.__qualname__ = method
    return refuse


# ------------------------------------------------------------------------------- conversions


def _text_or_none(value: str | None) -> str | None:
    """mreg writes no empty value where MLflow's stores return None (an unset description)."""
    return value or None


def to_model_version(mv: entities.ModelVersion) -> ModelVersion:
    return ModelVersion(
        name=mv.name,
        version=str(mv.version),
        creation_timestamp=mv.creation_timestamp,
        last_updated_timestamp=mv.last_updated_timestamp,
        description=_text_or_none(mv.description),
        user_id=_text_or_none(mv.user_id),
        current_stage=mv.current_stage,
        source=mv.source,
        run_id=_text_or_none(mv.run_id),
        status=mv.status,
        tags=[ModelVersionTag(k, v) for k, v in mv.tags.items()],
        run_link=_text_or_none(mv.run_link),
        aliases=list(mv.aliases),
    )


def to_registered_model(rm: entities.RegisteredModel) -> RegisteredModel:
    return RegisteredModel(
        name=rm.name,
        creation_timestamp=rm.creation_timestamp,
        last_updated_timestamp=rm.last_updated_timestamp,
        description=_text_or_none(rm.description),
        latest_versions=[to_model_version(mv) for mv in rm.latest_versions],
        tags=[RegisteredModelTag(k, v) for k, v in rm.tags.items()],
        aliases=[RegisteredModelAlias(a, str(v)) for a, v in sorted(rm.aliases.items())],
    )


def _tags(tags: Any) -> dict[str, str]:
    """MLflow's tag lists (``RegisteredModelTag``, ``ModelVersionTag``) or a dict, with values
    converted by ``str()`` as MlflowClient does. MlflowClient makes a prompt out of a model and
    versions carrying the prompt tag: those are refused here, before anything is written."""
    if not tags:
        return {}
    pairs = tags.items() if isinstance(tags, dict) else ((t.key, t.value) for t in tags)
    converted = {str(k): str(v) for k, v in pairs}
    if PROMPT_TAG in converted:
        raise MlflowException("prompts are not supported by mreg", NOT_IMPLEMENTED)
    return converted


def without_prompt_clause(filter_string: str | None) -> str | None:
    """``filter_string`` without the prompt-exclusion condition MlflowClient appends to it."""
    return _PROMPT_CLAUSE.sub("", filter_string or "").strip() or None


def _local_file(uri: str) -> Path | None:
    """The local path a source names (a path, or a ``file:`` URI), else None."""
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            return None
        return Path(urllib.request.url2pathname(parsed.path))
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and os.name == "nt"):  # C:\… on Windows
        return Path(uri)
    return None


# ------------------------------------------------------------------------------------ the store


class MregRegistryStore(AbstractStore):
    """An mreg store seen as MLflow's model registry (``mreg:///PATH`` or ``mreg:``)."""

    def __init__(self, store_uri: str | None = None, tracking_uri: str | None = None) -> None:
        super().__init__(store_uri, tracking_uri)
        self.store_uri = store_uri or f"{SCHEME}:"
        self.tracking_uri = tracking_uri
        self.path = store_path(self.store_uri)
        with self.call():  # a URI that names no store fails here, when MLflow builds the store
            pass

    @contextlib.contextmanager
    def call(self) -> Iterator[Registry]:
        """One store call: the registry opened afresh (nothing read by an earlier call is
        trusted to be current), and mreg's errors turned into MLflow's."""
        with mlflow_errors():
            yield Registry(self.path)

    # ------------------------------------------------------------------------ registered models

    def create_registered_model(
        self, name: str, tags: Any = None, description: str | None = None, deployment_job_id: Any = None
    ) -> RegisteredModel:
        self._refuse_deployment_job(deployment_job_id)
        with self.call() as registry:
            return to_registered_model(registry.create_registered_model(name, _tags(tags), description))

    def update_registered_model(
        self, name: str, description: str | None, deployment_job_id: Any = None
    ) -> RegisteredModel:
        self._refuse_deployment_job(deployment_job_id)
        with self.call() as registry:
            return to_registered_model(registry.update_registered_model(name, description))

    @staticmethod
    def _refuse_deployment_job(deployment_job_id: Any) -> None:
        if deployment_job_id:
            raise MlflowException("deployment jobs are not supported by mreg", NOT_IMPLEMENTED)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        with self.call() as registry:
            return to_registered_model(registry.rename_registered_model(name, new_name))

    def delete_registered_model(self, name: str) -> None:
        with self.call() as registry:
            registry.delete_registered_model(name)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        with self.call() as registry:
            page = registry.search_registered_models(
                without_prompt_clause(filter_string),
                MODELS_PAGE_DEFAULT if max_results is None else max_results,
                order_by or None,
                page_token or None,
            )
            return PagedList([to_registered_model(rm) for rm in page], page.token)

    def get_registered_model(self, name: str) -> RegisteredModel:
        with self.call() as registry:
            return to_registered_model(registry.get_registered_model(name))

    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        with self.call() as registry:
            # An empty list means every stage in MLflow, as None does.
            return [to_model_version(mv) for mv in registry.get_latest_versions(name, stages or None)]

    def set_registered_model_tag(self, name: str, tag: RegisteredModelTag) -> None:
        ((key, value),) = _tags([tag]).items()
        with self.call() as registry:
            registry.set_registered_model_tag(name, key, value)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        with self.call() as registry:
            registry.delete_registered_model_tag(name, key)

    # ----------------------------------------------------------------------------- versions

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: Any = None,
        run_link: str | None = None,
        description: str | None = None,
        local_model_path: str | None = None,
        model_id: str | None = None,
    ) -> ModelVersion:
        """A new version whose artifact is copied into the store when ``source`` is a local
        folder or file (a path, a ``file:`` URI, a ``runs:/`` or logged-model ``models:/`` URI
        whose artifacts are local, a version of this store), else recorded as a reference."""
        version_tags = _tags(tags)
        with self.call() as registry:
            with self._materialized(registry, source, local_model_path) as (resolved, found_run_id):
                created = registry.create_model_version(
                    name,
                    resolved,
                    run_id=run_id or found_run_id,
                    tags=version_tags,
                    run_link=run_link,
                    description=description,
                )
            return to_model_version(created)

    @contextlib.contextmanager
    def _materialized(
        self, registry: Registry, source: str, local_model_path: str | None
    ) -> Iterator[tuple[str, str | None]]:
        """(what to give ``Registry.create_model_version``, the run id the source names)."""
        resolved, run_id = self._resolve_source(registry, source)
        if isinstance(resolved, entities.ModelVersion):
            # A version of this store: the registry shares its artifact (no bytes copied) and
            # records the models:/ URI as the source.
            yield f"models:/{resolved.name}/{resolved.version}", run_id or _text_or_none(resolved.run_id)
            return
        local = _local_file(resolved)
        if local is None and local_model_path and os.path.exists(local_model_path):
            resolved = local_model_path  # MLflow saved the model here on its way to ``source``
        yield (str(local) if local is not None else resolved), run_id

    def _resolve_source(
        self, registry: Registry, source: str
    ) -> tuple[str | entities.ModelVersion, str | None]:
        """Follow ``runs:/`` and ``models:/`` URIs to where the artifacts are."""
        from mlflow.store.artifact.runs_artifact_repo import RunsArtifactRepository
        from mlflow.store.artifact.utils.models import _parse_model_uri

        if RunsArtifactRepository.is_runs_uri(source):
            run_id, _ = RunsArtifactRepository.parse_runs_uri(source)
            return RunsArtifactRepository.get_underlying_uri(source, self.tracking_uri), run_id
        if urllib.parse.urlparse(source).scheme == "models":
            parsed = _parse_model_uri(source)
            if parsed.model_id is not None:  # a logged model of the tracking store
                from mlflow.tracking import MlflowClient

                logged = MlflowClient(tracking_uri=self.tracking_uri).get_logged_model(parsed.model_id)
                return logged.artifact_location, logged.source_run_id
            return registry.resolve(source), None
        return source, None

    def update_model_version(self, name: str, version: int | str, description: str | None) -> ModelVersion:
        with self.call() as registry:
            return to_model_version(registry.update_model_version(name, version, description))

    def transition_model_version_stage(
        self, name: str, version: int | str, stage: str, archive_existing_versions: bool
    ) -> ModelVersion:
        with self.call() as registry:
            return to_model_version(
                registry.transition_model_version_stage(
                    name, version, stage, archive_existing_versions=bool(archive_existing_versions)
                )
            )

    def delete_model_version(self, name: str, version: int | str) -> None:
        with self.call() as registry:
            registry.delete_model_version(name, version)

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        with self.call() as registry:
            return to_model_version(registry.get_model_version(name, version))

    def get_model_version_download_uri(self, name: str, version: int | str) -> str:
        """The absolute path of the version's verified artifact (a folder MLflow loads), or the
        URI of a version that is a reference."""
        with self.call() as registry:
            return registry.get_model_version_download_uri(name, version)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        with self.call() as registry:
            page = registry.search_model_versions(
                without_prompt_clause(filter_string),
                VERSIONS_PAGE_DEFAULT if max_results is None else max_results,
                order_by or None,
                page_token or None,
            )
            return PagedList([to_model_version(mv) for mv in page], page.token)

    def set_model_version_tag(self, name: str, version: int | str, tag: ModelVersionTag) -> None:
        ((key, value),) = _tags([tag]).items()
        with self.call() as registry:
            registry.set_model_version_tag(name, version, key, value)

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        with self.call() as registry:
            registry.delete_model_version_tag(name, version, key)

    # ------------------------------------------------------------------------------ aliases

    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        with self.call() as registry:
            registry.set_registered_model_alias(name, alias, version)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        with self.call() as registry:
            registry.delete_registered_model_alias(name, alias)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        with self.call() as registry:
            return to_model_version(registry.get_model_version_by_alias(name, alias))

    # ------------------------------------------------------------- what mreg does not hold

    create_prompt = not_supported("prompts", "create_prompt")
    search_prompts = not_supported("prompts", "search_prompts")
    delete_prompt = not_supported("prompts", "delete_prompt")
    set_prompt_tag = not_supported("prompts", "set_prompt_tag")
    delete_prompt_tag = not_supported("prompts", "delete_prompt_tag")
    get_prompt = not_supported("prompts", "get_prompt")
    create_prompt_version = not_supported("prompts", "create_prompt_version")
    get_prompt_version = not_supported("prompts", "get_prompt_version")
    delete_prompt_version = not_supported("prompts", "delete_prompt_version")
    get_prompt_version_by_alias = not_supported("prompts", "get_prompt_version_by_alias")
    set_prompt_alias = not_supported("prompts", "set_prompt_alias")
    delete_prompt_alias = not_supported("prompts", "delete_prompt_alias")
    search_prompt_versions = not_supported("prompts", "search_prompt_versions")
    link_prompts_to_trace = not_supported("prompts", "link_prompts_to_trace")
    set_prompt_version_tag = not_supported("prompts", "set_prompt_version_tag")
    delete_prompt_version_tag = not_supported("prompts", "delete_prompt_version_tag")
    link_prompt_version_to_model = not_supported("prompts", "link_prompt_version_to_model")
    link_prompt_version_to_run = not_supported("prompts", "link_prompt_version_to_run")

    create_webhook = not_supported("webhooks", "create_webhook")
    get_webhook = not_supported("webhooks", "get_webhook")
    update_webhook = not_supported("webhooks", "update_webhook")
    delete_webhook = not_supported("webhooks", "delete_webhook")
    test_webhook = not_supported("webhooks", "test_webhook")

    def list_webhooks(self, max_results: int | None = None, page_token: str | None = None) -> PagedList[Any]:
        """No webhooks: none can be created. (MLflow's server asks for the webhooks of an event
        after every change; an empty list, not an error, keeps its log quiet.)"""
        return PagedList([], None)

    def list_webhooks_by_event(
        self, event: Any, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList[Any]:
        return PagedList([], None)
