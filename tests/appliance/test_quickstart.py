"""The quickstart as a user runs it: a real process, a persistent home, routers that come online."""

import functools
import socket
import ssl
import sys
import tomllib
from dataclasses import replace

import httpx
import pytest
import trio
from progress_recorder import ProgressRecorder

from ziti_aio.appliance.node_config import parse_node_config
from ziti_aio.appliance.quickstart import QuickstartOptions, run_quickstart
from ziti_aio.common.api_paths import MANAGEMENT
from ziti_aio.common.errors import ConfigError, ZitiError
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
                             router_port=0, routers=2, password="qs-password")
    first = await _start_in_process(opts)
    assert [e[1] for e in first if e[0] == "step"] == [
        "generating the PKI, starting the controller", "enrolling 2 edge routers",
        "preparing the demo service and its identities", "starting router-instance-1", "starting router-instance-2",
        "starting the tunneler"]
    summary_at = next(i for i, e in enumerate(first) if e[0] == "out")
    assert first[summary_at - 1] == ("done", True) and first[summary_at][1] == "ziti-aio quickstart"
    again = await _start_in_process(opts)
    assert [e[1] for e in again if e[0] == "step"][:2] == ["starting the controller", "checking the edge routers"]


def _free_ports(count: int) -> list[int]:
    """``count`` different ports, free right now."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("0.0.0.0", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


async def _quickstart_exit(*args: str) -> tuple[int, str]:
    with trio.fail_after(60):
        done = await trio.run_process(
            [sys.executable, "-m", "ziti_aio", "quickstart", "--ctrl-address", "127.0.0.1", "--no-tunneler", *args],
            capture_stdout=True, capture_stderr=True, check=False)
    return done.returncode, done.stderr.decode()


async def test_ports_in_use_are_reported_all_at_once_naming_their_flags(tmp_path):
    with socket.socket() as busy_ctrl, socket.socket() as busy_router:
        for busy in (busy_ctrl, busy_router):
            busy.bind(("127.0.0.1", 0))
            busy.listen()
        ctrl, router = busy_ctrl.getsockname()[1], busy_router.getsockname()[1]
        code, err = await _quickstart_exit("--home", str(tmp_path / "qs"), "--ctrl-port", str(ctrl),
                                           "--router-port", str(router))
    assert code == 2, err
    assert err.splitlines() == [f"error: port {ctrl} is in use (change it with --ctrl-port)",
                                f"error: port {router} is in use (change it with --router-port)"]
    assert not (tmp_path / "qs").exists()  # nothing started, nothing created


async def test_a_port_wanted_twice_names_both_users(tmp_path):
    [port] = _free_ports(1)
    code, err = await _quickstart_exit("--ctrl-port", str(port + 1), "--router-port", str(port), "--routers", "2")
    assert code == 2, err
    assert (f"error: port {port + 1} is wanted by the controller (--ctrl-port) and by router-instance-2 "
            "(router-instance-2 takes --router-port + 1; change it with --router-port)") in err.splitlines()


async def test_two_quickstarts_with_their_own_ports_run_side_by_side(tmp_path):
    """Each needs two ports (``--ctrl-port``, ``--router-port``): nothing else is fixed, so they never meet."""
    ports = _free_ports(4)
    first = await start_quickstart(tmp_path / "a", "--ctrl-port", str(ports[0]), "--router-port", str(ports[1]),
                                   "--ctrl-address", "127.0.0.1", "--router-address", "127.0.0.1", "-p", "qs-password")
    try:
        second = await start_quickstart(tmp_path / "b", "--ctrl-port", str(ports[2]), "--router-port", str(ports[3]),
                                        "--ctrl-address", "127.0.0.1", "--router-address", "127.0.0.1",
                                        "-p", "qs-password")
        try:
            assert first.url == f"https://127.0.0.1:{ports[0]}" and second.url == f"https://127.0.0.1:{ports[2]}"
            assert f"router-instance-1 at tls://127.0.0.1:{ports[3]}" in second.output
            for qs, home in ((first, tmp_path / "a"), (second, tmp_path / "b")):
                await _echo_through_demo(home / "demo-client.json", b"side by side")
                async with await _admin(qs.url, home) as admin:
                    [router] = await _listed(admin, f"{M}/edge-routers")
                    assert router["isOnline"]
        finally:
            assert second.stop() == 0
    finally:
        assert first.stop() == 0


async def _listed(admin: httpx.AsyncClient, path: str) -> list[dict]:
    return (await admin.get(path)).json()["data"]


async def test_quickstart_with_three_controllers_runs_a_cluster(tmp_path):
    opts = QuickstartOptions(home=tmp_path / "qs", ctrl_address="127.0.0.1", bind_host="127.0.0.1", ctrl_port=0,
                             router_port=0, routers=1, password="qs-password", controllers=3)
    events = []
    async with trio.open_nursery() as nursery:
        info = await nursery.start(functools.partial(run_quickstart, opts, out=lambda line: events.append(line)))
        async with await _admin(info.url, opts.home) as admin:
            members = (await admin.get("/fabric/v1/cluster/list-members")).json()["data"]
            assert sorted(m["id"] for m in members) == ["ctrl-1", "ctrl-2", "ctrl-3"]
            assert sum(m["leader"] for m in members) == 1 and all(m["connected"] for m in members)
            routers = (await admin.get(f"{M}/edge-routers")).json()["data"]
            assert [r["isOnline"] for r in routers] == [True]
        nursery.cancel_scope.cancel()
    assert any("3 controllers" in line for line in events)
    # a single controller's home does not silently become a cluster member's
    single = QuickstartOptions(home=tmp_path / "one", ctrl_address="127.0.0.1", bind_host="127.0.0.1", ctrl_port=0,
                               router_port=0, routers=0, password="qs-password", tunneler=False)
    await _start_in_process(single)
    with pytest.raises(BaseExceptionGroup) as refused:  # raised through the quickstart's nursery
        await _start_in_process(replace(single, controllers=3))
    assert refused.group_contains(ConfigError, match="single controller", depth=None)
