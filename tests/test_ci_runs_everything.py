"""Under CI=true no test may skip (tests/conftest.py turns a skip into a failure), and every
test that starts the suite runs in the single-process mode too (`make test`'s second run)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

SKIPPING = (
    "import pytest\n\n\ndef test_needs_a_missing_part() -> None:\n    pytest.skip('no such tool')\n"
)


def _run(tmp_path: Path, ci: str) -> subprocess.CompletedProcess[str]:
    # The conftest imports the product (services/): this tree's, not whichever is installed.
    (tmp_path / "test_skips.py").write_text(SKIPPING)
    root = Path(__file__).parent
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
         "--confcutdir", str(root), "-c", "/dev/null", "--override-ini", "pythonpath=" + str(root),
         "-p", "conftest", str(tmp_path / "test_skips.py")],
        capture_output=True, text=True, check=False,
        env=os.environ | {"CI": ci, "PYTHONPATH": f"{root}{os.pathsep}{root.parent}"}, cwd=tmp_path,
    )  # fmt: skip


def test_a_skip_fails_under_ci(tmp_path: Path) -> None:
    ran = _run(tmp_path, "true")
    assert ran.returncode == 1, ran.stdout
    assert "skipped under CI=true" in ran.stdout


def test_a_skip_is_a_skip_elsewhere(tmp_path: Path) -> None:
    ran = _run(tmp_path, "")
    assert ran.returncode == 0, ran.stdout
    assert "1 skipped" in ran.stdout


# `make test` runs the tests that start the suite a second time, with P13N_SINGLE_PROCESS=1
# (profile and offers in one process): a module that starts one outside those paths would
# silently never run in that mode. What starts a suite: ``support.suite.Suite`` (or a
# subclass) in the test module or in the module of a fixture it uses (the ``suite``
# fixture, or ``account`` that stands on it), or `p13n up` run as a command.
MAKEFILE = Path(__file__).parent.parent / "Makefile"
SINGLE_PROCESS_PATHS = re.compile(r"^SINGLE_PROCESS_TESTS :=(?P<paths>.*)$", re.MULTILINE)
SINGLE_PROCESS_RUN = "P13N_SINGLE_PROCESS=1 $(BIN)/pytest $(SINGLE_PROCESS_TESTS)"

FINDER = """
import os
import re
import re
import sys
from pathlib import Path

from support.suite import Suite

RUNS_UP = re.compile(r'\\[\\s*(p13n|"services\\.cli")\\s*,\\s*"up"', re.IGNORECASE)


def _holds_a_suite(module):
    return any(
        isinstance(value, type) and issubclass(value, Suite) for value in vars(module).values()
    )


def pytest_collection_modifyitems(session, config, items):
    found = set()
    for item in items:
        module = getattr(item, "module", None)
        if module is None:
            continue
        modules = {module}
        info = getattr(item, "_fixtureinfo", None)
        for definitions in info.name2fixturedefs.values() if info else ():
            for definition in definitions:
                defined_in = sys.modules.get(getattr(definition.func, "__module__", ""))
                if defined_in is not None:
                    modules.add(defined_in)
        path = Path(module.__file__)
        if any(_holds_a_suite(each) for each in modules) or RUNS_UP.search(path.read_text()):
            found.add(str(path.resolve()))
    Path(os.environ["FOUND"]).write_text("\\n".join(sorted(found)))
"""


def _single_process_paths() -> list[Path]:
    match = SINGLE_PROCESS_PATHS.search(MAKEFILE.read_text())
    assert match is not None, "the Makefile names no SINGLE_PROCESS_TESTS"
    return [(MAKEFILE.parent / path).resolve() for path in match["paths"].split()]


def _modules_that_start_a_suite(tmp_path: Path) -> set[Path]:
    """Every test module that starts a suite, as collecting the whole tree finds them."""
    (tmp_path / "finder.py").write_text(FINDER)
    found = tmp_path / "found.txt"
    root = MAKEFILE.parent
    paths = (tmp_path, root / "tests", root)  # the finder, `support`, this tree's product
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-p", "finder", str(root / "tests")],
        capture_output=True, text=True, check=False, cwd=root, timeout=600,
        env=os.environ | {"FOUND": str(found), "PYTHONPATH": os.pathsep.join(map(str, paths))},
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return {Path(line) for line in found.read_text().splitlines()}


def test_make_test_runs_the_single_process_paths_again() -> None:
    recipe = MAKEFILE.read_text().partition("\ntest: ")[2].partition("\n\n")[0]
    assert SINGLE_PROCESS_RUN in recipe
    paths = _single_process_paths()
    assert paths
    assert [path for path in paths if not path.exists()] == []


def test_every_module_that_starts_a_suite_runs_in_the_single_process_mode(
    tmp_path: Path,
) -> None:
    starting = _modules_that_start_a_suite(tmp_path)
    tests = MAKEFILE.parent / "tests"
    # The finder finds each way of starting one (so that this test can fail): the fixture,
    # a fixture standing on it, a Suite of the module's own, `p13n up`.
    assert {
        tests / "e2e" / "test_outage.py",
        tests / "e2e" / "test_audit_log.py",
        tests / "gateway" / "test_trusted_hops.py",
        tests / "e2e" / "test_p13n_up.py",
    } <= starting
    assert tests / "offers" / "test_engine.py" not in starting  # its helpers only name Suite
    paths = _single_process_paths()
    missed = sorted(
        str(module.relative_to(tests.parent))
        for module in starting
        if not any(module == path or path in module.parents for path in paths)
    )
    assert missed == [], "add them to SINGLE_PROCESS_TESTS in the Makefile"
