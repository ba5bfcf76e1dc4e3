"""`p13n apply -f` and `p13n export` against a running suite (real services, real Envoy).

Writes are counted in the audit log, which records every admin change: "applying twice
changes nothing" means no entry, not merely a quiet output. Each test configures a parent
segment of its own name (the demo's file, renamed) in the module's account.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from support.admin import Account
from support.suite import Suite

from services.demo.definition import DEMO_FILE

from .conftest import CliRunner

DEMO = DEMO_FILE.read_text(encoding="utf-8")


def _file(tmp_path: Path, name: str, *edits: tuple[str, str]) -> str:
    """The demo's file for a parent segment called ``name``, with ``edits`` (old, new)."""
    text = DEMO.replace("name: Demo shop visitors", f"name: {name}")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _audit(account: Account) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    token = ""
    while True:
        page = account.ok("GET", f"/v1/audit_log?page_size=1000&page_token={token}")
        entries += page.get("entries", [])
        token = page.get("next_page_token", "")
        if not token:
            return entries


def _parent_segment(account: Account, name: str) -> str | None:
    listed = account.ok("GET", "/v1/parent_segments?page_size=1000")["parent_segments"]
    return next((str(p["id"]) for p in listed if p["name"] == name), None)


def _names(account: Account, ps: str, kind: str) -> list[str]:
    listed = account.ok("GET", f"/v1/parent_segments/{ps}/{kind}?page_size=1000")[kind]
    return [item["name"] for item in listed]


def test_apply_creates_everything_and_applying_again_writes_nothing(
    p13n: CliRunner, tmp_path: Path
) -> None:
    path = _file(tmp_path, "Shop A")
    ran = p13n("apply", "-f", path)
    assert ran.code == 0, ran.err
    assert ran.out.startswith('+ parent segment "Shop A"\n+ event "page_view"\n')
    ps = _parent_segment(p13n.account, "Shop A")
    assert ps is not None
    assert _names(p13n.account, ps, "stitching_keys") == ["td_client_id", "member_id"]
    assert _names(p13n.account, ps, "attributes") == [
        "membership_tier",
        "total_purchase",
        "recently_viewed",
        "product_views",
        "last_category",
    ]
    assert _names(p13n.account, ps, "services") == ["Demo shop (browser)", "Demo backend (server)"]
    assert _names(p13n.account, ps, "personalizations") == [
        "Welcome",
        "Loyalty discount",
        "Recently viewed",
        "Silver rewards",
    ]
    written = len(_audit(p13n.account))

    again = p13n("apply", "-f", path)
    assert (again.code, again.out) == (0, 'no changes to parent segment "Shop A"\n'), again.err
    assert len(_audit(p13n.account)) == written


def test_a_changed_field_is_exactly_one_update(p13n: CliRunner, tmp_path: Path) -> None:
    assert p13n("apply", "-f", _file(tmp_path, "Shop B")).code == 0
    before = len(_audit(p13n.account))
    ran = p13n("apply", "-f", _file(tmp_path, "Shop B", ("window: 30d", "window: 7d")))
    assert ran.code == 0, ran.err
    assert ran.out == '~ attribute "product_views"\n    counter.window: "30d" → "7d"\n'
    [entry] = _audit(p13n.account)[before:]
    assert (entry["action"], entry["resource_type"]) == ("update", "attribute")
    assert entry["after"]["counter"]["window"] == "7d"


def test_dry_run_prints_the_diff_and_changes_nothing(p13n: CliRunner, tmp_path: Path) -> None:
    assert p13n("apply", "-f", _file(tmp_path, "Shop C")).code == 0
    before = len(_audit(p13n.account))
    edited = _file(
        tmp_path,
        "Shop C",
        ("regex: M-[0-9]{4}", "regex: M-[0-9]{5}"),
        (
            "  - name: loyalty_members\n",
            "  - name: gold\n    sensitivity: SENSITIVE\n  - name: loyalty_members\n",
        ),
    )
    ran = p13n("apply", "-f", edited, "--dry-run")
    assert ran.code == 0, ran.err
    assert ran.out == (
        '~ stitching key "member_id"\n'
        '    regex: "M-[0-9]{4}" → "M-[0-9]{5}"\n'
        '+ segment "gold"\n'
        "(dry run: nothing was changed)\n"
    )
    assert len(_audit(p13n.account)) == before
    fresh = p13n("apply", "-f", _file(tmp_path, "Shop C2"), "--dry-run")
    assert fresh.out.startswith('+ parent segment "Shop C2"\n')
    assert _parent_segment(p13n.account, "Shop C2") is None


def test_only_prune_deletes_what_is_not_in_the_file(p13n: CliRunner, tmp_path: Path) -> None:
    path = _file(tmp_path, "Shop D")
    assert p13n("apply", "-f", path).code == 0
    ps = _parent_segment(p13n.account, "Shop D")
    extra = {"name": "extra", "sensitivity": "SENSITIVE"}
    p13n.account.ok("POST", f"/v1/parent_segments/{ps}/segments", extra)

    kept = p13n("apply", "-f", path)
    assert kept.out == (
        '  segment "extra": not in file (kept; --prune deletes)\n'
        'no changes to parent segment "Shop D"\n'
    )
    assert "extra" in _names(p13n.account, str(ps), "segments")

    pruned = p13n("apply", "-f", path, "--prune")
    assert (pruned.code, pruned.out) == (0, '- segment "extra"\n'), pruned.err
    assert _names(p13n.account, str(ps), "segments") == ["loyalty_members"]


def test_a_change_the_api_refuses_stops_the_apply_before_any_write(
    p13n: CliRunner, tmp_path: Path
) -> None:
    assert p13n("apply", "-f", _file(tmp_path, "Shop E")).code == 0
    before = len(_audit(p13n.account))
    edited = _file(
        tmp_path,
        "Shop E",
        ("type: PUBLIC", "type: PRIVATE"),
        ("window: 30d", "window: 7d"),
    )
    ran = p13n("apply", "-f", edited)
    assert ran.code == 1
    assert 'cannot change type of service "Demo shop (browser)": delete and re-create it' in ran.out
    assert "nothing was changed" in ran.err
    assert len(_audit(p13n.account)) == before


def test_a_failure_midway_names_the_item_and_running_again_continues(
    p13n: CliRunner, tmp_path: Path
) -> None:
    broken = _file(
        tmp_path, "Shop F", ("    event: product_view\n    field:", "    event: nope\n    field:")
    )
    ran = p13n("apply", "-f", broken)
    assert ran.code == 1
    assert 'creating attribute "last_category" failed: ' in ran.err
    assert "run apply again to continue" in ran.err
    ps = _parent_segment(p13n.account, "Shop F")
    assert _names(p13n.account, str(ps), "attributes") == [
        "membership_tier",
        "total_purchase",
        "recently_viewed",
        "product_views",
    ]
    fixed = p13n("apply", "-f", _file(tmp_path, "Shop F"))
    assert fixed.code == 0, fixed.err
    assert fixed.out.startswith('+ attribute "last_category"\n+ segment "loyalty_members"\n')


def test_a_bad_file_is_refused_naming_the_key_and_line(p13n: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("apiVersion: p13n/v1\nkind: ParentSegment\ncolour: blue\n")
    ran = p13n("apply", "-f", str(path))
    assert ran.code == 1
    assert f"{path}:3: unknown key 'colour'" in ran.err


def test_export_then_apply_on_a_fresh_suite_exports_the_same_file(
    p13n: CliRunner, tmp_path: Path
) -> None:
    assert p13n("apply", "-f", _file(tmp_path, "Shop G")).code == 0
    exported = tmp_path / "exported.yaml"
    ran = p13n("export", "-s", "Shop G", "-o", str(exported))
    assert ran.code == 0, ran.err
    for output_only in ("create_time", "sensitivity_summary", "reactor_id"):
        assert output_only not in exported.read_text()

    other = Suite(Path(tempfile.mkdtemp(dir=tmp_path)))
    other.start()
    try:
        account = Account.create(other)
        env = {
            "P13N_ADMIN_URL": f"http://127.0.0.1:{other.admin_port}",
            "P13N_API_KEY": account.api_key,
        }
        applied = p13n("apply", "-f", str(exported), env=env)
        assert applied.code == 0, applied.err
        again = p13n("export", env=env)  # the account's only parent segment
        assert again.code == 0, again.err
    finally:
        other.close()
    assert again.out == exported.read_text()


def test_origins_written_otherwise_than_the_server_saves_them_settle_in_one_apply(
    p13n: CliRunner, tmp_path: Path
) -> None:
    origins = "      - HTTP://Shop.Example:80\n      - http://shop.example\n"
    path = _file(tmp_path, "Shop H", ("      - http://127.0.0.1:8000\n", origins))
    assert p13n("apply", "-f", path).code == 0
    written = len(_audit(p13n.account))
    again = p13n("apply", "-f", path)
    assert (again.code, again.out) == (0, 'no changes to parent segment "Shop H"\n'), again.err
    assert len(_audit(p13n.account)) == written


def test_the_primary_keys_stitching_key_set_up_outside_the_file_is_reset(
    p13n: CliRunner, tmp_path: Path
) -> None:
    path = _file(tmp_path, "Shop I")
    assert p13n("apply", "-f", path).code == 0
    keys = f"/v1/parent_segments/{_parent_segment(p13n.account, 'Shop I')}/stitching_keys"
    primary = p13n.account.ok("GET", keys)["stitching_keys"][0]
    assert primary["name"] == "td_client_id"
    p13n.account.ok("PATCH", f"{keys}/{primary['id']}?update_mask=regex", {"regex": "[0-9]+"})
    ran = p13n("apply", "-f", path)
    assert (ran.code, ran.out) == (
        0,
        '~ stitching key "td_client_id"\n    regex: "[0-9]+" → (none)\n',
    ), ran.err
    assert p13n.account.ok("GET", keys)["stitching_keys"][0].get("regex", "") == ""
    assert p13n("apply", "-f", path).out == 'no changes to parent segment "Shop I"\n'


def test_a_refusal_in_a_later_document_stops_the_apply_before_any_write(
    p13n: CliRunner, tmp_path: Path
) -> None:
    assert p13n("apply", "-f", _file(tmp_path, "Shop J")).code == 0
    before = len(_audit(p13n.account))
    fresh = Path(_file(tmp_path, "Shop K")).read_text(encoding="utf-8")
    refused = Path(_file(tmp_path, "Shop J", ("type: PUBLIC", "type: PRIVATE")))
    both = tmp_path / "both.yaml"
    both.write_text(fresh + "---\n" + refused.read_text(encoding="utf-8"), encoding="utf-8")
    ran = p13n("apply", "-f", str(both))
    assert ran.code == 1
    assert 'cannot change type of service "Demo shop (browser)"' in ran.out
    assert "nothing was changed" in ran.err
    assert _parent_segment(p13n.account, "Shop K") is None
    assert len(_audit(p13n.account)) == before


def test_files_that_cannot_be_read_or_written_are_refused_without_a_traceback(
    p13n: CliRunner, tmp_path: Path
) -> None:
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(DEMO.replace("name: Demo shop visitors", "name: Caf\xe9").encode("latin-1"))
    ran = p13n("apply", "-f", str(latin1))
    line = DEMO.splitlines().index("name: Demo shop visitors") + 1
    assert (ran.code, ran.err) == (
        1,
        f"p13n: {latin1}:{line}: not UTF-8 text (byte 0xe9); save the file as UTF-8\n",
    )
    dated = _file(tmp_path, "Shop L", ("static: LOYAL-15", "static: 2024-01-01"))
    ran = p13n("apply", "-f", dated, "--dry-run")
    assert ran.code == 1
    assert "'2024-01-01' is a date, which JSON has no form for: quote it" in ran.err
    assert _parent_segment(p13n.account, "Shop L") is None
    assert p13n("apply", "-f", _file(tmp_path, "Shop L")).code == 0
    missing = tmp_path / "no such dir" / "x.yaml"
    ran = p13n("export", "-s", "Shop L", "-o", str(missing))
    assert (ran.code, ran.err) == (
        1,
        f"p13n: cannot write {missing}: No such file or directory\n",
    )
