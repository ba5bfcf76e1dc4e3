"""`make bench`: the personalize path against the floor of its own stack, in one run.

    python -m bench.run              # F1, F2, F2h, F3, F3r, T and P at full speed, then P at half
    python -m bench.run --smoke      # seconds long, for CI: every step once, tiny loads
    python -m bench.run --scale      # also: 1 vs 100 personalizations, lists at 100 items,
                                     # 10,000 vs 1,000,000 profiles (the last takes long)
    python -m bench.run --profile 20 # also: py-spy profiles of the services under P's load
    python -m bench.run --no-plain   # skip P without internal TLS (the mTLS comparison)
    python -m bench.run --no-postgres  # skip P on PostgreSQL (bench/backends.py)
    python -m bench.run --no-single  # skip P in the single-process mode (bench/single.py)
    python -m bench.run --half-rate-runs 5  # P's half-rate open loop five times in a row

P is measured twice in one run, interleaved: on the suite as it runs (mutual TLS on every
internal hop) and on a second suite with ``P13N_INTERNAL_TLS=off`` ("P-plain"), which the
settings allow only on loopback; ``mtls`` in the results is the drop from one to the other,
with each one's CPU per request and the cipher suites Envoy negotiated (``bench/mtls.py``).

P is also measured in the single-process mode (``bench/single.py``): ``P-single`` on a
suite of its own started with ``p13n up --single-process`` (SQLite; auth, profile and
offers in one process), in the same interleaved rounds, then at half of its own maximum rate as
often as P (``--half-rate-runs``); the report gives issue 17's two targets from this run:
CPU per request, all processes summed, P-single / P ≤ 0.5, and P-single / F2 ≥ 0.25.

P is also measured on PostgreSQL (``bench/backends.py``), in the same interleaved rounds:
``P-pg`` (one process per service), ``P-pg2`` (``p13n up --replicas 2``) and
``P-pg-single`` (``p13n up --single-process``), each a suite of its own on a database this
run creates on the local server (``P13N_BENCH_POSTGRES_URL`` names another) and drops at
the end; then P-pg-single and P-pg at half of their maximum rates, and, at P-pg's half
rate, 10,000 against 1,000,000 profiles: two fresh suites like P-pg, the second's store
grown in SQL (``bench/pg.py``), driven in turn.

The suite is ``p13n up`` on a temporary data directory; the floors are trivial servers
behind an Envoy configured from the gateway's own template (bench/floor_envoy.py). Results go
to ``bench/results/<name>.json`` and ``.md``; the markdown is printed too.

Every half-rate (open-loop) run explains its own tail: beside its latencies second by
second, the generator's lag and each process's CPU, every service process of the suite
records its collector pauses, event-loop lag and (profile) writer batches through
``bench/gcpause`` on the suite's ``PYTHONPATH``; ``bench/tail.py`` prints them for the
worst seconds with what explains each (``bench/stalls.py`` reads them).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench import backends, capacity, mtls, pg, report, scale, single, sqlcount, tail
from bench.configure import ConfigurationError, Configured, configure
from bench.floors import Floors, RealServices
from bench.measure import Target, Traffic, closed_loop, median_run, open_loop
from bench.preload import Preloaded, import_attributes, ingest_profiles
from bench.profiling import record
from bench.suite import Suite
from bench.wrk import Load

RESULTS = Path(__file__).with_name("results")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--smoke", action="store_true", help="seconds long; for CI")
    parser.add_argument("--profiles", type=int, default=10_000, help="profiles to preload")
    parser.add_argument("--personalizations", type=int, default=20)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs per path")
    parser.add_argument("--half-duration", type=float, default=20.0, help="open-loop seconds")
    parser.add_argument(
        "--half-rate-runs",
        type=int,
        default=1,
        metavar="N",
        help="P's half-rate open loop N times in a row at the same rate (issue 17: 5)",
    )
    parser.add_argument("--scale", action="store_true", help="also the scale runs")
    parser.add_argument("--scale-profiles", type=int, default=1_000_000)
    parser.add_argument("--list-pool", type=int, default=1_000, help="visitors in the list run")
    parser.add_argument("--scale-repeat", type=int, default=3, help="open-loop runs per point")
    parser.add_argument(
        "--profile",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="py-spy the services under P's load for SECONDS",
    )
    parser.add_argument(
        "--count-sqlite",
        action="store_true",
        help="count the profile service's aiosqlite round trips per request (half-rate run)",
    )
    parser.add_argument(
        "--no-plain", action="store_true", help="skip P without internal TLS (P-plain)"
    )
    parser.add_argument(
        "--no-single",
        action="store_true",
        help="skip P in the single-process mode (P-single, bench/single.py)",
    )
    parser.add_argument(
        "--no-capacity", action="store_true", help="skip the abuse runs (bench/capacity.py)"
    )
    parser.add_argument(
        "--no-postgres", action="store_true", help="skip P on PostgreSQL (bench/backends.py)"
    )
    parser.add_argument(
        "--pg-scale-profiles",
        type=int,
        default=1_000_000,
        help="profiles P-pg is measured with after --profiles (0: not at all)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--name", default="", help="result file name (default: a timestamp)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data dir")
    return parser


def _smoke(args: argparse.Namespace) -> None:
    args.profiles = min(args.profiles, 200)
    args.duration, args.repeat, args.connections, args.half_duration = 1.0, 1, 4, 2.0
    args.pg_scale_profiles, args.scale_repeat = min(args.pg_scale_profiles, 2_000), 1


def _preload(suite: Suite, setup: Configured, args: argparse.Namespace, results: Any) -> None:
    """Profiles through the Ingest API, then their imported attributes."""
    loaded = ingest_profiles(suite.data_port, setup, 0, args.profiles)
    results["preload"] = {
        "profiles": args.profiles,
        "via": "Ingest API, batches of 500, 4 in flight",
        "seconds": round(loaded.seconds, 2),
        "records_per_s": round(loaded.rate, 1),
    }
    try:
        imported = import_attributes(setup, 0, args.profiles)
        results["preload"]["imported_attributes_s"] = round(imported.seconds, 2)
    except ConfigurationError as error:
        results["notes"].append(f"imported attributes not loaded: {error}")


def _prepare_p(suite: Suite, setup: Configured, args: argparse.Namespace, results: Any) -> str:
    """Personalizations and one good answer; else why P cannot run ('' when it can)."""
    try:
        setup.set_personalizations(args.personalizations)
    except ConfigurationError as error:
        return f"personalizations cannot be created yet: {error}"
    try:
        results["sample_answer"] = setup.first_answer(suite)
    except ConfigurationError as error:
        return str(error)
    return ""


@dataclass(frozen=True)
class SideP:
    """P on another suite, measured beside the main one's."""

    target: Target
    traffic: Traffic
    setup: Configured
    sample_answer: dict[str, Any]
    database: str | None = None  # its PostgreSQL URL, if it keeps its data there


def _side_p(
    suite: Suite,
    name: str,
    args: argparse.Namespace,
    results: Any,
    check: Callable[[], str] = str,
) -> SideP | None:
    """Another suite (without internal TLS, on PostgreSQL...), configured and loaded like
    the first; None, with a note, where it cannot be measured (``check()``, once it is up,
    may say why not)."""
    try:
        suite.start()
    except RuntimeError as error:
        results["notes"].append(f"{name} not measured: {str(error)[-300:]}")
        return None
    setup = configure(suite)
    _preload(suite, setup, args, {"notes": results["notes"]})
    answered: dict[str, Any] = {}
    why_not = check() or _prepare_p(suite, setup, args, answered)
    if why_not:
        results["notes"].append(f"{name} not measured: {why_not}")
        return None
    s = suite.pids()
    pids = {k: s[k] for k in suite.roles}
    database = suite.extra_env.get("P13N_DATABASE_URL")
    server = pg.server_pid(database) if database else None
    if server:  # its CPU is the suite's store's (SQLite's is inside the profile process)
        pids["postgres"] = [server]
    target = Target(name, suite.data_port, pids, suite.records)
    traffic = Traffic(setup.public_token, max(1, args.profiles))
    return SideP(target, traffic, setup, answered["sample_answer"], database)


def _targets(floors: Floors, suite: Suite, p_ready: bool) -> list[Target]:
    f, s = floors.pids(), suite.pids()
    handler = {"envoy": f["envoy"], "handler": f["offers"]}
    targets = [
        Target("F1", floors.ports["F1"], {"envoy": f["envoy"]}),
        Target("F2", floors.ports["F2"], handler),
        Target("F2h", floors.ports["F2h"], {"envoy": f["envoy"], "handler": f["http"]}),
        Target("F3", floors.ports["F3"], handler | {"authz": f["authz"]}),
        Target("F3r", floors.ports["F3r"], handler | {"auth": s["auth"]}),
        Target(
            "T",
            floors.ports["T"],
            {"envoy": f["envoy"], "relay": f["relay"], "auth": s["auth"], "profile": s["profile"]},
            suite.records,
        ),
    ]
    if p_ready:
        targets.append(Target("P", suite.data_port, {k: s[k] for k in suite.roles}, suite.records))
    return targets


def _measure(
    targets: list[Target],
    load: Load,
    traffic: Traffic,
    repeat: int,
    own: dict[str, Traffic] | None = None,
) -> dict[str, dict[str, Any]]:
    """Each target's median run; ``own`` gives a target another suite's token."""
    own = own or {}
    warm = Load(duration=1, connections=load.connections, threads=load.threads)
    for target in targets:
        closed_loop(target, warm, own.get(target.name, traffic))
    runs: dict[str, list[dict[str, Any]]] = {t.name: [] for t in targets}
    # Interleaved, so a slow minute of the machine touches every path alike.
    for _ in range(repeat):
        for target in targets:
            runs[target.name].append(closed_loop(target, load, own.get(target.name, traffic)))
    return {name: median_run(r) for name, r in runs.items()}


def run(args: argparse.Namespace, work: Path, pg_url: str | None) -> dict[str, Any]:
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    results: dict[str, Any] = {
        "started": started,
        "command": shlex.join(["python", "-m", "bench.run", *sys.argv[1:]]),
        "machine": report.machine(),
        "settings": {
            "profiles": args.profiles,
            "pool": args.profiles,
            "personalizations": args.personalizations,
            "duration": args.duration,
            "connections": args.connections,
            "threads": args.threads,
            "repeat": args.repeat,
            "load_generator": "wrk + bench/load.lua",
        },
        "rows": {},
        "notes": [],
    }
    counts = work / "sqlcount"
    hook = sqlcount.env(counts) if args.count_sqlite else {}
    records = work / "records"
    suite = Suite(work / "suite", extra_env=hook, records=records / "suite")
    floors = Floors(work / "floors")
    plain = Suite(
        work / "suite-plain", extra_env={"P13N_INTERNAL_TLS": "off"}, records=records / "plain"
    )
    together = Suite(work / "suite-single", records=records / "single", single_process=True)
    on_pg = backends.sides(work, pg_url, results["notes"]) if pg_url else []
    try:
        suite.start()
        setup = configure(suite)
        floors.start(
            RealServices(
                auth_port=suite.auth_port,
                profile_target=f"127.0.0.1:{suite.ports['P13N_PROFILE_PORT']}",
                parent_segment_id=setup.parent_segment_id,
                internal_key=suite.internal_key(),
                data_dir=suite.data_dir,
            )
        )
        _preload(suite, setup, args, results)
        why_not = _prepare_p(suite, setup, args, results)
        if why_not:
            results["notes"].append(f"P not measured: {why_not}")
        load = Load(args.duration, args.connections, args.threads)
        traffic = Traffic(setup.public_token, max(1, args.profiles))
        targets = _targets(floors, suite, not why_not)
        own: dict[str, Traffic] = {}
        beside = {} if why_not else _beside(args, (plain, together), on_pg, results, targets, own)
        results["rows"] = _measure(targets, load, traffic, args.repeat, own)
        if "P-plain" in results["rows"]:
            results["mtls"] = mtls.drop(results["rows"])
            results["mtls"]["ciphers"] = mtls.envoy_ciphers(suite.ports["P13N_ENVOY_ADMIN_PORT"])
            results["mtls"]["cpu_aes"] = mtls.cpu_has_aes()
        plain.stop()
        results["single_process"] = _single_mode(results, beside.get(single.NAME))
        results["postgres"] = backends.compare(results["rows"])
        backends.stop_all_but_kept(on_pg)  # P-pg and P-pg-single are measured further
        if args.profile:
            # The full path when it works, else the longest part of it that does (T).
            hot = targets[-1]
            results["profile"] = {
                "path": hot.name,
                "processes": record(
                    {k: v for k, v in hot.pids.items() if k != "envoy"},
                    args.profile,
                    lambda: closed_loop(hot, Load(args.profile + 2, args.connections), traffic),
                ),
            }
        rows = results["rows"]
        if why_not:
            rows["P"] = {"skipped": why_not[:120]}
        else:
            results["ratios"] = {
                f"P/{floor}": rows["P"]["median_req_per_s"] / rows[floor]["median_req_per_s"]
                for floor in ("F2", "F3", "F3r", "T")
            }
        # Half of the full path's maximum; until P exists, of T's (P without offers).
        hot = targets[-1]
        half = rows[hot.name]["median_req_per_s"] / 2
        profile_pids = suite.pids()["profile"]
        before = [sqlcount.read(counts, pid) for pid in profile_pids] if hook else []
        # Back to back at the same rate: the target holds in each run, not the best one.
        halves = _half_rate_runs(hot, half, args, traffic)
        results["half_rate"], results["half_rate_runs"] = halves[0], halves
        if hook:
            after = [sqlcount.read(counts, pid) for pid in profile_pids]
            results["half_rate"]["profile_sqlite_round_trips_per_request"] = round(
                (sum(after) - sum(before)) / sum(h["requests"] for h in halves), 2
            )
        if single.NAME in beside:
            _single_half_rate(args, results, beside[single.NAME])
        together.stop()
        if args.scale:
            results["scale"] = _scale(args, results, work, suite, setup, hot, load, traffic, half)
        if pg_url:
            _postgres_after_rounds(args, results, on_pg, beside, load)
        return results
    except Exception:
        print("p13n up said (last lines):\n" + "".join(suite.output[-30:]), file=sys.stderr)
        raise
    finally:
        floors.stop()
        plain.stop()
        together.stop()
        suite.stop()
        backends.stop_all(on_pg)


def _half_rate_runs(
    target: Target, rate: float, args: argparse.Namespace, traffic: Traffic
) -> list[dict[str, Any]]:
    """``--half-rate-runs`` open-loop runs back to back at the same rate: the target must
    hold in each run, not in the best one; each is judged on its own."""
    runs = []
    for _ in range(args.half_rate_runs):
        found = open_loop(target, rate, args.half_duration, traffic)
        runs.append({"path": target.name, **found, **tail.verdict(found)})
    return runs


def _single_mode(results: dict[str, Any], measured: SideP | None) -> dict[str, Any]:
    """Issue 17's targets for the single-process mode, and whether its answer has P's shape
    (the same sections, rendered and redacted alike); empty when it was not measured."""
    found = single.compare(results["rows"])
    if found and measured is not None:
        own = single.shape(measured.sample_answer)
        found["sample_answer_shape"] = own
        found["same_shape_as_P"] = own == single.shape(results["sample_answer"])
    return found


def _single_half_rate(args: argparse.Namespace, results: dict[str, Any], measured: SideP) -> None:
    """P-single at half of its own maximum rate, as often as P's run (``--half-rate-runs``)."""
    half = results["rows"][single.NAME]["median_req_per_s"] / 2
    runs = _half_rate_runs(measured.target, half, args, measured.traffic)
    results["half_rate_single_runs"] = runs
    if results["single_process"]:
        results["single_process"]["half_rate_met_every_run"] = all(run["met"] for run in runs)


def _beside(
    args: argparse.Namespace,
    sqlite_sides: tuple[Suite, Suite],
    on_pg: list[backends.Side],
    results: dict[str, Any],
    targets: list[Target],
    own: dict[str, Traffic],
) -> dict[str, SideP]:
    """Starts the suites measured beside the main one (in the single-process mode, on
    PostgreSQL, without internal TLS); their P goes among the targets, before P (the last
    target is the hot path the later steps drive). P-plain goes last, next to P: the TLS
    bar is the tightest comparison of the run, so its two sides run seconds apart in each
    round (``bench/mtls.py`` compares them round by round)."""
    plain, together = sqlite_sides
    others: list[tuple[Suite, str, Callable[[], str]]] = []
    others += [] if args.no_single else [(together, single.NAME, str)]
    others += [(side.suite, side.name, side.not_on_postgres) for side in on_pg]
    others += [] if args.no_plain else [(plain, "P-plain", str)]
    found = {}
    for suite, name, check in others:
        compared = _side_p(suite, name, args, results, check)
        if compared is not None:
            targets.insert(len(targets) - 1, compared.target)
            own[name] = compared.traffic
            found[name] = compared
    return found


def _postgres_after_rounds(
    args: argparse.Namespace,
    results: dict[str, Any],
    on_pg: list[backends.Side],
    beside: dict[str, SideP],
    load: Load,
) -> None:
    """P-pg-single at half rate (then stopped), then P-pg's own steps."""
    if backends.SINGLE in beside:
        results["half_rate_postgres_single"] = _pg_half_rate(args, results, beside, backends.SINGLE)
    backends.stop(on_pg, backends.SINGLE)
    if backends.ONE in beside:
        _postgres_steps(args, results, on_pg[0], beside[backends.ONE], load)


def _pg_half_rate(
    args: argparse.Namespace, results: dict[str, Any], beside: dict[str, SideP], name: str
) -> dict[str, Any]:
    """A suite on PostgreSQL at half of its own maximum rate, with the target's verdict."""
    measured = beside[name]
    half = results["rows"][name]["median_req_per_s"] / 2
    assert measured.database is not None
    before = pg.activity(measured.database)
    at_half = open_loop(measured.target, half, args.half_duration, measured.traffic)
    at_half["postgres_activity"] = pg.activity_since(before, measured.database)
    return {"path": name, **at_half, **backends.half_rate_verdict(at_half)}


def _postgres_steps(
    args: argparse.Namespace,
    results: dict[str, Any],
    side: backends.Side,
    measured: SideP,
    load: Load,
) -> None:
    """P-pg at half of its maximum rate; then, at that rate, its p95 with the small and the
    big store (``_postgres_profiles``)."""
    half = results["rows"][side.name]["median_req_per_s"] / 2
    results["half_rate_postgres"] = _pg_half_rate(args, results, {side.name: measured}, side.name)
    if args.pg_scale_profiles <= args.profiles:
        return
    side.suite.stop()  # the two suites below are measured with nothing else running
    try:
        results["postgres_profiles"] = _postgres_profiles(args, results, side, load, half)
    except Exception as error:  # reported, not fatal: the other figures still count
        results["postgres_profiles"] = {"skipped": f"failed: {type(error).__name__}: {error}"[:300]}


@dataclass(frozen=True)
class StoreSide:
    """One side of the profile-count comparison: its name, its suite (not yet started) and
    a check that says, once the suite is up, why it cannot be measured ('' when it can)."""

    name: str
    suite: Suite
    check: Callable[[], str] = str


SMALL_STORE, BIG_STORE = "P-small-store", "P-big-store"


def _postgres_profiles(
    args: argparse.Namespace,
    results: dict[str, Any],
    like: backends.Side,
    load: Load,
    rate: float,
) -> dict[str, Any]:
    """``--profiles`` against ``--pg-scale-profiles`` profiles on PostgreSQL: two fresh
    suites like P-pg, the big one's store grown in SQL (``_store_sizes``)."""
    small, big = backends.store_sides(like)

    def grow(measured: SideP) -> Preloaded:
        setup = measured.setup
        return pg.grow_profiles(
            like.url,
            big.prefix,
            setup.account_id,
            setup.parent_segment_id,
            args.profiles,
            args.pg_scale_profiles,
        )

    sides = (
        StoreSide(small.name, small.suite, small.not_on_postgres),
        StoreSide(big.name, big.suite, big.not_on_postgres),
    )
    return _store_sizes(args, results, sides, grow, args.pg_scale_profiles, load, rate)


def _sqlite_profiles(
    args: argparse.Namespace, results: dict[str, Any], work: Path, load: Load, rate: float
) -> dict[str, Any]:
    """``--profiles`` against ``--scale-profiles`` profiles on SQLite: two fresh suites like
    P, the big one's store grown through the Ingest API (``_store_sizes``)."""
    records = work / "records"
    sides = tuple(
        StoreSide(name, Suite(work / f"suite-{tag}", records=records / tag))
        for name, tag in ((SMALL_STORE, "small-store"), (BIG_STORE, "big-store"))
    )

    def grow(measured: SideP) -> Preloaded:
        port = measured.target.port
        return ingest_profiles(port, measured.setup, args.profiles, args.scale_profiles)

    return _store_sizes(args, results, sides, grow, args.scale_profiles, load, rate)


def _store_sizes(
    args: argparse.Namespace,
    results: dict[str, Any],
    sides: tuple[StoreSide, ...],
    grow: Callable[[SideP], Preloaded],
    want: int,
    load: Load,
    rate: float,
) -> dict[str, Any]:
    """P's p95 at ``--profiles`` against ``want`` profiles, on two suites alike but for
    the size of their stores, each started, configured and preloaded as P's, the second's
    store then grown to ``want`` (``grow``); driven in turn at ``rate``
    (``scale.profiles_side_by_side``), so a slow minute of the machine touches both
    sizes alike."""
    try:
        prepared = []
        for side in sides:
            measured = _side_p(side.suite, side.name, args, results, side.check)
            if measured is None:
                return {"skipped": f"{side.name} could not be prepared (see the notes)"}
            prepared.append(measured)
        small, big = prepared
        grown = grow(big)
        return scale.profiles_side_by_side(
            scale.Store(sides[0].suite, small.target, small.traffic),
            # Visitors drawn from the whole grown store, as from the small one.
            scale.Store(sides[1].suite, big.target, replace(big.traffic, pool=want)),
            load,
            rate,
            args.half_duration,
            args.scale_repeat,
            grown,
        )
    finally:
        for side in sides:
            side.suite.stop()


def _scale(
    args: argparse.Namespace,
    results: dict[str, Any],
    work: Path,
    suite: Suite,
    setup: Configured,
    hot: Target,
    load: Load,
    traffic: Traffic,
    half: float,
) -> dict[str, Any]:
    seconds, repeat = args.half_duration, args.scale_repeat
    found: dict[str, Any] = {"path": hot.name}

    def attempt(name: str, step: Any) -> None:
        # One failed scale step is reported, not fatal: the others' figures still count.
        try:
            found[name] = step()
        except Exception as error:
            found[name] = {"skipped": f"failed: {type(error).__name__}: {error}"[:300]}

    if hot.name == "P":
        attempt(
            "personalizations",
            lambda: scale.personalizations(
                setup, hot, load, traffic, seconds, repeat, args.personalizations
            ),
        )
        attempt(
            "lists_100",
            lambda: scale.lists(
                work / "lists", load, half, seconds, repeat, args.list_pool, args.personalizations
            ),
        )
    else:
        found["personalizations"] = found["lists_100"] = {"skipped": "needs P"}
    if hot.name == "P":
        suite.stop()  # the two suites below are measured with nothing else running
        attempt("profiles", lambda: _sqlite_profiles(args, results, work, load, half))
    else:
        found["profiles"] = {"skipped": "needs P"}
    return found


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.smoke:
        _smoke(args)
    if args.half_rate_runs < 1:
        _parser().error("--half-rate-runs must be at least 1")
    work = Path(tempfile.mkdtemp(prefix="p13n-bench-"))
    try:
        with contextlib.ExitStack() as database:
            pg_url, why_not = None, ""
            if not args.no_postgres:
                try:
                    pg_url = database.enter_context(pg.bench_database())
                except OSError as error:
                    why_not = f"P on PostgreSQL not measured: {error}"
            results = run(args, work, pg_url)
            if why_not:
                results["notes"].append(why_not)
        if not (args.smoke or args.no_capacity):
            # After the throughput suite has stopped: a suite of its own, the real limits.
            results["capacity"] = capacity.measure(work)
    finally:
        if args.keep:
            print(f"data kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    name = args.name or ("smoke" if args.smoke else results["started"][:16].replace(" ", "-"))
    json_path, md_path = report.write(results, args.out, name.replace(":", ""))
    print(md_path.read_text())
    print(f"results: {json_path} {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
