"""P in the single-process mode beside P in the per-service mode, in one run (issue 17).

Beside the suite the rest of the bench measures (one process per service) runs a second
``p13n up --single-process`` on SQLite, configured and preloaded alike: auth, profile and
offers in one process (role ``single``) that calls itself without gRPC and decides the
browser path as it serves it. Its P row, ``P-single``,
is measured in the same interleaved rounds as P's, so a slow minute of the machine touches
both alike; then it runs at half of its own maximum rate as P does.

Targets (issue 17), each from the same run:

- CPU per P request, all the suite's processes summed (not the load generator, not the
  machine's other work), in the single-process mode at most 0.5 x the per-service mode's;
- P-single / F2 (req/s) at least 0.25.
"""

from __future__ import annotations

from typing import Any

NAME = "P-single"
CPU_RATIO_TARGET = 0.5
OVER_F2_TARGET = 0.25
# What a row's CPU holds beside the suite's processes (bench.procs.CpuMeter).
NOT_THE_SUITE = frozenset({"loadgen", "other"})


def suite_cpu_per_request(row: dict[str, Any]) -> float:
    """CPU seconds per request of every process of the suite behind ``row``, summed."""
    by_role: dict[str, float] = row["cpu_per_request_s"]
    return sum(seconds for role, seconds in by_role.items() if role not in NOT_THE_SUITE)


def _measured(rows: dict[str, dict[str, Any]], name: str) -> bool:
    return name in rows and "skipped" not in rows[name]


def compare(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The two targets with their figures; empty when P-single or P was not measured."""
    if not (_measured(rows, NAME) and _measured(rows, "P")):
        return {}
    single, per_service = rows[NAME], rows["P"]
    cpu = {name: suite_cpu_per_request(rows[name]) for name in ("P", NAME)}
    found: dict[str, Any] = {
        "req_per_s": {
            name: round(rows[name]["median_req_per_s"], 1)
            for name in ("F2", "P", NAME)
            if _measured(rows, name)
        },
        "cpu_per_request_us": {name: round(seconds * 1e6, 1) for name, seconds in cpu.items()},
        "cpu_per_request_us_by_process": {
            name: {
                role: round(seconds * 1e6, 1)
                for role, seconds in row["cpu_per_request_s"].items()
                if role not in NOT_THE_SUITE
            }
            for name, row in (("P", per_service), (NAME, single))
        },
    }
    ratio = cpu[NAME] / cpu["P"] if cpu["P"] else None
    found["cpu_ratio"] = None if ratio is None else round(ratio, 3)
    found["cpu_ratio_target"] = f"<= {CPU_RATIO_TARGET}"
    found["cpu_ratio_met"] = ratio is not None and ratio <= CPU_RATIO_TARGET
    if _measured(rows, "F2"):
        over_f2 = single["median_req_per_s"] / rows["F2"]["median_req_per_s"]
        found["over_f2"] = round(over_f2, 3)
        found["over_f2_target"] = f">= {OVER_F2_TARGET}"
        found["over_f2_met"] = over_f2 >= OVER_F2_TARGET
    return found


def shape(answer: dict[str, Any]) -> dict[str, list[str] | None]:
    """What a public answer renders, without its values: each section's attribute names,
    or None for a section sent redacted (``{}``)."""
    return {
        section: sorted(body["attributes"]) if body.get("attributes") else None
        for section, body in answer.get("offers", {}).items()
    }


def _us(value: float) -> str:
    return f"{value:.0f}"


def markdown(results: dict[str, Any]) -> list[str]:
    """The single-process section of the report (empty when P-single was not measured)."""
    found = results.get("single_process")
    if not found:
        return []
    out = ["## Single-process mode (issue 17)", ""]
    by_process = found["cpu_per_request_us_by_process"]
    out.append("| CPU µs per P request | by process | all processes |")
    out.append("|---|---|---:|")
    for name, label in (("P", "per-service mode"), (NAME, "single-process mode")):
        cells = ", ".join(f"{role} {_us(us)}" for role, us in by_process[name].items())
        out.append(f"| {label} ({name}) | {cells} | {_us(found['cpu_per_request_us'][name])} |")
    out.append("")
    ratio = found["cpu_ratio"]
    out.append(
        f"CPU per request, all processes summed: {NAME} / P = "
        f"{'-' if ratio is None else f'{ratio:.2f}'} "
        f"(target ≤ {CPU_RATIO_TARGET}: {'met' if found['cpu_ratio_met'] else 'missed'})."
    )
    if "over_f2" in found:
        rates = found["req_per_s"]
        out.append(
            f"{NAME} / F2 = {rates[NAME]:.0f} / {rates['F2']:.0f} req/s = "
            f"{found['over_f2']:.2f} (target ≥ {OVER_F2_TARGET}: "
            f"{'met' if found['over_f2_met'] else 'missed'})."
        )
    if "same_shape_as_P" in found:
        same = found["same_shape_as_P"]
        out.append(
            f"{NAME}'s answer has P's shape (the same sections, rendered and redacted alike): "
            f"{'yes' if same else '**no**'}."
        )
    out.append("")
    return out
