"""Context life: API session refresh, service updates, several routers (bind on all, dial by latency, failover)."""

from __future__ import annotations

import hashlib

import trio
from sdk_pairs import host_and_dialer
from test_dial_bind import echo, echo_through

from ziti_aio.sdk import open_context
from ziti_aio.testing import wait_until
from ziti_aio.testing.network import open_network


async def test_api_session_is_refreshed_before_it_expires(tmp_path):
    async with open_network(tmp_path, routers=0, session_timeout_s=4) as net:
        alice = await net.create_identity("alice")
        async with open_context(alice.path) as ctx:
            first = ctx.client_api.api_session
            assert 0 < first.expiration_seconds <= 4
            tokens = {first.token}

            def refreshed_twice() -> bool:
                tokens.add(ctx.client_api.api_session.token)
                return len(tokens) >= 3

            await wait_until(refreshed_twice, 20, what="two refreshes of the API session")
            assert ctx.client_api.api_session.id == first.id
            assert await ctx.client_api.services() == {}
            assert ctx.client_api.api_session.id == first.id


async def test_service_changes_are_followed(net):
    alice = await net.create_identity("alice")
    async with open_context(alice.path, service_poll_s=0.1) as ctx:
        assert ctx.services == {}
        await net.create_service("late")
        await net.allow("alice", "late", "Dial")
        await wait_until(lambda: "late" in ctx.services, 20)
        assert ctx.services["late"].permissions == {"Dial"}


async def test_two_routers_bind_on_both_dial_by_latency_and_fail_over(tmp_path):
    async with open_network(tmp_path, routers=2) as net:
        host_file, dialer_file = await host_and_dialer(net, "svc", encrypted=True)
        addresses = {r.info.edge_address for r in net.routers}
        async with open_context(host_file) as host, open_context(dialer_file) as dialer:
            listener = await host.bind("svc")
            await wait_until(lambda: set(listener.routers) == addresses, 20, what="a bind on both routers")
            async with trio.open_nursery() as nursery:
                nursery.start_soon(trio.serve_listeners, echo, [listener])
                async with await dialer.dial("svc") as stream:
                    assert await echo_through(stream, b"one") == hashlib.sha256(b"one").digest()
                await wait_until(lambda: all(r.latency_s is not None for r in dialer._routers.values()), 20,
                                 what="both routers' latency")
                fastest = min(dialer._routers.values(), key=lambda r: r.latency_s)
                async with await dialer.dial("svc") as stream:
                    assert stream.router is fastest
                    assert await echo_through(stream, b"fast") == hashlib.sha256(b"fast").digest()

                stopped = next(r for r in net.routers if r.info.edge_address == fastest.url)
                stopped.stop()
                await wait_until(lambda: fastest.url not in listener.routers and not fastest.usable, 20,
                                 what="the stopped router dropped")
                async with await dialer.dial("svc") as stream:
                    assert stream.router.url != fastest.url
                    assert await echo_through(stream, b"two") == hashlib.sha256(b"two").digest()
                nursery.cancel_scope.cancel()
