"""The websocket event stream: admins only, a subscription per connection, a misbehaving client
dropped alone (docs/events.md)."""

from __future__ import annotations

import json

import pytest
import trio
from event_flows import dial_once
from trio_websocket import ConnectionClosed, ConnectionRejected, open_websocket_url

from ziti_aio.common import api_paths
from ziti_aio.sdk.identity_file import load_identity
from ziti_aio.testing.network import open_network


@pytest.fixture
async def net(tmp_path):
    async with open_network(tmp_path, routers=1) as running:
        yield running


def stream_url(net, types: str = "") -> str:
    return net.controller.url.replace("https://", "wss://") + api_paths.EVENTS + (f"?types={types}" if types else "")


def stream(net, types: str = "", token: str | None = None):
    token = token if token is not None else net.admin.headers["zt-session"]
    headers = [(b"zt-session", token.encode())] if token else []
    return open_websocket_url(stream_url(net, types), net.controller.ssl_context(), extra_headers=headers,
                              message_queue_size=1000)


_unread: dict[int, list[dict]] = {}
_read: dict[int, list[dict]] = {}


async def next_any(ws) -> dict:
    """The stream's next event (a message holds one or more, one JSON object per line; the rest wait)."""
    queue = _unread.setdefault(id(ws), [])
    while not queue:
        queue.extend(json.loads(line) for line in (await ws.get_message()).splitlines())
    _read.setdefault(id(ws), []).append(queue[0])
    return queue.pop(0)


async def next_event(ws, namespace: str, **fields) -> dict:
    """The next event of ``namespace`` with ``fields`` (others of that namespace are skipped)."""
    with trio.fail_after(15):
        while True:
            event = await next_any(ws)
            if event["namespace"] == namespace and all(event.get(k) == v for k, v in fields.items()):
                return event


async def test_refused_without_an_admin_session_or_with_an_unknown_type(net):
    with pytest.raises(ConnectionRejected) as info:
        async with stream(net, token=""):
            pass
    assert info.value.status_code == 401
    with pytest.raises(ConnectionRejected) as info:
        async with stream(net, "circuits"):
            pass
    assert info.value.status_code == 400 and b"circuits" in info.value.body


async def test_refused_for_a_non_admin(net):
    await net.create_identity("plain")
    identity = load_identity(net.identities["plain"].path)
    cert, key = net.home / "plain.cert", net.home / "plain.key"
    cert.write_text(identity.cert_pem)
    key.write_text(identity.key_pem)
    async with net.controller.client(cert=str(cert), key=str(key)) as device:
        login = await device.post("/edge/client/v1/authenticate?method=cert", json={})
        token = login.headers["zt-session"]
    with pytest.raises(ConnectionRejected) as info:
        async with stream(net, token=token):
            pass
    assert info.value.status_code == 401 and b"UNAUTHORIZED" in info.value.body  # as OpenZiti answers a non-admin


async def test_events_arrive_on_the_types_subscribed(net):
    async with stream(net, "entityChange,circuit,session,apiSession") as ws, stream(net, "router,link") as ws2:
        ident = await net.create_identity("alice")
        created = await next_event(ws, "entityChange", eventType="created", entityType="identities")
        assert created["finalState"]["id"] == ident.id
        await dial_once(net, "alice", "echo")
        # in the order they happen: alice's login, her Dial session, then its circuit
        await next_event(ws, "apiSession", event_type="created", identity_id=ident.id)
        dial = await next_event(ws, "session", event_type="created", identity_id=ident.id, session_type="Dial")
        up = await next_event(ws, "circuit", event_type="created")
        down = await next_event(ws, "circuit", event_type="deleted")
        assert up["client_id"] == dial["id"] and up["tags"]["clientId"] == ident.id
        assert down["circuit_id"] == up["circuit_id"]
        # the host's bind before the dial: a terminator created, through entityChange
        [terminator] = [e for e in _read[id(ws)] if e["namespace"] == "entityChange"
                        and e.get("entityType") == "terminators" and e["eventType"] == "created"]
        assert terminator["finalState"]["id"] == up["terminator_id"]
        assert terminator["finalState"]["router"] == net.routers[0].id

        er2 = await net.add_router("er2")
        await next_event(ws2, "router", event_type="router-online", router_id=er2.id)
        link = await next_event(ws2, "link", event_type="routerLinkNew")
        assert er2.id in (link["src_router_id"], link["dst_router_id"])
        er2.stop()
        # the link's end and the router's leave may come in either order
        seen = set()
        with trio.fail_after(15):
            while len(seen) < 2:
                event = await next_any(ws2)
                if event.get("router_id") == er2.id and event["event_type"] == "router-offline":
                    seen.add("router")
                if event.get("link_id") == link["link_id"] and event["event_type"] == "fault":
                    seen.add("link")
        # the first stream got none of the second's types, and vice versa
        while True:
            with trio.move_on_after(0.5) as quiet:
                event = await next_any(ws)
                assert event["namespace"] in ("entityChange", "circuit", "session", "apiSession")
            if quiet.cancelled_caught:
                break


async def test_a_client_sending_garbage_is_dropped_without_affecting_another(net):
    async with stream(net, "entityChange") as good, stream(net, "entityChange") as bad:
        await bad.send_message(b"\x00garbage" * 100)
        with pytest.raises(ConnectionClosed), trio.fail_after(10):
            while True:
                await bad.get_message()
        assert bad.closed.code == 1008
        ident = await net.create_identity("bob")
        event = await next_event(good, "entityChange", eventType="created", entityType="identities")
        assert event["finalState"]["id"] == ident.id
        assert len(net.controller.controller.events.subscriptions) == 1
