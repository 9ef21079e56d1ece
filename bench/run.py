"""ziti-aio benchmarks (issue 7): every metric against a baseline started by this script, same run.

``python bench/run.py [--quick] [--json-only] [--only NAME,...]`` prints one JSON line per metric
(``metric, value, unit, baseline, baseline_value, ratio, goal``; ``reason`` when the value is null),
then a readable table. A suite that fails reports its metrics as ``null`` with the error as reason.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trio

from bench import appliance_bench as appliance
from bench import cli_bench, scale_bench
from bench import cluster_bench as cluster
from bench import controller_bench as ctrl
from bench import dataplane as data
from bench import mesh_bench as mesh
from bench import oidc_bench as oidc
from bench import router_model_bench as router_model
from bench import store_bench as store
from bench.common import FULL, QUICK, Suite, run_suites

SUITES: tuple[Suite, ...] = (
    data.THROUGHPUT,
    data.CSDK_SUITE,
    data.DIAL,
    ctrl.QUICKSTART,
    appliance.APPLIANCE,
    cli_bench.CLI,
    ctrl.API,
    mesh.MESH,
    mesh.PATH_COMPUTE,
    ctrl.SCALE,
    data.IDLE_SUITE,
    ctrl.IDENTITIES,
    store.WRITES_SUITE,
    oidc.OIDC_SUITE,
    cluster.CLUSTER_SUITE,
    cluster.MEMBER_PROCESS_SUITE,
    cluster.PROCESS_SUITE,
    cluster.CIRCUIT_SUITE,
    cluster.READS_SUITE,
    router_model.ROUTER_MODEL_SUITE,
    scale_bench.SCALE_100K,
)

# Every metric name -> the suite that measures it.
REGISTRY: dict[str, Suite] = {name: suite for suite in SUITES for name in suite.names}


def main() -> None:
    parser = argparse.ArgumentParser(description="ziti-aio benchmarks against same-run baselines.")
    parser.add_argument("--quick", action="store_true", help="a few-minute run: short windows, one round")
    parser.add_argument("--json-only", action="store_true", help="print only the JSON lines")
    parser.add_argument("--only", default="", help="comma-separated metric names to run (default: all)")
    args = parser.parse_args()
    wanted = [n for n in args.only.split(",") if n]
    unknown = [n for n in wanted if n not in REGISTRY]
    if unknown:
        parser.error(f"unknown metric(s): {', '.join(unknown)}; known: {', '.join(REGISTRY)}")
    suites = [s for s in SUITES if not wanted or set(s.names) & set(wanted)]
    trio.run(lambda: run_suites(suites, QUICK if args.quick else FULL, json_only=args.json_only))


if __name__ == "__main__":
    main()
