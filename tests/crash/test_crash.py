"""Crash tests with real processes: kill -9 of the appliance, of a router mid-transfer, and a
controller restart under a running circuit."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import httpx
import pytest
import trio

from ziti_aio.cli.enroll import enroll
from ziti_aio.common.errors import ZitiError
from ziti_aio.sdk import open_context
from ziti_aio.testing import wait_until
from ziti_aio.testing.controller import MANAGEMENT, create
from ziti_aio.testing.quickstart import start_quickstart

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

pytestmark = pytest.mark.slow

PASSWORD = "crash-admin-pw"
CHUNK = 16 * 1024
TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def admin_client(url: str, ca_bundle: Path) -> AsyncIterator[httpx.AsyncClient]:
    ca = ssl.create_default_context(cafile=str(ca_bundle))
    async with httpx.AsyncClient(base_url=url, verify=ca, timeout=30) as client:
        resp = await client.post(f"{MANAGEMENT}/authenticate?method=password",
                                 json={"username": "admin", "password": PASSWORD})
        resp.raise_for_status()
        client.headers["zt-session"] = resp.json()["data"]["token"]
        yield client


async def enroll_new(admin: httpx.AsyncClient, name: str, out_dir: Path) -> Path:
    """Create an OTT identity and enroll it with ``ziti-aio enroll``'s code; returns its identity file."""
    ident = await create(admin, "identities", {"name": name, "type": "Device", "isAdmin": False,
                                               "enrollment": {"ott": True}})
    jwt = (await admin.get(f"{MANAGEMENT}/identities/{ident}")).json()["data"]["enrollment"]["ott"]["jwt"]
    (out_dir / f"{name}.jwt").write_text(jwt)
    await trio.to_thread.run_sync(lambda: enroll(out_dir / f"{name}.jwt", out=out_dir / f"{name}.json",
                                                 password=None, remove=True))
    return out_dir / f"{name}.json"


async def populate(admin: httpx.AsyncClient, out_dir: Path, *, erp: bool) -> tuple[Path, Path]:
    """Service ``svc``, identities ``host`` (Bind) and ``dialer`` (Dial); ``erp`` adds the router policies."""
    if erp:
        await create(admin, "edge-router-policies", {"name": "all", "identityRoles": ["#all"],
                                                     "edgeRouterRoles": ["#all"]})
        await create(admin, "service-edge-router-policies", {"name": "all", "serviceRoles": ["#all"],
                                                             "edgeRouterRoles": ["#all"]})
    svc = await create(admin, "services", {"name": "svc", "encryptionRequired": True})
    paths = []
    for name, kind in (("host", "Bind"), ("dialer", "Dial")):
        path = await enroll_new(admin, name, out_dir)
        ident = (await admin.get(f"{MANAGEMENT}/identities", params={"filter": f'name="{name}"'})).json()["data"]
        await create(admin, "service-policies", {"name": f"{name}-svc", "type": kind,
                                                 "identityRoles": ["@" + ident[0]["id"]], "serviceRoles": ["@" + svc]})
        paths.append(path)
    return paths[0], paths[1]


async def dial(ctx):  # type: ignore[no-untyped-def]
    """Dial ``svc``, retrying while the host's terminator is not there yet."""

    async def dialed():
        try:
            return await ctx.dial("svc")
        except ZitiError:
            return None

    return await wait_until(dialed, TIMEOUT_S, what="a dial of svc to succeed")


async def echo_host(listener, *, task_status=trio.TASK_STATUS_IGNORED):  # type: ignore[no-untyped-def]
    """Echo every accepted stream until its EOF or until it breaks."""
    task_status.started()
    async with trio.open_nursery() as nursery:
        while True:
            stream = await listener.accept()

            async def echo(stream=stream) -> None:  # type: ignore[no-untyped-def]
                try:
                    async with stream:
                        while data := await stream.receive_some():
                            await stream.send_all(data)
                        await stream.send_eof()
                except (trio.BrokenResourceError, trio.ClosedResourceError, ZitiError):
                    pass

            nursery.start_soon(echo)


async def wait_router_online(admin: httpx.AsyncClient, name: str) -> None:
    """Wait until the edge router ``name`` is online (there is no event to wait on from outside)."""

    async def online() -> bool:
        found = (await admin.get(f"{MANAGEMENT}/edge-routers", params={"filter": f'name="{name}"'})).json()
        return bool(found["data"] and found["data"][0]["isOnline"])

    await wait_until(online, TIMEOUT_S, what=f"router {name} online")


async def test_kill_9_keeps_an_enrolled_identity_working(tmp_path):
    home = tmp_path / "qs"
    ports = [str(free_port()) for _ in range(2)]
    args = ("--ctrl-port", ports[0], "--router-port", ports[1],
            "--ctrl-address", "127.0.0.1", "--router-address", "127.0.0.1", "-p", PASSWORD,
            "--routers", "1", "--no-tunneler")
    qs = await start_quickstart(home, *args)
    ca_bundle = home / "controller" / "pki" / "ca-bundle.pem"
    try:
        async with admin_client(qs.url, ca_bundle) as admin:
            host_path, dialer_path = await populate(admin, tmp_path, erp=False)
            acknowledged = [await create(admin, "services", {"name": f"kept-{n}"}) for n in range(20)]
    finally:
        os.kill(qs.process.pid, signal.SIGKILL)
        qs.process.wait()
    assert qs.process.returncode == -signal.SIGKILL

    qs = await start_quickstart(home, *args)
    try:
        async with admin_client(qs.url, ca_bundle) as admin:
            listed = (await admin.get(f"{MANAGEMENT}/services", params={"limit": 500})).json()["data"]
            assert sorted(s["id"] for s in listed if s["name"] != "svc") == sorted(acknowledged)
        sent = os.urandom(256 * 1024)
        async with open_context(host_path) as host, open_context(dialer_path) as dialer, trio.open_nursery() as nursery:
            await nursery.start(echo_host, await host.bind("svc"))
            async with await dial(dialer) as stream:
                await stream.send_all(sent)
                await stream.send_eof()
                received = bytearray()
                with trio.fail_after(TIMEOUT_S):
                    while data := await stream.receive_some():
                        received += data
            assert hashlib.sha256(received).digest() == hashlib.sha256(sent).digest()
            nursery.cancel_scope.cancel()
    finally:
        qs.stop()
    assert qs.process.returncode == 0


class Node:
    """A ``ziti-aio run --config`` process."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.process: subprocess.Popen[str] | None = None

    async def start(self) -> str:
        proc = subprocess.Popen([sys.executable, "-m", "ziti_aio", "run", "--config", str(self.config)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.process = proc
        lines: list[str] = []

        def read() -> str:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line)
                if line.startswith("ready in"):
                    return "".join(lines)
            raise AssertionError("node exited early:\n" + "".join(lines))

        with trio.fail_after(TIMEOUT_S):
            return await trio.to_thread.run_sync(read, abandon_on_cancel=True)

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(timeout=20)


@asynccontextmanager
async def two_nodes(tmp_path: Path) -> AsyncIterator[tuple[Node, Node, str, Path, Path, Path]]:
    """A controller node on fixed ports and a router-only node ``r1``; yields
    (controller, router, url, ca bundle, host identity, dialer identity)."""
    ctrl_home = tmp_path / "ctrl-host"
    (tmp_path / "ctrl.toml").write_text(
        f'home = "{ctrl_home}"\n[controller]\naddress = "127.0.0.1"\nport = {free_port()}\n'
        f'ctrl_port = {free_port()}\nbind = "127.0.0.1"\nadmin_password = "{PASSWORD}"\n')
    ctrl = Node(tmp_path / "ctrl.toml")
    out = await ctrl.start()
    try:
        url = re.search(r"controller\s+(https://\S+)", out).group(1)  # type: ignore[union-attr]
        ca_bundle = ctrl_home / "controller" / "pki" / "ca-bundle.pem"
        router_home = tmp_path / "router-host"
        router_home.mkdir()
        async with admin_client(url, ca_bundle) as admin:
            rid = await create(admin, "edge-routers", {"name": "r1", "roleAttributes": ["public"],
                                                       "isTunnelerEnabled": True})
            (router_home / "r1.jwt").write_text(
                (await admin.get(f"{MANAGEMENT}/edge-routers/{rid}")).json()["data"]["enrollmentJwt"])
            host_path, dialer_path = await populate(admin, tmp_path, erp=True)
        (tmp_path / "router.toml").write_text(
            f'home = "{router_home}"\n[[router]]\nname = "r1"\njwt = "r1.jwt"\nedge = "127.0.0.1:0"\n')
        router = Node(tmp_path / "router.toml")
        await router.start()
        try:
            yield ctrl, router, url, ca_bundle, host_path, dialer_path
        finally:
            router.stop()
    finally:
        assert ctrl.stop() == 0


async def test_router_killed_mid_transfer_never_yields_wrong_or_truncated_data(tmp_path):
    async with two_nodes(tmp_path) as (_, router, _, _, host_path, dialer_path):
        async with open_context(host_path) as host, open_context(dialer_path) as dialer, \
                trio.open_nursery() as nursery:
            await nursery.start(echo_host, await host.bind("svc"))
            stream = await dial(dialer)
            sent_bytes, received = bytearray(), bytearray()
            killed = trio.Event()

            async def send() -> None:
                try:
                    while True:
                        chunk = os.urandom(CHUNK)
                        sent_bytes.extend(chunk)
                        await stream.send_all(chunk)
                except (trio.BrokenResourceError, trio.ClosedResourceError, ZitiError):
                    pass

            failure: Exception | None = None
            with trio.fail_after(TIMEOUT_S):
                async with trio.open_nursery() as transfer:
                    transfer.start_soon(send)
                    try:
                        while True:
                            data = await stream.receive_some()
                            assert data, "the stream ended cleanly although the router died mid-transfer"
                            received += data
                            if len(received) >= 64 * CHUNK and not killed.is_set():
                                os.kill(router.process.pid, signal.SIGKILL)  # type: ignore[union-attr]
                                killed.set()
                    except (trio.BrokenResourceError, ZitiError) as exc:
                        failure = exc
                    transfer.cancel_scope.cancel()
            assert failure is not None
            assert killed.is_set()
            assert hashlib.sha256(received).digest() == hashlib.sha256(sent_bytes[:len(received)]).digest(), \
                "the dialer received bytes that were not sent"
            await trio.aclose_forcefully(stream)
            nursery.cancel_scope.cancel()
        assert router.process.wait(timeout=20) == -signal.SIGKILL  # type: ignore[union-attr]


async def test_controller_restart_keeps_running_circuits_flowing(tmp_path):
    async with (two_nodes(tmp_path) as (ctrl, _, url, ca_bundle, host_path, dialer_path),
                open_context(host_path) as host, open_context(dialer_path) as dialer,
                trio.open_nursery() as nursery):
            await nursery.start(echo_host, await host.bind("svc"))
            stream = await dial(dialer)
            sent, received = hashlib.sha256(), hashlib.sha256()
            echoed = [0]
            progress = trio.Condition()

            done = trio.Event()

            async def ping_pong() -> None:
                """Send a chunk, read its echo, repeat until ``done``: every chunk crosses the circuit both ways."""
                while not done.is_set():
                    chunk = os.urandom(CHUNK)
                    sent.update(chunk)
                    await stream.send_all(chunk)
                    got = 0
                    while got < len(chunk):
                        data = await stream.receive_some(len(chunk) - got)
                        assert data, "the circuit ended"
                        received.update(data)
                        got += len(data)
                    async with progress:
                        echoed[0] += 1
                        progress.notify_all()

            async def more_echoes(count: int) -> None:
                target = echoed[0] + count
                with trio.fail_after(TIMEOUT_S):
                    async with progress:
                        while echoed[0] < target:
                            await progress.wait()

            async with trio.open_nursery() as traffic:
                traffic.start_soon(ping_pong)
                await more_echoes(20)
                assert await trio.to_thread.run_sync(ctrl.stop) == 0
                await more_echoes(20)
                await ctrl.start()
                async with admin_client(url, ca_bundle) as admin:
                    await wait_router_online(admin, "r1")
                await more_echoes(20)
                done.set()
            assert received.digest() == sent.digest()
            await stream.send_eof()
            with trio.fail_after(TIMEOUT_S):
                assert await stream.receive_some() == b""
            await stream.aclose()
            nursery.cancel_scope.cancel()
