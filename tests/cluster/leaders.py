"""Which member of a cluster leads: of controller processes (``ziti_aio.testing.cluster_processes``), as the
members that answer name it, or of in-process controllers, with an admin logged in on it."""

from __future__ import annotations

import httpx

from ziti_aio.sdk.management import ManagementError
from ziti_aio.testing.cluster import leading
from ziti_aio.testing.waiting import wait_until


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


async def leader_login(cluster):
    """The leader of in-process ``cluster`` and an admin client logged in on it (an election under load is
    waited out)."""

    async def attempt():
        leader = leading(cluster)
        if leader is None:
            return None
        try:
            return leader, await leader.login()
        except ManagementError as exc:
            if exc.api_code != "CLUSTER_HAS_NO_LEADER":
                raise
            return None

    return await wait_until(attempt, 20, what="a login on the leader")
