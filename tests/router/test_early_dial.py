"""The early Dial (router/edge/dial.py ``EarlyDial``, docs/router.md "A dial's round trips"): a router that
expects the controller to pick the service's only terminator, bound on this router, sends its host the Dial
while the controller decides. When the controller picks another terminator, the early Dial is withdrawn:
it never becomes a connection on its host, and the host's accept is not held up by it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from ziti_aio.testing.controller import MANAGEMENT
from ziti_aio.testing.network import open_network
from ziti_aio.testing.waiting import wait_until

if TYPE_CHECKING:
    from ziti_aio.sdk.context import ZitiContext
    from ziti_aio.sdk.listener import ZitiListener

# Below the 10 s a host waits for the answer to its DialSuccess: a withdrawn Dial left unanswered would hold
# the host's next accept that long.
DIAL_S = 6


async def _serve_as(name: str, listener: ZitiListener, nursery: trio.Nursery) -> None:
    async def answer(stream: trio.abc.Stream) -> None:
        async with stream:
            await stream.send_all(name.encode() + b":" + await stream.receive_some())

    nursery.start_soon(trio.serve_listeners, answer, [listener])


async def _ask(client: ZitiContext) -> bytes:
    with trio.fail_after(DIAL_S):
        async with await client.dial("svc") as stream:
            await stream.send_all(b"hi")
            return await stream.receive_some()


async def test_an_early_dial_the_controller_did_not_choose_is_withdrawn(tmp_path):
    async with open_network(tmp_path, routers=1) as net:
        for name in ("host1", "host2", "client"):
            await net.create_identity(name)
        service_id = await net.create_service("svc", encryption_required=True)
        await net.allow("host1", "svc", "Bind")
        await net.allow("host2", "svc", "Bind")
        await net.allow("client", "svc", "Dial")
        # host2's terminator wins whenever it exists (precedence required)
        updated = await net.admin.patch(f"{MANAGEMENT}/identities/{net.identities['host2'].id}",
                                        json={"defaultHostingPrecedence": "required"})
        assert updated.status_code == 200, updated.text

        async def terminators(count: int) -> bool:
            return len(await net.get(f'terminators?filter=service="{service_id}"')) == count

        dialer = net.routers[0].router.parts.dialer  # type: ignore[union-attr]
        async with net.context("host1") as host1, net.context("client") as client, \
                trio.open_nursery() as nursery:
            await _serve_as("host1", await host1.bind("svc"), nursery)
            assert await _ask(client) == b"host1:hi"
            assert len(dialer._sole_terminator) == 1  # the next dial of svc sends host1 an early Dial

            async with net.context("host2") as host2, trio.open_nursery() as hosting2:
                listener2 = await host2.bind("svc")
                await _serve_as("host2", listener2, hosting2)
                await wait_until(lambda: terminators(2), 10, what="both terminators")
                # the early Dial went to host1; the controller chose host2
                assert await _ask(client) == b"host2:hi"
                assert not dialer._sole_terminator  # two terminators: no more early Dials
                assert await _ask(client) == b"host2:hi"
                await listener2.aclose()
                hosting2.cancel_scope.cancel()

            await wait_until(lambda: terminators(1), 10, what="host2's terminator gone")
            # host1 answers at once: the withdrawn Dial did not leave its accept waiting
            for _ in range(3):
                assert await _ask(client) == b"host1:hi"
            nursery.cancel_scope.cancel()

