"""What internal TLS costs P, and the figures that explain it (bench/mtls.py, issue 12)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import mtls


def _row(rate: float, **cpu_us: float) -> dict[str, Any]:
    return {
        "median_req_per_s": rate,
        "runs_req_per_s": [rate],
        "cpu_per_request_s": {role: us / 1e6 for role, us in cpu_us.items()},
    }


def test_the_drop_and_the_cpu_tls_adds_count_the_suite_only() -> None:
    rows = {
        "P": _row(450, envoy=600, auth=700, profile=1200, offers=900, loadgen=50, other=400),
        "P-plain": _row(500, envoy=500, auth=600, profile=1100, offers=800, loadgen=50, other=0),
    }
    found = mtls.drop(rows)
    assert found["drop"] == 0.1
    assert found["within_target"] is True
    # 3,400 against 3,000 µs: the load generator and the rest of the machine left out.
    assert found["cpu_per_request_us"] == {"P": 3400.0, "P-plain": 3000.0}
    assert found["cpu_added"] == 0.1333


def test_each_round_compares_p_with_the_p_plain_measured_beside_it() -> None:
    """The machine's pace moves between rounds by more than the bar: each round's P is
    compared with that round's P-plain, and the drop is the median of those."""
    rows = {
        "P": _row(450, envoy=1) | {"runs_req_per_s": [450.0, 300.0, 600.0]},
        "P-plain": _row(480, envoy=1) | {"runs_req_per_s": [480.0, 340.0, 800.0]},
    }
    found = mtls.drop(rows)
    assert found["round_drops"] == [0.0625, 0.1176, 0.25]
    assert found["drop"] == 0.1176
    assert found["within_target"] is False
    assert mtls.markdown(found)[0] == (
        "Mutual TLS on every internal hop: P 450 req/s, without 480 req/s: a drop of 11.8 %, "
        "the median of each round's (6.2 % · 11.8 % · 25.0 %) (target ≤ 10 %: missed)."
    )


def test_a_drop_over_ten_percent_is_missed() -> None:
    rows = {"P": _row(440, envoy=1), "P-plain": _row(500, envoy=1)}
    found = mtls.drop(rows)
    assert found["within_target"] is False
    assert "(target ≤ 10 %: missed)." in mtls.markdown(found)[0]


def test_ciphers_are_summed_over_clusters_from_envoys_stats() -> None:
    stats = "\n".join(
        [
            "cluster.auth.ssl.ciphers.TLS_AES_128_GCM_SHA256: 3",
            "cluster.offers.ssl.ciphers.TLS_AES_128_GCM_SHA256: 2",
            "cluster.offers.ssl.ciphers.TLS_CHACHA20_POLY1305_SHA256: 1",
            "cluster.profile.ssl.ciphers.ECDHE-RSA-AES128-GCM-SHA256: 0",
            "cluster.offers.ssl.handshake: 3",
        ]
    )
    assert mtls.ciphers_from_stats(stats) == {
        "TLS_AES_128_GCM_SHA256": 5,
        "TLS_CHACHA20_POLY1305_SHA256": 1,
    }


def test_the_cpus_aes_flag_is_read_from_cpuinfo(tmp_path: Path) -> None:
    with_aes = tmp_path / "with"
    with_aes.write_text("processor\t: 0\nflags\t\t: fpu sse2 aes avx2\n")
    without = tmp_path / "without"
    without.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 vaes\n")
    assert mtls.cpu_has_aes(with_aes) is True
    assert mtls.cpu_has_aes(without) is False
    (tmp_path / "none").write_text("processor\t: 0\n")
    assert mtls.cpu_has_aes(tmp_path / "none") is None


def test_the_report_says_what_tls_cost_and_how() -> None:
    found = {
        "P_req_per_s": 450.0,
        "P_plain_req_per_s": 500.0,
        "drop": 0.1,
        "within_target": True,
        "cpu_per_request_us": {"P": 3400.0, "P-plain": 3000.0},
        "cpu_added": 0.1333,
        "ciphers": {"TLS_AES_128_GCM_SHA256": 5},
        "cpu_aes": True,
    }
    assert mtls.markdown(found) == [
        "Mutual TLS on every internal hop: P 450 req/s, without 500 req/s: a drop of 10.0 % "
        "(target ≤ 10 %: met).",
        "CPU per request, the suite's processes summed: 3,400 µs with TLS, 3,000 without "
        "(+13.3 %).",
        "Cipher suites of Envoy's upstream handshakes: TLS_AES_128_GCM_SHA256 (5); the CPU "
        "reports AES instructions: yes.",
        "",
    ]
    assert mtls.markdown({}) == []
