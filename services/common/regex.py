"""Regular expressions an editor writes and anyone's input is matched against: RE2.

A pattern in a configuration is an editor's, but the string it is matched against on the
data path is a visitor's. Python's ``re`` backtracks, so one crafted value can make one
match take exponential time (``(a+)+$`` against ``"a" * 40 + "!"``); RE2 matches in time
linear in the input, and refuses the constructs that would need backtracking
(backreferences, lookarounds) when the pattern is compiled.
"""

from __future__ import annotations

from typing import Any, Protocol

import re2

RegexError = re2.error
"""What ``compile_linear`` raises for a pattern RE2 cannot compile."""


class Matcher(Protocol):
    """The part of a compiled RE2 pattern the services use."""

    def fullmatch(self, text: str) -> object | None: ...


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # a refused pattern is the editor's mistake, reported to them
    options.never_capture = True  # only whether it matches counts; lets RE2 use its DFA
    return options


_OPTIONS = _options()


def compile_linear(pattern: str) -> Matcher:
    """``pattern`` compiled by RE2; raises ``RegexError`` when RE2 cannot compile it."""
    compiled: Matcher = re2.compile(pattern, _OPTIONS)
    return compiled


def regex_message(error: Exception) -> str:
    """RE2's reason for refusing a pattern, as text (it gives bytes)."""
    reason = error.args[0] if error.args else error
    return reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
