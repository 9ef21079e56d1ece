"""An HTTP writer that follows the leader of controller processes (``ziti_aio.testing.cluster_processes``:
three forming a cluster, or one without a cluster table, the baseline).

The writer creates config types over the management API and records every acknowledged create. It sends
to the member it last found writable; on an error or a 503 it tries the next member at once (a follower
forwards to the leader, so any live member will do once a leader is elected).
"""

from __future__ import annotations

import time

import httpx
import trio

from ziti_aio.testing.cluster_processes import MANAGEMENT, ControllerProcess, admin_clients
from ziti_aio.testing.waiting import wait_until

RETRY_PAUSE_S = 0.002


class HttpWriters:
    """``concurrency`` tasks creating config types as fast as they can; ``acks`` holds (sent, acknowledged)
    monotonic times of every acknowledged create."""

    def __init__(self, members: list[ControllerProcess], concurrency: int) -> None:
        self.members = members
        self.concurrency = concurrency
        self.clients: dict[str, httpx.AsyncClient] = {}
        self.target = 0
        self.counter = 0
        self.acks: list[tuple[float, float]] = []

    async def login(self) -> None:
        """A client per member (``concurrency`` connections each) sharing one admin API session."""
        self.clients = await admin_clients(self.members, connections=self.concurrency)

    async def leader(self) -> ControllerProcess:
        """The member every live member names as leader (the only one for a single controller)."""
        if len(self.members) == 1:
            return self.members[0]

        async def agreed() -> ControllerProcess | None:
            named = set()
            for m in self.members:
                if not m.running:
                    continue
                try:
                    resp = await self.clients[m.ident].get("/fabric/v1/cluster/list-members")
                except httpx.HTTPError:
                    return None
                if resp.status_code != 200:
                    return None
                named |= {row["id"] for row in resp.json()["data"] if row["leader"]}
            return next((m for m in self.members if {m.ident} == named), None)

        return await wait_until(agreed, 30, what="one leader named by every member")

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            for _ in range(self.concurrency):
                nursery.start_soon(self._write_forever)

    async def _write_forever(self) -> None:
        while True:
            self.counter += 1
            target = self.target
            member = self.members[target % len(self.members)]
            sent = time.monotonic()
            try:
                resp = await self.clients[member.ident].post(f"{MANAGEMENT}/config-types",
                                                             json={"name": f"w-{self.counter}", "schema": {}})
            except httpx.HTTPError:
                resp = None
            if resp is not None and resp.status_code == 201:
                self.acks.append((sent, time.monotonic()))
                continue
            if resp is not None and resp.status_code != 503:
                raise RuntimeError(f"a write was answered {resp.status_code}: {resp.text}")
            if self.target == target:  # not yet moved on by another writer: the next member
                self.target += 1
            await trio.sleep(RETRY_PAUSE_S)

    def first_ack_sent_after(self, moment: float) -> float | None:
        """When the first write sent after ``moment`` was acknowledged."""
        return min((acked for sent, acked in self.acks if sent >= moment), default=None)

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()
