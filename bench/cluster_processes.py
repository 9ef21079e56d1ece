"""Controllers as separate ``ziti-aio run --config`` processes, and an HTTP writer that follows the leader.

What a user runs: three controller processes forming a cluster (or one controller without a cluster
table, the baseline), written to over the management API by a client that records every
acknowledged create. The client sends to the member it last found writable; on an error or a 503
it tries the next member at once (a follower forwards to the leader, so any live member will do once
a leader is elected). ``code`` runs the controllers from another source tree (an export of an earlier
commit) for a before/after in the same run.
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING

import httpx
import trio

from bench.common import CHILD_START_TIMEOUT_S, CHILD_STOP_TIMEOUT_S
from ziti_aio.appliance.ports import free_port
from ziti_aio.controller.pki_home import ensure_controller_pki, share_cluster_pki
from ziti_aio.testing.waiting import wait_until

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

PASSWORD = "bench-admin-pw"
MANAGEMENT = "/edge/management/v1"
REQUEST_TIMEOUT_S = 8.0
RETRY_PAUSE_S = 0.002


class ControllerProcess:
    """One controller process (``code``: a source tree to import ziti_aio from instead of this one)."""

    def __init__(self, ident: str, home: Path, port: int, config: Path, code: Path | None) -> None:
        self.ident, self.home, self.port, self.config, self.code = ident, home, port, config, code
        self.process: subprocess.Popen[str] | None = None
        self.url = f"https://127.0.0.1:{port}"

    async def start(self) -> None:
        env = dict(os.environ)
        if self.code is not None:
            env["PYTHONPATH"] = str(self.code)
        proc = self.process = subprocess.Popen(
            [sys.executable, "-m", "ziti_aio", "run", "--config", str(self.config)], cwd=self.home.parent, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

        def ready() -> None:
            assert proc.stdout is not None
            lines = []
            for line in proc.stdout:
                lines.append(line)
                if line.startswith("ready in"):
                    return
            raise RuntimeError(f"{self.ident} exited early:\n" + "".join(lines[-20:]))

        with trio.fail_after(CHILD_START_TIMEOUT_S):
            await trio.to_thread.run_sync(ready, abandon_on_cancel=True)
        # keep reading its output (into ctrl-N.log beside its home) so a full pipe never blocks it
        log = self.home.parent / f"{self.ident}.log"
        trio.lowlevel.spawn_system_task(partial(trio.to_thread.run_sync, _drain, proc, log, abandon_on_cancel=True))

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=CHILD_STOP_TIMEOUT_S)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=CHILD_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _drain(proc: subprocess.Popen[str], log: Path) -> None:
    assert proc.stdout is not None
    with log.open("a") as out:
        for line in proc.stdout:
            out.write(line)
            out.flush()


@asynccontextmanager
async def controller_processes(directory: Path, count: int, *,
                               code: Path | None = None) -> AsyncIterator[list[ControllerProcess]]:
    """``count`` controller processes; three form a cluster, one runs without a cluster table."""
    ids = [f"ctrl-{i + 1}" for i in range(count)]
    ports = {i: free_port() for i in ids}
    first_pki = directory / ids[0] / "controller" / "pki"
    await trio.to_thread.run_sync(lambda: ensure_controller_pki(first_pki, names=["127.0.0.1"],
                                                                trust_domain="ziti-aio", member_id=ids[0]))
    members = []
    for ident in ids:
        home = directory / ident
        if ident != ids[0]:
            share_cluster_pki(first_pki, home / "controller" / "pki")
        config = directory / f"{ident}.toml"
        text = (f'home = "{home}"\n[controller]\naddress = "127.0.0.1"\nport = {ports[ident]}\n'
                f'bind = "127.0.0.1"\nadmin_password = "{PASSWORD}"\n')
        if count > 1:
            others = ", ".join(f'"{i}@127.0.0.1:{ports[i]}"' for i in ids if i != ident)
            text += f'cluster = {{ id = "{ident}", members = [{others}] }}\n'
        config.write_text(text)
        members.append(ControllerProcess(ident, home, ports[ident], config, code))
    try:
        async with trio.open_nursery() as nursery:
            for m in members:
                nursery.start_soon(m.start)
        yield members
    finally:
        for m in members:
            m.stop()


class HttpWriters:
    """``concurrency`` tasks creating config types as fast as they can; ``acks`` holds (sent, acknowledged)
    monotonic times of every acknowledged create."""

    def __init__(self, members: list[ControllerProcess], concurrency: int) -> None:
        ca = ssl.create_default_context(cafile=str(members[0].home / "controller" / "pki" / "ca-bundle.pem"))
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self.members = members
        self.concurrency = concurrency
        self.clients = {m.ident: httpx.AsyncClient(base_url=m.url, verify=ca, timeout=REQUEST_TIMEOUT_S,
                                                   limits=limits) for m in members}
        self.target = 0
        self.counter = 0
        self.acks: list[tuple[float, float]] = []

    async def login(self) -> None:
        async def attempt() -> bool:
            for m in self.members:
                try:
                    resp = await self.clients[m.ident].post(f"{MANAGEMENT}/authenticate?method=password",
                                                            json={"username": "admin", "password": PASSWORD})
                except httpx.HTTPError:
                    continue
                if resp.status_code == 200:
                    for client in self.clients.values():  # one API session, valid on every member
                        client.headers["zt-session"] = resp.json()["data"]["token"]
                    return True
            return False

        await wait_until(attempt, 60, what="an admin login")

    async def leader(self) -> ControllerProcess:
        """The member every live member names as leader (the only one for a single controller)."""
        if len(self.members) == 1:
            return self.members[0]

        async def agreed() -> ControllerProcess | None:
            named = set()
            for m in self.members:
                if m.process is None or m.process.poll() is not None:
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
