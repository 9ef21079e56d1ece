"""Controllers as separate ``ziti-aio run --config`` processes, as a user runs them: three forming one
cluster (docs/ha.md), or one without a cluster table. The cluster fault tests (``tests/cluster``) and the
cluster bench (``bench/cluster_bench.py``) both start them here.

Each member has a home of its own in ``directory`` (``ctrl-1`` …), the first member's CAs shared with the
others, its configuration beside its home (``ctrl-N.toml``) and, once it is ready, its output in
``ctrl-N.log`` (read on so a full pipe never blocks it). A member may listen on an address of its own and
run through another command (``ip netns exec NS``, the partition test) or import ziti_aio from another
source tree (an export of an earlier commit, the bench's before/after in one run).
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING

import httpx
import trio

from ziti_aio.appliance.ports import free_port
from ziti_aio.controller.cluster.replica import LOCAL_READS
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.pki_home import ensure_controller_pki, share_cluster_pki
from ziti_aio.controller.store.sqlite_store import SqliteStore
from ziti_aio.testing.waiting import wait_until

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence
    from pathlib import Path

PASSWORD = "cluster-admin-pw"
MANAGEMENT = "/edge/management/v1"
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 8.0


class ControllerProcess:
    """One controller process: ``prefix`` runs it through another command, ``code`` is a source tree to
    import ziti_aio from instead of this one."""

    def __init__(self, ident: str, home: Path, host: str, port: int, config: Path, *, prefix: Sequence[str] = (),
                 code: Path | None = None) -> None:
        self.ident, self.home, self.host, self.port, self.config = ident, home, host, port, config
        self.prefix, self.code = list(prefix), code
        self.process: subprocess.Popen[str] | None = None
        self.url = f"https://{host}:{port}"

    @property
    def ca_path(self) -> Path:
        """The CA bundle its API's certificate chains to (the same for every member)."""
        return self.home / "controller" / "pki" / "ca-bundle.pem"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Start it and return once it printed ``ready in``."""
        env = dict(os.environ)
        if self.code is not None:
            env["PYTHONPATH"] = str(self.code)
        argv = [*self.prefix, sys.executable, "-m", "ziti_aio", "run", "--config", str(self.config)]
        proc = self.process = subprocess.Popen(argv, cwd=self.home.parent, env=env, stdout=subprocess.PIPE,
                                               stderr=subprocess.STDOUT, text=True)

        def ready() -> None:
            assert proc.stdout is not None
            lines = []
            for line in proc.stdout:
                lines.append(line)
                if line.startswith("ready in"):
                    return
            raise RuntimeError(f"{self.ident} exited early:\n" + "".join(lines[-40:]))

        with trio.fail_after(timeout_s):
            await trio.to_thread.run_sync(ready, abandon_on_cancel=True)
        log = self.home.parent / f"{self.ident}.log"
        trio.lowlevel.spawn_system_task(partial(trio.to_thread.run_sync, _drain, proc, log, abandon_on_cancel=True))

    def signal(self, sig: int) -> None:
        """Send it ``sig`` (``SIGSTOP`` / ``SIGCONT`` hang and resume it)."""
        assert self.process is not None
        os.kill(self.process.pid, sig)

    def kill(self) -> None:
        """``kill -9`` it and reap it."""
        self.signal(signal.SIGKILL)
        assert self.process is not None
        self.process.wait(timeout=STOP_TIMEOUT_S)

    def stop(self) -> None:
        """Resume it if hung, terminate it, and kill it if it does not exit."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def stored_names(self, kind: Kind = Kind.CONFIG_TYPES) -> set[str]:
        """The names of the entities of ``kind`` in its store file."""
        store = SqliteStore(self.home / "controller" / "ctrl.db")
        try:
            return {e["name"] for e in store.load_all().get(kind, {}).values()}
        finally:
            store.close()


def _drain(proc: subprocess.Popen[str], log: Path) -> None:
    assert proc.stdout is not None
    with log.open("a") as out:
        for line in proc.stdout:
            out.write(line)
            out.flush()


@asynccontextmanager
async def controller_processes(directory: Path, count: int = 3, *, hosts: Sequence[str] | None = None,
                               prefixes: Sequence[Sequence[str]] | None = None, code: Path | None = None,
                               start_timeout_s: float = START_TIMEOUT_S,
                               reads: str = LOCAL_READS) -> AsyncIterator[list[ControllerProcess]]:
    """Start ``count`` controllers (more than one form a cluster; one runs without a cluster table unless
    ``reads`` is not the default), member n on ``hosts[n]`` (default 127.0.0.1) through ``prefixes[n]``,
    answering reads as ``reads`` says (docs/ha.md "Linearizable reads"); all are stopped on exit."""
    ids = [f"ctrl-{i + 1}" for i in range(count)]
    where = dict(zip(ids, hosts or ["127.0.0.1"] * count, strict=True))
    ports = {i: free_port() for i in ids}
    first_pki = directory / ids[0] / "controller" / "pki"
    await trio.to_thread.run_sync(partial(ensure_controller_pki, first_pki, names=[where[ids[0]]],
                                          trust_domain="ziti-aio", member_id=ids[0]))
    members = []
    for ident, prefix in zip(ids, prefixes or [()] * count, strict=True):
        home = directory / ident
        if ident != ids[0]:
            share_cluster_pki(first_pki, home / "controller" / "pki")
        text = (f'home = "{home}"\n[controller]\naddress = "{where[ident]}"\nport = {ports[ident]}\n'
                f'bind = "{where[ident]}"\nadmin_password = "{PASSWORD}"\n')
        if count > 1 or reads != LOCAL_READS:
            others = ", ".join(f'"{i}@{where[i]}:{ports[i]}"' for i in ids if i != ident)
            text += f'cluster = {{ id = "{ident}", members = [{others}], reads = "{reads}" }}\n'
        config = directory / f"{ident}.toml"
        config.write_text(text)
        members.append(ControllerProcess(ident, home, where[ident], ports[ident], config, prefix=prefix, code=code))
    try:
        async with trio.open_nursery() as nursery:
            for m in members:
                nursery.start_soon(m.start, start_timeout_s)
        yield members
    finally:
        for m in members:
            m.stop()


async def admin_clients(members: Sequence[ControllerProcess], *,
                        connections: int | None = None) -> dict[str, httpx.AsyncClient]:
    """An HTTPS client per member (by id; at most ``connections`` each) sharing one admin API session, good on
    every member, made on whichever member answers the login first; the caller closes them."""
    ca = ssl.create_default_context(cafile=str(members[0].ca_path))
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections) \
        if connections else httpx.Limits()
    clients = {m.ident: httpx.AsyncClient(base_url=m.url, verify=ca, timeout=REQUEST_TIMEOUT_S, limits=limits)
               for m in members}

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

    await wait_until(attempt, 60, what="an admin login")
    return clients
