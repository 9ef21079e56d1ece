"""A network partition: three controller processes, each in a network namespace of its own, joined by
veth pairs to a hub namespace that routes between them and in which this test's client runs::

    ctrl-1 (10.204.1.2) --\\
    ctrl-2 (10.204.2.2) ---- hub (forwards; the client here reaches every member)
    ctrl-3 (10.204.3.2) --/

An nftables rule in the hub drops what the hub would forward to or from the leader: the leader is cut off
from the other two members and still reached by the client. The majority elects a new leader, the old one
steps down, a write sent to it is answered 503 in bounded time, and after healing every member has every
acknowledged write and reads one register value (docs/ha.md, "Fault tests")."""

from __future__ import annotations

import ctypes
import os
import subprocess
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

import outcome
import pytest
import trio

from ziti_aio.controller.cluster.replica import LINEARIZABLE_READS
from ziti_aio.testing.cluster_processes import MANAGEMENT, admin_clients, controller_processes
from ziti_aio.testing.waiting import wait_until

from .history import Writer, check_stores, settle
from .leaders import leaders, one_leader

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [pytest.mark.slow, pytest.mark.needs_root("ip", "nft", "sysctl", why="network namespaces")]

CLONE_NEWNET = 0x40000000
MEMBERS = 3
HOSTS = tuple(f"10.204.{n}.2" for n in range(1, MEMBERS + 1))


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


@contextmanager
def hub_and_members() -> Iterator[list[str]]:
    """Create the namespaces; this thread (trio's, which opens every socket of the test) runs in the
    hub until the block ends. Yields the members' namespace names."""
    prefix = f"zp{os.getpid() % 100000}"
    hub, names = f"{prefix}h", [f"{prefix}{n}" for n in range(1, MEMBERS + 1)]
    created = []
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        for ns in (hub, *names):
            _run("ip", "netns", "add", ns)
            created.append(ns)
            _run("ip", "-n", ns, "link", "set", "lo", "up")
        _run("ip", "netns", "exec", hub, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        for n, ns in enumerate(names, start=1):
            _run("ip", "link", "add", f"m{n}", "netns", hub, "type", "veth", "peer", "name", "hub", "netns", ns)
            for where, dev, address in ((hub, f"m{n}", f"10.204.{n}.1"), (ns, "hub", f"10.204.{n}.2")):
                _run("ip", "-n", where, "addr", "add", f"{address}/24", "dev", dev)
                _run("ip", "-n", where, "link", "set", dev, "up")
            _run("ip", "-n", ns, "route", "add", "default", "via", f"10.204.{n}.1")
        target = os.open(f"/run/netns/{hub}", os.O_RDONLY)
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield names
        finally:
            _setns(own)
            _return_worker_threads(own)
    finally:
        os.close(own)
        for ns in created:
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


def _return_worker_threads(own: int, threads: int = 64) -> None:
    """Move trio's cached worker threads back into namespace ``own``: a thread started while this thread
    was in the hub was born there, and trio reuses idle workers for later tests' ``to_thread`` calls
    (which would then reach nothing on 127.0.0.1). Each job waits at a barrier for all the others, so
    each runs on a thread of its own: every idle worker (trio keeps fewer than ``threads``) gets one."""
    barrier = threading.Barrier(threads, timeout=30)
    done = threading.Semaphore(0)
    failures: list[outcome.Outcome] = []

    def job() -> None:
        _setns(own)
        barrier.wait()

    def deliver(result: outcome.Outcome) -> None:
        if isinstance(result, outcome.Error):
            failures.append(result)
        done.release()

    for _ in range(threads):
        trio.lowlevel.start_thread_soon(job, deliver)
    for _ in range(threads):
        done.acquire()
    if failures:
        failures[0].unwrap()


def isolate(member: int) -> None:
    """Drop whatever the hub would forward to or from member ``member`` (0-based); the hub itself still
    reaches it."""
    dev = f"m{member + 1}"
    _run("nft", f"add table inet partition; add chain inet partition forward "
                f"{{ type filter hook forward priority 0; policy accept; }}; "
                f'add rule inet partition forward iifname "{dev}" drop; '
                f'add rule inet partition forward oifname "{dev}" drop')


def heal() -> None:
    _run("nft", "delete table inet partition")


async def test_a_leader_cut_off_from_the_majority_steps_down_and_loses_no_acknowledged_write(tmp_path):
    with hub_and_members() as namespaces:
        prefixes = [("ip", "netns", "exec", ns) for ns in namespaces]
        async with controller_processes(tmp_path, hosts=HOSTS, prefixes=prefixes, reads=LINEARIZABLE_READS) as members:
            clients = await admin_clients(members)
            writer = Writer(members, clients)
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(writer.write_forever)
                    nursery.start_soon(writer.read_forever)
                    await wait_until(lambda: len(writer.acked) >= 50, 60, what="writes before the partition")
                    leader_id = await wait_until(lambda: one_leader(clients), 20, what="one leader")
                    old = next(n for n, m in enumerate(members) if m.ident == leader_id)
                    majority = {m.ident: clients[m.ident] for m in members if m.ident != leader_id}
                    isolate(old)
                    cut = time.monotonic()

                    # the minority side: a write there is refused (never acknowledged) within the
                    # client's timeout
                    resp = await clients[leader_id].post(f"{MANAGEMENT}/config-types",
                                                         json={"name": "minority-write", "schema": {}})
                    assert resp.status_code == 503, resp.text
                    assert resp.json()["error"]["code"] == "CLUSTER_HAS_NO_LEADER"
                    # answered when the leader stepped down, not when the commit timeout ran out
                    assert "no majority committed" not in resp.json()["error"]["message"], resp.text
                    refused = time.monotonic() - cut
                    # the majority elects a new leader; the old one steps down
                    new_id = await wait_until(lambda: one_leader(majority), 30, what="a leader of the majority")
                    assert new_id != leader_id
                    await wait_until(lambda: _not_leading(clients[leader_id], leader_id), 30,
                                     what="the old leader stepped down")
                    acked = len(writer.acked)
                    await wait_until(lambda: len(writer.acked) >= acked + 50, 60, what="writes on the majority")
                    heal()
                    acked = len(writer.acked)
                    await wait_until(lambda: len(writer.acked) >= acked + 50, 60, what="writes after healing")
                    nursery.cancel_scope.cancel()
                expected = await settle(writer)
                elected = writer.first_ack_after(cut)
            finally:
                for client in clients.values():
                    await client.aclose()
        check_stores(members, expected)
        for m in members:  # refused on the minority side, and the new leader never had it
            assert "minority-write" not in m.stored_names()
        assert elected is not None
        print(f"\npartition: the minority's write refused after {refused:.2f} s, "
              f"first write acknowledged by the majority {elected - cut:.2f} s after the cut")


async def _not_leading(client, ident: str) -> bool:
    return ident not in await leaders({ident: client})
