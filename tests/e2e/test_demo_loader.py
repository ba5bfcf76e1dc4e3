"""The demo loader against a running suite: it converges instead of duplicating."""

from __future__ import annotations

import pytest
from support.http import request
from support.suite import Suite

from services.demo import definition as demo_config
from services.demo.loader import DemoError, load_demo
from services.demo.state import state_path

pytestmark = pytest.mark.both_backends

ORIGIN = "http://127.0.0.1:8000"


def _names(suite: Suite, api_key: str, path: str, field: str) -> list[str]:
    reply = request(
        "GET",
        suite.admin_port,
        f"{path}?page_size=100",
        headers={"authorization": f"TD1 {api_key}"},
    )
    assert reply.status == 200, reply.body
    return sorted(item["name"] for item in reply.json().get(field, []))


def test_loading_twice_reuses_everything_and_a_new_origin_is_added(suite: Suite) -> None:
    first = load_demo(suite.settings, ORIGIN)
    again = load_demo(suite.settings, "http://127.0.0.1:8001")
    assert again.state == first.state
    assert again.parent_segment_id == first.parent_segment_id
    key = first.state.api_key
    ps = f"/v1/parent_segments/{first.parent_segment_id}"
    assert _names(suite, key, "/v1/parent_segments", "parent_segments") == [
        demo_config.PARENT_SEGMENT["name"]
    ]
    assert _names(suite, key, f"{ps}/attributes", "attributes") == sorted(
        a["name"] for a in demo_config.ATTRIBUTES
    )
    assert _names(suite, key, f"{ps}/personalizations", "personalizations") == sorted(
        p["name"] for p in demo_config.PERSONALIZATIONS
    )
    services = request(
        "GET", suite.admin_port, f"{ps}/services", headers={"authorization": f"TD1 {key}"}
    ).json()["services"]
    public = next(s for s in services if s["name"] == demo_config.PUBLIC_SERVICE["name"])
    assert public["allowed_origins"] == [ORIGIN, "http://127.0.0.1:8001"]
    assert len(services) == 2


def test_without_its_credentials_file_the_demo_fails_with_a_clear_message(suite: Suite) -> None:
    load_demo(suite.settings, ORIGIN)
    saved = state_path(suite.settings.data_dir)
    credentials = saved.read_bytes()
    saved.unlink()
    try:
        with pytest.raises(
            DemoError, match=r"already exists.*credentials .* are gone.*fresh P13N_DATA_DIR"
        ):
            load_demo(suite.settings, ORIGIN)
    finally:
        saved.write_bytes(credentials)
        saved.chmod(0o600)
