"""What mutual TLS on the internal hops costs P (issue 12), and why on this machine.

P is measured on the suite as it runs (mutual TLS on every internal hop) and on a second
suite with ``P13N_INTERNAL_TLS=off`` ("P-plain"), interleaved, P-plain just before P in
each round. The target is on the rate (P at most 10 % below P-plain, the median of the
rounds' drops); beside it the report gives what explains a miss: the CPU a request costs
with and without TLS, summed over the suite's processes, the TLS cipher suites Envoy's
upstream connections negotiated (BoringSSL, as in grpcio, orders ChaCha20-Poly1305 before
AES-GCM on a CPU without AES instructions), and whether the CPU reports those
instructions. Which runs met the target, on which machines, is in
``docs/performance.md``.
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path
from typing import Any

from bench.http import call
from bench.single import suite_cpu_per_request

MAX_DROP = 0.10
# Envoy's per-cluster counter of handshakes by cipher suite, e.g.
# ``cluster.offers.ssl.ciphers.TLS_AES_128_GCM_SHA256: 12``.
_CIPHER_STAT = re.compile(r"^cluster\.[^:]+\.ssl\.ciphers\.([A-Za-z0-9_-]+): (\d+)$")


def drop(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The drop in req/s from P-plain to P, and each one's CPU per request.

    The drop is the median of the rounds' drops, each round's P against its P-plain
    measured seconds before it: the machine's pace moves by more than the 10 % bar between
    minutes (F2 by 1.5-2x between hours here), so only sides measured close together
    compare like with like."""
    tls, plain = rows["P"]["median_req_per_s"], rows["P-plain"]["median_req_per_s"]
    cpu = {name: suite_cpu_per_request(rows[name]) * 1e6 for name in ("P", "P-plain")}
    # Both are measured in the same rounds (bench/run.py ``_measure``).
    runs = (rows[name]["runs_req_per_s"] for name in ("P", "P-plain"))
    pairs = list(zip(*runs, strict=True))
    # No answer at all without TLS is a failed comparison, not a division by zero.
    rounds = [1 - p / q for p, q in pairs if q]
    dropped = statistics.median(rounds) if rounds else None
    return {
        "P_req_per_s": round(tls, 1),
        "P_plain_req_per_s": round(plain, 1),
        "drop": None if dropped is None else round(dropped, 4),
        "round_drops": [round(d, 4) for d in rounds],
        # A drop of exactly the bar is within it, whatever the last bit of the division.
        "within_target": dropped is not None and dropped <= MAX_DROP + 1e-9,
        "cpu_per_request_us": {name: round(us, 1) for name, us in cpu.items()},
        "cpu_added": round(cpu["P"] / cpu["P-plain"] - 1, 4) if cpu["P-plain"] else None,
    }


def envoy_ciphers(admin_port: int) -> dict[str, int]:
    """Handshakes by cipher suite over all of Envoy's upstream clusters ({} if none)."""
    reply = call("GET", admin_port, "/stats?filter=%5C.ssl%5C.ciphers%5C.", timeout=5)
    return ciphers_from_stats(reply.body.decode())


def ciphers_from_stats(text: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for line in text.splitlines():
        match = _CIPHER_STAT.match(line.strip())
        if match and int(match[2]):
            found[match[1]] = found.get(match[1], 0) + int(match[2])
    return found


def cpu_has_aes(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool | None:
    """Whether the CPU reports AES instructions (None where /proc/cpuinfo has no flags)."""
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("flags"):
            return "aes" in line.split(":", 1)[1].split()
    return None


def _percents(drops: list[float]) -> str:
    return " · ".join(f"{d * 100:.1f} %" for d in drops)


def markdown(found: dict[str, Any]) -> list[str]:
    """The report's lines on internal TLS (empty when P-plain was not measured)."""
    if not found:
        return []
    verdict = "met" if found["within_target"] else "missed"
    rounds = found.get("round_drops", [])
    each = f", the median of each round's ({_percents(rounds)})" if len(rounds) > 1 else ""
    lines = [
        f"Mutual TLS on every internal hop: P {found['P_req_per_s']:.0f} req/s, without "
        f"{found['P_plain_req_per_s']:.0f} req/s: a drop of {found['drop'] * 100:.1f} %"
        f"{each} (target ≤ {MAX_DROP * 100:.0f} %: {verdict})."
    ]
    cpu = found.get("cpu_per_request_us")
    if cpu and found.get("cpu_added") is not None:
        lines.append(
            f"CPU per request, the suite's processes summed: {cpu['P']:,.0f} µs with TLS, "
            f"{cpu['P-plain']:,.0f} without ({found['cpu_added'] * 100:+.1f} %)."
        )
    if "ciphers" in found:
        suites = ", ".join(f"{name} ({n:,})" for name, n in sorted(found["ciphers"].items()))
        aes = {True: "yes", False: "no", None: "unknown"}[found.get("cpu_aes")]
        lines.append(
            f"Cipher suites of Envoy's upstream handshakes: {suites or 'none counted'}; "
            f"the CPU reports AES instructions: {aes}."
        )
    return [*lines, ""]
