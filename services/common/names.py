"""Names of configuration resources: required, at most 100 characters, unique in their scope.

One implementation for every service (auth's services and tokens, profile's and offers'
configuration), so a name rule never differs between two admin screens. The messages are
exact (docs/design.md#domain-rules): they are what users search for.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection

from services.common.errors import InvalidArgument

MAX_NAME_LENGTH = 100
NAME_BLANK_MESSAGE = "Name can't be blank"
NAME_TOO_LONG_MESSAGE = f"Name is too long (maximum is {MAX_NAME_LENGTH} characters)"
NAME_TAKEN_MESSAGE = "Name has already been taken"
_NAME_CONTROL_MESSAGE = "Name must not contain control characters such as line breaks"


def validate_name(name: str, other_names: Collection[str], *, field: str = "name") -> str:
    """Checks a name and returns it without surrounding blanks.

    ``field`` is the request field the error names (``name``, ``token.name``, ...).

    ``other_names`` are the names of the *other* resources in the same scope (leave the
    resource's own name out on a rename). Uniqueness ignores case and Unicode compatibility
    forms, so that "Shop" and "shop" cannot both exist and confuse whoever picks one.
    """
    stripped = name.strip()
    if not stripped:
        raise InvalidArgument(NAME_BLANK_MESSAGE, reason="NAME_BLANK", field=field)
    if len(stripped) > MAX_NAME_LENGTH:
        raise InvalidArgument(
            NAME_TOO_LONG_MESSAGE,
            reason="NAME_TOO_LONG",
            field=field,
            metadata={"maximum": str(MAX_NAME_LENGTH)},
        )
    if any(unicodedata.category(c) == "Cc" for c in stripped):
        raise InvalidArgument(_NAME_CONTROL_MESSAGE, reason="NAME_CONTROL_CHARACTERS", field=field)
    key = _name_key(stripped)
    if any(_name_key(other) == key for other in other_names):
        # INVALID_ARGUMENT, not ALREADY_EXISTS: the name is a field of the resource, not
        # its identity (the id is).
        raise InvalidArgument(NAME_TAKEN_MESSAGE, reason="NAME_TAKEN", field=field)
    return stripped


def _name_key(name: str) -> str:
    return unicodedata.normalize("NFKC", name.strip()).casefold()
