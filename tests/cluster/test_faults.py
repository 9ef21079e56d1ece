"""Faults with real processes: three ``ziti-aio run --config`` controllers forming a cluster, a client
writing as fast as it can (unique creates, and updates of one register) and recording every
acknowledged write, then ``kill -9`` of the leader, of a follower, or of two members (nothing may be
acknowledged until one comes back), or ``SIGSTOP`` of the leader past the election timeout and
``SIGCONT``. Afterwards every acknowledged write is on every member, every
member reads the same register value, no older than the last acknowledged update, and the members
agree on one leader."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import httpx
import pytest
import trio

from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.pki_home import ensure_controller_pki, share_cluster_pki
from ziti_aio.controller.store.sqlite_store import SqliteStore
from ziti_aio.testing.cluster import free_port
from ziti_aio.testing.waiting import wait_until

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

pytestmark = pytest.mark.slow

PASSWORD = "fault-admin-pw"
IDS = ("ctrl-1", "ctrl-2", "ctrl-3")
MANAGEMENT = "/edge/management/v1"
START_TIMEOUT_S = 60
REQUEST_TIMEOUT_S = 8.0


class Member:
    """One controller process."""

    def __init__(self, ident: str, home: Path, port: int, config: Path) -> None:
        self.ident, self.home, self.port, self.config = ident, home, port, config
        self.process: subprocess.Popen[str] | None = None
        self.url = f"https://127.0.0.1:{port}"

    async def start(self) -> None:
        proc = self.process = subprocess.Popen([sys.executable, "-m", "ziti_aio", "run", "--config", str(self.config)],
                                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

        def ready() -> None:
            assert proc.stdout is not None
            lines = []
            for line in proc.stdout:
                lines.append(line)
                if line.startswith("ready in"):
                    return
            raise AssertionError(f"{self.ident} exited early:\n" + "".join(lines))

        with trio.fail_after(START_TIMEOUT_S):
            await trio.to_thread.run_sync(ready, abandon_on_cancel=True)

    def signal(self, sig: int) -> None:
        assert self.process is not None
        os.kill(self.process.pid, sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        assert self.process is not None
        self.process.wait(timeout=20)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def stored_names(self) -> set[str]:
        store = SqliteStore(self.home / "controller" / "ctrl.db")
        try:
            return {e["name"] for e in store.load_all().get(Kind.CONFIG_TYPES, {}).values()}
        finally:
            store.close()


@asynccontextmanager
async def three_members(tmp_path: Path) -> AsyncIterator[list[Member]]:
    ports = {i: free_port() for i in IDS}
    first_pki = tmp_path / IDS[0] / "controller" / "pki"
    ensure_controller_pki(first_pki, names=["127.0.0.1"], trust_domain="ziti-aio", member_id=IDS[0])
    members = []
    for ident in IDS:
        home = tmp_path / ident
        if ident != IDS[0]:
            share_cluster_pki(first_pki, home / "controller" / "pki")
        others = ", ".join(f'"{i}@127.0.0.1:{ports[i]}"' for i in IDS if i != ident)
        config = tmp_path / f"{ident}.toml"
        config.write_text(f'home = "{home}"\n[controller]\naddress = "127.0.0.1"\nport = {ports[ident]}\n'
                          f'bind = "127.0.0.1"\nadmin_password = "{PASSWORD}"\n'
                          f'cluster = {{ id = "{ident}", members = [{others}] }}\n')
        members.append(Member(ident, home, ports[ident], config))
    try:
        async with trio.open_nursery() as nursery:
            for m in members:
                nursery.start_soon(m.start)
        yield members
    finally:
        for m in members:
            m.stop()


class Writer:
    """Creates config types with unique names on whichever member leads, recording what was acknowledged."""

    def __init__(self, members: list[Member], ca: ssl.SSLContext) -> None:
        self.members = members
        self.clients = {m.ident: httpx.AsyncClient(base_url=m.url, verify=ca, timeout=REQUEST_TIMEOUT_S)
                        for m in members}
        self.acked: list[tuple[float, str]] = []
        self.target = 0
        self.counter = 0
        self.register: str | None = None  # a config type whose tags.n the writer keeps raising
        self.register_acked = 0

    async def login(self) -> None:
        async def attempt() -> bool:
            for m in self.members:
                try:
                    resp = await self.clients[m.ident].post(f"{MANAGEMENT}/authenticate?method=password",
                                                            json={"username": "admin", "password": PASSWORD})
                except httpx.HTTPError:
                    continue
                if resp.status_code == 200:
                    token = resp.json()["data"]["token"]
                    for client in self.clients.values():  # one API session, valid on every member
                        client.headers["zt-session"] = token
                    return True
            return False

        await wait_until(attempt, 60, what="an admin login on the leader")

    async def write_forever(self) -> None:
        while True:
            self.counter += 1
            name = f"w-{self.counter}"
            member = self.members[self.target % len(self.members)]
            client = self.clients[member.ident]
            update = self.register is not None and self.counter % 2 == 0
            try:
                if update:
                    resp = await client.patch(f"{MANAGEMENT}/config-types/{self.register}",
                                              json={"tags": {"n": self.counter}})
                else:
                    resp = await client.post(f"{MANAGEMENT}/config-types", json={"name": name, "schema": {}})
            except httpx.HTTPError:
                resp = None
            if resp is not None and resp.status_code in (200, 201):
                if update:
                    self.register_acked = self.counter
                else:
                    self.acked.append((time.monotonic(), name))
                    self.register = self.register or resp.json()["data"]["id"]
                continue
            assert resp is None or resp.status_code == 503, resp.text
            self.target += 1  # not the leader (or gone): try the next one
            await trio.sleep(0.01)

    def names(self) -> set[str]:
        return {n for _, n in self.acked}

    def first_ack_after(self, moment: float) -> float | None:
        return next((t for t, _ in self.acked if t > moment), None)

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()


async def leaders(writer: Writer, members: list[Member]) -> set[str]:
    """The leader each running member names (a member that cannot answer adds nothing)."""
    seen = set()
    for m in members:
        try:
            resp = await writer.clients[m.ident].get("/fabric/v1/cluster/list-members")
        except httpx.HTTPError:
            continue
        if resp.status_code == 200:
            seen |= {row["id"] for row in resp.json()["data"] if row["leader"]}
    return seen


async def run_fault(tmp_path: Path, fault: str) -> float | None:
    """Start three members and a writer, inject ``fault``, recover; returns the failover time
    (fault → first acknowledged write afterwards) and checks every acknowledged write everywhere."""
    async with three_members(tmp_path) as members:
        ca = ssl.create_default_context(cafile=str(members[0].home / "controller" / "pki" / "ca-bundle.pem"))
        writer = Writer(members, ca)
        try:
            await writer.login()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(writer.write_forever)
                await wait_until(lambda: len(writer.acked) >= 50, 60, what="writes before the fault")
                [leader] = await wait_until(lambda: leaders(writer, members), 20, what="one leader")
                victim = next(m for m in members if (m.ident == leader) == (fault != "kill-follower"))
                injected = time.monotonic()
                if fault == "sigstop-leader":
                    victim.signal(signal.SIGSTOP)
                    await trio.sleep(4.0)  # well past the election timeout
                    victim.signal(signal.SIGCONT)
                elif fault == "kill-two":
                    second = next(m for m in members if m.ident != leader)
                    victim.kill()
                    second.kill()
                    await trio.sleep(0.5)  # an answer already on its way before the kill may still arrive
                    acked_before = len(writer.acked)
                    await trio.sleep(3.0)  # one member left: no majority, so nothing may be acknowledged
                    assert len(writer.acked) == acked_before, "a write was acknowledged without a majority"
                    await second.start()
                else:
                    victim.kill()
                acked_before = len(writer.acked)
                await wait_until(lambda: len(writer.acked) >= acked_before + 50, 60, what="writes after the fault")
                if fault != "sigstop-leader":
                    await victim.start()  # back on its own files: it catches up
                await wait_until(lambda: len(writer.acked) >= acked_before + 100, 60, what="writes after recovery")
                nursery.cancel_scope.cancel()
            expected = writer.names()
            agreed = await wait_until(lambda: _one_leader(writer, members), 30, what="one leader named by all")
            assert len(agreed) == 1
            values = await wait_until(lambda: _register_values(writer, members), 30, what="one register value")
            assert writer.register_acked > 0 and len(values) == 1
            [value] = values
            assert writer.register_acked <= value <= writer.counter, "an acknowledged update was lost"
            failover = writer.first_ack_after(injected)
        finally:
            await writer.aclose()
        for m in members:
            await wait_until(lambda m=m: _count(writer, m, len(expected)), 30, what=f"{m.ident} caught up")
    for m in members:  # stopped cleanly: each store holds everything it applied
        missing = expected - m.stored_names()
        assert not missing, f"{m.ident} lost {len(missing)} acknowledged writes, e.g. {sorted(missing)[:5]}"
    return None if failover is None else failover - injected


async def _register_values(writer: Writer, members: list[Member]) -> set[int] | None:
    """The register's value on every member, once they all read the same one."""
    seen = set()
    for m in members:
        resp = await writer.clients[m.ident].get(f"{MANAGEMENT}/config-types/{writer.register}")
        if resp.status_code != 200:
            return None
        seen.add(resp.json()["data"]["tags"].get("n", 0))
    return seen if len(seen) == 1 else None


async def _one_leader(writer: Writer, members: list[Member]) -> set[str] | None:
    seen = await leaders(writer, members)
    return seen if len(seen) == 1 else None


async def _count(writer: Writer, member: Member, at_least: int) -> bool:
    ca = ssl.create_default_context(cafile=str(member.home / "controller" / "pki" / "ca-bundle.pem"))
    async with httpx.AsyncClient(base_url=member.url, verify=ca, timeout=REQUEST_TIMEOUT_S) as client:
        client.headers.update(writer.clients[member.ident].headers)
        resp = await client.get(f"{MANAGEMENT}/config-types", params={"limit": 1, "filter": 'name contains "w-"'})
    return resp.status_code == 200 and resp.json()["meta"]["pagination"]["totalCount"] >= at_least


@pytest.mark.parametrize("fault", ["kill-leader", "kill-follower", "sigstop-leader", "kill-two"])
async def test_no_acknowledged_write_is_lost(tmp_path, fault):
    failover = await run_fault(tmp_path, fault)
    assert failover is not None
    print(f"\n{fault}: first acknowledged write {failover:.2f} s after the fault")
