"""Starting one container of a pod the way a container runtime would, without an engine.

The process runs in the pod's network namespace and in a mount (and UTS) namespace of its
own, where a shell, as root, bind-mounts the pod's hosts and resolv.conf files over
/etc/hosts and /etc/resolv.conf and each volume at its ``mountPath`` (read-only where the
mount says so), makes the root filesystem read-only if ``readOnlyRootFilesystem``, then
``exec``s setpriv, which becomes the user, group and supplementary groups (fsGroup) the
security contexts give and drops privileges, and ``exec``s the container's command.
Every step ``exec``s, so the process started is the container's process: its pid is the
one to signal, and its ``/proc/<pid>/environ`` is exactly the environment given.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.cluster_image import Image
from support.kube import ROOT


@dataclass(frozen=True)
class Identity:
    """Who the container's process is: pkg/kubelet/kuberuntime's security context rules."""

    uid: int
    gid: int
    groups: tuple[int, ...]
    no_new_privileges: bool
    drop_all_capabilities: bool

    @classmethod
    def of(
        cls, pod_spec: Mapping[str, Any], container: Mapping[str, Any], image: Image
    ) -> Identity:
        pod = pod_spec.get("securityContext") or {}
        own = container.get("securityContext") or {}
        image_user, _, image_group = (image.user or "0").partition(":")
        uid = own.get(
            "runAsUser", pod.get("runAsUser", int(image_user) if image_user.isdigit() else 0)
        )
        gid = own.get(
            "runAsGroup", pod.get("runAsGroup", int(image_group) if image_group.isdigit() else 0)
        )
        groups = [*pod.get("supplementalGroups", ())]
        if "fsGroup" in pod:
            groups.insert(0, pod["fsGroup"])
        if own.get("runAsNonRoot", pod.get("runAsNonRoot")) and uid == 0:
            raise PermissionError(
                f"container {container['name']}: runAsNonRoot and the user would be root "
                "(CreateContainerConfigError)"
            )
        dropped = [c.upper() for c in (own.get("capabilities") or {}).get("drop", ())]
        return cls(
            uid=int(uid),
            gid=int(gid),
            groups=tuple(int(g) for g in groups),
            no_new_privileges=own.get("allowPrivilegeEscalation") is False,
            drop_all_capabilities="ALL" in dropped,
        )

    def setpriv(self) -> list[str]:
        argv = [
            "setpriv",
            f"--reuid={self.uid}",
            f"--regid={self.gid}",
            f"--groups={','.join(map(str, self.groups))}" if self.groups else "--clear-groups",
        ]
        if self.no_new_privileges:
            argv.append("--no-new-privs")
        if self.drop_all_capabilities:
            argv += ["--inh-caps=-all", "--bounding-set=-all"]
        return [*argv, "--"]


@dataclass(frozen=True)
class Mount:
    source: Path
    target: str
    read_only: bool


def _closed_ancestor(path: Path) -> Path | None:
    """The outermost directory above ``path`` that other users may not enter."""
    return next(
        (p for p in reversed(path.parents) if p != Path("/") and not p.stat().st_mode & 0o001),
        None,
    )


def _reveal(scratch: Path, paths: Sequence[Path]) -> list[str]:
    """Shell lines that let an unprivileged user reach ``paths`` inside the pod.

    The venv's interpreter, the venv or the repository may live under a directory only
    root may enter (pyenv under /root); an image's files are readable by everyone. Inside
    the pod's own mount namespace each such directory is covered by an empty tmpfs with
    the needed subtrees bind-mounted back into it; the machine's directories are
    unchanged."""
    q = shlex.quote
    needed: dict[Path, set[Path]] = {}
    for path in paths:
        closed = _closed_ancestor(path)
        if closed is not None:
            needed.setdefault(closed, set()).add(closed / path.relative_to(closed).parts[0])
    lines = []
    for closed, children in needed.items():
        staged = [(child, scratch / str(n)) for n, child in enumerate(sorted(children))]
        for child, stage in staged:
            lines += [f"mkdir -p {q(str(stage))}", f"mount --bind {q(str(child))} {q(str(stage))}"]
        lines.append(f"mount -t tmpfs -o mode=0755,size=1m p13n-image {q(str(closed))}")
        for child, stage in staged:
            lines += [f"mkdir -p {q(str(child))}", f"mount --move {q(str(stage))} {q(str(child))}"]
    return lines


def script(
    *,
    hosts: Path,
    resolv: Path,
    mounts: Sequence[Mount],
    read_only_root: bool,
    workdir: str,
    identity: Identity,
    hostname: str,
    scratch: Path,
    given: Collection[str],
) -> str:
    """The shell script that prepares the namespaces and execs setpriv and "$@"."""
    q = shlex.quote
    lines = ["set -eu", f"hostname {q(hostname)}"]
    image = [Path(sys.base_prefix), Path(sys.prefix), ROOT]
    lines += _reveal(scratch, [path.resolve() for path in image])
    lines += [
        f"mount --bind {q(str(hosts))} /etc/hosts",
        f"mount --bind {q(str(resolv))} /etc/resolv.conf",
    ]
    for mount in mounts:
        lines.append(f"mount --bind {q(str(mount.source))} {q(mount.target)}")
        if mount.read_only:
            lines.append(f"mount -o remount,bind,ro {q(mount.target)}")
    if read_only_root:
        lines.append("mount -o remount,bind,ro /")
    lines.append(f"cd {q(workdir)}")
    # The shell may export PWD and OLDPWD after ``cd``: unset what the container was not
    # given, so it sees exactly its environment.
    extra = [name for name in ("PWD", "OLDPWD") if name not in given]
    if extra:
        lines.append(f"unset {' '.join(extra)}")
    lines.append(f'exec {" ".join(map(q, identity.setpriv()))} "$@"')
    return "\n".join(lines) + "\n"
