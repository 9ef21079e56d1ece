"""Which member of a cluster of controller processes (``ziti_aio.testing.cluster_processes``) leads, as the
members that answer name it."""

from __future__ import annotations

import httpx


async def leaders(clients: dict[str, httpx.AsyncClient]) -> set[str]:
    """The leader each member that answers names."""
    seen = set()
    for client in clients.values():
        try:
            resp = await client.get("/fabric/v1/cluster/list-members")
        except httpx.HTTPError:
            continue
        if resp.status_code == 200:
            seen |= {row["id"] for row in resp.json()["data"] if row["leader"]}
    return seen


async def one_leader(clients: dict[str, httpx.AsyncClient]) -> str | None:
    """The leader's id once every member that answers names the same one."""
    seen = await leaders(clients)
    return next(iter(seen)) if len(seen) == 1 else None
