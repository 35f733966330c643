"""The reading half of ``Registry`` that walks the store: searches with MLflow's filter grammar
and pages, and a model's history.

``Registry`` inherits these methods; ``mreg.search`` is imported inside them, so a command that
never searches never loads the filter parser.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import TYPE_CHECKING

from mreg import history, names
from mreg.store import files

if TYPE_CHECKING:
    from mreg.entities import AliasSpan, Event, ModelVersion, RegisteredModel
    from mreg.search import PagedList, VersionHit
    from mreg.store.records import ModelRecord
    from mreg.store.store import Store


class QueryMethods:
    """``search_registered_models``, ``search_model_versions`` and the history readers."""

    store: Store

    if TYPE_CHECKING:

        def _registered_model(
            self, name: str, record: ModelRecord, *, newest_only: bool = False
        ) -> RegisteredModel: ...

    # ------------------------------------------------------------------------------------ search

    @files.scanning()
    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 100,  # MLflow's SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        """Registered models matching ``filter_string`` (MLflow's syntax: docs/search.md), sorted
        by ``order_by`` (default ``["name ASC"]``), one page of at most ``max_results`` (up to
        1000); the result's ``token`` fetches the next page. Only the models of the page are
        read in full (aliases, latest versions)."""
        return self.list_registered_models_page(
            filter_string, max_results, order_by, page_token, newest_only=False
        )

    @files.scanning()
    def list_registered_models_page(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: list[str] | None = None,
        page_token: str | None = None,
        *,
        newest_only: bool = True,
    ) -> PagedList[RegisteredModel]:
        """``search_registered_models`` for listings: ``latest_versions`` holds only the newest
        live version, so one version file is read per model instead of all of them."""
        from mreg import search

        query = search.ModelSearch(filter_string, max_results, order_by, page_token)
        build = functools.partial(self._registered_model, newest_only=newest_only)
        return search.find_models(self.store, query, build)

    @files.scanning()
    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10_000,  # MLflow's SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT
        order_by: list[str] | None = None,
        page_token: str | None = None,
        *,
        model: str | None = None,
    ) -> PagedList[ModelVersion]:
        """Live versions matching ``filter_string`` (MLflow's syntax plus ``alias``, ``stage``,
        ``created_at``: docs/search.md), of every model or only of ``model``, sorted by
        ``order_by`` (default MLflow's ``["last_updated_timestamp DESC"]``), one page of at most
        ``max_results`` (up to 200,000); the result's ``token`` fetches the next page."""
        from mreg import search

        query = search.VersionSearch(filter_string, max_results, order_by, page_token)
        if model is not None:
            self.store.model(model)
        return search.find_versions(self.store, query, model)

    @files.scanning()
    def list_model_versions_page(
        self,
        filter_string: str | None = None,
        max_results: int = 10_000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
        *,
        model: str | None = None,
    ) -> PagedList[VersionHit]:
        """``search_model_versions`` for listings: the same versions, in the same order and
        pages, as hits (name, number, aliases, record) rather than ``ModelVersion``s, which a
        table of a few fields per version does not need."""
        from mreg import search

        query = search.VersionSearch(filter_string, max_results, order_by, page_token)
        if model is not None:
            self.store.model(model)
        return search.find_version_hits(self.store, query, model)

    # ----------------------------------------------------------------------------------- history

    def get_history(
        self,
        name: str,
        *,
        alias: str | None = None,
        since: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[Event]:
        """Events of a model, oldest first, with store-level events naming it (a deletion); ``limit``
        keeps the newest ones, and only those are read when nothing else narrows the history."""
        names.validate_model_name(name)
        if alias is not None:
            names.validate_alias(alias)
        return history.read(self.store, name, alias=alias, since=since, limit=limit)

    def get_alias_history(
        self,
        name: str,
        alias: str | None = None,
        *,
        since: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[AliasSpan]:
        """Which versions held ``alias`` (or each alias), from when to when, oldest first.
        ``since`` keeps the spans that had not ended by then; ``limit`` keeps the newest ones."""
        spans = history.alias_spans(self.get_history(name, alias=alias), alias)
        return history.window(spans, since=since, limit=limit, ends=lambda s: s.until)
