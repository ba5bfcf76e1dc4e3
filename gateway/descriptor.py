"""The descriptor set the gateway's transcoder reads, as deploy/ ships it.

On Kubernetes the descriptor set travels in the gateway's ConfigMap beside envoy.json
(mounted at /etc/p13n), so the image carries no path that depends on a Python version and
a configuration always rolls out with the descriptor it was rendered against. A ConfigMap
that `kubectl apply` (client-side) sends is copied whole into its
``last-applied-configuration`` annotation, and annotations are limited to 256 KiB: the
committed set (282 KB with source info, 377 KB in base64) would not fit. Envoy's
transcoder reads types, services and HTTP bindings, never comments or source positions,
so the shipped copy leaves ``source_code_info`` out (about 54 KB).
"""

from __future__ import annotations

from pathlib import Path

from google.protobuf import descriptor_pb2


def without_source_info(descriptor: Path) -> bytes:
    """``descriptor``'s files with their comments and source positions left out."""
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor.read_bytes())
    for file in files.file:
        file.ClearField("source_code_info")
    # Deterministic, so the committed copy can be compared byte for byte.
    return files.SerializeToString(deterministic=True)
