"""One exception family; each class carries the exit code the command line turns it into."""

from __future__ import annotations


class MregError(Exception):
    """Base of every error mreg raises on purpose. ``str(err)`` is the one-line message."""

    exit_code = 1


class InvalidInput(MregError):
    """A name, alias, tag, URI or other value given by the caller breaks a rule."""

    exit_code = 2


class NotFound(MregError):
    """A store, model, version, alias or file that was asked for does not exist."""

    exit_code = 3


class AlreadyExists(MregError):
    """The thing to be created exists already, or a concurrent change conflicts."""

    exit_code = 4


class Conflict(AlreadyExists):
    """A compare-and-swap precondition did not hold."""


class PolicyViolation(AlreadyExists):
    """A change breaks a rule of ``.mreg/policy.toml`` (a protected alias, the stage order)."""


class IntegrityError(MregError):
    """Stored bytes do not match the digest recorded for them, or the store is inconsistent."""

    exit_code = 5


class StoreError(MregError):
    """The store cannot be used: unreadable or malformed file, unsafe path, newer format."""

    exit_code = 1


class DamagedStore(StoreError):
    """A file of the store (or a record in git) is not what mreg writes: it does not parse, breaks
    its record's rules, is not a regular file, is a symlink, or is too large. Such files come
    from outside (a commit, a clone, a hand edit); ``mreg fsck`` names every one."""

    exit_code = 5


class InvalidFilter(MregError):
    """A search filter, order-by clause or page token cannot be used. The message names the
    token, its position (1-based) and what was expected there."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        text: str = "",
        position: int | None = None,
        expected: str = "",
        found: str = "",
    ) -> None:
        super().__init__(message)
        self.text = text
        self.position = position
        self.expected = expected
        self.found = found


class RemoteError(MregError):
    """A remote cannot be reached or refused a transfer: a missing bucket, no credentials, a
    server error or timeout, a lost connection, a missing extra. The message names the remote
    and, where there is one, the object."""

    exit_code = 1


class LockTimeout(MregError):
    """Another process held the store lock for longer than the timeout. Trying again may work."""

    exit_code = 75


EXIT_CODES: dict[str, int] = {
    "success": 0,
    "error": MregError.exit_code,
    "usage": InvalidInput.exit_code,
    "not found": NotFound.exit_code,
    "already exists or conflict": AlreadyExists.exit_code,
    "integrity failure": IntegrityError.exit_code,
    "lock timeout": LockTimeout.exit_code,
}
