"""Hostile input at a router's link listener and control channel: the one connection is refused
or closed, while a transfer across the mesh carries on untouched."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import ssl
from typing import TYPE_CHECKING

import pytest
import trio
from cryptography import x509
from mesh_net import MIB, link_between, sink, three_routers, wait_links

from ziti_aio.common.errors import ChannelClosed, ChannelError
from ziti_aio.pki.ca import CertAuthority
from ziti_aio.pki.files import save_leaf
from ziti_aio.router.ctrl import parse_address
from ziti_aio.router.fabric.links import router_spiffe_id
from ziti_aio.sdk import open_context
from ziti_aio.transport import alpn
from ziti_aio.transport.channel import Channel, connect_channel
from ziti_aio.transport.tls import client_context, open_tls
from ziti_aio.wire import ctrl
from ziti_aio.wire import link as wire
from ziti_aio.wire.ctrl import CtrlType
from ziti_aio.wire.frame import Message
from ziti_aio.wire.link import LinkHeader, LinkType

if TYPE_CHECKING:
    from ziti_aio.testing.network import RunningNetwork, RunningRouter

TIMEOUT_S = 10


def router_context(net: RunningNetwork, name: str, protocol: str = alpn.LINK) -> ssl.SSLContext:
    """A client context presenting router ``name``'s enrollment certificate, asking for ``protocol``
    (links share the edge port, the control channel the API port)."""
    home = net.home / "routers" / name
    ctx = client_context(ca=str(home / "ca.pem"), cert_chain=str(home / "cert.pem"), key=str(home / "key.pem"),
                         alpn=[protocol])
    ctx.check_hostname = False
    return ctx


async def link_hello(ctx: ssl.SSLContext, to: RunningRouter, router_id: str, link_id: str) -> Channel:
    host, port = parse_address(to.info.link_address)
    stream = await open_tls(host, port, ctx)
    channel, reply = await connect_channel(stream, wire.hello(router_id, link_id), timeout_s=TIMEOUT_S)
    assert wire.parse_hello_reply(reply) == to.id
    return channel


async def refused(ctx: ssl.SSLContext, to: RunningRouter, router_id: str) -> None:
    """The hello is never answered: TLS or the listener closes the connection."""
    with trio.fail_after(TIMEOUT_S), pytest.raises(ChannelClosed):
        await link_hello(ctx, to, router_id, "hostile")


async def closed_by_peer(channel: Channel) -> None:
    async def ignore(msg: Message) -> None:
        pass

    with trio.fail_after(TIMEOUT_S):
        await channel.run(ignore)


def foreign_router_context(net: RunningNetwork, tmp_path, impersonated: str) -> ssl.SSLContext:  # type: ignore[no-untyped-def]
    """Another network's CA, same trust domain, issuing a router certificate for ``impersonated``'s id."""
    own = router_spiffe_id(x509.load_pem_x509_certificate((net.home / "routers/er1/cert.pem").read_bytes()))
    assert own is not None
    foreign = CertAuthority.create_root("foreign", trust_domain=own.split("/")[2])
    cert, key = foreign.issue_client("er2", spiffe_id=f"router/{impersonated}")
    save_leaf(tmp_path / "foreign", "ca", "er2", cert, key, foreign.certs)
    ctx = client_context(cert_chain=str(tmp_path / "foreign/ca/certs/er2.chain.pem"),
                         key=str(tmp_path / "foreign/ca/keys/er2.key"), alpn=[alpn.LINK])
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    return ctx


def identity_context(net: RunningNetwork, tmp_path, name: str) -> ssl.SSLContext:  # type: ignore[no-untyped-def]
    """A client context presenting identity ``name``'s certificate (valid in this network)."""
    ident = json.loads(net.identities[name].path.read_text())["id"]
    for part in ("cert", "key", "ca"):
        (tmp_path / f"{name}.{part}").write_text(ident[part])
    ctx = client_context(ca=str(tmp_path / f"{name}.ca"), cert_chain=str(tmp_path / f"{name}.cert"),
                         key=str(tmp_path / f"{name}.key"), alpn=[alpn.LINK])
    ctx.check_hostname = False
    return ctx


MALFORMED = [
    b"\x00\x01garbage that is no frame at all" * 4,
    Message(29999, body=b"unknown content type"),
    Message(LinkType.PAYLOAD, headers={LinkHeader.SEQUENCE: b"\x00" * 8}, body=b"no circuit id"),
    Message(LinkType.ACK, headers={LinkHeader.CIRCUIT_ID: b"c1", LinkHeader.ORIGIN: b"\x07"}),
    Message(LinkType.PROBE, body=b"no probe time"),
]


async def test_hostile_link_peers_are_refused_or_closed_while_a_transfer_goes_on(tmp_path):
    async with three_routers(tmp_path) as net:
        er1, er2, er3 = net.routers
        direct = link_between(await net.get("links"), er1.id, er3.id)["id"]
        hostile = [
            lambda: refused(foreign_router_context(net, tmp_path, er2.id), er1, er2.id),
            lambda: refused(identity_context(net, tmp_path, "dialer"), er1, er2.id),
            lambda: refused(router_context(net, "er2"), er1, er3.id),  # er2's certificate claiming er3's id
        ]
        for n, bad in enumerate(MALFORMED):
            async def malformed(n: int = n, bad: bytes | Message = bad) -> None:
                # a genuine er2 hello with a link id below any real one, so er1 takes it as its er2 link
                channel = await link_hello(router_context(net, "er2"), er1, er2.id, f"-hostile-{n}")
                if isinstance(bad, bytes):
                    await channel.stream.send_all(bad)
                else:
                    await channel.send(bad)
                await closed_by_peer(channel)
            hostile.append(malformed)

        payload = os.urandom(len(hostile) * MIB)
        async with open_context(net.identities["host"].path) as host, \
                open_context(net.identities["dialer"].path) as dialer:
            listener = await host.bind("svc")
            async with trio.open_nursery() as nursery:
                nursery.start_soon(lambda: sink_one(listener))
                with trio.fail_after(120):
                    async with await dialer.dial("svc") as stream:
                        [circuit] = await net.get("circuits")
                        assert circuit["path"]["links"] == [direct]
                        for n, action in enumerate(hostile):
                            await stream.send_all(payload[n * MIB:(n + 1) * MIB])
                            await action()
                        await stream.send_eof()
                        answer = b""
                        while data := await stream.receive_some():
                            answer += data
        assert answer == hashlib.sha256(payload).digest()
        assert er1.router.parts.links.get(direct) is not None
        await wait_links(net, 3)


async def sink_one(listener) -> None:  # type: ignore[no-untyped-def]
    await sink(await listener.accept())


async def test_route_for_an_unknown_circuit_is_ignored_and_logged(tmp_path, caplog):
    async with three_routers(tmp_path) as net:
        er1 = net.routers[0]
        link_id = next(iter(er1.router.parts.links.links))
        channel = net.controller.controller.network.routers.get(er1.id).channel
        caplog.set_level(logging.WARNING, logger="ziti_aio.router.handlers.routes")
        with trio.fail_after(TIMEOUT_S):
            answer = ctrl.parse(await channel.request(ctrl.message(
                CtrlType.ROUTE, circuitId="no-such-circuit", initiatorLink="", terminatorLink=link_id)))
        assert answer["ok"] is False and answer["code"] == "UNKNOWN_CIRCUIT"
        assert "no-such-circuit" not in er1.router.parts.forwarder.routes
        assert any("unknown circuit no-such-circuit" in r.getMessage() for r in caplog.records)
        # the router carries on: its control channel is the same one
        assert net.controller.controller.network.routers.get(er1.id).channel is channel


async def test_router_lying_about_its_links_is_disconnected(tmp_path):
    async with three_routers(tmp_path) as net:
        er1, er2, er3 = net.routers
        host, port = parse_address(er2.router.parts.ctrl.home.ctrl_address)
        stream = await open_tls(host, port, router_context(net, "er2", alpn.CTRL))
        channel, _ = await connect_channel(stream, ctrl.hello(edgeAddress="", linkAddress=""), timeout_s=TIMEOUT_S)
        # er2's certificate reports a link between er1 and er3: a lie about who it is
        await channel.send(ctrl.message(CtrlType.LINK_UP, id="lie", src=er1.id, dst=er3.id))
        await closed_by_peer(channel)
        assert all(link["id"] != "lie" for link in await net.get("links"))
        with pytest.raises(ChannelError):
            await channel.send(ctrl.message(CtrlType.LINK_METRICS, links=[]))
        await wait_links(net, 3)
