"""A bare edge client for router tests: real TLS, real hello, edge messages built by ``wire.edge``."""

from __future__ import annotations

import json
import ssl
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import trio

from ziti_aio.common.api_paths import CLIENT
from ziti_aio.testing.network import Identity, RunningNetwork, RunningRouter, open_network
from ziti_aio.transport.channel import Channel, connect_channel
from ziti_aio.transport.tls import client_context, open_tls
from ziti_aio.wire import edge
from ziti_aio.wire.channel import hello
from ziti_aio.wire.frame import Message

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from ziti_aio.transport.tls_stream import TlsStream


@dataclass
class Credentials:
    cert: Path
    key: Path
    ca: Path


def credentials(identity: Identity) -> Credentials:
    data = json.loads(identity.path.read_text())["id"]
    base = identity.path.with_suffix("")
    paths = Credentials(Path(f"{base}.cert.pem"), Path(f"{base}.key.pem"), Path(f"{base}.ca.pem"))
    paths.cert.write_text(data["cert"])
    paths.key.write_text(data["key"])
    paths.ca.write_text(data["ca"])
    return paths


async def login(net: RunningNetwork, creds: Credentials) -> str:
    """An API-session token from a cert login."""
    ctx = ssl.create_default_context(cafile=str(creds.ca))
    ctx.load_cert_chain(str(creds.cert), str(creds.key))
    async with httpx.AsyncClient(base_url=net.controller.url, verify=ctx) as client:
        resp = await client.post(f"{CLIENT}/authenticate?method=cert", json={})
    resp.raise_for_status()
    return resp.json()["data"]["token"]


async def service_session(net: RunningNetwork, token: str, service_id: str, session_type: str) -> str:
    async with net.controller.client(token=token) as client:
        resp = await client.post(f"{CLIENT}/sessions", json={"serviceId": service_id, "type": session_type})
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]["token"]


class EdgeClient:
    """One SDK channel to a router; unsolicited messages land in :attr:`inbox`."""

    def __init__(self, channel: Channel, token: str) -> None:
        self.channel = channel
        self.token = token
        self.inbox_send, self.inbox = trio.open_memory_channel[Message](4096)

    async def handler(self, msg: Message) -> None:
        await self.inbox_send.send(msg)

    async def next(self, timeout_s: float = 5.0) -> Message:
        with trio.fail_after(timeout_s):
            return await self.inbox.receive()


async def tls_to(router: RunningRouter, creds: Credentials | None) -> TlsStream:
    ctx = client_context(ca=str(creds.ca) if creds else None, cert_chain=str(creds.cert) if creds else None,
                         key=str(creds.key) if creds else None)
    if creds is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return await open_tls(router.info.edge_host, router.info.edge_port, ctx)


async def open_edge(nursery: trio.Nursery, router: RunningRouter, creds: Credentials, token: str) -> EdgeClient:
    """TLS with the identity's certificate, hello with ``token``, reader running in ``nursery``."""
    stream = await tls_to(router, creds)
    channel, _ = await connect_channel(stream, hello(token, "test-sdk"), name="test-sdk", timeout_s=5)
    client = EdgeClient(channel, token)
    nursery.start_soon(channel.run, client.handler)
    return client


async def bind(client: EdgeClient, conn_id: int, session_token: str) -> Message:
    return await client.channel.request(edge.bind(conn_id, session_token, "host"), timeout_s=10)


async def dial_and_accept(dialer: EdgeClient, host: EdgeClient, *, dial_token: str, conn_id: int,
                          bind_conn_id: int, host_conn_id: int) -> tuple[Message, Message]:
    """Connect from ``dialer``; answer the router's Dial on ``host``; return both StateConnected."""
    async with trio.open_nursery() as nursery:
        result: dict[str, Message] = {}

        async def connect() -> None:
            result["dialer"] = await dialer.channel.request(edge.connect(conn_id, dial_token, "dialer"), timeout_s=10)

        nursery.start_soon(connect)
        dial = await host.next()
        parsed = edge.parse_dial(dial)
        assert parsed.conn_id == bind_conn_id
        result["host"] = await host.channel.request(edge.dial_success(bind_conn_id, dial.sequence, host_conn_id))
    return result["dialer"], result["host"]


@asynccontextmanager
async def edge_network(home: Path, timeout_s: float = 60) -> AsyncIterator[tuple[RunningNetwork, trio.Nursery]]:
    """A one-router network and a nursery for edge clients' readers, all stopped on exit."""
    with trio.fail_after(timeout_s):
        async with open_network(home) as net, trio.open_nursery() as nursery:
            try:
                yield net, nursery
            finally:
                nursery.cancel_scope.cancel()
