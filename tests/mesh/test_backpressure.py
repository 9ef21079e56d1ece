"""A slow host back-pressures the dialer across hops: no router buffers more than a few windows."""

from __future__ import annotations

import hashlib
import os

import pytest
import trio
from mesh_net import MIB, link_between, set_link, three_routers

from ziti_aio.router.fabric.window import WINDOW_BYTES
from ziti_aio.sdk import open_context

TOTAL_BYTES = 256 * MIB
STALL_S = 3.0


def held_bytes(router) -> int:  # type: ignore[no-untyped-def]
    """Payload bytes a router holds: link queues, unacked payloads and payloads awaiting its SDK."""
    parts = router.router.parts
    queued = sum(link.queued_bytes for link in list(parts.links.links.values()))
    ends = list(parts.circuits.linked_ends())
    return queued + sum(end.sending.unacked_bytes + end.receiving.buffered for end in ends)


@pytest.mark.slow
async def test_slow_host_keeps_every_router_bounded_while_256_mib_are_pushed(tmp_path):
    async with three_routers(tmp_path, encrypted=False) as net:
        er1, er2, er3 = (r.id for r in net.routers)
        await set_link(net, link_between(await net.get("links"), er1, er3)["id"], down=True)
        peak = {r.name: 0 for r in net.routers}
        sent = [0]
        block = os.urandom(MIB)

        async def sample() -> None:
            while True:
                for r in net.routers:
                    peak[r.name] = max(peak[r.name], held_bytes(r))
                await trio.sleep(0.01)

        async with open_context(net.identities["host"].path) as host, \
                open_context(net.identities["dialer"].path) as dialer, trio.open_nursery() as nursery:
            listener = await host.bind("svc")
            nursery.start_soon(sample)
            received = hashlib.sha256()

            async def slow_host() -> None:
                async with await listener.accept() as stream:
                    await trio.sleep(STALL_S)
                    stalled_at = sent[0]
                    assert stalled_at < 64 * MIB, f"the dialer got {stalled_at} bytes out past a stalled host"
                    while data := await stream.receive_some():
                        received.update(data)
                    await stream.send_all(b"done")

            nursery.start_soon(slow_host)
            with trio.fail_after(240):
                async with await dialer.dial("svc") as stream:
                    [circuit] = await net.get("circuits")
                    assert circuit["path"]["nodes"] == [er1, er2, er3]
                    want = hashlib.sha256()
                    for i in range(TOTAL_BYTES // MIB):
                        chunk = i.to_bytes(8, "little") + block[8:]
                        want.update(chunk)
                        await stream.send_all(chunk)
                        sent[0] += len(chunk)
                    await stream.send_eof()
                    assert await stream.receive_some() == b"done"
            nursery.cancel_scope.cancel()
        assert received.digest() == want.digest()
        bound = 3 * WINDOW_BYTES
        assert all(0 < held <= bound for held in peak.values()), peak
