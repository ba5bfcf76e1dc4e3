"""Which p13n component may call which RPC, by the name in the caller's certificate.

Beside each service's access ``RULES`` (who the end user must be) stands its ``CALLERS``
(which component may carry the call). Mutual TLS proves the name (``services.common.tls``);
this module decides, in the interceptor, before the access rule and any handler. A method
no list names is refused: a new RPC is closed until someone says who calls it. Health and
reflection answer any component of the suite (`p13n up`'s readiness checks use ``cli``).

The signed ``x-p13n-identity`` header keeps its job: it says on whose behalf a call is
made (the end user's account, role and credential, decided by the auth service for the
gateway). The caller's name says which component carries it. Because only the gateway may
ask ``Check`` for an identity and only listed components may present one to a method, a
process outside the suite can no longer obtain or replay one; the signature remains as
a second lock against a component forwarding what it did not receive.

When internal TLS is off (the benchmark's comparison run, loopback only:
``Settings.internal_tls``) there is no certificate and no name, and nothing is checked here.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.common.access import ALWAYS_OPEN, Access
from services.common.errors import PermissionDenied

GATEWAY = "gateway"
AUTH = "auth"
PROFILE = "profile"
OFFERS = "offers"
CLI = "cli"

Callers = Mapping[str, frozenset[str]]


def only(*names: str) -> frozenset[str]:
    return frozenset(names)


def through_gateway(rules: Mapping[str, Access]) -> dict[str, frozenset[str]]:
    """Every method a client reaches through the gateway (all but the internal ones)."""
    return {method: only(GATEWAY) for method, rule in rules.items() if rule is not Access.INTERNAL}


def check(method: str, callers: Callers, caller: str | None) -> None:
    """Raises PermissionDenied unless ``caller`` is on ``method``'s list."""
    if caller is not None and method.startswith(ALWAYS_OPEN):
        return
    if caller is None or caller not in callers.get(method, frozenset()):
        raise PermissionDenied(
            f"{method} may not be called by {caller or 'an unnamed component'}",
            reason="CALLER_NOT_ALLOWED",
        )
