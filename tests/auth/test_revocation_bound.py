"""The revocation bound adds up: a deleted credential is refused everywhere within 5 s.

An auth process drops it within one poll of the store's generation (plus a reload, which
the end-to-end tests measure); an identity issued just before is accepted for at most the
identity's maximum age after that (docs/design.md#revocation).
"""

from __future__ import annotations

from services.auth import directory
from services.common import identity

REVOCATION_BOUND_SECONDS = 5.0
# What a reload of the credentials may take on a busy machine, kept out of the budget.
RELOAD_ALLOWANCE_SECONDS = 0.5


def test_poll_and_identity_age_fit_in_the_bound() -> None:
    worst = directory.REFRESH_SECONDS + RELOAD_ALLOWANCE_SECONDS + identity.MAX_AGE_SECONDS
    assert worst <= REVOCATION_BOUND_SECONDS


def test_an_identity_outlives_the_slowest_legitimate_hop() -> None:
    # issued_at rounds down: the shortest life is one second under the maximum age, and it
    # must cover ext_authz -> gateway -> service -> service on a loaded machine.
    assert identity.MAX_AGE_SECONDS - 1 >= 3
