"""CPU and context switches per request by thread (``bench.procs.ThreadMeter``), and the
report that puts P's maximum-rate run beside its half-rate run (``bench.by_thread``)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from bench import by_thread
from bench.procs import ThreadMeter, _thread_group, group_name, thread_totals

# A process whose first thread sleeps while a second one, named as the bench hook names
# threads, burns CPU and wakes 200 times.
PROCESS = """
import threading, time
from pathlib import Path
def work():
    Path(f"/proc/self/task/{threading.get_native_id()}/comm").write_text("aiosqlite")
    print("ready", flush=True)
    for _ in range(200):
        deadline = time.thread_time() + 0.002  # 2 ms of this thread's CPU, however preempted
        while time.thread_time() < deadline:
            pass
        time.sleep(0.001)
    print("done", flush=True)
    time.sleep(30)
threading.Thread(target=work, daemon=True).start()
time.sleep(60)
"""


def test_the_meter_puts_cpu_and_wake_ups_on_the_thread_that_spent_them() -> None:
    process = subprocess.Popen([sys.executable, "-c", PROCESS], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        meter = ThreadMeter({"profile": [process.pid]})
        meter.start()
        assert process.stdout.readline().strip() == "done"
        found = meter.stop(requests=100)["profile"]
    finally:
        process.kill()
        process.communicate()
    worker = found["aiosqlite"]
    # 200 x 2 ms of CPU over 100 requests: about 4,000 µs each (the clock ticks by 10 ms).
    assert 2_000 <= worker["cpu_us"] <= 8_000, found
    # It slept 200 times: one switch per sleep at least.
    assert worker["switches"] >= 2.0, found
    assert found.get("main", {"cpu_us": 0.0})["cpu_us"] < worker["cpu_us"]


def test_threads_are_grouped_by_name_without_their_number() -> None:
    assert _thread_group(100, 100, "python") == "main"
    assert _thread_group(100, 101, "wrk:worker_1") == "wrk:worker"
    assert _thread_group(100, 102, "ThreadPoolExecutor-0_1") == "ThreadPoolExecutor"
    assert _thread_group(100, 103, "event_engine") == "event_engine"
    assert _thread_group(100, 104, "42") == "42"
    # A thread left with the process's name groups as that name does, however the
    # interpreter was started (`python`, or `python3` as CI's pytest starts it).
    assert group_name("python3") == group_name("python") == "python"


def test_a_process_gone_before_the_end_counts_nothing_more() -> None:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    meter = ThreadMeter({"offers": [process.pid]})
    meter.start()
    process.kill()
    process.wait()
    assert meter.stop(requests=10) == {"offers": {}}


def test_the_table_puts_each_thread_at_both_rates_beside_each_other() -> None:
    at_max = {
        "profile": {"main": {"cpu_us": 500.0, "switches": 2.0}},
        "loadgen": {"main": {"cpu_us": 90.0, "switches": 1.0}},
    }
    at_half = {
        "profile": {
            "main": {"cpu_us": 700.0, "switches": 6.1},
            "aiosqlite": {"cpu_us": 300.0, "switches": 2.0},
        }
    }
    assert by_thread.table(at_max, at_half) == [
        "| process | thread | µs at max | switches at max | µs at half | switches at half |",
        "|---|---|---:|---:|---:|---:|",
        "| profile | aiosqlite | — | — | 300 | 2.0 |",
        "| profile | main | 500 | 2.0 | 700 | 6.1 |",
        "| all | | 500 | 2.0 | 1000 | 8.1 |",
    ]


def test_the_section_is_written_for_each_path_measured_at_both_rates() -> None:
    threads = {"auth": {"main": {"cpu_us": 400.0, "switches": 3.0}}}
    results = {
        "rows": {
            "P": {"median_req_per_s": 380.0, "threads": threads},
            "P-single": {"median_req_per_s": 340.0},  # measured before threads were
        },
        "half_rate_runs": [{"target_rate": 190.0, "threads": threads}],
        "half_rate_single_runs": [{"target_rate": 170.0, "threads": threads}],
    }
    lines = by_thread.section(results)
    assert lines[0] == "### P: CPU and context switches per request, by thread"
    assert not any("P-single" in line for line in lines)
    assert "| auth | main | 400 | 3.0 | 400 | 3.0 |" in lines


def test_the_first_thread_of_a_process_is_its_main_group() -> None:
    """A service's first thread runs its event loop: the meter calls it ``main``."""
    meter = ThreadMeter({"bench": [os.getpid()]})
    meter.start()
    deadline = time.perf_counter() + 0.05
    while time.perf_counter() < deadline:  # this thread spins: its CPU is main's
        pass
    found = meter.stop(requests=1)["bench"]
    assert found["main"]["cpu_us"] > 0


def test_a_few_milliseconds_of_a_threads_cpu_are_counted_to_the_microsecond() -> None:
    """A thread's CPU is the scheduler's nanosecond count, not 10 ms clock ticks: with ticks a
    short run's share of a thread read as 0 or 10 ms, and a flat-out round of
    ``bench.grpc_rate_cost`` once read the server's CPU as 0 and divided by it."""
    go, done, release = threading.Event(), threading.Event(), threading.Event()
    spun: list[float] = []

    def spin() -> None:
        go.wait()
        began = time.thread_time()
        deadline = time.perf_counter() + 0.005
        while time.perf_counter() < deadline:
            pass
        spun.append(time.thread_time() - began)
        done.set()
        release.wait()  # a thread that has ended is no longer in /proc

    worker = threading.Thread(target=spin)
    worker.start()
    tid = worker.native_id
    assert tid is not None
    try:
        time.sleep(0.05)  # the worker is asleep on ``go``
        _, before, _ = thread_totals(os.getpid())[tid]
        go.set()
        done.wait(5)
        time.sleep(0.01)  # the worker has gone back to sleep: its count is settled
        _, after, _ = thread_totals(os.getpid())[tid]
    finally:
        go.set()
        release.set()
        worker.join()
    used_us, spun_us = (after - before) / 1000, spun[0] * 1e6
    # The spin, and a little for the worker's waking and its own clock reads.
    assert spun_us <= used_us <= spun_us + 500, (used_us, spun_us)
