"""Faults with real processes: three ``ziti-aio run --config`` controllers forming a cluster
(``ziti_aio/testing/cluster_processes.py``), a client writing as fast as it can (unique creates, and
updates of one register) and recording every acknowledged write and every read (``history.py``), then
``kill -9`` of the leader, of a follower, or of two members (nothing may be acknowledged until one comes
back), or ``SIGSTOP`` of the leader past the election timeout and ``SIGCONT``. Afterwards every
acknowledged write is on every member, the register's history passes the check, every member reads the
same register value, no older than the last acknowledged update, and the members agree on one leader."""

from __future__ import annotations

import signal
import time
from typing import TYPE_CHECKING

import pytest
import trio

from ziti_aio.controller.cluster.replica import LINEARIZABLE_READS
from ziti_aio.testing.cluster_processes import admin_clients, controller_processes
from ziti_aio.testing.waiting import wait_until

from .history import Writer, check_stores, settle
from .leaders import one_leader

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow


async def run_fault(tmp_path: Path, fault: str) -> float | None:
    """Start three members and a writer, inject ``fault``, recover; returns the failover time
    (fault → first acknowledged write afterwards) and checks every acknowledged write everywhere."""
    async with controller_processes(tmp_path, reads=LINEARIZABLE_READS) as members:
        clients = await admin_clients(members)
        writer = Writer(members, clients)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(writer.write_forever)
                nursery.start_soon(writer.read_forever)
                await wait_until(lambda: len(writer.acked) >= 50, 60, what="writes before the fault")
                leader = await wait_until(lambda: one_leader(clients), 20, what="one leader")
                victim = next(m for m in members if (m.ident == leader) == (fault != "kill-follower"))
                injected = time.monotonic()
                if fault == "sigstop-leader":
                    victim.signal(signal.SIGSTOP)
                    await trio.sleep(4.0)  # well past the election timeout
                    victim.signal(signal.SIGCONT)
                elif fault == "kill-two":
                    second = next(m for m in members if m.ident != leader)
                    victim.kill()
                    second.kill()
                    await trio.sleep(0.5)  # an answer already on its way before the kill may still arrive
                    acked_before = len(writer.acked)
                    await trio.sleep(3.0)  # one member left: no majority, so nothing may be acknowledged
                    assert len(writer.acked) == acked_before, "a write was acknowledged without a majority"
                    await second.start()
                else:
                    victim.kill()
                acked_before = len(writer.acked)
                await wait_until(lambda: len(writer.acked) >= acked_before + 50, 60, what="writes after the fault")
                if fault != "sigstop-leader":
                    await victim.start()  # back on its own files: it catches up
                await wait_until(lambda: len(writer.acked) >= acked_before + 100, 60, what="writes after recovery")
                nursery.cancel_scope.cancel()
            expected = await settle(writer)
            failover = writer.first_ack_after(injected)
        finally:
            for client in clients.values():
                await client.aclose()
    check_stores(members, expected)
    return None if failover is None else failover - injected


@pytest.mark.parametrize("fault", ["kill-leader", "kill-follower", "sigstop-leader", "kill-two"])
async def test_no_acknowledged_write_is_lost(tmp_path, fault):
    failover = await run_fault(tmp_path, fault)
    assert failover is not None
    print(f"\n{fault}: first acknowledged write {failover:.2f} s after the fault")
