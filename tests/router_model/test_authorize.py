"""Routers authorize OIDC dials and binds from their router model: no service session, a refusal
without a grant, and a policy change cutting what lost access (docs/router-model.md)."""

from __future__ import annotations

import time

import trio

from ziti_aio.sdk import open_context
from ziti_aio.testing import wait_until
from ziti_aio.testing.controller import MANAGEMENT
from ziti_aio.wire import edge
from ziti_aio.wire.content import EdgeContentType

from .helpers import PAYLOAD, echo, in_step, pair, parts


async def _closed(stream) -> bool:  # type: ignore[no-untyped-def]
    """Read until the router closes the connection."""
    try:
        while await stream.receive_some():
            pass
    except trio.BrokenResourceError:
        pass
    return True


async def test_an_oidc_dial_and_bind_need_no_service_session(net):
    await pair(net)
    async with open_context(net.identities["host"].path) as hosting, \
            open_context(net.identities["dialer"].path) as ctx, trio.open_nursery() as nursery:
        await wait_until(lambda: in_step(net, net.routers[0]), 10, what="the router model in step")
        listener = await hosting.bind("svc")
        nursery.start_soon(echo, listener)
        stream = await ctx.dial("svc")
        await stream.send_all(PAYLOAD)
        assert await stream.receive_some() == PAYLOAD
        assert await net.get("sessions") == []  # neither side asked the controller for a session
        sdk = next(s for s in parts(net.routers[0]).sdks.open if s.identity_id == net.identities["dialer"].id)
        assert [c.grant for c in sdk.conns.values()] == ["Dial"]
        assert len(await net.get("terminators")) == 1
        nursery.cancel_scope.cancel()


async def test_a_legacy_login_still_dials_with_service_sessions(net):
    await pair(net)
    async with open_context(net.identities["host"].path, legacy=True) as hosting, \
            open_context(net.identities["dialer"].path, legacy=True) as ctx, trio.open_nursery() as nursery:
        nursery.start_soon(echo, await hosting.bind("svc"))
        stream = await ctx.dial("svc")
        await stream.send_all(PAYLOAD)
        assert await stream.receive_some() == PAYLOAD
        assert sorted(s["type"] for s in await net.get("sessions")) == ["Bind", "Dial"]
        nursery.cancel_scope.cancel()


async def test_the_router_refuses_what_no_policy_grants(net):
    ids = await pair(net)
    other = await net.create_service("other", encryption_required=False)
    async with open_context(net.identities["dialer"].path) as ctx:
        await wait_until(lambda: in_step(net, net.routers[0]), 10, what="the router model in step")
        [url] = await ctx.client_api.service_routers(await ctx.service("svc", "Dial"))
        router = await ctx.router(url)
        assert router.router_model
        for service_id in (other, "no-such-service"):
            conn_id = ctx.next_conn_id()
            router.register_conn(conn_id)
            reply = await router.request(edge.connect(conn_id, edge.model_token(service_id), "dialer"), timeout_s=10)
            assert reply.content_type == EdgeContentType.STATE_CLOSED
            assert edge.parse_state_closed(reply).reason == edge.INVALID_SESSION
        conn_id = ctx.next_conn_id()  # the dialer may dial svc, not bind it
        reply = await router.request(edge.bind(conn_id, edge.model_token(ids["svc"]), "dialer"), timeout_s=10)
        assert reply.content_type == EdgeContentType.STATE_CLOSED
        assert "bind refused" in edge.parse_state_closed(reply).reason
    assert await net.get("sessions") == []
    assert await net.get("terminators") == []


async def test_a_policy_change_cuts_the_connections_that_lost_access(net):
    ids = await pair(net)
    async with open_context(net.identities["host"].path) as hosting, \
            open_context(net.identities["dialer"].path) as ctx, trio.open_nursery() as nursery:
        listener = await hosting.bind("svc")
        nursery.start_soon(echo, listener)
        stream = await ctx.dial("svc")
        await stream.send_all(PAYLOAD)
        assert await stream.receive_some() == PAYLOAD

        # the dialer leaves the role its Dial policy selects: its connection is cut
        started = time.monotonic()
        (await net.admin.patch(f"{MANAGEMENT}/identities/{ids['dialer']}",
                               json={"roleAttributes": []})).raise_for_status()
        with trio.fail_after(10):
            assert await _closed(stream)
        print(f"role change to the dial cut: {time.monotonic() - started:.3f} s")
        assert await net.get("sessions") == []

        # the Bind policy is deleted: the router unbinds the host (and the listener finds no way back)
        binds = parts(net.routers[0]).binds
        assert [b.service_id for b in binds.by_terminator.values()] == [ids["svc"]]
        (await net.admin.delete(f"{MANAGEMENT}/service-policies/{ids['bind']}")).raise_for_status()
        await wait_until(lambda: not binds.by_terminator, 10, what="the bind cut")
        assert await net.get("terminators") == []
        nursery.cancel_scope.cancel()


async def test_the_sdk_falls_back_to_a_service_session(net):
    ids = await pair(net)
    async with open_context(net.identities["host"].path) as hosting, \
            open_context(net.identities["dialer"].path) as ctx, trio.open_nursery() as nursery:
        nursery.start_soon(echo, await hosting.bind("svc"))
        await wait_until(lambda: in_step(net, net.routers[0]), 10, what="the router model in step")
        # a router model a moment behind refuses; the SDK asks the controller, which grants
        del parts(net.routers[0]).tokens.model.identities[ids["dialer"]]
        stream = await ctx.dial("svc")
        await stream.send_all(PAYLOAD)
        assert await stream.receive_some() == PAYLOAD
        assert [s["type"] for s in await net.get("sessions")] == ["Dial"]
        await stream.aclose()
        # a router that does not offer the router model gets a service session from the start
        for router in ctx._routers.values():
            router.router_model = False
        ctx._dial_sessions.clear()
        stream = await ctx.dial("svc")
        await stream.send_all(PAYLOAD)
        assert await stream.receive_some() == PAYLOAD
        assert [s["type"] for s in await net.get("sessions")] == ["Dial", "Dial"]
        nursery.cancel_scope.cancel()


async def test_a_legacy_channel_cannot_use_the_router_model(net):
    ids = await pair(net)
    async with open_context(net.identities["dialer"].path, legacy=True) as ctx:
        await wait_until(lambda: in_step(net, net.routers[0]), 10, what="the router model in step")
        service = await ctx.service("svc", "Dial")
        assert not ctx._by_model(service)  # the SDK does not try
        [url] = await ctx.client_api.service_routers(service)
        router = await ctx.router(url)
        conn_id = ctx.next_conn_id()
        router.register_conn(conn_id)
        reply = await router.request(edge.connect(conn_id, edge.model_token(ids["svc"]), "dialer"), timeout_s=10)
        assert edge.parse_state_closed(reply).reason == edge.INVALID_SESSION  # the API-session token is no proof
    assert await net.get("sessions") == []
