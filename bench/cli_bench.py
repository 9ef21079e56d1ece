"""Issue 13's start-up figures: how long a user waits for the CLI, against a bare interpreter.

- ``cli_list_s``: ``ziti-aio list services`` against a running quickstart (logged in, its own CLI config
  directory), wall time from process start to exit.
- ``quickstart_wall_ready_s``: ``ziti-aio quickstart`` as a user runs it (one router, the tunneler and its
  demo service, a fresh home), wall time from process start to its ``ready in`` line — the imports
  included, which the figure the line prints leaves out.
Each against ``python -c pass`` in the same run, the two taking turns. The package is byte-compiled
first, as ``pip install`` does: with ``PYTHONDONTWRITEBYTECODE`` set (CI images often set it) every run
would otherwise compile some 130 modules from source, which no installed copy does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import trio

import ziti_aio
from bench.appliance_bench import ready_wall_s
from bench.common import REPO, Context, Goal, Metric, Suite, median
from ziti_aio.testing.quickstart import start_quickstart

BARE = "python -c pass"
PASSWORD = "bench-password"

CLI_LIST = Metric("cli_list_s", None, "s", BARE, goal=Goal("<=", 0.3, on="value", unit="s"))
WALL_READY = Metric("quickstart_wall_ready_s", None, "s", BARE, goal=Goal("<=", 1.0, on="value", unit="s"))


def cli() -> list[str]:
    """The ``ziti-aio`` a user runs: the venv's console script."""
    script = Path(sys.executable).with_name("ziti-aio")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ziti_aio"]


async def wall_s(argv: list[str], env: dict[str, str] | None = None) -> float:
    """Seconds from starting ``argv`` to its exit (which must be 0)."""
    began = time.perf_counter()
    await trio.run_process(argv, stdout=subprocess.DEVNULL, env=env, cwd=REPO)
    return time.perf_counter() - began


async def cli_suite(ctx: Context) -> list[Metric]:
    runs = ctx.budget.process_runs
    bare, listing, ready = [], [], []
    await trio.run_process([sys.executable, "-m", "compileall", "-q", str(Path(ziti_aio.__file__).parent)],
                           stdout=subprocess.DEVNULL)
    qs = await start_quickstart(ctx.workdir / "home", "--ctrl-port", "0", "--router-port", "0",
                                "--ctrl-address", "127.0.0.1", "-p", PASSWORD)
    try:
        env = {**os.environ, "ZITI_AIO_CONFIG_DIR": str(ctx.workdir / "cli-config")}
        await trio.run_process([*cli(), "login", qs.url, "-u", "admin", "-p", PASSWORD, "-y"],
                               stdout=subprocess.DEVNULL, env=env)
        for _ in range(runs):
            bare.append(await wall_s([sys.executable, "-c", "pass"]))
            listing.append(await wall_s([*cli(), "list", "services"], env))
    finally:
        await trio.to_thread.run_sync(qs.stop)
    for n in range(runs):
        bare.append(await wall_s([sys.executable, "-c", "pass"]))
        ready.append(await ready_wall_s(cli(), ctx.workdir / f"qs-{n}", ctx.workdir / f"qs-{n}.log"))
    base = median(bare)
    return [replace(CLI_LIST, value=median(listing), baseline_value=base),
            replace(WALL_READY, value=median(ready), baseline_value=base)]


CLI = Suite((CLI_LIST, WALL_READY), cli_suite)
