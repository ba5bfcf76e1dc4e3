"""Errors of the offers service's domain logic.

    OffersError                 root: everything the offers domain raises on purpose
    └── InvalidConfigError      a personalization that cannot be compiled: the client's
                                mistake (INVALID_ARGUMENT), located by a field path

The path is relative to the personalization resource (``sections[1].criteria.all[0].op``)
so that the gRPC layer can put it into a ``google.rpc.BadRequest.FieldViolation``
as is. The helpers below are the few shape checks every configuration parser here
needs, kept beside the error they raise so that every message reads alike.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping


class OffersError(Exception):
    """Root of the offers domain's errors, so that one ``except`` can catch them all."""


class InvalidConfigError(OffersError):
    """A personalization is invalid at ``path``; ``message`` tells the user what to change.

    ``personalization`` names the personalization when several were compiled together.
    """

    def __init__(self, path: str, message: str, *, personalization: str | None = None) -> None:
        self.path = path
        self.message = message
        self.personalization = personalization
        where = f"personalization {personalization!r}: {path}" if personalization else path
        super().__init__(f"{where}: {message}")

    def within(self, personalization: str) -> InvalidConfigError:
        """Return this error attributed to ``personalization``."""
        return InvalidConfigError(self.path, self.message, personalization=personalization)


def json_type(value: object) -> str:
    """Name a JSON value's type the way a user who wrote the JSON would."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    return "an object" if isinstance(value, Mapping) else type(value).__name__


def expect_object(
    node: object, path: str, required: Collection[str], optional: Collection[str] = ()
) -> Mapping[str, object]:
    """Return ``node`` as an object that has every ``required`` key and no unknown key."""
    if not isinstance(node, Mapping):
        raise InvalidConfigError(path, f"expected an object, got {json_type(node)}")
    allowed = [*required, *optional]
    for key in node:
        if key not in allowed:
            raise InvalidConfigError(
                f"{path}.{key}", f"unknown key {key!r}; expected {', '.join(allowed)}"
            )
    for key in required:
        if key not in node:
            raise InvalidConfigError(f"{path}.{key}", f"{key!r} is required")
    return node


def expect_name(value: object, path: str) -> str:
    """Return ``value`` as a non-empty string: every name here is one."""
    if not isinstance(value, str) or not value:
        got = "an empty string" if value == "" else json_type(value)
        raise InvalidConfigError(path, f"expected a non-empty string, got {got}")
    return value
