"""A dark management plane: the management API only as a ziti service the controller binds through its own
router; ``ziti-aio login --network-identity`` and the CLI verbs over it; no TCP listener serves it; the login
survives a controller restart (docs/operations.md)."""

from __future__ import annotations

import functools
import json
import os
import socket
import subprocess
import sys
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import trio
from cli_helpers import Cli

from ziti_aio.appliance.quickstart import QuickstartOptions, run_quickstart
from ziti_aio.cli.config_file import CONFIG_DIR_ENV
from ziti_aio.router.router import EdgeRouter, RouterConfig
from ziti_aio.sdk.enroll import enroll_identity
from ziti_aio.testing import wait_until
from ziti_aio.testing.controller import create, open_controller
from ziti_aio.testing.network import open_network


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening_ports() -> set[int]:
    """The TCP ports this process listens on, read from /proc (sockets in state LISTEN it holds)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@asynccontextmanager
async def dark_network(home: Path, port: int):
    """The controller of ``home`` in dark mode on ``port``, with its router er1 running again."""
    async with open_controller(home / "ctrl", port=port, management="overlay") as controller, \
            trio.open_nursery() as nursery:
        router = EdgeRouter(RouterConfig(home=home / "routers" / "er1", edge_bind_host="127.0.0.1", edge_port=0,
                                         advertised_host="127.0.0.1", link_bind_host="127.0.0.1"))
        info = await nursery.start(router.run)
        yield controller, info
        nursery.cancel_scope.cancel()


async def test_a_dark_controller_is_administered_over_the_overlay(tmp_path):
    port = free_port()
    # first a normal network: a router and an admin identity allowed to dial the management service
    async with open_network(tmp_path, routers=1, port=port) as net:
        admin_id = await create(net.admin, "identities", {"name": "ops", "type": "User", "isAdmin": True,
                                                          "roleAttributes": ["management-admins"],
                                                          "enrollment": {"ott": True}})
        jwt = (await net.get(f"identities/{admin_id}"))["enrollment"]["ott"]["jwt"]
        await enroll_identity(jwt, tmp_path / "ops.json")
        plain = await create(net.admin, "identities", {"name": "plain", "type": "User", "isAdmin": False,
                                                       "roleAttributes": ["management-admins"],
                                                       "enrollment": {"ott": True}})
        jwt = (await net.get(f"identities/{plain}"))["enrollment"]["ott"]["jwt"]
        await enroll_identity(jwt, tmp_path / "plain.json")

    cli = Cli(tmp_path / "cli")
    async with dark_network(tmp_path, port) as (controller, router):
        # no TCP listener serves management: the API port answers 404 there, other paths as before
        async with controller.client() as tcp:
            for path in ("/edge/management/v1/services", "/fabric/v1/routers", "/metrics",
                         "/edge/management/v1/version"):
                resp = await tcp.get(path)
                assert resp.status_code == 404 and resp.json()["error"]["code"] == "NOT_FOUND", path
            assert (await tcp.get("/edge/client/v1/version")).status_code == 200
            assert (await tcp.get("/health-checks")).status_code in (200, 503)
        assert listening_ports() == {port, router.edge_port}

        # the login dials the management service with the admin identity (retried while the controller binds)
        async def logged_in():
            result = await cli("login", "--network-identity", str(tmp_path / "ops.json"), code=None)
            return result.exit_code == 0 and result

        result = await wait_until(logged_in, 30, what="login over the overlay")
        assert "over the overlay as ops" in result.output
        saved = json.loads((tmp_path / "cli" / "cli.json").read_text())
        assert saved["url"] == "ziti://ziti-aio-management" and saved["identity"].endswith("ops.json")

        # the CLI verbs over it
        created = await cli("create", "service", "dark-web", "-a", "web")
        assert "New service dark-web created" in created.output
        listed = json.loads((await cli("list", "services", "-j")).output)
        assert "dark-web" in [s["name"] for s in listed["data"]]
        await cli("update", "service", "dark-web", "--role-attributes", "web,blue")
        shown = json.loads((await cli("list", "services", 'name="dark-web"', "-j")).output)["data"][0]
        assert sorted(shown["roleAttributes"]) == ["blue", "web"]
        await cli("create", "identity", "device1")
        status = await cli("status")
        assert "controller  ziti://ziti-aio-management" in status.output and "1/1 online" in status.output
        exported = json.loads((await cli("export")).output)
        assert "dark-web" in [s["name"] for s in exported["services"]]
        # the live event stream, over the overlay too
        env = {**os.environ, CONFIG_DIR_ENV: str(cli.config_dir), "PYTHONUNBUFFERED": "1"}
        follower = await trio.lowlevel.open_process(
            [sys.executable, "-m", "ziti_aio", "stream", "events", "-t", "entityChange", "-j"],
            stdout=subprocess.PIPE, env=env)
        try:
            await wait_until(lambda: len(controller.controller.events.subscriptions) == 1, 30,
                             what="the stream subscribed")
            await cli("delete", "service", "dark-web")
            received = b""

            def deleted() -> list[dict]:  # the command's own login (an API session) comes first
                events = [json.loads(line) for line in received.decode().split("\n")[:-1]]  # whole lines
                return [e for e in events if e["eventType"] == "deleted" and e["entityType"] == "services"]

            with trio.fail_after(20):
                while not deleted():
                    received += await follower.stdout.receive_some()
            assert deleted()[0]["initialState"]["name"] == "dark-web"
        finally:
            follower.kill()
            await follower.wait()
        listed = json.loads((await cli("list", "services", "-j")).output)
        assert "dark-web" not in [s["name"] for s in listed["data"]]

        # an identity the dial policy lets in but that is no admin is refused by the management API
        other = Cli(tmp_path / "cli-plain")
        refused = await wait_until(lambda: other("login", "--network-identity", str(tmp_path / "plain.json"),
                                                 code=1), 30)
        assert "is not an admin" in refused.output

    # a controller restart: the saved login still works once the controller has bound the service again
    async with dark_network(tmp_path, port):
        async def listed_again():
            result = await cli("list", "identities", "-j", code=None)
            return result.exit_code == 0 and result

        result = await wait_until(listed_again, 30, what="the CLI after a restart")
        assert "device1" in [i["name"] for i in json.loads(result.output)["data"]]


async def test_the_dark_quickstart_prints_the_login_line_that_works(tmp_path):
    home = tmp_path / "qs"
    opts = QuickstartOptions(home=home, ctrl_address="127.0.0.1", bind_host="127.0.0.1", ctrl_port=0,
                             router_port=0, routers=1, password="qs-password", dark=True)
    out: list[str] = []
    async with trio.open_nursery() as nursery:
        info = await nursery.start(functools.partial(run_quickstart, opts, out=out.append))
        [line] = [line for line in out if "log in with" in line]
        command = line.split("log in with", 1)[1].split()
        assert command == ["ziti-aio", "login", "--network-identity", str(home / "admin.json")]
        assert any("the Management API is dark" in line for line in out)
        async with httpx.AsyncClient(base_url=info.url, verify=False) as tcp:
            assert (await tcp.get("/edge/management/v1/identities")).status_code == 404
        cli = Cli(tmp_path / "cli")

        async def logged_in():
            result = await cli(*command[1:], code=None)
            return result.exit_code == 0 and result

        assert "as quickstart-admin" in (await wait_until(logged_in, 30, what="the printed login")).output
        routers = json.loads((await cli("list", "edge-routers", "-j")).output)["data"]
        assert [(r["name"], r["isOnline"]) for r in routers] == [("router-instance-1", True)]
        services = json.loads((await cli("list", "services", "-j")).output)["data"]
        assert {"demo-echo", "ziti-aio-management"} <= {s["name"] for s in services}
        nursery.cancel_scope.cancel()
