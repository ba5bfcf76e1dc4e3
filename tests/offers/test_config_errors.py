"""Offers' configuration error is a shared InvalidArgument located by its path."""

from __future__ import annotations

from services.common.errors import InvalidArgument
from services.common.rpc_status import status_of
from services.offers.errors import InvalidConfigError


def test_a_config_error_is_an_invalid_argument_at_its_path() -> None:
    error = InvalidConfigError("sections[1].criteria.op", "op 'gt' does not apply")
    assert isinstance(error, InvalidArgument)
    assert (error.field, error.path, error.problem) == (
        "sections[1].criteria.op",
        "sections[1].criteria.op",
        "op 'gt' does not apply",
    )
    # What the caller reads, and what the logs read, are the messages offers always had.
    assert error.message == "sections[1].criteria.op: op 'gt' does not apply"
    assert str(error) == "sections[1].criteria.op: op 'gt' does not apply"
    assert error.reason == "INVALID_PERSONALIZATION"
    assert status_of(error).message == error.message


def test_within_names_the_personalization_in_the_logs_only() -> None:
    error = InvalidConfigError("name", "taken", reason="R").within("Homepage")
    assert str(error) == "personalization 'Homepage': name: taken"
    assert (error.message, error.personalization, error.reason) == ("name: taken", "Homepage", "R")


def test_recast_gives_the_context_its_reason_and_preface() -> None:
    error = InvalidConfigError("p", "wrong").within("Home").recast("OUTDATED", "No longer: ")
    assert (error.message, error.reason, error.field) == ("No longer: p: wrong", "OUTDATED", "p")
    assert str(error) == "personalization 'Home': p: wrong"
