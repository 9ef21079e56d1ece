"""OIDC at the edge: the SDK dials with an access token, routers take token updates, and revoking a
login cuts its router connections."""

from __future__ import annotations

import time

import trio

from ziti_aio.sdk import open_context
from ziti_aio.sdk.router_channel import connect_router
from ziti_aio.testing import wait_until
from ziti_aio.testing.network import open_network
from ziti_aio.wire import edge
from ziti_aio.wire.content import EdgeContentType

from .flow import anonymous_client

PAYLOAD = b"hello over oidc"


async def _echo(listener) -> None:  # type: ignore[no-untyped-def]
    while True:
        async with await listener.accept() as stream:
            try:
                while data := await stream.receive_some():
                    await stream.send_all(data)
            except trio.BrokenResourceError:
                pass  # the dialer's login was revoked: the router cut both ends


async def _pair(net):  # type: ignore[no-untyped-def]
    await net.create_service("svc", encryption_required=True)
    host, dialer = await net.create_identity("host"), await net.create_identity("dialer")
    await net.allow("host", "svc", "Bind")
    await net.allow("dialer", "svc", "Dial")
    return host, dialer


async def test_the_sdk_dials_with_oidc_tokens_and_revocation_cuts_the_connection(net):
    host, dialer = await _pair(net)
    async with open_context(host.path) as hosting, open_context(dialer.path) as ctx, trio.open_nursery() as nursery:
        assert hosting.client_api.oidc is not None and ctx.client_api.oidc is not None
        assert ctx.client_api.token == ctx.client_api.oidc.access_token
        nursery.start_soon(_echo, await hosting.bind("svc"))
        stream = await ctx.dial("svc")
        await stream.send_all(PAYLOAD)
        assert await stream.receive_some() == PAYLOAD

        started = time.monotonic()
        async with anonymous_client(net) as client:
            revoked = await client.post("/oidc/oauth/revoke", data={
                "token": ctx.client_api.oidc.refresh_token, "token_type_hint": "refresh_token",
                "client_id": "openziti"})
        assert revoked.status_code == 200, revoked.text
        with trio.fail_after(10):
            try:
                while await stream.receive_some():
                    pass
            except trio.BrokenResourceError:
                pass
        print(f"revoke request to the router cutting the connection: {time.monotonic() - started:.3f} s")
        async with anonymous_client(net) as client:
            refused = await client.get("/edge/client/v1/current-identity",
                                       headers={"Authorization": f"Bearer {ctx.client_api.token}"})
        assert refused.status_code == 401
        nursery.cancel_scope.cancel()


async def test_a_router_takes_a_refreshed_token_and_refuses_another_identitys(net):
    host, dialer = await _pair(net)
    async with open_context(dialer.path) as ctx, open_context(host.path) as other:
        [service] = [s for s in (await ctx.client_api.services()).values() if s.name == "svc"]
        url = (await ctx.session(service, "Dial")).router_urls[0]
        router = await connect_router(url, ctx.identity.ssl_context(), ctx.client_api.token, "test")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(router.run)
            await ctx.client_api.refresh()
            ok = await router.request(edge.update_token(ctx.client_api.token), timeout_s=10)
            foreign = await router.request(edge.update_token(other.client_api.token), timeout_s=10)
            garbage = await router.request(edge.update_token("not-a-token"), timeout_s=10)
            await router.aclose()
            nursery.cancel_scope.cancel()
    assert ok.content_type == EdgeContentType.UPDATE_TOKEN_SUCCESS
    assert foreign.content_type == EdgeContentType.UPDATE_TOKEN_FAILURE
    assert garbage.content_type == EdgeContentType.UPDATE_TOKEN_FAILURE


async def test_a_revoked_access_token_is_refused_in_a_routers_hello(net):
    _, dialer = await _pair(net)
    async with open_context(dialer.path) as ctx:
        [service] = [s for s in (await ctx.client_api.services()).values() if s.name == "svc"]
        url = (await ctx.session(service, "Dial")).router_urls[0]
        token, ssl = ctx.client_api.token, ctx.identity.ssl_context()
        async with anonymous_client(net) as client:
            ended = await client.post("/oidc/end_session", headers={"Authorization": f"Bearer {token}"})
        assert ended.status_code == 200, ended.text

        async def refused() -> bool:
            try:
                router = await connect_router(url, ssl, token, "revoked")
            except Exception:  # the router closes without answering the hello
                return True
            await router.aclose()
            return False

        await wait_until(refused, 10, what="the router to refuse the revoked token")


async def test_the_sdk_hands_refreshed_tokens_to_its_router_channels(tmp_path):
    async with open_network(tmp_path, routers=1, session_timeout_s=4) as net:
        host, dialer = await _pair(net)
        async with open_context(host.path) as hosting, open_context(dialer.path) as ctx, \
                trio.open_nursery() as nursery:
            nursery.start_soon(_echo, await hosting.bind("svc"))
            stream = await ctx.dial("svc")
            channels = dict(ctx._routers)
            tokens = {ctx.client_api.token}

            def refreshed_twice() -> bool:
                tokens.add(ctx.client_api.token)
                return len(tokens) >= 3

            await wait_until(refreshed_twice, 20, what="two OIDC refreshes")
            # a refused UpdateToken closes the channel and opens a new one: these are the same channels
            assert dict(ctx._routers) == channels and all(c.usable for c in channels.values())
            await stream.send_all(PAYLOAD)
            assert await stream.receive_some() == PAYLOAD
            nursery.cancel_scope.cancel()
