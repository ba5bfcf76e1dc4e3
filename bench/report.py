"""The bench's results as JSON and as a markdown table."""

from __future__ import annotations

import json
import platform
import subprocess
from pathlib import Path
from typing import Any

from bench import backends, by_thread, mtls, pace, single, tail
from bench.suite import venv_bin

ROW_NAMES = {
    "F1": "F1 Envoy direct_response",
    "F2": "F2 Envoy → transcoder → trivial grpc.aio",
    "F2h": "F2h F2 over HTTP/1.1: Envoy → trivial Python HTTP handler (httptools)",
    "F3": "F3 F2 + ext_authz (trivial allow-all)",
    "F3r": "F3r F2 + ext_authz (real auth service, real token)",
    "T": "T F3r + relay → real profile Track (P without offers' logic)",
    "P-plain": "P without internal TLS (a second suite, loopback only)",
    "P-pg": "P on PostgreSQL (a suite of its own, one process per service)",
    "P-pg2": "P on PostgreSQL, two replicas of each service (`p13n up --replicas 2`)",
    single.NAME: "P in the single-process mode (a second suite, `p13n up --single-process`)",
    "P": "P public personalize (full path)",
}


def grpc_hop(rows: dict[str, dict[str, Any]]) -> list[str]:
    """What carrying a request as gRPC costs: F2 (transcoded, grpc.aio) against F2h (the same
    request and answer over HTTP/1.1), Envoy's CPU and the handler's, in the same rounds."""
    f2, f2h = rows.get("F2", {}), rows.get("F2h", {})
    if not f2.get("median_req_per_s") or not f2h.get("median_req_per_s"):
        return []

    def described(name: str, row: dict[str, Any]) -> tuple[str, float]:
        envoy, handler = (row["cpu_per_request_s"].get(k, 0.0) * 1e6 for k in ("envoy", "handler"))
        text = (
            f"{name} {row['median_req_per_s']:.0f} req/s at {envoy + handler:,.0f} µs of CPU a "
            f"request (envoy {envoy:,.0f}, handler {handler:,.0f})"
        )
        return text, envoy + handler

    (grpc_text, grpc_cost), (http_text, http_cost) = described("F2", f2), described("F2h", f2h)
    return [
        f"The gRPC hop: {grpc_text}; over HTTP/1.1, {http_text}: carrying a request as gRPC "
        f"costs {grpc_cost - http_cost:,.0f} µs of CPU more, flat out.",
        "",
    ]


def machine() -> dict[str, Any]:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    envoy = subprocess.run(
        [venv_bin("envoy"), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cpus": len([x for x in Path("/proc/cpuinfo").read_text().split("\n\n") if x.strip()]),
        "cpu_model": cpu,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "envoy": envoy.split("version:")[-1].strip()[:80],
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _cpu_cell(cpu_per_request: dict[str, float]) -> str:
    parts = [f"{name} {seconds * 1e6:.0f}" for name, seconds in cpu_per_request.items()]
    return ", ".join(parts)


def throughput_table(rows: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| path | req/s | p50 ms | p95 ms | p99 ms | errors | CPU µs/request by process |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for key, row in rows.items():
        if "skipped" in row:
            lines.append(f"| {ROW_NAMES.get(key, key)} | - | - | - | - | - | {row['skipped']} |")
            continue
        latency = row["latency_ms"]
        errors = sum(row["errors"].values())
        lines.append(
            f"| {ROW_NAMES.get(key, key)} | {row['req_per_s']:.0f} | {_ms(latency['p50'])} | "
            f"{_ms(latency['p95'])} | {_ms(latency['p99'])} | {errors} | "
            f"{_cpu_cell(row['cpu_per_request_s'])} |"
        )
    return "\n".join(lines)


def _profile_section(profile: dict[str, Any]) -> list[str]:
    out = [f"## Hot path profile (py-spy under {profile['path']}'s load)", ""]
    for name, summary in profile["processes"].items():
        if "skipped" in summary:
            out += [f"- {name}: {summary['skipped']}", ""]
            continue
        out.append(
            f"**{name}**: {summary['samples']} samples; p13n's own code on the stack in "
            f"{summary['p13n_code_pct']}% of them."
        )
        out.append("")
        out.append("| inclusive % | function | | self % | function |")
        out.append("|---:|---|---|---:|---|")
        for (fi, pi), (fs, ps) in zip(summary["inclusive_pct"], summary["self_pct"], strict=False):
            out.append(f"| {pi} | `{fi}` | | {ps} | `{fs}` |")
        out.append("")
    return out


def markdown(results: dict[str, Any]) -> str:
    out = [f"# p13n bench — {results['started']}", ""]
    out.append(f"Command: `{results['command']}`  ")
    m = results["machine"]
    out.append(f"Machine: {m['cpus']} x {m['cpu_model']}, Python {m['python']}, Envoy {m['envoy']}")
    out.append("")
    s = results["settings"]
    out.append(
        f"Load: wrk -t{s['threads']} -c{s['connections']}, {s['duration']:.0f} s per run, "
        f"median of {s['repeat']} interleaved runs; {s['profiles']} preloaded profiles, "
        f"pool of {s['pool']} td_client_ids, {s['personalizations']} personalizations."
    )
    out += ["", throughput_table(results["rows"]), ""]
    if results.get("ratios"):
        r = results["ratios"]
        out.append("| ratio | value | target |")
        out.append("|---|---:|---|")
        for name, value in r.items():
            target = "≥ 0.5" if name == "P/F2" else ""
            out.append(f"| {name} req/s | {value:.2f} | {target} |")
        out.append("")
    out += grpc_hop(results["rows"])
    out += mtls.markdown(results.get("mtls") or {})
    out += half_rate_section(results)
    out += single.markdown(results)
    out += half_rate_runs_section(results.get("half_rate_single_runs") or [])
    out += by_thread.section(results)
    out += backends.markdown(results)
    if results.get("profile"):
        out += _profile_section(results["profile"])
    for name, scale in results.get("scale", {}).items():
        if name == "path":
            continue
        out.append(f"## Scale ({results['scale']['path']}): {name}")
        out.append("")
        out.append("```json")
        out.append(json.dumps(scale, indent=1))
        out.append("```")
        out.append("")
    out += _capacity_section(results.get("capacity"))
    for note in results.get("notes", []):
        out.append(f"- {note}")
    return "\n".join(out) + "\n"


def half_rate_section(results: dict[str, Any]) -> list[str]:
    """P at half rate: each run's latencies and what explains its tail."""
    half = results.get("half_rate")
    if not half:
        return []
    out = half_rate_runs_section(results.get("half_rate_runs") or [half])
    if "profile_sqlite_round_trips_per_request" in half:
        out.append(
            "aiosqlite round trips per request in the profile service: "
            f"{half['profile_sqlite_round_trips_per_request']}"
        )
        out.append("")
    return out


def half_rate_runs_section(runs: list[dict[str, Any]]) -> list[str]:
    """Consecutive half-rate runs of one path: each run's latencies and what explains its
    tail (none: nothing)."""
    out: list[str] = []
    if len(runs) > 1:
        out += _half_rate_runs_table(runs)
    for number, run in enumerate(runs, 1):
        lat = run["latency_ms"]
        which = f"Run {number} of {len(runs)}: " if len(runs) > 1 else ""
        out.append(
            f"{which}{run['path']} at half of its max rate (open loop, "
            f"{run['target_rate']:.0f} req/s for {run['duration']:.0f} s): p50 "
            f"{lat['p50']:.2f} ms, p95 {lat['p95']:.2f} ms (target ≤ 10), p99 "
            f"{lat['p99']:.2f} ms (target ≤ 25), max {lat['max']:.2f} ms; achieved "
            f"{run['achieved_rate']:.0f} req/s, statuses {run['statuses']}."
        )
        out.append("")
        out += tail.explain(run)
        out.append("")
    return out


def _half_rate_runs_table(runs: list[dict[str, Any]]) -> list[str]:
    """Each consecutive half-rate run against issue 17's targets, and whether all met them;
    beside each, what a request cost the suite and the load generator. The generator does
    the same work for every request at one rate, so when its cost rises with the suite's,
    the machine itself was slower in that run (its speed moves within minutes, and not
    always as ``steal``); the machine's pace (``bench/pace.py``) says so without the
    generator's help: the same fixed work, whatever the suite."""
    out = [
        f"{runs[0]['path']} at half of its max rate, {len(runs)} consecutive open-loop runs "
        f"at {runs[0]['target_rate']:.0f} req/s:",
        "",
        "| run | p95 ms | p99 ms | p95 ≤ 10 | p99 ≤ 25 | suite CPU µs/request | "
        "generator CPU µs/request | fixed work µs (median) |",
        "|---:|---:|---:|---|---|---:|---:|---:|",
    ]
    for number, run in enumerate(runs, 1):
        lat = run["latency_ms"]
        suite, generator = _run_cost(run)
        out.append(
            f"| {number} | {lat['p95']:.2f} | {lat['p99']:.2f} | "
            f"{'met' if run['p95_met'] else '**missed**'} | "
            f"{'met' if run['p99_met'] else '**missed**'} | {suite} | {generator} | "
            f"{_pace_cell(run)} |"
        )
    every = all(run["met"] for run in runs)
    out += ["", f"Targets met in every run: {'yes' if every else 'no'}.", ""]
    return out


def _run_cost(run: dict[str, Any]) -> tuple[str, str]:
    """The suite's and the generator's CPU µs per request, as cells ('—' unmeasured)."""
    per_request = run.get("cpu_per_request_s")
    if not per_request:
        return "—", "—"
    suite = single.suite_cpu_per_request(run)
    return f"{suite * 1e6:,.0f}", f"{per_request.get('loadgen', 0.0) * 1e6:,.0f}"


def _pace_cell(run: dict[str, Any]) -> str:
    paced = pace.summary(run.get("pace", []))
    return "—" if paced is None else f"{paced['median_us']:,.0f}"


def _capacity_section(capacity: dict[str, Any] | None) -> list[str]:
    if not capacity:
        return []
    return [
        "## Capacity under abuse (bench/capacity.py)",
        "",
        "```json",
        json.dumps(capacity, indent=1),
        "```",
        "",
    ]


def write(results: dict[str, Any], directory: Path, name: str) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / f"{name}.json"
    md_path = directory / f"{name}.md"
    json_path.write_text(json.dumps(results, indent=1) + "\n")
    md_path.write_text(markdown(results))
    return json_path, md_path
