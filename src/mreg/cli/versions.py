"""``mreg versions …``: model versions."""

from __future__ import annotations

from typing import Annotated

import typer

from mreg.cli import complete
from mreg.cli.actions import field_value, lookup
from mreg.cli.common import (
    VERSION_HEADERS,
    Description,
    DescriptionFile,
    FieldOpt,
    FilterOpt,
    Json,
    Message,
    ModelName,
    OrderBy,
    PageToken,
    Quiet,
    Yes,
    collector_paused,
    finish_listing,
    hit_rows,
    human_size,
    next_page_hint,
    open_registry,
    read_description,
    short_time,
)
from mreg.cli.output import emit_json, emit_line, message, report, stdout_is_terminal, table
from mreg.entities import ModelVersion
from mreg.textsafe import escape_line

app = typer.Typer(help="List, show, describe and delete model versions.", no_args_is_help=True)

Name = ModelName
Version = Annotated[
    str,
    typer.Argument(
        help="A version number, 'latest', a stage, or @ALIAS.",
        show_default=False,
        autocompletion=complete.versions,
    ),
]


@app.command("list")
def list_versions(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Argument(
            help="Only this model's versions (default: every model's).",
            show_default=False,
            autocompletion=complete.model_names,
        ),
    ] = None,
    filter_string: FilterOpt = None,
    order_by: OrderBy = None,
    max_results: Annotated[
        int, typer.Option("--max-results", help="At most this many versions (1 to 200000), as MLflow.")
    ] = 10_000,  # MLflow's default; mreg.search is imported only when a search runs
    page_token: PageToken = None,
    field: FieldOpt = None,
    as_json: Json = False,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Print only the version numbers (NAME/VERSION without NAME)."),
    ] = False,
) -> None:
    """List live versions of one model or of every model; search them with --filter.

    The filter is MLflow's (docs/search.md), plus alias, stage and created_at.

    Newest change first (MLflow's last_updated_timestamp DESC) unless --order-by says otherwise.

    More than --max-results: the next page's token goes to stderr (next_page_token in JSON).

    Examples:

      mreg versions list fraud \\
        --filter "tags.dataset = 'may' AND version_number > 3"

      mreg versions list --filter "alias = 'champion'" --field uri

      mreg versions list --filter "created_at >= '2026-11-01'" \\
        --order-by "version_number ASC" --json
    """
    registry = open_registry(ctx)
    if field is not None or as_json:
        versions = registry.search_model_versions(
            filter_string, max_results, order_by, page_token, model=name
        )
        if field is not None:
            for mv in versions:
                emit_line(field_value(registry, mv, field))
        else:
            emit_json({"model_versions": [v.to_dict() for v in versions], "next_page_token": versions.token})
        token, problems = versions.token, versions.problems
    else:  # a table or -q: rows from what the search found, no ModelVersion made
        with collector_paused():
            hits = registry.list_model_versions_page(
                filter_string, max_results, order_by, page_token, model=name
            )
            if quiet:
                for hit in hits:
                    emit_line(
                        str(hit.version) if name is not None else escape_line(f"{hit.name}/{hit.version}")
                    )
            else:
                with_name = name is None
                table((["name"] if with_name else []) + VERSION_HEADERS, hit_rows(hits, with_name=with_name))
                if not hits and not hits.problems:
                    message("no versions match" if filter_string or page_token else "no versions")
        token, problems = hits.token, hits.problems
    if not as_json:
        next_page_hint(token)
    finish_listing(problems)


def version_pairs(mv: ModelVersion) -> list[tuple[str, str]]:
    art = mv.artifact
    pairs = [
        ("model", mv.name),
        ("version", str(mv.version)),
        ("aliases", ", ".join(mv.aliases) or "none"),
        ("stage", mv.current_stage),
        ("created", f"{short_time(mv.created_at)} by {mv.user_id}"),
        ("updated", short_time(mv.updated_at)),
        ("source", mv.source),
    ]
    if art.kind == "uri":
        pairs.append(("artifact", f"reference to {art.uri}"))
    else:
        pairs.append(("artifact", f"{art.kind}, {human_size(art.size)}, sha256:{art.digest}"))
        if art.kind == "directory":
            pairs += [
                ("  file", f"{f.path}  {human_size(f.size)}  sha256:{f.sha256[:12]}") for f in art.files
            ]
    if mv.run_id:
        pairs.append(("run", mv.run_id + (f"  {mv.run_link}" if mv.run_link else "")))
    lin = mv.lineage
    if (git := lin.git_summary()) is not None:
        pairs.append(("git", git))
    if lin.source_path:
        pairs.append(("repo path", lin.source_path))
    pairs += [(f"tag {k}", v) for k, v in mv.tags.items()]
    return pairs + mlmodel_pairs(mv)


def mlmodel_pairs(mv: ModelVersion) -> list[tuple[str, str]]:
    """The MLmodel file's provenance and each flavor with its fields."""
    info = mv.mlmodel
    if info is None:
        return []
    made = [
        f"{label} {value}"
        for label, value in (
            ("MLflow", info.mlflow_version),
            ("created", info.utc_time_created),
            ("uuid", info.model_uuid),
        )
        if value
    ]
    pairs = [("mlmodel", ", ".join(made) or "present")]
    for name, fields in info.flavors:
        pairs.append(("flavor", "  ".join([name, *(f"{k}={v}" for k, v in fields)])))
    return pairs


SignatureTable = tuple[str, list[str], list[list[str]]]


def signature_tables(mv: ModelVersion) -> list[SignatureTable]:
    """The signature as MLflow's UI shows it: "Inputs (n)", "Outputs (n)" and, when the model
    takes any, "Params (n)", each a table of name, type (dtype and shape for tensors) and
    whether it is required (a param's default instead)."""
    signature = mv.mlmodel.signature if mv.mlmodel else None
    if signature is None:
        return []
    tables = []
    for title, fields in (("Inputs", signature.inputs), ("Outputs", signature.outputs)):
        tensors = any(f.type == "tensor" for f in fields)
        headers = ["name", "type", *(["dtype", "shape"] if tensors else []), "required"]
        rows = [
            [
                f.name or "-",
                f.type,
                *([f.dtype or "", _shape(f.shape)] if tensors else []),
                "required" if f.required else "optional",
            ]
            for f in fields
        ]
        tables.append((f"{title} ({len(fields)})", headers, rows))
    if signature.params:
        rows = [[f.name or "-", f.type, f.default or "", _shape(f.shape)] for f in signature.params]
        tables.append((f"Params ({len(rows)})", ["name", "type", "default", "shape"], rows))
    return tables


def _shape(shape: tuple[int, ...] | None) -> str:
    return "" if shape is None else "[" + ", ".join(str(d) for d in shape) + "]"


def _plain_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    cells = [[escape_line(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]


@app.command("show")
def show(
    ctx: typer.Context, name: Name, version: Version, field: FieldOpt = None, as_json: Json = False
) -> None:
    """Show one version: artifact, digests, lineage, tags, aliases, MLmodel signature.

    Examples:

      mreg versions show fraud 3

      mreg versions show fraud @champion --json

      mreg versions show fraud latest --field digest
    """
    registry = open_registry(ctx)
    mv = lookup(registry, name, version)
    if field is not None:
        emit_line(field_value(registry, mv, field))
    elif as_json:
        emit_json(mv.to_dict())
    elif stdout_is_terminal():
        from mreg.cli import render

        render.version_card(mv, version_pairs(mv), signature_tables(mv))
    else:
        for key, value in version_pairs(mv):
            emit_line(escape_line(f"{key:<12} {value}"))
        for title, headers, rows in signature_tables(mv):
            emit_line("")
            emit_line(title)
            for line in _plain_table(headers, rows) if rows else []:
                emit_line(line)
        if mv.description:
            emit_line("")
            emit_line(mv.description.rstrip("\n"))


@app.command("update")
def update(
    ctx: typer.Context,
    name: Name,
    version: Version,
    description: Description = None,
    description_file: DescriptionFile = None,
    msg: Message = None,
    as_json: Json = False,
    quiet: Quiet = False,
) -> None:
    """Replace a version's description (inline or from a Markdown file).

    Examples:

      mreg versions update fraud 3 -d "Trained on May data"

      mreg versions update fraud 3 --description-file notes/fraud-v3.md
    """
    text = read_description(description, description_file)
    if text is None:
        from mreg.errors import InvalidInput

        raise InvalidInput("nothing to update: give --description or --description-file")
    registry = open_registry(ctx)
    mv = registry.update_model_version(name, lookup(registry, name, version).version, text, message=msg)
    text = f"Updated the description of {mv.name} version {mv.version}"
    report(mv.to_dict(), text, as_json=as_json, quiet=quiet)


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: Name,
    version: Version,
    yes: Yes = False,
    msg: Message = None,
    quiet: Quiet = False,
) -> None:
    """Delete a version. Its aliases are removed; its number is never used again.

    Asks for confirmation on a terminal; scripts pass --yes.

    Example:

      mreg versions delete fraud 2 --yes -m "leaked test data"
    """
    registry = open_registry(ctx)
    mv = lookup(registry, name, version)
    if not yes:
        from mreg.cli.models import _confirm

        aliases = f" (aliases {', '.join(mv.aliases)} go with it)" if mv.aliases else ""
        _confirm(f"Delete {mv.name} version {mv.version}{aliases}?")
    registry.delete_model_version(name, mv.version, message=msg)
    if not quiet:
        message(f"Deleted {mv.name} version {mv.version}")


@app.command("copy")
def copy(
    ctx: typer.Context,
    src_ref: Annotated[
        str,
        typer.Argument(
            metavar="SRC_REF",
            help="The version to copy: models:/NAME/7, NAME/7, NAME@ALIAS …",
            show_default=False,
        ),
    ],
    dst_name: Annotated[
        str,
        typer.Argument(
            metavar="DST_NAME",
            help="The model that gets the copy (created if missing).",
            show_default=False,
            autocompletion=complete.model_names,
        ),
    ],
    msg: Message = None,
    as_json: Json = False,
    quiet: Quiet = False,
) -> None:
    """Copy a version to another model, as MLflow's copy_model_version.

    The new version shares the artifact (no bytes are copied) and takes the tags, description
    and run of the original; its source is models:/NAME/VERSION and its history says where it
    was copied from.

    Example:

      mreg versions copy fraud@champion fraud-eu -m "from the champion"
    """
    registry = open_registry(ctx)
    mv = registry.copy_model_version(src_ref, dst_name, message=msg)
    if quiet and not as_json:
        emit_line(str(mv.version))  # as register: the new number, for scripts
        return
    report(
        mv.to_dict(), f"Copied {mv.source} to {mv.name} version {mv.version}", as_json=as_json, quiet=quiet
    )
