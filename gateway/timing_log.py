"""The gateway's timing log: one JSON line per data-plane request, timings only.

``P13N_GATEWAY_TIMING_LOG=PATH`` makes Envoy write, for every request on the data plane,
when it arrived and how long it spent before its upstream was sent the request (ext_authz,
the buffer, the transcoder), in the upstream (the service answering), and after it (the
answer's way back), in microseconds. A slow second then says where it was spent: before
Envoy, in Envoy, or in the service. The benchmark reads it (``bench/envoy_timing.py``).

Only timings, the status and the cluster's name: never a header, a path, a body or an
address, so the log holds nothing a visitor or a credential could be read from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Envoy's command operators; an interval whose end never came (no upstream) logs null.
FIELDS = {
    "start": "%START_TIME(%s.%6f)%",
    "status": "%RESPONSE_CODE%",
    "cluster": "%UPSTREAM_CLUSTER%",
    "total_us": "%COMMON_DURATION(DS_RX_BEG:DS_TX_END:us)%",
    "before_upstream_us": "%COMMON_DURATION(DS_RX_BEG:US_TX_BEG:us)%",
    "upstream_us": "%COMMON_DURATION(US_TX_BEG:US_RX_END:us)%",
    "after_upstream_us": "%COMMON_DURATION(US_RX_END:DS_TX_END:us)%",
}


def access_log(path: Path) -> list[dict[str, Any]]:
    """The connection manager's ``access_log``: the fields above to ``path``, a line each."""
    return [
        {
            "name": "envoy.access_loggers.file",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                "path": str(path),
                "log_format": {"json_format": dict(FIELDS)},
            },
        }
    ]
