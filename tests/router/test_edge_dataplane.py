"""The router's data plane with bare edge clients: bind, dial, relay, close, revocation, circuits API."""

from __future__ import annotations

import os

import trio
from edge_client import (
    bind,
    credentials,
    dial_and_accept,
    edge_network,
    login,
    open_edge,
    service_session,
)

from ziti_aio.testing import wait_until
from ziti_aio.wire import edge
from ziti_aio.wire.content import EdgeContentType
from ziti_aio.wire.frame import VIEW_MIN_BODY_BYTES as FLOOR
from ziti_aio.wire.frame import Message
from ziti_aio.wire.headers import EdgeHeader, put_uint32


async def _pair(net, nursery, *, encrypted=False):  # type: ignore[no-untyped-def]
    service_id = await net.create_service("svc", encryption_required=encrypted)
    host_id, dialer_id = await net.create_identity("host"), await net.create_identity("dialer")
    await net.allow("host", "svc", "Bind")
    await net.allow("dialer", "svc", "Dial")
    host_creds, dialer_creds = credentials(host_id), credentials(dialer_id)
    host_token, dialer_token = await login(net, host_creds), await login(net, dialer_creds)
    router = net.routers[0]
    host = await open_edge(nursery, router, host_creds, host_token)
    dialer = await open_edge(nursery, router, dialer_creds, dialer_token)
    bound = await bind(host, 7, await service_session(net, host_token, service_id, "Bind"))
    assert bound.content_type == EdgeContentType.STATE_CONNECTED, bound.body
    dial_token = await service_session(net, dialer_token, service_id, "Dial")
    return service_id, host, dialer, dial_token


async def test_relay_frame_for_frame_with_fin_and_close(tmp_path):
    async with edge_network(tmp_path) as (net, nursery):
        service_id, host, dialer, dial_token = await _pair(net, nursery)
        [term] = [t for t in await net.get("terminators") if t["serviceId"] == service_id]
        assert term["routerId"] == net.routers[0].id and term["binding"] == "edge"

        to_dialer, to_host = await dial_and_accept(dialer, host, dial_token=dial_token, conn_id=3,
                                                   bind_conn_id=7, host_conn_id=40)
        assert to_dialer.content_type == to_host.content_type == EdgeContentType.STATE_CONNECTED
        [circuit] = await net.get("circuits")
        assert circuit["path"] == {"nodes": [net.routers[0].id], "links": []}
        assert circuit["service"]["id"] == service_id

        chunks = [bytes([i]) * (1000 + i) for i in range(20)]
        for chunk in chunks:
            await dialer.channel.send(edge.data(3, chunk))
        await dialer.channel.send(edge.fin(3))
        got = [edge.parse_data(await host.next()) for _ in range(21)]
        assert [d.payload for d in got[:20]] == chunks and {d.conn_id for d in got} == {40}
        assert got[20].is_fin and got[20].payload == b""

        await host.channel.send(edge.data(40, b"reply"))
        await host.channel.send(edge.state_closed(40))
        assert edge.parse_data(await dialer.next()).payload == b"reply"
        closed = edge.parse_state_closed(await dialer.next())
        assert closed.conn_id == 3 and closed.reason
        assert await net.get("circuits") == []


async def test_large_frames_of_one_read_are_relayed_byte_identical(tmp_path):
    """Data bodies of 32 KiB and more are relayed as views of the router's read, not copies: several
    frames in one write (so one read holds them at different offsets, around the size floor) must
    reach the host byte for byte, on its conn id, with Flags and UUID kept; a Data frame without a
    ConnId is still refused (the router closes that channel)."""
    async with edge_network(tmp_path) as (net, nursery):
        _, host, dialer, dial_token = await _pair(net, nursery)
        await dial_and_accept(dialer, host, dial_token=dial_token, conn_id=3, bind_conn_id=7, host_conn_id=40)
        sizes = [FLOOR - 1, FLOOR, FLOOR + 1, 64 * 1024, 100, 200 * 1024, 64 * 1024 + 17]
        bodies = [os.urandom(size) for size in sizes]
        sent = [edge.data(3, body, seq=i + 1) for i, body in enumerate(bodies)]
        sent[3].headers[EdgeHeader.UUID] = b"u" * 16
        sent[5].headers[EdgeHeader.FLAGS] = put_uint32(0x40)
        await dialer.channel.send_many(sent)
        got = [await host.next() for _ in sizes]
        assert [m.content_type for m in got] == [EdgeContentType.DATA] * len(sizes)
        assert [bytes(m.body) for m in got] == bodies
        assert {edge.parse_data(m).conn_id for m in got} == {40}
        assert got[3].headers[EdgeHeader.UUID] == b"u" * 16 and edge.parse_data(got[5]).flags == 0x40
        assert all(EdgeHeader.SEQ not in m.headers for m in got)

        no_conn_id = Message(EdgeContentType.DATA, body=os.urandom(64 * 1024))
        await dialer.channel.send(no_conn_id)
        with trio.fail_after(5):
            await dialer.channel.closed.wait()


async def test_deleting_a_circuit_closes_both_ends(tmp_path):
    async with edge_network(tmp_path) as (net, nursery):
        _, host, dialer, dial_token = await _pair(net, nursery)
        await dial_and_accept(dialer, host, dial_token=dial_token, conn_id=1, bind_conn_id=7, host_conn_id=2)
        [circuit] = await net.get("circuits")
        resp = await net.admin.delete(f"/edge/management/v1/circuits/{circuit['id']}")
        assert resp.status_code == 200, resp.text
        assert edge.parse_state_closed(await dialer.next()).conn_id == 1
        assert edge.parse_state_closed(await host.next()).conn_id == 2


async def test_revoked_api_session_closes_connections_and_refuses_hellos(tmp_path):
    async with edge_network(tmp_path) as (net, nursery):
        _, host, dialer, dial_token = await _pair(net, nursery)
        await dial_and_accept(dialer, host, dial_token=dial_token, conn_id=1, bind_conn_id=7, host_conn_id=2)
        api_session = next(a for a in await net.get("api-sessions") if a["identity"]["name"] == "dialer")
        resp = await net.admin.delete(f"/edge/management/v1/api-sessions/{api_session['id']}")
        assert resp.status_code == 200, resp.text
        assert edge.parse_state_closed(await dialer.next()).conn_id == 1
        assert edge.parse_state_closed(await host.next()).conn_id == 2
        with trio.fail_after(5):
            await dialer.channel.closed.wait()
        assert await net.get("circuits") == []
        creds = credentials(net.identities["dialer"])
        try:
            await open_edge(nursery, net.routers[0], creds, dialer.token)
        except Exception as exc:  # the router closes without answering the hello
            assert "closed" in str(exc) or "lost" in str(exc), exc
        else:
            raise AssertionError("a revoked API session's hello was accepted")


async def test_disabling_an_identity_cuts_its_live_connections(tmp_path):
    async with edge_network(tmp_path) as (net, nursery):
        _, host, dialer, dial_token = await _pair(net, nursery)
        await dial_and_accept(dialer, host, dial_token=dial_token, conn_id=1, bind_conn_id=7, host_conn_id=2)
        dialer_id = net.identities["dialer"].id
        resp = await net.admin.post(f"/edge/management/v1/identities/{dialer_id}/disable",
                                    json={"durationMinutes": 0})
        assert resp.status_code == 200, resp.text
        assert edge.parse_state_closed(await dialer.next()).conn_id == 1
        assert edge.parse_state_closed(await host.next()).conn_id == 2
        with trio.fail_after(5):
            await dialer.channel.closed.wait()
        assert await net.get("circuits") == []
        try:
            await login(net, credentials(net.identities["dialer"]))
        except Exception as exc:
            assert "401" in str(exc), exc
        else:
            raise AssertionError("a disabled identity logged in")


async def test_host_disconnect_removes_terminator(tmp_path):
    async with edge_network(tmp_path) as (net, nursery):
        service_id, host, _, _ = await _pair(net, nursery)
        await host.channel.aclose()

        async def gone() -> bool:
            return not any(t["serviceId"] == service_id for t in await net.get("terminators"))

        await wait_until(gone, 5, what="the host's terminator to go")

