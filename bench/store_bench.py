"""Store write throughput (issue 19): acknowledged writes per second with group commit.

``writes_per_s`` drives :meth:`Model.transact` from :data:`~bench.common.CONCURRENCY` writers for
a fixed window, each write a session-sized record acknowledged only once durable (fsync), against
the same model with one command per transaction (``max_batch_commands=1``, what the store did
before group commit), alternating in the same run on the same disk. The HTTP figure the issue
names (session creations over the API) is ``session_create_per_s`` in the controller suite.

``python bench/store_bench.py [--quick]`` runs it on its own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trio

from bench.common import CONCURRENCY, FULL, QUICK, Context, Goal, Metric, Suite, median, run_suites
from ziti_aio.common.ids import new_id
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.fields import now_text
from ziti_aio.controller.model.model import MAX_BATCH_COMMANDS, Model
from ziti_aio.controller.store.commands import Command, Put
from ziti_aio.controller.store.sqlite_store import SqliteStore

WRITES = Metric("writes_per_s", None, "writes/s", "one command per transaction (one fsync each), same disk",
                goal=Goal(">=", 1000, on="value", unit="writes/s"))


def _session_write() -> Command:
    now = now_text()
    session = {"id": new_id(), "createdAt": now, "updatedAt": now, "tags": {}, "type": "Dial",
               "apiSessionId": new_id(), "identityId": new_id(), "serviceId": new_id(), "token": "t" * 300}
    return Command("bench", "session", (Put(Kind.SESSIONS, session),))


async def _rate(path: Path, window_s: float, max_batch_commands: int) -> float:
    """Acknowledged writes per second from CONCURRENCY writers over ``window_s``."""
    store = SqliteStore(path)
    model = await Model.open(store, max_batch_commands=max_batch_commands)
    done = 0

    async def writer() -> None:
        nonlocal done
        while True:
            await model.transact(_session_write)
            done += 1

    start = trio.current_time()
    with trio.move_on_after(window_s):
        async with trio.open_nursery() as nursery:
            for _ in range(CONCURRENCY):
                nursery.start_soon(writer)
    rate = done / (trio.current_time() - start)
    store.close()
    return rate


async def writes_suite(ctx: Context) -> list[Metric]:
    grouped: list[float] = []
    single: list[float] = []
    for n in range(ctx.budget.rounds):
        grouped.append(await _rate(ctx.workdir / f"grouped-{n}.db", ctx.budget.duration_s, MAX_BATCH_COMMANDS))
        single.append(await _rate(ctx.workdir / f"single-{n}.db", ctx.budget.duration_s, 1))
    return [Metric(WRITES.metric, median(grouped), WRITES.unit, WRITES.baseline, baseline_value=median(single),
                   goal=WRITES.goal)]


WRITES_SUITE = Suite((WRITES,), writes_suite)


def main() -> None:
    parser = argparse.ArgumentParser(description="store write throughput against a same-run baseline")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    trio.run(lambda: run_suites([WRITES_SUITE], QUICK if args.quick else FULL, json_only=False))


if __name__ == "__main__":
    main()
