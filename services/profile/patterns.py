"""Event-filter and stitching-key regexes: an editor's patterns, a visitor's values.

Both run inside the group-commit writer, on the database thread, so one slow match stalls
every write of the service. Python's ``re`` backtracks: ``(a+)+$`` against a few dozen
``a`` and a ``!`` would never finish. They are therefore matched on RE2
(``services.common.regex``, the offers criteria's engine and options), in time linear in
the value; both sites full-match, as before.

On save a pattern must compile under both engines. Python's ``re`` first: a plain syntax
error keeps the message it always had, and the accepted syntax is no wider than before,
so a configuration saved now still loads in the previous release. Then RE2, which
refuses backreferences, lookarounds and repetitions over 1000.

A pattern stored before this check that RE2 cannot compile must not stop the service
from loading the configuration: it is loaded as matching nothing (its event definition
matches no event; its stitching key yields no identity) and a warning names its owner,
never a value.
"""

from __future__ import annotations

import logging
import re

from services.common.regex import Matcher, RegexError, compile_linear, regex_message

log = logging.getLogger(__name__)


class InvalidPattern(ValueError):
    """Python's ``re`` cannot parse the pattern; the message is ``re``'s."""


class UnsupportedPattern(ValueError):
    """The pattern parses but RE2 cannot compile it; the message is RE2's reason."""


def check(pattern: str) -> None:
    """Raise ``InvalidPattern`` or ``UnsupportedPattern`` unless ``pattern`` may be saved."""
    check_syntax(pattern)
    try:
        compile_linear(pattern)
    except RegexError as error:
        raise UnsupportedPattern(regex_message(error)) from None


def check_syntax(pattern: str) -> None:
    """Raise ``InvalidPattern`` if Python's ``re`` cannot parse ``pattern``."""
    try:
        re.compile(pattern)
    except re.error as error:
        raise InvalidPattern(str(error)) from None


class _Never:
    def fullmatch(self, _text: str) -> None:
        return None


def load(pattern: str, owner: str) -> Matcher:
    """``pattern`` compiled by RE2, or a matcher of nothing (logged) if RE2 refuses it."""
    try:
        return compile_linear(pattern)
    except RegexError as error:
        log.warning(
            "%s: stored regex is not supported by RE2 (%s); it matches nothing",
            owner,
            regex_message(error),
        )
        return _Never()


def fullmatches(matcher: Matcher, text: str) -> bool:
    """Whether ``matcher`` matches all of ``text``; never raises.

    RE2 matches UTF-8, so a string holding a lone surrogate cannot be encoded for it; such
    a value matches nothing rather than failing the write batch it is part of.
    """
    try:
        return matcher.fullmatch(text) is not None
    except UnicodeEncodeError:
        return False
