"""Every RPC of the contracts has a deliberate access rule in the service that serves it.

`access.rule_for` closes a method without a rule (INTERNAL), so a forgotten or stale rule
fails quietly: a renamed admin RPC (ListEvents -> ListEventDefinitions) would refuse every
viewer, and a moved internal RPC would leave a rule for a method nobody serves. These
tests compare each service's RULES with the descriptor set protoc built.
"""

from __future__ import annotations

import pytest
from contracts.tooling import Method

from services.auth import server as auth_server
from services.common.access import Access
from services.offers import server as offers_server
from services.profile import server as profile_server

RULES: dict[str, dict[str, Access]] = {
    "p13n.auth.v1.": auth_server.RULES,
    "p13n.profile.v1.": profile_server.RULES,
    "p13n.offers.v1.": offers_server.RULES,
}


def _owner(path: str) -> str:
    return next(package for package in RULES if path.startswith(package))


@pytest.mark.parametrize("package", RULES)
def test_each_service_rules_exactly_its_rpcs(package: str, expected_methods: set[Method]) -> None:
    served = {f"/{m.path}" for m in expected_methods if _owner(m.path) == package}
    ruled = {path for path in RULES[package] if path.startswith(f"/{package}")}
    assert (sorted(served - ruled), sorted(ruled - served)) == ([], [])


def test_every_method_of_an_internal_service_is_internal(expected_methods: set[Method]) -> None:
    internal = [m.path for m in expected_methods if m.path.split(".")[-1].startswith("Internal")]
    assert len(internal) >= 5, internal  # six until AuthenticateCall was retired
    assert {path: RULES[_owner(path)][f"/{path}"] for path in internal} == dict.fromkeys(
        internal, Access.INTERNAL
    )


def test_only_internal_services_hold_internal_rpcs(expected_methods: set[Method]) -> None:
    public_but_internal = [
        m.path
        for m in expected_methods
        if not m.path.split(".")[-1].startswith("Internal")
        and RULES[_owner(m.path)].get(f"/{m.path}") is Access.INTERNAL
    ]
    assert public_but_internal == []
