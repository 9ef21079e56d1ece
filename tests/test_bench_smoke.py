"""bench/run.py registers every issue 7 metric; a suite that fails reports null with the error as reason."""

from pathlib import Path

import pytest

ISSUE_7_METRICS = (
    "circuit_mb_s", "router_cpu_s_per_gb", "csdk_mb_s", "dial_p50_ms", "dial_p99_ms",
    "quickstart_ready_s", "api_ops_s", "two_hop_vs_one", "scale_services", "idle_circuit_kib",
    "tunnel_proxy_mb_s",
)

ISSUE_6_METRICS = (
    "quickstart_full_ready_s", "quickstart_binary_ready_s", "binary_mib", "binary_cold_start_s", "open_network_up_s",
)

ISSUE_13_METRICS = ("cli_list_s", "quickstart_wall_ready_s")

ISSUE_19_METRICS = (
    "parallel8_aggregate", "parallel8_slowest_share", "writes_per_s", "circuit_vs_ssh_l", "tunnel_proxy_vs_ssh_l",
    "crypto_floor_ratio", "circuit_cpu_s_per_gb", "dial_p50_vs_ssh_j", "dial_p99_vs_ssh_j",
    "scale_100k_startup_s", "scale_100k_startup_cpu_s", "scale_100k_login", "scale_100k_dial",
    "scale_100k_rss_kib_per_identity",
)

ISSUE_16_METRICS = ("cluster_writes_per_s", "cluster_one_writes_per_s", "failover_s",
                    "cluster_member_process_writes_per_s", "cluster_process_writes_per_s", "failover_process_s",
                    "failover_process_worst_s", "failover_circuit_gap_s", "failover_circuit_lost_bytes",
                    "follower_read_ms")


@pytest.fixture
def bench_run(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1]))
    from bench import run

    return run


def test_every_issue_7_metric_is_registered(bench_run):
    assert set(ISSUE_7_METRICS) <= set(bench_run.REGISTRY)


def test_every_issue_6_appliance_metric_is_registered(bench_run):
    assert set(ISSUE_6_METRICS) <= set(bench_run.REGISTRY)


def test_every_issue_13_start_up_metric_is_registered(bench_run):
    assert set(ISSUE_13_METRICS) <= set(bench_run.REGISTRY)


def test_every_issue_19_metric_is_registered_with_the_bastion_baseline(bench_run):
    assert set(ISSUE_19_METRICS) <= set(bench_run.REGISTRY)
    assert set(ISSUE_16_METRICS) <= set(bench_run.REGISTRY)
    from bench import dataplane

    assert "ssh -J" in dataplane.CIRCUIT.baseline and "ssh -J" in dataplane.TUNNEL_PROXY.baseline


async def test_a_failing_suite_reports_null_with_the_error(bench_run, capsys):
    from bench.common import QUICK, Metric, Suite, run_suites

    async def broken(ctx):
        raise RuntimeError("no echo")

    spec = Metric("circuit_mb_s", None, "MB/s", "ssh -L")
    [metric] = await run_suites([Suite((spec,), broken)], QUICK, json_only=True)
    record = metric.record()
    assert record["value"] is None and record["ratio"] is None
    assert record["reason"] == "failed: RuntimeError: no echo"
    assert {"metric", "value", "unit", "baseline", "baseline_value", "ratio", "goal"} <= set(record)
    assert '"circuit_mb_s"' in capsys.readouterr().out
