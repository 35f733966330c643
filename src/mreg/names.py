"""Validation of everything a caller names: models, aliases, tag keys and values, free text.

Every value is checked here before it reaches the filesystem or a TOML file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from mreg.errors import InvalidInput

MODEL_NAME_MAX = 128
ALIAS_MAX = 255
TAG_KEY_MAX = 250
TAG_VALUE_MAX = 100_000
TEXT_MAX = 100_000
RUN_ID_MAX = 256
SOURCE_MAX = 4096
VERSION_MAX = 2**53  # larger integers do not survive a round-trip through JSON

STAGES = ("None", "Staging", "Production", "Archived")

# Patterns as strings: compiled (and cached by `re`) on first use, not by every start of `mreg`.

_MODEL_NAME = r"[A-Za-z0-9][A-Za-z0-9._ -]*"
_ALIAS = r"[A-Za-z0-9_-]+"
_TAG_KEY = r"[A-Za-z0-9_./ :-]+"
_RESERVED_ALIAS = r"(?i:latest|v\d+)"
_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{base}{n}" for base in ("COM", "LPT") for n in range(10)]
)
# Characters allowed in free text besides printable ones: tabs and line breaks. C1 controls
# (U+0080-U+009F) are refused with the C0 ones: some terminals read U+009B as an escape sequence.
_TEXT_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]"


def _show(value: str, limit: int = 40) -> str:
    """A value as an error message shows it: quoted, cut, with control characters and lone
    surrogates escaped (``repr`` does both)."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def validate_model_name(name: str) -> str:
    """Return ``name`` if it may name a registered model, else raise InvalidInput."""
    if not isinstance(name, str) or not name:
        raise InvalidInput("model name must not be empty")
    if len(name) > MODEL_NAME_MAX:
        raise InvalidInput(f"model name is {len(name)} characters long; the limit is {MODEL_NAME_MAX}")
    if not re.fullmatch(_MODEL_NAME, name):
        raise InvalidInput(
            f"invalid model name {_show(name)}: use ASCII letters, digits, '.', '_', '-' and inner "
            "spaces, starting with a letter or digit"
        )
    if name.endswith((" ", ".")):
        raise InvalidInput(f"invalid model name {_show(name)}: it may not end with a space or '.'")
    if ".." in name:
        raise InvalidInput(f"invalid model name {_show(name)}: it may not contain '..'")
    if name.split(".", 1)[0].rstrip(" ").upper() in _WINDOWS_DEVICES:
        raise InvalidInput(f"invalid model name {_show(name)}: it is a reserved device name on Windows")
    return name


def validate_alias(alias: str) -> str:
    """Return ``alias`` if it may be set as an alias (so not a reserved one)."""
    if not isinstance(alias, str) or not alias:
        raise InvalidInput("alias must not be empty")
    if len(alias) > ALIAS_MAX:
        raise InvalidInput(f"alias is {len(alias)} characters long; the limit is {ALIAS_MAX}")
    if not re.fullmatch(_ALIAS, alias):
        raise InvalidInput(f"invalid alias {_show(alias)}: use ASCII letters, digits, '_' and '-'")
    if re.fullmatch(_RESERVED_ALIAS, alias):
        raise InvalidInput(
            f"alias {_show(alias)} is reserved ('latest' and 'v<number>' always mean a version)"
        )
    if alias.upper() in _WINDOWS_DEVICES:
        # An alias is a file name in the store: a checkout on Windows could not create it.
        raise InvalidInput(f"invalid alias {_show(alias)}: it is a reserved device name on Windows")
    return alias


REMOTE_NAME_MAX = 64
_REMOTE_NAME = r"[a-z0-9][a-z0-9_-]*"


def validate_remote_name(name: str) -> str:
    """Return ``name`` if it may name a remote: lowercase ASCII letters, digits, '_' and '-',
    starting with a letter or digit, at most 64 characters."""
    if not isinstance(name, str) or not name:
        raise InvalidInput("remote name must not be empty")
    if len(name) > REMOTE_NAME_MAX or not re.fullmatch(_REMOTE_NAME, name):
        raise InvalidInput(
            f"invalid remote name {_show(name)}: use lowercase letters, digits, '_' and '-' "
            f"(at most {REMOTE_NAME_MAX}, starting with a letter or digit)"
        )
    return name


def validate_tag_key(key: str) -> str:
    if not isinstance(key, str) or not key:
        raise InvalidInput("tag key must not be empty")
    if len(key) > TAG_KEY_MAX:
        raise InvalidInput(f"tag key is {len(key)} characters long; the limit is {TAG_KEY_MAX}")
    if not re.fullmatch(_TAG_KEY, key):
        raise InvalidInput(f"invalid tag key {_show(key)}: use ASCII letters, digits, spaces and '_ . / : -'")
    return key


def validate_text(value: str, what: str, limit: int = TEXT_MAX) -> str:
    """Free text (descriptions, tag values, messages): no control characters but tab and newline,
    no lone surrogates, at most ``limit`` characters."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string")
    if len(value) > limit:
        raise InvalidInput(f"{what} is {len(value)} characters long; the limit is {limit}")
    bad = re.search(_TEXT_CONTROL, value)
    if bad:
        raise InvalidInput(
            f"{what} contains a forbidden character U+{ord(bad.group()):04X} at position {bad.start()}"
        )
    return value


def validate_tag_value(value: str) -> str:
    return validate_text(value, "tag value", TAG_VALUE_MAX)


def tag_value_text(value: object) -> str:
    """A tag value as stored: text as given, anything else through ``str()`` as MlflowClient
    converts it (``12345`` → ``"12345"``, ``True`` → ``"True"``), then checked."""
    if isinstance(value, str):
        return validate_tag_value(value)
    try:
        text = str(value)
    except ValueError as err:  # an int of more digits than Python converts, and the like
        raise InvalidInput(f"tag value cannot be converted to text: {err}") from None
    return validate_tag_value(text)


def validate_tags(tags: Mapping[str, object] | None) -> dict[str, str]:
    return {validate_tag_key(k): tag_value_text(v) for k, v in (tags or {}).items()}


def validate_run_id(run_id: str) -> str:
    validate_text(run_id, "run id", RUN_ID_MAX)
    if any(ch.isspace() for ch in run_id):
        raise InvalidInput(f"invalid run id {_show(run_id)}: it may not contain white space")
    return run_id


def validate_version(version: int | str) -> int:
    """Accept an int or a string of digits; return the version number (1 or more)."""
    if isinstance(version, bool):
        raise InvalidInput(f"invalid version {version!r}")
    if isinstance(version, str):
        text = version.strip()
        if not text.isascii() or not text.isdigit():
            raise InvalidInput(f"invalid version {_show(version)}: expected a positive integer")
        version = int(text)
    if not isinstance(version, int) or version < 1 or version > VERSION_MAX:
        raise InvalidInput(f"invalid version {version!r}: expected an integer from 1 to {VERSION_MAX}")
    return version


def canonical_stage(stage: str) -> str:
    """``'production'`` → ``'Production'``; unknown stages raise InvalidInput."""
    for known in STAGES:
        if isinstance(stage, str) and stage.lower() == known.lower():
            return known
    raise InvalidInput(f"invalid stage {_show(str(stage))}: expected one of {', '.join(STAGES)}")


def parse_key_value(item: str) -> tuple[str, str]:
    """``'k=v'`` → ``('k', 'v')``, validated. The value may contain '='."""
    key, sep, value = item.partition("=")
    if not sep:
        raise InvalidInput(f"expected KEY=VALUE, got {_show(item)}")
    return validate_tag_key(key), validate_tag_value(value)


MESSAGE_MAX = 10_000


def validate_message(message: str | None) -> str | None:
    """A change's ``-m`` message: None when empty."""
    if message is None or message == "":
        return None
    return validate_text(message, "message", MESSAGE_MAX)
