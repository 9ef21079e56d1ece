"""A writer for the fault tests and a history check of its register (docs/ha.md, "Fault tests").

The writer creates config types with unique names on whichever member leads (recording every
acknowledged create) and keeps raising one register, the config type's ``tags.n``, to the writer's
operation counter, so the register's values only grow and each names the write that made it. After
every acknowledged update it reads the register back on the member that acknowledged it. A reader
reads the register on every member meanwhile.

The check (a linearizability check for one register: porcupine-style histories reduced to what a
growing register needs; the members answer reads linearizably, docs/ha.md "Linearizable reads"),
for every read on every member:

- it returns a value that some write set (no invented or corrupted value; acknowledged or not: a write
  that timed out may still have committed);
- not older than the last update acknowledged before the read began;
- not a value whose write began after the read ended;
- and reads that do not overlap never go backwards: one that began after another ended returns a value
  no smaller (the register's values only grow).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
import trio

from ziti_aio.testing.cluster_processes import MANAGEMENT
from ziti_aio.testing.waiting import wait_until

from .leaders import one_leader

if TYPE_CHECKING:
    from ziti_aio.testing.cluster_processes import ControllerProcess as Member


@dataclass
class Read:
    start: float
    end: float
    value: int
    member: str
    own: bool
    """Read on the member that had just acknowledged the client's update (the rules are the same)."""


@dataclass
class RegisterHistory:
    """Updates sent (``attempted``: value → when its write began; acknowledged or not, a write that timed
    out may still commit), updates acknowledged with their time, and reads."""

    attempted: dict[int, float] = field(default_factory=lambda: {0: -math.inf})  # 0: the register as created
    acked: list[tuple[float, int]] = field(default_factory=list)
    reads: list[Read] = field(default_factory=list)

    def last_acked_before(self, moment: float) -> int:
        return max((v for t, v in self.acked if t < moment), default=0)

    def violations(self) -> list[str]:
        """What breaks the rules above (empty when the history is fine)."""
        out = []
        for r in self.reads:
            if r.value not in self.attempted:
                out.append(f"{r.member} read {r.value}, which no one wrote")
            elif r.value < (floor := self.last_acked_before(r.start)):
                out.append(f"{r.member} read {r.value} after {floor} was acknowledged")
            elif self.attempted[r.value] > r.end:
                out.append(f"{r.member} read {r.value} before its write began")
        # Reads by start; the largest value of the reads that ended before each one began.
        ended = sorted(self.reads, key=lambda r: r.end)
        seen, highest = 0, None
        for r in sorted(self.reads, key=lambda r: r.start):
            while seen < len(ended) and ended[seen].end < r.start:
                if highest is None or ended[seen].value > highest.value:
                    highest = ended[seen]
                seen += 1
            if highest is not None and r.value < highest.value:
                out.append(f"{r.member} read {r.value} after {highest.member} had read {highest.value}")
        return out


class Writer:
    """Writes and reads as fast as it can through ``clients`` (one per member, one admin session)."""

    def __init__(self, members: list[Member], clients: dict[str, httpx.AsyncClient]) -> None:
        self.members = members
        self.clients = clients
        self.acked: list[tuple[float, str]] = []
        self.target = 0
        self.counter = 0
        self.register: str | None = None  # a config type whose tags.n the writer keeps raising
        self.history = RegisterHistory()

    @property
    def register_acked(self) -> int:
        return self.history.last_acked_before(float("inf"))

    async def write_forever(self) -> None:
        while True:
            self.counter += 1
            name = f"w-{self.counter}"
            member = self.members[self.target % len(self.members)]
            client = self.clients[member.ident]
            update = self.register is not None and self.counter % 2 == 0
            try:
                if update:
                    self.history.attempted[self.counter] = time.monotonic()
                    resp = await client.patch(f"{MANAGEMENT}/config-types/{self.register}",
                                              json={"tags": {"n": self.counter}})
                else:
                    resp = await client.post(f"{MANAGEMENT}/config-types", json={"name": name, "schema": {}})
            except httpx.HTTPError:
                resp = None
            if resp is not None and resp.status_code in (200, 201):
                if update:
                    self.history.acked.append((time.monotonic(), self.counter))
                    await self._read(member, own=True)
                else:
                    self.acked.append((time.monotonic(), name))
                    self.register = self.register or resp.json()["data"]["id"]
                continue
            assert resp is None or resp.status_code == 503, resp.text
            self.target += 1  # not the leader (or gone): try the next one
            await trio.sleep(0.01)

    async def read_forever(self) -> None:
        """Read the register on each member in turn."""
        while True:
            for member in self.members:
                if self.register is not None:
                    await self._read(member, own=False)
                await trio.sleep(0.02)

    async def _read(self, member: Member, *, own: bool) -> None:
        start = time.monotonic()
        try:
            resp = await self.clients[member.ident].get(f"{MANAGEMENT}/config-types/{self.register}")
        except httpx.HTTPError:
            return
        if resp.status_code == 200:
            value = int(resp.json()["data"]["tags"].get("n", 0))
            self.history.reads.append(Read(start, time.monotonic(), value, member.ident, own))

    def names(self) -> set[str]:
        return {n for _, n in self.acked}

    def first_ack_after(self, moment: float) -> float | None:
        return next((t for t, _ in self.acked if t > moment), None)

    async def register_values(self) -> set[int] | None:
        """The register's value on every member, once they all read the same one."""
        seen = set()
        for m in self.members:
            resp = await self.clients[m.ident].get(f"{MANAGEMENT}/config-types/{self.register}")
            if resp.status_code != 200:
                return None
            seen.add(resp.json()["data"]["tags"].get("n", 0))
        return seen if len(seen) == 1 else None

    async def count(self, member: Member, at_least: int) -> bool:
        resp = await self.clients[member.ident].get(f"{MANAGEMENT}/config-types",
                                                     params={"limit": 1, "filter": 'name contains "w-"'})
        return resp.status_code == 200 and resp.json()["meta"]["pagination"]["totalCount"] >= at_least



async def settle(writer: Writer) -> set[str]:
    """After the writer stopped: the members agree on one leader and one register value, no older than the
    last acknowledged update; the register's history passes the check; every member has every
    acknowledged create. Returns the acknowledged creates' names."""
    await wait_until(lambda: one_leader(writer.clients), 30, what="one leader named by all")
    [value] = await wait_until(writer.register_values, 30, what="one register value on every member")
    assert writer.register_acked > 0, "no update was acknowledged"
    assert writer.register_acked <= value and value in writer.history.attempted, "an acknowledged update was lost"
    bad = writer.history.violations()
    assert not bad, f"{len(bad)} of {len(writer.history.reads)} reads break the register's history, e.g. {bad[:3]}"
    assert any(r.own for r in writer.history.reads) and any(not r.own for r in writer.history.reads)
    expected = writer.names()
    for m in writer.members:
        await wait_until(lambda m=m: writer.count(m, len(expected)), 30, what=f"{m.ident} caught up")
    return expected


def check_stores(members: list[Member], expected: set[str]) -> None:
    """Once the members stopped cleanly, each store holds every acknowledged create."""
    for m in members:
        missing = expected - m.stored_names()
        assert not missing, f"{m.ident} lost {len(missing)} acknowledged writes, e.g. {sorted(missing)[:5]}"
