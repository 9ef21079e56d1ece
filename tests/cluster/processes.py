"""Three controllers as separate ``ziti-aio run --config`` processes forming one cluster (the fault tests):
each in a home of its own under ``tmp_path``, the first member's CAs shared with the others."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import httpx
import trio

from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.pki_home import ensure_controller_pki, share_cluster_pki
from ziti_aio.controller.store.sqlite_store import SqliteStore
from ziti_aio.testing.cluster import free_port
from ziti_aio.testing.waiting import wait_until

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence
    from pathlib import Path

PASSWORD = "fault-admin-pw"
IDS = ("ctrl-1", "ctrl-2", "ctrl-3")
MANAGEMENT = "/edge/management/v1"
START_TIMEOUT_S = 60
REQUEST_TIMEOUT_S = 8.0


class Member:
    """One controller process; ``prefix`` runs it through another command (``ip netns exec NS``)."""

    def __init__(self, ident: str, home: Path, host: str, port: int, config: Path, prefix: Sequence[str]) -> None:
        self.ident, self.home, self.host, self.port, self.config = ident, home, host, port, config
        self.prefix = list(prefix)
        self.process: subprocess.Popen[str] | None = None
        self.url = f"https://{host}:{port}"

    @property
    def ca_path(self) -> Path:
        return self.home / "controller" / "pki" / "ca-bundle.pem"

    async def start(self) -> None:
        argv = [*self.prefix, sys.executable, "-m", "ziti_aio", "run", "--config", str(self.config)]
        proc = self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

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
async def three_members(tmp_path: Path, *, hosts: Sequence[str] = ("127.0.0.1",) * 3,
                        prefixes: Sequence[Sequence[str]] = ((),) * 3) -> AsyncIterator[list[Member]]:
    """Start three members (``hosts[n]`` is member n's address; all on 127.0.0.1 by default); each is
    stopped (``SIGCONT`` first, then ``SIGTERM``) on exit."""
    ports = {i: free_port() for i in IDS}
    where = dict(zip(IDS, hosts, strict=True))
    first_pki = tmp_path / IDS[0] / "controller" / "pki"
    ensure_controller_pki(first_pki, names=[hosts[0]], trust_domain="ziti-aio", member_id=IDS[0])
    members = []
    for ident, prefix in zip(IDS, prefixes, strict=True):
        home = tmp_path / ident
        if ident != IDS[0]:
            share_cluster_pki(first_pki, home / "controller" / "pki")
        others = ", ".join(f'"{i}@{where[i]}:{ports[i]}"' for i in IDS if i != ident)
        config = tmp_path / f"{ident}.toml"
        config.write_text(f'home = "{home}"\n[controller]\naddress = "{where[ident]}"\nport = {ports[ident]}\n'
                          f'bind = "{where[ident]}"\nadmin_password = "{PASSWORD}"\n'
                          f'cluster = {{ id = "{ident}", members = [{others}] }}\n')
        members.append(Member(ident, home, where[ident], ports[ident], config, prefix))
    try:
        async with trio.open_nursery() as nursery:
            for m in members:
                nursery.start_soon(m.start)
        yield members
    finally:
        for m in members:
            m.stop()


async def admin_clients(members: list[Member]) -> dict[str, httpx.AsyncClient]:
    """An HTTPS client per member sharing one admin API session (good on every member), made on whichever
    member answers the login first; the caller closes them."""
    ca = ssl.create_default_context(cafile=str(members[0].ca_path))
    clients = {m.ident: httpx.AsyncClient(base_url=m.url, verify=ca, timeout=REQUEST_TIMEOUT_S) for m in members}

    async def attempt() -> bool:
        for m in members:
            try:
                resp = await clients[m.ident].post(f"{MANAGEMENT}/authenticate?method=password",
                                                   json={"username": "admin", "password": PASSWORD})
            except httpx.HTTPError:
                continue
            if resp.status_code == 200:
                for client in clients.values():
                    client.headers["zt-session"] = resp.json()["data"]["token"]
                return True
        return False

    await wait_until(attempt, 60, what="an admin login on the leader")
    return clients


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
