"""A pod's volumes as directories on this machine, laid out as the kubelet lays them out.

- ``configMap`` and ``secret``: the kubelet's atomic writer: the files in a timestamped
  directory ``..<time>``, a symlink ``..data`` to it and one symlink per top-level entry
  through ``..data`` (what lets services notice a renewal by the swap); ``items`` pick keys
  and paths, ``defaultMode`` and each item's ``mode`` set the files' modes.
- ``persistentVolumeClaim``: one directory per claim under the cluster's state, kept
  across pod restarts (the claim outlives its pods).
- ``emptyDir``: a directory per pod, made fresh (mode 0777, as the kubelet makes it).
- ``fsGroup``: the kubelet's SetVolumeOwnership (pkg/volume/volume_linux.go): group of
  every file set to fsGroup, files get group read (and write, unless the volume is a
  read-only kind), directories also setgid and group search. With ``fsGroupChangePolicy:
  OnRootMismatch`` it skips the walk when the volume's root already has that group, those
  bits and setgid (requiresPermissionChange), so what a process made inside keeps its
  modes across restarts.
"""

from __future__ import annotations

import datetime
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from support.kubelet_env import Objects, config_map_data, secret_data


class VolumeError(Exception):
    """The kubelet could not mount the volume (the pod stays ContainerCreating)."""


def _atomic_write(directory: Path, files: Mapping[str, tuple[bytes, int]]) -> None:
    """The atomic writer's layout of ``files`` (relative path -> (content, mode))."""
    directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y_%m_%d_%H_%M_%S.%f")
    payload = directory / f"..{stamp}"
    payload.mkdir(mode=0o755)
    for relative, (content, mode) in files.items():
        path = payload / relative
        path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        path.write_bytes(content)
        path.chmod(mode)
    data = directory / "..data"
    swap = directory / "..data_tmp"
    swap.symlink_to(payload.name)
    swap.replace(data)
    for top in {Path(relative).parts[0] for relative in files}:
        link = directory / top
        if not link.is_symlink():
            link.symlink_to(Path("..data") / top)


def _projected(
    data: Mapping[str, bytes], source: Mapping[str, Any], what: str
) -> dict[str, tuple[bytes, int]]:
    default_mode = int(source.get("defaultMode", 0o644))
    items = source.get("items")
    if not items:
        return {key: (value, default_mode) for key, value in data.items()}
    out = {}
    for item in items:
        if item["key"] not in data:
            if source.get("optional"):
                continue
            raise VolumeError(f"{what}: no key {item['key']!r}")
        out[item["path"]] = (data[item["key"]], int(item.get("mode", default_mode)))
    return out


def requires_permission_change(root: Path, fs_group: int, read_only: bool) -> bool:
    """The kubelet's test for OnRootMismatch: the root lacks the group, the group bits
    (with search, it being a directory) or setgid."""
    info = root.stat()
    if info.st_gid != fs_group or not root.is_dir():
        return True
    wanted = (0o440 if read_only else 0o660) | 0o110
    return (info.st_mode & wanted) != wanted or not info.st_mode & stat.S_ISGID


def set_ownership(
    root: Path, fs_group: int, read_only: bool, change_policy: str | None = None
) -> None:
    """SetVolumeOwnership: group fsGroup everywhere, group bits and setgid on directories;
    with ``OnRootMismatch``, only when the root does not match already."""
    if change_policy == "OnRootMismatch" and not requires_permission_change(
        root, fs_group, read_only
    ):
        return
    mask = 0o440 if read_only else 0o660
    for path in [root, *root.rglob("*")]:
        os.lchown(path, -1, fs_group)
        if path.is_symlink():
            continue
        mode = path.stat().st_mode & 0o7777
        extra = mask | (0o2000 | 0o110 if path.is_dir() else 0)
        path.chmod(mode | extra)


def materialize(
    volume: Mapping[str, Any],
    objects: Objects,
    pod_dir: Path,
    claims_dir: Path,
    fs_group: int | None,
    fs_group_change_policy: str | None = None,
) -> Path:
    """Makes ``volume`` for one pod and returns the directory to mount."""
    name = volume["name"]
    path: Path
    if "persistentVolumeClaim" in volume:
        path = claims_dir / volume["persistentVolumeClaim"]["claimName"]
        path.mkdir(parents=True, exist_ok=True)
        read_only = False
    elif "emptyDir" in volume:
        path = pod_dir / "volumes" / name
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o777)
        read_only = False
    elif "configMap" in volume or "secret" in volume:
        kind = "configMap" if "configMap" in volume else "secret"
        source = volume[kind]
        ref = source["name"] if kind == "configMap" else source["secretName"]
        found = (objects.config_maps if kind == "configMap" else objects.secrets).get(ref)
        if found is None and not source.get("optional"):
            raise VolumeError(f"volume {name}: {kind} {ref} not found")
        data = (
            {}
            if found is None
            else (config_map_data(found) if kind == "configMap" else secret_data(found))
        )
        path = pod_dir / "volumes" / name
        _atomic_write(path, _projected(data, source, f"volume {name}"))
        read_only = True
    else:
        raise VolumeError(f"volume {name}: kind {sorted(volume)} is not supported by this harness")
    if fs_group is not None:
        set_ownership(path, fs_group, read_only, fs_group_change_policy)
    return path
