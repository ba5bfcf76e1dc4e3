"""`buf breaking` guards the contracts against a deliberate baseline.

The baseline is a committed buf image (`protos/contract-baseline.json`), not "the previous
commit": a break before v1 is then an explicit, reviewed act (`make contract-baseline`,
committed with the change that needs it), and the check needs neither git history nor tags
in the clone that runs it. `make test` runs `make check-breaking`; these tests show the
check passes today and fails on the breaks it exists for.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from contracts.tooling import BUF, ROOT

BASELINE = ROOT / "protos" / "contract-baseline.json"
PERSONALIZATION = "protos/p13n/offers/v1/personalization.proto"
PERSONALIZE_SERVICE = "protos/p13n/offers/v1/personalize_service.proto"


def _breaking(workspace: Path) -> tuple[int, list[dict[str, object]]]:
    checked = subprocess.run(
        [str(BUF), "breaking", "protos", "--against", str(BASELINE), "--error-format", "json"],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = [json.loads(line) for line in checked.stdout.splitlines() if line.strip()]
    return checked.returncode, found


def _copy_of_the_contracts(tmp_path: Path) -> Path:
    for directory in ("protos", "third_party"):
        shutil.copytree(ROOT / directory, tmp_path / directory)
    shutil.copy(ROOT / "buf.yaml", tmp_path / "buf.yaml")
    return tmp_path


@pytest.mark.usefixtures("tools")
def test_the_contracts_are_compatible_with_the_baseline() -> None:
    code, found = _breaking(ROOT)
    assert (code, found) == (0, [])


@pytest.mark.parametrize(
    ("path", "before", "after", "rule"),
    [
        pytest.param(
            PERSONALIZATION,
            "string name = 2 [",
            "string name = 12 [",
            "FIELD_NO_DELETE",
            id="field-renumbered",
        ),
        pytest.param(
            PERSONALIZATION,
            "string description = 3 [",
            "int64 description = 3 [",
            "FIELD_SAME_TYPE",
            id="field-type-changed",
        ),
        pytest.param(
            PERSONALIZE_SERVICE,
            "rpc PrivatePersonalize(PrivatePersonalizeRequest) returns (PersonalizeResponse);",
            "",
            "RPC_NO_DELETE",
            id="rpc-removed",
        ),
    ],
)
@pytest.mark.usefixtures("tools")
def test_a_break_fails_the_check(
    tmp_path: Path, path: str, before: str, after: str, rule: str
) -> None:
    workspace = _copy_of_the_contracts(tmp_path)
    proto = workspace / path
    text = proto.read_text()
    assert text.count(before) == 1
    proto.write_text(text.replace(before, after))
    code, found = _breaking(workspace)
    assert code != 0
    assert rule in {finding["type"] for finding in found}, found
