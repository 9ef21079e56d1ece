"""The quickstart as a user runs it: a real process, a persistent home, routers that come online."""

import functools
import socket
import ssl
import sys
import tomllib

import httpx
import trio
from progress_recorder import ProgressRecorder

from ziti_aio.appliance.node_config import parse_node_config
from ziti_aio.appliance.quickstart import QuickstartOptions, run_quickstart
from ziti_aio.common.api_paths import MANAGEMENT
from ziti_aio.common.errors import ZitiError
from ziti_aio.sdk import open_context
from ziti_aio.testing import wait_until
from ziti_aio.testing.quickstart import start_quickstart

M = MANAGEMENT
ARGS = ("--ctrl-port", "0", "--router-port", "0", "--ctrl-address", "127.0.0.1", "--routers", "2",
        "--no-tunneler", "-p", "qs-password")


async def _admin(url, home):
    ctx = ssl.create_default_context(cafile=str(home / "controller" / "pki" / "ca-bundle.pem"))
    async with httpx.AsyncClient(base_url=url, verify=ctx) as anon:
        resp = await anon.post(f"{M}/authenticate?method=password",
                               json={"username": "admin", "password": "qs-password"})
        assert resp.status_code == 200, resp.text
    return httpx.AsyncClient(base_url=url, verify=ctx, headers={"zt-session": resp.json()["data"]["token"]})


async def test_quickstart_starts_routers_and_restarts_on_the_same_home(tmp_path):
    home = tmp_path / "qs"
    qs = await start_quickstart(home, *ARGS)
    try:
        assert "router-instance-1 at tls://127.0.0.1:" in qs.output
        assert "router-instance-2 at tls://127.0.0.1:" in qs.output
        async with await _admin(qs.url, home) as admin:
            routers = (await admin.get(f"{M}/edge-routers")).json()["data"]
            assert sorted(r["name"] for r in routers) == ["router-instance-1", "router-instance-2"]
            assert all(r["isOnline"] and r["isVerified"] for r in routers)
            assert all(r["supportedProtocols"]["tls"].startswith("tls://") for r in routers)
            assert all("public" in r["roleAttributes"] for r in routers)
            policies = (await admin.get(f"{M}/edge-router-policies", params={"filter": "isSystem = false"})).json()
            assert [p["name"] for p in policies["data"]] == ["all-endpoints-public-routers"]
            serps = (await admin.get(f"{M}/service-edge-router-policies")).json()["data"]
            assert [p["name"] for p in serps] == ["all-routers-all-services"]
            links = await wait_until(lambda: _listed(admin, f"{M}/links"), 20, what="the routers' link")
            assert len(links) == 1 and links[0]["state"] == "Connected"
            assert {links[0]["sourceRouter"]["name"], links[0]["destRouter"]["name"]} == {
                "router-instance-1", "router-instance-2"}
    finally:
        assert qs.stop() == 0
    again = await start_quickstart(home, *ARGS)
    try:
        async with await _admin(again.url, home) as admin:
            routers = (await admin.get(f"{M}/edge-routers")).json()["data"]
            assert len(routers) == 2 and all(r["isOnline"] for r in routers)
    finally:
        assert again.stop() == 0


TUNNELER_ARGS = ("--ctrl-port", "0", "--router-port", "0", "--ctrl-address", "127.0.0.1", "-p", "qs-password")


async def _echo_through_demo(identity_path, payload: bytes) -> None:
    async with open_context(identity_path) as ctx:

        async def dialed():
            try:
                return await ctx.dial("demo-echo")
            except ZitiError:
                return None  # the demo host's terminator is not there yet

        with trio.fail_after(20):
            async with await wait_until(dialed, 20, what="a dial of demo-echo to succeed") as conn:
                await conn.send_all(payload)
                received = b""
                while len(received) < len(payload):
                    received += await conn.receive_some(1 << 16)
    assert received == payload


async def test_quickstart_with_the_tunneler_hosts_the_demo_and_follows_the_echo_port(tmp_path):
    home = tmp_path / "qs"
    qs = await start_quickstart(home, *TUNNELER_ARGS)
    try:
        client = home / "demo-client.json"
        assert client.exists() and (home / "tunneler.json").exists()
        assert f"ziti-aio tunnel proxy demo-echo:7007 -i {client}" in qs.output
        node = parse_node_config(tomllib.loads((home / "node.toml").read_text()))
        assert node.home == home.resolve() and node.controller is not None
        assert [r.name for r in node.routers] == ["router-instance-1"]
        assert node.tunneler is not None and node.tunneler.mode == "host"
        await _echo_through_demo(client, b"hello demo " * 1000)
        async with await _admin(qs.url, home) as admin:
            host = (await admin.get(f"{M}/configs", params={"filter": 'name="demo-echo-host"'})).json()["data"][0]
        first_port = host["data"]["port"]
    finally:
        assert qs.stop() == 0
    again = await start_quickstart(home, *TUNNELER_ARGS)
    try:
        await _echo_through_demo(client, b"again")
        async with await _admin(again.url, home) as admin:
            host = (await admin.get(f"{M}/configs", params={"filter": 'name="demo-echo-host"'})).json()["data"][0]
            identities = (await admin.get(f"{M}/identities")).json()["data"]
        assert host["data"]["port"] != first_port
        names = sorted(i["name"] for i in identities if i["type"]["name"] != "Router" and not i["isAdmin"])
        assert names == ["demo-client", "quickstart-tunneler"]
    finally:
        assert again.stop() == 0


async def _start_in_process(opts: QuickstartOptions) -> list:
    events: list = []
    async with trio.open_nursery() as nursery:
        await nursery.start(functools.partial(run_quickstart, opts, out=lambda line: events.append(("out", line)),
                                              progress=ProgressRecorder(events)))
        nursery.cancel_scope.cancel()
    return events


async def test_quickstart_shows_its_steps_and_ends_them_before_the_summary(tmp_path):
    opts = QuickstartOptions(home=tmp_path / "qs", ctrl_address="127.0.0.1", bind_host="127.0.0.1", ctrl_port=0,
                             ctrl_channel_port=0, router_port=0, link_port=0, routers=2, password="qs-password")
    first = await _start_in_process(opts)
    assert [e[1] for e in first if e[0] == "step"] == [
        "generating the PKI, starting the controller", "enrolling 2 edge routers",
        "preparing the demo service and its identities", "starting router-instance-1", "starting router-instance-2",
        "starting the tunneler"]
    summary_at = next(i for i, e in enumerate(first) if e[0] == "out")
    assert first[summary_at - 1] == ("done", True) and first[summary_at][1] == "ziti-aio quickstart"
    again = await _start_in_process(opts)
    assert [e[1] for e in again if e[0] == "step"][:2] == ["starting the controller", "checking the edge routers"]


async def test_a_port_in_use_is_one_clear_error_not_a_restart_loop(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for args in (("--ctrl-port", str(port), "--router-port", "0"),
                     ("--ctrl-port", "0", "--router-port", str(port))):
            with trio.fail_after(60):
                done = await trio.run_process(
                    [sys.executable, "-m", "ziti_aio", "quickstart", "--ctrl-address", "127.0.0.1", "--no-tunneler",
                     *args], capture_stdout=True, capture_stderr=True, check=False)
            assert done.returncode == 2, done.stderr.decode()
            assert f"cannot listen on 0.0.0.0:{port}: Address already in use" in done.stderr.decode()
            assert "Traceback" not in done.stderr.decode()


async def _listed(admin: httpx.AsyncClient, path: str) -> list[dict]:
    return (await admin.get(path)).json()["data"]
