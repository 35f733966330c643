"""Equality, hashing and ``repr`` for the frozen dataclasses of records and entities, written once.

``@dataclass(frozen=True)`` writes ``__init__``, ``__repr__``, ``__eq__``, ``__hash__``,
``__setattr__`` and ``__delattr__`` of each class as source text and compiles them when the module
is imported. For the records and entities every command loads, that compiling was about a tenth of
the time of ``mreg resolve``. Declared ``@dataclass(frozen=True, eq=False, repr=False)`` on
``Value``, a class compiles half as much and takes these three methods, which give the results the
generated ones gave (fields compared in order, only with an instance of the very same class).
"""

from __future__ import annotations

_FIELDS: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        import dataclasses

        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


class Value:
    __slots__ = ()

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in _field_names(type(self)))

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._values() == other._values()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _field_names(type(self)))
        return f"{type(self).__qualname__}({shown})"
