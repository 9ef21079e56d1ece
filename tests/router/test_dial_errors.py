"""A refused Connect carries the structured error current SDKs read: header 1014 (the code) and 1033
(``{message, code, retryHint}``), and a failed terminator is named in it; the prose reason libziti 0.29.3
reads stays as it was."""

from __future__ import annotations

import pytest

from ziti_aio.common.errors import ChannelClosed
from ziti_aio.sdk import listener as listener_module
from ziti_aio.testing.controller import MANAGEMENT
from ziti_aio.testing.network import open_network
from ziti_aio.testing.waiting import wait_until
from ziti_aio.wire import edge
from ziti_aio.wire.content import EdgeContentType
from ziti_aio.wire.headers import EdgeHeader


async def test_a_refused_dial_names_the_terminator_and_why(tmp_path, monkeypatch):
    # A host that accepts nothing: every Dial finds its accept backlog full and is refused.
    monkeypatch.setattr(listener_module, "ACCEPT_BACKLOG", 0)
    async with open_network(tmp_path, routers=1) as net:
        await net.create_identity("host")
        await net.create_identity("client")
        service_id = await net.create_service("refusing", encryption_required=False)
        await net.allow("host", "refusing", "Bind")
        await net.allow("client", "refusing", "Dial")
        async with net.context("host") as host, net.context("client") as client:
            listener = await host.bind("refusing")
            await wait_until(lambda: bool(listener.routers), 20, what="the host bound")
            listed = await net.admin.get(f"{MANAGEMENT}/terminators", params={"filter": f'service="{service_id}"'})
            terminator_id = listed.json()["data"][0]["id"]

            service = await client.service("refusing", "Dial")
            session = await client.session(service, "Dial")
            router = await client.router(session.router_urls[0])
            conn_id = client.next_conn_id()
            router.register_conn(conn_id)
            reply = await router.request(edge.connect(conn_id, session.token, "client"), timeout_s=20)
            assert reply.content_type == EdgeContentType.STATE_CLOSED
            closed = edge.parse_state_closed(reply)
            assert f"terminator {terminator_id} failed" in closed.reason and "accept backlog is full" in closed.reason
            assert closed.error is not None
            assert (closed.error.code, closed.error.retry_hint) == (edge.EdgeErrorCode.INTERNAL,
                                                                      edge.RetryHint.DEFAULT)
            assert closed.error.message == closed.reason
            assert int.from_bytes(reply.headers[EdgeHeader.ERROR_CODE], "little") == edge.EdgeErrorCode.INTERNAL

            with pytest.raises(ChannelClosed, match=f"terminator {terminator_id} failed"):
                await client.dial("refusing")


async def test_an_invalid_session_keeps_libziti_0_29_reason_and_says_start_over(tmp_path):
    async with open_network(tmp_path, routers=1) as net:
        await net.create_identity("client")
        await net.create_service("nobody-hosts", encryption_required=False)
        await net.allow("client", "nobody-hosts", "Dial")
        async with net.context("client") as client:
            client.use_router_model = False  # a service session, which is what gets revoked here
            service = await client.service("nobody-hosts", "Dial")
            session = await client.session(service, "Dial")
            router = await client.router(session.router_urls[0])
            await net.admin.delete(f"{MANAGEMENT}/sessions/{session.id}")
            conn_id = client.next_conn_id()
            router.register_conn(conn_id)

            async def refused() -> edge.StateClosed | None:
                reply = await router.request(edge.connect(conn_id, session.token, "client"), timeout_s=20)
                closed = edge.parse_state_closed(reply)
                return closed if closed.reason == edge.INVALID_SESSION else None

            closed = await wait_until(refused, 20, what="the revoked session refused")
            assert closed.error is not None
            assert (closed.error.code, closed.error.retry_hint) == (edge.EdgeErrorCode.INVALID_SESSION,
                                                                      edge.RetryHint.START_OVER)
