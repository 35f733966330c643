"""``mreg hooks …``: the git pre-push hook that pushes model objects with the commits."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from mreg import githooks
from mreg.cli.common import Json, human_size
from mreg.cli.options import options
from mreg.cli.output import report

app = typer.Typer(
    help="Install or remove the git pre-push hook that pushes model objects to the mreg remote.",
    no_args_is_help=True,
)


def _place(ctx: typer.Context) -> githooks.HookPlace:
    from mreg.errors import NotFound
    from mreg.store.store import locate

    given = options(ctx).store
    try:
        store: Path | None = locate(given)
    except NotFound:
        if given is not None:
            raise
        store = None
    return githooks.locate_hooks(store if store is not None else Path.cwd(), store)


@app.command("install")
def install(ctx: typer.Context, as_json: Json = False) -> None:
    """Install a git pre-push hook that pushes the objects of the versions being pushed.

    On `git push`, the hook finds the model versions that the pushed commits add or change and
    pushes their objects to the default mreg remote (as git-lfs does), so a clone can get every
    model its commits name. A pre-push hook already there is kept as pre-push.local and runs
    first. Installing twice changes nothing; `mreg hooks uninstall` puts back what was there.

    Examples:

      mreg hooks install

      git push   # pushes the new models' objects, then the commits
    """
    change = githooks.install(_place(ctx))
    text = {
        "installed": f"installed the pre-push hook {change.hook}",
        "updated": f"updated the pre-push hook {change.hook}",
        "unchanged": f"the pre-push hook {change.hook} is installed already",
    }[change.action]
    if change.local_hook is not None:
        text += f"; the hook that was there runs first, from {change.local_hook}"
    report(change.to_dict(), text, as_json=as_json, quiet=False)


@app.command("uninstall")
def uninstall(ctx: typer.Context, as_json: Json = False) -> None:
    """Remove mreg's pre-push hook and put back the hook it had moved aside.

    A pre-push hook that is not mreg's is left as it is.

    Examples:

      mreg hooks uninstall
    """
    change = githooks.uninstall(_place(ctx))
    if change.action == "removed":
        text = f"removed the pre-push hook {change.hook}"
        if change.local_hook is not None:
            text += "; the hook that was there before is back"
    elif Path(change.hook).exists():
        text = f"the pre-push hook {change.hook} is not mreg's: left as it is"
    else:
        text = f"no pre-push hook in {change.hook.parent}"
    report(change.to_dict(), text, as_json=as_json, quiet=False)


@app.command("pre-push", hidden=True)
def pre_push(
    ctx: typer.Context,
    remote: Annotated[str, typer.Argument(help="The git remote's name (or URL) git gives the hook.")],
    url: Annotated[str, typer.Argument(help="The git remote's URL.")],
) -> None:
    """Run by the pre-push hook: push the objects of the versions in the commits being pushed.

    Reads git's lines '<local ref> <local sha> <remote ref> <remote sha>' on stdin.
    """
    from mreg.cli.output import message
    from mreg.errors import NotFound
    from mreg.store.store import locate

    lines = sys.stdin.read()
    try:
        store = locate(options(ctx).store)
    except NotFound:
        return  # no store, so no model objects to push: the push goes on
    done = githooks.pre_push(store, remote, lines, lock_timeout=options(ctx).lock_timeout)
    if done.remote is None and done.versions:
        message(
            f"mreg: no mreg remote is configured: the objects of {done.versions} model version(s) "
            "in this push stay local (mreg remote add NAME URL --default)"
        )
    elif done.remote is not None and done.pushed:
        message(f"mreg: pushed {done.pushed} object(s) ({human_size(done.bytes)}) to remote '{done.remote}'")
