"""Three linked routers, a dialer that may only use er1 and a host that may only use er3."""

from __future__ import annotations

import hashlib
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import trio

from ziti_aio.testing import wait_until
from ziti_aio.testing.controller import create
from ziti_aio.testing.network import RunningNetwork, open_network

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

MIB = 1024 * 1024


async def wait_links(net: RunningNetwork, count: int, *, timeout_s: float = 15.0) -> list[dict]:
    """Wait until the management API lists ``count`` links (links come up on their own)."""

    async def listed() -> list[dict] | None:
        found = await net.get("links")
        return found if len(found) == count else None

    return await wait_until(listed, timeout_s, what=f"{count} links")


def link_between(links: list[dict], a: str, b: str) -> dict:
    [found] = [lk for lk in links if {lk["sourceRouter"]["id"], lk["destRouter"]["id"]} == {a, b}]
    return found


async def set_link(net: RunningNetwork, link_id: str, **fields: object) -> dict:
    resp = await net.admin.patch(f"/edge/management/v1/links/{link_id}", json=fields)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


@asynccontextmanager
async def three_routers(tmp_path, *, encrypted: bool = True) -> AsyncIterator[RunningNetwork]:
    """er1 (ingress only), er2 (transit), er3 (egress only), full mesh; service ``svc``."""
    async with open_network(tmp_path, routers=0) as net:
        await net.add_router("er1", attributes=("ingress",))
        await net.add_router("er2", attributes=())
        await net.add_router("er3", attributes=("egress",))
        await create(net.admin, "edge-router-policies", {"name": "dialers-er1", "identityRoles": ["#dialers"],
                                                         "edgeRouterRoles": ["#ingress"]})
        await create(net.admin, "edge-router-policies", {"name": "hosts-er3", "identityRoles": ["#hosts"],
                                                         "edgeRouterRoles": ["#egress"]})
        await net.create_service("svc", encryption_required=encrypted)
        await net.create_identity("host", attributes=("hosts",))
        await net.create_identity("dialer", attributes=("dialers",))
        await net.allow("host", "svc", "Bind")
        await net.allow("dialer", "svc", "Dial")
        await wait_links(net, 3)
        yield net


async def accept_one(listener, task_status=trio.TASK_STATUS_IGNORED):  # type: ignore[no-untyped-def]
    task_status.started()
    return await listener.accept()


async def sink(stream, *, chunk_delay_s: float = 0.0) -> tuple[int, bytes]:  # type: ignore[no-untyped-def]
    """Read to EOF (optionally slowly); answer with the SHA-256 of what came; return (bytes, digest)."""
    digest, total = hashlib.sha256(), 0
    async with stream:
        while data := await stream.receive_some():
            digest.update(data)
            total += len(data)
            if chunk_delay_s:
                await trio.sleep(chunk_delay_s)
        await stream.send_all(digest.digest())
        await stream.send_eof()
    return total, digest.digest()
