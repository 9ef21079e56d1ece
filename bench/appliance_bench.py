"""Appliance metrics (issue 6): the full quickstart from a venv and from the one-file binary, the binary's
size and cold start, and ``ziti_aio.testing.open_network`` up time.

- ``quickstart_full_ready_s``: ``ziti-aio quickstart`` as a user runs it (one router, the tunneler and
  its demo service, a fresh home), wall time from process start to the ``ready in`` line.
- ``quickstart_binary_ready_s``: the same from ``dist/ziti-aio`` (or ``$ZITI_AIO_BINARY``); full runs
  build it with PyInstaller when it is missing, ``--quick`` runs only use one that exists.
- ``binary_mib`` and ``binary_cold_start_s`` (``ziti-aio --help`` from process start to exit; the
  one-file binary unpacks itself on every start).
- ``open_network_up_s``: ``open_network(routers=1)`` in this process, from the call to the network
  being usable (controller, an online router, the quickstart policies).
Each against ``python -c 'import ziti_aio'`` in the same run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import trio

from bench.baselines import interpreter_import_s
from bench.common import QUICK, REPO, Context, Goal, Metric, Suite, median, progress, unmeasured
from bench.controller_bench import quickstart_ready
from ziti_aio.testing import open_network

BUILD_TIMEOUT_S = 900.0
IMPORT = "python -c 'import ziti_aio'"

FULL_READY = Metric("quickstart_full_ready_s", None, "s", IMPORT, goal=Goal("<=", 2.0, on="value", unit="s"))
BINARY_READY = Metric("quickstart_binary_ready_s", None, "s", IMPORT, goal=Goal("<=", 3.0, on="value", unit="s"))
BINARY_MIB = Metric("binary_mib", None, "MiB", "none")
COLD_START = Metric("binary_cold_start_s", None, "s", IMPORT)
OPEN_NETWORK = Metric("open_network_up_s", None, "s", IMPORT, goal=Goal("<=", 1.0, on="value", unit="s"))


async def ready_wall_s(command: list[str], home: Path, log: Path) -> float:
    """Seconds from starting a full quickstart with a fresh ``home`` to its ``ready in`` line."""
    argv = [*command, "quickstart", "--home", str(home), "--ctrl-port", "0", "--router-port", "0",
            "--ctrl-address", "127.0.0.1", "-p", "bench-password"]
    return (await quickstart_ready(argv, log))[0]


async def find_binary(ctx: Context) -> Path | str:
    """The one-file binary, or why there is none."""
    given = os.environ.get("ZITI_AIO_BINARY")
    path = Path(given) if given else REPO / "dist" / "ziti-aio"
    if path.is_file():
        return path
    if ctx.budget == QUICK:
        return f"no binary at {path} (build it with packaging/build-binary.sh, or set ZITI_AIO_BINARY)"
    try:
        import PyInstaller  # noqa: F401  (only to know whether a build can run)
    except ImportError:
        return "no binary and PyInstaller is not installed"
    progress("building the one-file binary (pyinstaller quickstart.spec)")
    out = ctx.workdir / "pyinstaller"
    with trio.fail_after(BUILD_TIMEOUT_S):
        await trio.run_process([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
                                "--distpath", str(out / "dist"), "--workpath", str(out / "work"),
                                str(REPO / "quickstart.spec")], cwd=REPO)
    return out / "dist" / "ziti-aio"


async def open_network_s(ctx: Context, n: int) -> float:
    began = time.perf_counter()
    async with open_network(ctx.workdir / f"net-{n}", routers=1):
        return time.perf_counter() - began


async def appliance_suite(ctx: Context) -> list[Metric]:
    runs = ctx.budget.process_runs
    imports = [await interpreter_import_s() for _ in range(runs)]
    python = [sys.executable, "-m", "ziti_aio"]
    full = [await ready_wall_s(python, ctx.workdir / f"qs-{n}", ctx.workdir / f"qs-{n}.log") for n in range(runs)]
    nets = [await open_network_s(ctx, n) for n in range(runs)]
    base = median(imports)
    metrics = [replace(FULL_READY, value=median(full), baseline_value=base),
               replace(OPEN_NETWORK, value=median(nets), baseline_value=base)]
    binary = await find_binary(ctx)
    if isinstance(binary, str):
        return metrics + [unmeasured(spec, binary) for spec in (BINARY_READY, BINARY_MIB, COLD_START)]
    ready = [await ready_wall_s([str(binary)], ctx.workdir / f"bin-{n}", ctx.workdir / f"bin-{n}.log")
             for n in range(runs)]
    cold = []
    for _ in range(runs):
        began = time.perf_counter()
        await trio.run_process([str(binary), "--help"], stdout=subprocess.DEVNULL)
        cold.append(time.perf_counter() - began)
    return [*metrics, replace(BINARY_READY, value=median(ready), baseline_value=base),
            replace(BINARY_MIB, value=binary.stat().st_size / (1 << 20)),
            replace(COLD_START, value=median(cold), baseline_value=base)]


APPLIANCE = Suite((FULL_READY, OPEN_NETWORK, BINARY_READY, BINARY_MIB, COLD_START), appliance_suite)
