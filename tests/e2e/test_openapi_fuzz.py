"""The running suite against its own OpenAPI document: schemathesis drives the HTTP API.

Every operation of docs/openapi.json is called with requests generated from the document,
valid ones and invalid ones, through the real Envoy: the admin API with a master key, the
Ingest API with it too, the personalize paths with a public token and its allowed Origin.
Every answer must be documented: no 5xx, a status the operation lists, a JSON body matching
that status's schema. Path parameters are real ids (a parent segment and one of each of its
resources, made first) so the calls reach the handlers rather than only 404s; each DELETE
of a resource removes one made for it. Bounded for CI: a few examples per operation, drawn
the same way every run (``derandomize``), no example database."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from support.admin import Account
from support.suite import Suite

from gateway import openapi

# A personalization showing the seeded counter.
SHOW_VIEWS = {
    "name": "Show views",
    "trigger_events": ["page_view"],
    "sections": [{"name": "views", "payload": [{"name": "n", "attribute": "views"}]}],
}

ORIGIN = "https://shop.example"

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def ids(account: Account) -> dict[str, str]:
    """One real resource of each kind, by the name of the path parameter that names it."""
    ps = account.parent_segment()
    base = f"/v1/parent_segments/{ps}"
    account.counted_page_views(ps)
    events = account.ok("GET", f"{base}/events")["events"]
    attributes = account.ok("GET", f"{base}/attributes")["attributes"]
    key = account.ok("POST", f"{base}/stitching_keys", {"name": "member_id"})
    segment = account.ok("POST", f"{base}/segments", {"name": "vip", "sensitivity": "SENSITIVE"})
    personalization = account.ok("POST", f"{base}/personalizations", SHOW_VIEWS)
    service = account.service(ps, "web", origins=[ORIGIN])
    token = account.ok("POST", f"{base}/services/{service}/tokens", {"name": "web"})
    secret = account.ok("POST", f"{base}/services/{service}/identity_secrets", {"name": "shop"})
    return {
        "parent_segment_id": ps,
        "event_id": str(events[0]["id"]),
        "attribute_id": str(attributes[0]["id"]),
        "stitching_key_id": str(key["id"]),
        "segment_id": str(segment["id"]),
        "personalization_id": str(personalization["id"]),
        "service_id": service,
        "token_id": str(token["id"]),
        "identity_secret_id": str(secret["id"]),
        # The data plane's: the table of the seeded page_view event.
        "database": "shop_db",
        "table": "page_views",
    }


@pytest.fixture(scope="module")
def public_token(account: Account, ids: dict[str, str]) -> str:
    """A token of the seeded public service, whose allowed Origin is ORIGIN."""
    return account.token(ids["parent_segment_id"], ids["service_id"], name="fuzz")


# The real ids the ``ids`` fixture made, read by the hook below while examples are drawn.
SEEDED: dict[str, str] = {}
# The DELETE operations that deleted something (answered 200), to show they reached handlers.
DELETED: set[str] = set()

# Loaded at import (pytest makes one test per operation from it); the suite's port is given
# at each call. ``schemathesis.pytest.from_fixture`` would load it from a fixture, but it
# sets ``node._nodeid``, which pytest 9 no longer has.
document = schemathesis.openapi.from_path(openapi.DOCUMENT)


@document.hook
def map_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    # A DELETE keeps its generated ids: the seeded resources stay for the other operations.
    if path_parameters and context.operation.method.upper() != "DELETE":
        for name in path_parameters:
            if name in SEEDED:
                path_parameters[name] = SEEDED[name]
    return path_parameters


DELETES_OF_A_RESOURCE = "^/v1/.*[}]$"


# The admin API; a DELETE of a resource is the next test's.
@(
    document.include(path_regex="^/v1/")
    .exclude(method="DELETE", path_regex=DELETES_OF_A_RESOURCE)
    .parametrize()
)
@settings(
    max_examples=8,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_documented(
    case: Any, suite: Suite, account: Account, ids: dict[str, str]
) -> None:
    SEEDED.update(ids)
    case.call_and_validate(
        base_url=f"http://127.0.0.1:{suite.admin_port}",
        headers={"Authorization": f"TD1 {account.api_key}"},
        checks=CHECKS,
    )


@document.include(path_regex="^/(public|records|[{]database[}])/").parametrize()
@settings(
    max_examples=8,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_of_the_data_plane_is_documented(
    case: Any, suite: Suite, account: Account, ids: dict[str, str], public_token: str
) -> None:
    SEEDED.update(ids)
    if case.path.startswith("/records/"):
        headers = {"Authorization": f"TD1 {account.api_key}"}
    else:
        headers = {"WP13n-Token": public_token, "Origin": ORIGIN}
    case.call_and_validate(
        base_url=f"http://127.0.0.1:{suite.data_port}", headers=headers, checks=CHECKS
    )


class Doomed:
    """Makes a fresh resource for a DELETE to remove, so a valid DELETE reaches its handler
    and deletes something, while the seeded resources stay for the other operations."""

    def __init__(self, account: Account, ids: dict[str, str]) -> None:
        self.account = account
        self.ids = ids
        self.made = itertools.count(1)

    def path_parameters(self, path: str) -> dict[str, str]:
        """Real ids for every parameter of ``path``, the last one a resource made now."""
        ids = dict(self.ids)
        n = next(self.made)
        base = f"/v1/parent_segments/{ids['parent_segment_id']}"
        service = f"{base}/services/{ids['service_id']}"
        kind = path.rsplit("{", 1)[1].rstrip("}")
        bodies: dict[str, tuple[str, dict[str, Any]]] = {
            "api_key_id": ("/v1/api_keys", {"type": "MASTER"}),
            "parent_segment_id": (
                "/v1/parent_segments",
                {"name": f"doomed {n}", "primary_key": "td_client_id"},
            ),
            "attribute_id": (
                f"{base}/attributes",
                {
                    "name": f"doomed_{n}",
                    "type": "COUNTER",
                    "event": "page_view",
                    "counter": {"window": "total"},
                },
            ),
            "event_id": (
                f"{base}/events",
                {"name": f"doomed_{n}", "database": "doomed_db", "table": f"doomed_{n}"},
            ),
            "stitching_key_id": (f"{base}/stitching_keys", {"name": f"doomed_{n}"}),
            "segment_id": (f"{base}/segments", {"name": f"doomed_{n}", "sensitivity": "SENSITIVE"}),
            "personalization_id": (
                f"{base}/personalizations",
                {**SHOW_VIEWS, "name": f"doomed {n}", "sections": []},
            ),
            "service_id": (f"{base}/services", {"name": f"doomed {n}", "type": "PUBLIC"}),
            "token_id": (f"{service}/tokens", {"name": f"doomed {n}"}),
            "identity_secret_id": (f"{service}/identity_secrets", {"name": f"doomed {n}"}),
        }
        collection, body = bodies[kind]
        ids[kind] = str(self.account.ok("POST", collection, body)["id"])
        return {name: ids[name] for name in _PATH_PARAMETER.findall(path)}


_PATH_PARAMETER = re.compile(r"\{([^}]+)\}")


@pytest.fixture(scope="module")
def doomed(account: Account, ids: dict[str, str]) -> Doomed:
    return Doomed(account, ids)


@document.include(method="DELETE", path_regex=DELETES_OF_A_RESOURCE).parametrize()
@settings(
    max_examples=3,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_a_delete_of_a_real_resource_is_documented_too(
    case: Any, suite: Suite, account: Account, doomed: Doomed
) -> None:
    if case.meta is None or case.meta.generation.mode is GenerationMode.POSITIVE:
        case.path_parameters = doomed.path_parameters(case.operation.path)
    reply = case.call_and_validate(
        base_url=f"http://127.0.0.1:{suite.admin_port}",
        headers={"Authorization": f"TD1 {account.api_key}"},
        checks=CHECKS,
    )
    if reply.status_code == 200:
        DELETED.add(case.operation.label)


def test_the_audit_logs_filter_by_an_id_that_names_nothing_lists_nothing(
    account: Account,
) -> None:
    """Found by the run above: the profile service refused the filter passed on to it, 404."""
    reply = account.call("GET", "/v1/audit_log?resource_type=token&resource_id=not-an-id")
    assert reply.status == 200, reply.body
    assert reply.json().get("entries", []) == []


def test_every_delete_deleted_something() -> None:
    """Runs after the DELETEs above: each operation deleted a real resource at least once."""
    operations = document.include(method="DELETE", path_regex=DELETES_OF_A_RESOURCE)
    labels = {
        result.ok().label for result in operations.get_all_operations() if isinstance(result, Ok)
    }
    assert len(labels) == 10
    assert labels - DELETED == set()
