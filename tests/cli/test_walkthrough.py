"""Issue 15's walkthrough: a new user operates a running suite with the `p13n` command only.

The installed command runs as a separate process from a directory of its own, with a home
of its own (so its login profile is the only one), as a user would type it: log in, apply
the example file, look at what it made, import 10,000 CSV rows (with a progress bar),
preview, run the doctor on a healthy suite and on one whose auth service is stopped, and
export the configuration so that another suite applied from it exports the same.
Only the first account comes from the operator's bootstrap, as it does for a user.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from support.admin import Account
from support.suite import Suite

P13N = str(Path(sys.executable).with_name("p13n"))
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "shop.yaml"
SHOP = "https://shop.example"
PARENT_SEGMENT = "Demo shop visitors"
ROWS = 10_000


class User:
    """A shell in ``home``: `p13n ...` with only what a user's environment would hold."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_STATE_HOME": str(home / ".local" / "state"),
            "LANG": "C.UTF-8",
        }

    def __call__(
        self, *args: str, check: bool = True, **env: str
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [P13N, *args],
            cwd=self.home,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check:
            assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
        return done


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> User:
    return User(tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def example_file(user: User) -> Path:
    """The README's example file, with the origin of the user's own shop allowed."""
    document = yaml.safe_load(EXAMPLE.read_text())
    public = next(s for s in document["services"] if s["type"] == "PUBLIC")
    public["allowed_origins"] = [SHOP]
    path = user.home / "shop.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def second_suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    running = Suite(Path(tmp_path_factory.mktemp("second")))
    running.start()
    try:
        yield running
    finally:
        running.close()


def test_a_user_operates_the_suite_with_the_cli_alone(
    user: User, suite: Suite, account: Account, example_file: Path, second_suite: Suite
) -> None:
    admin_url = f"http://127.0.0.1:{suite.admin_port}"

    # Log in: the key is read from the environment (or a hidden prompt), checked, saved.
    login = user("login", "--url", admin_url, P13N_API_KEY=account.api_key)
    assert f"as account {account.account_id}" in login.stdout
    assert account.api_key not in login.stdout + login.stderr

    # Apply the example file; applying it again changes nothing.
    applied = user("apply", "-f", str(example_file))
    assert '+ event "page_view"' in applied.stdout
    assert "no changes" in user("apply", "-f", str(example_file)).stdout

    # What it made, as tables and in full.
    attributes = user("get", "attributes").stdout
    for name in ("membership_tier", "recently_viewed", "product_views", "last_category"):
        assert name in attributes
    described = user("describe", "attribute", "recently_viewed").stdout
    assert "products" in described
    assert "max_items" in described
    services = json.loads(user("get", "services", "-o", "json").stdout)
    assert {s["name"] for s in services} == {"Demo shop (browser)", "Demo backend (server)"}

    # Import 10,000 members' values from a CSV file, with a progress bar.
    rows = user.home / "members.csv"
    with rows.open("w") as out:
        out.write("member_id,membership_tier,total_purchase\n")
        for n in range(ROWS):
            out.write(f"M-{n:04d},{'Gold' if n % 2 else 'Silver'},{n}\n")
    imported = user("import", "attributes", str(rows), "--key", "member_id")
    assert f"{ROWS}/{ROWS} rows, 0 rejected" in imported.stderr  # the bar, as it finished
    profile = json.loads(user("get", "profile", "member_id=M-0007", "-o", "json").stdout)
    assert "Gold" in json.dumps(profile)
    members = user.home / "loyal.csv"
    members.write_text("member_id\nM-0007\n")
    user("import", "members", str(members), "--segment", "loyalty_members", "--key", "member_id")

    # Preview: the loyalty section matches M-0007 and is redacted for browsers, saying why.
    preview = user("preview", "Loyalty discount", "--visitor", "member_id=M-0007").stdout
    line = next(row for row in preview.splitlines() if "Loyalty Discount" in row)
    assert line.split()[2:4] == ["yes", "yes"], line  # shown, redacted for browsers
    assert "membership_tier" in line

    # The doctor: everything healthy, then auth stopped and named.
    data_url = f"http://127.0.0.1:{suite.data_port}"
    healthy = user("doctor", "--data-url", data_url, "--origin", SHOP)
    assert "FAIL" not in healthy.stdout
    suite.stop_service("auth")
    try:
        broken = user("doctor", "--data-url", data_url, "--origin", SHOP, check=False)
    finally:
        suite.start_service("auth")
    assert broken.returncode == 1
    failed = [row for row in broken.stdout.splitlines() if row.startswith("FAIL")]
    assert failed, broken.stdout
    assert "auth" in failed[0]

    # Export, apply the export to another suite, export that: the same file.
    exported = user.home / "exported.yaml"
    user("export", "-s", PARENT_SEGMENT, "-o", str(exported))
    other = Account.create(second_suite)
    user(
        "apply",
        "-f",
        str(exported),
        P13N_ADMIN_URL=f"http://127.0.0.1:{second_suite.admin_port}",
        P13N_API_KEY=other.api_key,
    )
    again = user.home / "again.yaml"
    user(
        "export",
        "-s",
        PARENT_SEGMENT,
        "-o",
        str(again),
        P13N_ADMIN_URL=f"http://127.0.0.1:{second_suite.admin_port}",
        P13N_API_KEY=other.api_key,
    )
    assert again.read_text() == exported.read_text()
