"""Remotes as the store configures them: names, URLs, ``config.toml`` and ``config.local.toml``.

A remote is a name and a URL (``s3://bucket/prefix``, ``gs://…``, ``az://…``, a folder, any
protocol fsspec knows), kept in the committed ``config.toml`` so that a clone knows where its
models are. One user may override a remote's URL, endpoint or profile, and the default remote, in
the git-ignored ``config.local.toml``. No credential is ever stored (``RemoteRecord`` refuses
them): each backend's own chain provides them.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mreg import names
from mreg.errors import AlreadyExists, InvalidInput, NotFound
from mreg.store.records import REMOTE_URL_MAX, RemoteRecord

if TYPE_CHECKING:
    from mreg.store.store import Store

# Object stores whose package is an extra of mreg: protocol → (fsspec's name, extra, package).
OBJECT_STORES: dict[str, tuple[str, str, str]] = {
    "s3": ("s3", "s3", "s3fs"),
    "s3a": ("s3", "s3", "s3fs"),
    "gs": ("gcs", "gcs", "gcsfs"),
    "gcs": ("gcs", "gcs", "gcsfs"),
    "az": ("abfs", "azure", "adlfs"),
    "abfs": ("abfs", "azure", "adlfs"),
    "abfss": ("abfs", "azure", "adlfs"),
}
_BUCKETED = frozenset(OBJECT_STORES)


@dataclass(frozen=True)
class Remote:
    """A configured remote: its name, URL (as written), whether it is the default, and the
    per-user ``endpoint_url`` and ``profile``; ``local`` when ``config.local.toml`` changes it."""

    name: str
    url: str
    default: bool = False
    endpoint_url: str | None = None
    profile: str | None = None
    local: bool = False

    @property
    def protocol(self) -> str:
        """``file`` for a folder, else the URL's scheme (``s3``, ``gs``, …)."""
        return protocol_of(self.url)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "protocol": self.protocol,
            "default": self.default,
            "endpoint_url": self.endpoint_url,
            "profile": self.profile,
            "local": self.local,
        }


def protocol_of(url: str) -> str:
    scheme, sep, _ = url.partition("://")
    return scheme.lower() if sep else "file"


def check_url(url: str) -> str:
    """Return ``url`` if a remote may live there: a folder path, ``file:///abs``, an object store
    URL with a bucket (``s3://bucket[/prefix]``, ``gs://``, ``gcs://``, ``az://``, ``abfs://``,
    ``abfss://``), or another protocol fsspec knows. InvalidInput (exit 2) otherwise."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput("remote URL must not be empty")
    if len(url) > REMOTE_URL_MAX or any(ord(c) < 32 or ord(c) == 127 for c in url):
        raise InvalidInput(
            f"invalid remote URL {url[:60]!r}: one line of at most {REMOTE_URL_MAX} characters"
        )
    scheme, sep, rest = url.partition("://")
    if not sep:
        if "://" in url or url.startswith(("s3:", "gs:")):
            raise InvalidInput(f"invalid remote URL {url!r}")
        return url
    protocol = scheme.lower()
    if protocol == "file":
        if not rest.startswith("/"):
            raise InvalidInput(f"invalid remote URL {url!r}: a file URL takes an absolute path (file:///…)")
        return url
    if protocol in _BUCKETED:
        if not rest.strip("/") or rest.startswith("/"):
            raise InvalidInput(f"invalid remote URL {url!r}: name a bucket ({protocol}://BUCKET[/PREFIX])")
        return url
    from fsspec.registry import known_implementations, registry  # here: only remote commands ask

    if protocol not in known_implementations and protocol not in registry:
        raise InvalidInput(
            f"unknown protocol {protocol!r} in remote URL {url!r}: use s3://, gs://, az://, a folder, "
            "or another protocol fsspec knows"
        )
    return url


def folder_of(remote: Remote, project: Path) -> Path | None:
    """The folder of a folder remote (a relative path is relative to the project folder, the one
    holding ``.mreg/``); None for any other protocol."""
    url = remote.url
    if protocol_of(url) != "file":
        return None
    path = url.partition("://")[2] if "://" in url else url
    folder = Path(os.path.expanduser(path))
    return folder if folder.is_absolute() else project / folder


def _refuse_inside_store(store: Store, remote: Remote) -> None:
    folder = folder_of(remote, store.root.parent)
    if folder is None:
        return
    real = Path(os.path.realpath(folder))
    if real == store.root or store.root in real.parents or real in store.root.parents:
        raise InvalidInput(
            f"remote {remote.name!r} ({remote.url}) is, holds or lies inside the store {store.root}: "
            "use a folder outside it"
        )


def remotes(store: Store) -> list[Remote]:
    """Every remote, ``config.toml``'s with this user's ``config.local.toml`` applied, by name."""
    config = store.read_config()
    local = store.read_local_config()
    overrides = dict(local.remotes)
    base = dict(config.remotes)
    default = local.default_remote or config.default_remote
    found = []
    for name in sorted(base.keys() | overrides.keys()):
        override = overrides.get(name)
        record = base.get(name, RemoteRecord()).merged(override)
        if record.url is None:
            continue  # an override of a remote that is no longer configured
        found.append(
            Remote(
                name, record.url, name == default, record.endpoint_url, record.profile, override is not None
            )
        )
    return found


def find(store: Store, name: str | None = None) -> Remote:
    """The remote called ``name``, or the default one; NotFound (exit 3) when there is none."""
    configured = remotes(store)
    if name is not None:
        names.validate_remote_name(name)
        for remote in configured:
            if remote.name == name:
                check_url(remote.url)
                _refuse_inside_store(store, remote)
                return remote
        known = ", ".join(r.name for r in configured) or "none"
        raise NotFound(f"remote {name!r} is not configured (remotes: {known}; see `mreg remote list`)")
    for remote in configured:
        if remote.default:
            return find(store, remote.name)
    if not configured:
        raise NotFound("no remote is configured: add one with `mreg remote add NAME URL --default`")
    raise NotFound(
        "no default remote: pass --remote NAME, or set one with `mreg remote default NAME` "
        f"(remotes: {', '.join(r.name for r in configured)})"
    )


def default_or_none(store: Store) -> Remote | None:
    """The default remote, or None when none is set (lazy fetch then has nowhere to look)."""
    config = store.config
    if config.default_remote is None and not os.path.lexists(store.layout.config_local):
        return None  # the common case, answered without reading another file
    try:
        return find(store)
    except NotFound:
        return None


def add(store: Store, name: str, url: str, *, default: bool = False) -> Remote:
    """Add a remote to ``config.toml`` (made the default with ``default``, or when it is the
    first). AlreadyExists when the name is taken."""
    names.validate_remote_name(name)
    check_url(url)
    _refuse_inside_store(store, Remote(name, url))
    with store.changing():
        config = store.read_config()
        current = dict(config.remotes)
        if name in current:
            raise AlreadyExists(f"remote {name!r} already exists ({current[name].url}); remove it first")
        current[name] = RemoteRecord(url)
        make_default = default or (not config.remotes and config.default_remote is None)
        store.write_config(
            dataclasses.replace(
                config,
                remotes=tuple(sorted(current.items())),
                default_remote=name if make_default else config.default_remote,
            )
        )
    return find(store, name)


def remove(store: Store, name: str) -> None:
    """Remove a remote from ``config.toml`` (and as the default). NotFound when not there."""
    names.validate_remote_name(name)
    with store.changing():
        config = store.read_config()
        current = dict(config.remotes)
        if current.pop(name, None) is None:
            raise NotFound(f"remote {name!r} is not configured in {store.layout.config}")
        default = None if config.default_remote == name else config.default_remote
        store.write_config(
            dataclasses.replace(config, remotes=tuple(sorted(current.items())), default_remote=default)
        )


def set_default(store: Store, name: str) -> Remote:
    """Make ``name`` the default remote in ``config.toml``."""
    names.validate_remote_name(name)
    with store.changing():
        config = store.read_config()
        if name not in dict(config.remotes):
            find(store, name)  # NotFound naming the remotes there are
            raise NotFound(f"remote {name!r} is configured only in {store.layout.config_local}")
        store.write_config(dataclasses.replace(config, default_remote=name))
    return find(store, name)
