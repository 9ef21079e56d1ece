"""Hostile input at the edge listener and the control listener: the one connection is closed,
the router, its other SDKs and circuits carry on, and a transfer still works afterwards."""

from __future__ import annotations

import ssl
import struct

import trio
from edge_client import (
    bind,
    credentials,
    dial_and_accept,
    edge_network,
    login,
    open_edge,
    service_session,
    tls_to,
)

from ziti_aio.pki.ca import CertAuthority
from ziti_aio.pki.files import save_leaf
from ziti_aio.transport import alpn
from ziti_aio.transport.tls import client_context, open_tls
from ziti_aio.wire import edge
from ziti_aio.wire.channel import hello
from ziti_aio.wire.content import EdgeContentType
from ziti_aio.wire.frame import MAGIC, Message, encode

TLS_ALERT = 0x15


def _only_tls_alerts(data: bytes) -> bool:
    """True if ``data`` is whole TLS alert records (what OpenSSL answers a broken handshake with)."""
    while data:
        if len(data) < 5 or data[0] != TLS_ALERT or len(data) < 5 + int.from_bytes(data[3:5], "big"):
            return False
        data = data[5 + int.from_bytes(data[3:5], "big"):]
    return True


async def _closed_without_reply(stream) -> bool:  # type: ignore[no-untyped-def]
    """True if the peer closes (or breaks) the stream sending nothing but a TLS alert."""
    received = b""
    with trio.fail_after(10):
        try:
            while chunk := await stream.receive_some(65536):
                received += chunk
        except trio.BrokenResourceError:
            pass
    return _only_tls_alerts(received)


async def _assert_transfer_works(net, nursery, tag: int) -> None:  # type: ignore[no-untyped-def]
    """A new service (so its only terminator is this host's), bound, dialed and carrying data."""
    service_id = await net.create_service(f"fresh-{tag}", encryption_required=False)
    await net.allow("host", f"fresh-{tag}", "Bind")
    await net.allow("dialer", f"fresh-{tag}", "Dial")
    host_creds = credentials(net.identities["host"])
    dialer_creds = credentials(net.identities["dialer"])
    host_token, dialer_token = await login(net, host_creds), await login(net, dialer_creds)
    host = await open_edge(nursery, net.routers[0], host_creds, host_token)
    dialer = await open_edge(nursery, net.routers[0], dialer_creds, dialer_token)
    bound = await bind(host, 100 + tag, await service_session(net, host_token, service_id, "Bind"))
    assert bound.content_type == EdgeContentType.STATE_CONNECTED
    dial_token = await service_session(net, dialer_token, service_id, "Dial")
    await dial_and_accept(dialer, host, dial_token=dial_token, conn_id=tag, bind_conn_id=100 + tag,
                          host_conn_id=200 + tag)
    await dialer.channel.send(edge.data(tag, b"still alive"))
    assert edge.parse_data(await host.next()).payload == b"still alive"


async def _setup(net) -> str:  # type: ignore[no-untyped-def]
    service_id = await net.create_service("svc", encryption_required=False)
    await net.create_identity("host")
    await net.create_identity("dialer")
    await net.create_identity("other")
    await net.allow("host", "svc", "Bind")
    await net.allow("dialer", "svc", "Dial")
    return service_id


async def test_edge_listener_survives_hostile_clients(tmp_path):
    async with edge_network(tmp_path, timeout_s=120) as (net, nursery):
        service_id = await _setup(net)
        router = net.routers[0]
        dialer_creds, other_creds = credentials(net.identities["dialer"]), credentials(net.identities["other"])
        dialer_token = await login(net, dialer_creds)

        # A live circuit that must survive everything below.
        host_creds = credentials(net.identities["host"])
        host_token = await login(net, host_creds)
        host = await open_edge(nursery, router, host_creds, host_token)
        dialer = await open_edge(nursery, router, dialer_creds, dialer_token)
        await bind(host, 1, await service_session(net, host_token, service_id, "Bind"))
        await dial_and_accept(dialer, host, dial_token=await service_session(net, dialer_token, service_id, "Dial"),
                              conn_id=1, bind_conn_id=1, host_conn_id=2)

        # Garbage instead of TLS.
        tcp = await trio.open_tcp_stream(router.info.edge_host, router.info.edge_port)
        await tcp.send_all(b"GET / HTTP/1.0\r\n\r\n" + bytes(range(256)))
        assert await _closed_without_reply(tcp)

        # TLS without a client certificate, and with one from a foreign CA.
        try:
            stream = await tls_to(router, None)
        except Exception:
            pass
        else:
            assert await _closed_without_reply(stream)
        foreign = CertAuthority.create_root("foreign", trust_domain="foreign")
        cert, key = foreign.issue_client("intruder")
        save_leaf(tmp_path / "foreign", "ca", "intruder", cert, key, foreign.certs)
        ctx = client_context(cert_chain=str(tmp_path / "foreign/ca/certs/intruder.chain.pem"),
                             key=str(tmp_path / "foreign/ca/keys/intruder.key"))
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        try:
            stream = await open_tls(router.info.edge_host, router.info.edge_port, ctx)
        except Exception:
            pass
        else:
            await stream.send_all(encode(hello(dialer_token, "intruder")))
            assert await _closed_without_reply(stream)

        # Valid TLS, then: bad magic; an absurd header length; an absurd body length.
        for frame in (b"\x00" * 64, struct.pack("<4siiII", MAGIC, 0, 0, 2**31, 0),
                      struct.pack("<4siiII", MAGIC, 0, 0, 0, 2**31)):
            stream = await tls_to(router, dialer_creds)
            await stream.send_all(frame)
            assert await _closed_without_reply(stream)

        # A foreign token (another identity's, on this certificate) and garbage tokens.
        other_token = await login(net, other_creds)
        for token in (other_token, "not-a-jwt", dialer_token[:-4] + "AAAA"):
            stream = await tls_to(router, dialer_creds)
            await stream.send_all(encode(hello(token, "thief")))
            assert await _closed_without_reply(stream)

        # An accepted channel that then sends an unknown content type is closed.
        rogue = await open_edge(nursery, router, dialer_creds, dialer_token)
        await rogue.channel.send(Message(12345, body=b"?"))
        with trio.fail_after(5):
            await rogue.channel.closed.wait()

        # Data for an unknown conn id gets a StateClosed; a Connect with a Bind token is refused.
        prober = await open_edge(nursery, router, dialer_creds, dialer_token)
        await prober.channel.send(edge.data(999, b"who?"))
        closed = edge.parse_state_closed(await prober.next())
        assert closed.conn_id == 999 and closed.reason
        bind_token = await service_session(net, host_token, service_id, "Bind")
        refused = await prober.channel.request(edge.connect(5, bind_token, "dialer"))
        assert refused.content_type == EdgeContentType.STATE_CLOSED and refused.body

        # The first circuit still carries data, and a new one can be set up.
        await dialer.channel.send(edge.data(1, b"after the storm"))
        assert edge.parse_data(await host.next()).payload == b"after the storm"
        await _assert_transfer_works(net, nursery, tag=9)


async def test_ctrl_listener_refuses_identities_and_garbage(tmp_path):
    async with edge_network(tmp_path) as (net, nursery):
        await _setup(net)
        host, port = "127.0.0.1", net.controller.info.ctrl_port
        tcp = await trio.open_tcp_stream(host, port)
        await tcp.send_all(b"\x16\x03\x01garbage" * 100)
        assert await _closed_without_reply(tcp)
        creds = credentials(net.identities["other"])
        # the control channel shares the API port: a client asks for it by its ALPN name
        stream = await open_tls(host, port, client_context(ca=str(creds.ca), cert_chain=str(creds.cert),
                                                           key=str(creds.key), alpn=[alpn.CTRL]))
        assert stream.selected_alpn_protocol() == alpn.CTRL
        await stream.send_all(encode(Message(0, body=b'{"v":1}')))
        assert await _closed_without_reply(stream)
        # without a client certificate (the API port only requests one) the hello is never answered either
        stream = await open_tls(host, port, client_context(ca=str(creds.ca), alpn=[alpn.CTRL]))
        await stream.send_all(encode(Message(0, body=b'{"v":1}')))
        assert await _closed_without_reply(stream)
        [router] = await net.get("edge-routers")
        assert router["isOnline"] is True
        await _assert_transfer_works(net, nursery, tag=3)
