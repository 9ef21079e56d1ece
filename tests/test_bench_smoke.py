"""bench/run.py registers every issue 7 metric; those not measurable yet report null with a reason."""

from pathlib import Path

import pytest

ISSUE_7_METRICS = (
    "circuit_mb_s", "router_cpu_s_per_gb", "csdk_mb_s", "parallel8_vs_1", "dial_p50_ms", "dial_p99_ms",
    "quickstart_ready_s", "api_ops_s", "two_hop_vs_one", "scale_services", "idle_circuit_kib",
)
MEASURED = {"quickstart_ready_s", "api_ops_s", "scale_services", "two_hop_vs_one"}


@pytest.fixture
def bench_run(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1]))
    from bench import run

    return run


def test_every_issue_7_metric_is_registered(bench_run):
    assert set(ISSUE_7_METRICS) <= set(bench_run.REGISTRY)


async def test_unmeasured_metrics_report_null_with_a_reason(bench_run, tmp_path):
    from bench.common import QUICK, Context

    for name in set(ISSUE_7_METRICS) - MEASURED:
        [metric] = await bench_run.REGISTRY[name].run(Context(QUICK, tmp_path))
        record = metric.record()
        assert record["metric"] == name
        assert record["value"] is None and record["ratio"] is None
        assert record["reason"].startswith("needs the ")
        assert {"metric", "value", "unit", "baseline", "baseline_value", "ratio", "goal"} <= set(record)
