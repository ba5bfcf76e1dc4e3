"""Errors of the offers service's domain logic, in the suite's one tree.

    P13nError                       (services.common.errors)
    └── InvalidArgument             INVALID_ARGUMENT
        └── InvalidConfigError      a personalization that cannot be compiled: the
                                    client's mistake, located by a field path

The path is relative to the personalization resource (``sections[1].criteria.all[0].op``)
and is the error's ``field``, so the interceptor puts it into a
``google.rpc.BadRequest.FieldViolation`` as is; the caller reads ``path: problem``. The
helpers below are the few shape checks every configuration parser here needs, kept
beside the error they raise so that every message reads alike.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from services.common.errors import InvalidArgument


class InvalidConfigError(InvalidArgument):
    """A personalization is invalid at ``path``; ``problem`` tells the user what to change.

    ``personalization`` names the personalization when several were compiled together;
    it shows in ``str()`` (the logs), never in the caller's ``message``, which is about
    the one being saved or previewed. ``preface`` and ``reason`` say in what context the
    mistake was found (``recast``).
    """

    default_reason = "INVALID_PERSONALIZATION"

    def __init__(
        self,
        path: str,
        problem: str,
        *,
        personalization: str | None = None,
        reason: str | None = None,
        preface: str = "",
    ) -> None:
        super().__init__(f"{preface}{path}: {problem}", field=path, reason=reason)
        self.path = path
        self.problem = problem
        self.personalization = personalization
        self.preface = preface

    def __str__(self) -> str:
        where = f"personalization {self.personalization!r}: " if self.personalization else ""
        return f"{where}{self.path}: {self.problem}"

    def within(self, personalization: str) -> InvalidConfigError:
        """Return this error attributed to ``personalization``."""
        return InvalidConfigError(
            self.path,
            self.problem,
            personalization=personalization,
            reason=self.reason,
            preface=self.preface,
        )

    def recast(self, reason: str, preface: str = "") -> InvalidConfigError:
        """Return this error as found in another context: its ``reason``, its preface."""
        return InvalidConfigError(
            self.path,
            self.problem,
            personalization=self.personalization,
            reason=reason,
            preface=preface,
        )


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
