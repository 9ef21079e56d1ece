"""``ziti-aio run --config``: a controller node and a router-only node, two processes, join up and carry a transfer."""

import functools
import re
import ssl
import subprocess
import sys

import httpx
import trio
from progress_recorder import ProgressRecorder

from ziti_aio.appliance.node import run_node
from ziti_aio.appliance.node_config import load_node_config
from ziti_aio.common.api_paths import MANAGEMENT
from ziti_aio.sdk import open_context
from ziti_aio.sdk.enroll import enroll_identity
from ziti_aio.testing import wait_until
from ziti_aio.testing.controller import create

M = MANAGEMENT
MIB = 1 << 20


async def _start(config, marker="ready in"):
    proc = subprocess.Popen([sys.executable, "-m", "ziti_aio", "run", "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []

    def read():
        for line in proc.stdout:
            lines.append(line)
            if line.startswith(marker):
                return "".join(lines)
        raise AssertionError("node exited early:\n" + "".join(lines))

    with trio.fail_after(60):
        return proc, await trio.to_thread.run_sync(read, abandon_on_cancel=True)


async def test_controller_node_and_router_node_join(tmp_path):
    ctrl_home = tmp_path / "ctrl-host"
    (tmp_path / "ctrl.toml").write_text(
        f'home = "{ctrl_home}"\n[controller]\naddress = "127.0.0.1"\nport = 0\nctrl_port = 0\nbind = "127.0.0.1"\n'
        'admin_password = "node-admin-pw"\n')
    ctrl, out = await _start(tmp_path / "ctrl.toml")
    try:
        url = re.search(r"controller\s+(https://\S+)", out).group(1)
        ca = ssl.create_default_context(cafile=str(ctrl_home / "controller" / "pki" / "ca-bundle.pem"))
        async with httpx.AsyncClient(base_url=url, verify=ca) as anon:
            token = (await anon.post(f"{M}/authenticate?method=password",
                                     json={"username": "admin", "password": "node-admin-pw"})).json()["data"]["token"]
        async with httpx.AsyncClient(base_url=url, verify=ca, headers={"zt-session": token}) as admin:
            rid = (await admin.post(f"{M}/edge-routers", json={"name": "r9", "roleAttributes": ["public"]})).json()
            rid = rid["data"]["id"]
            jwt = (await admin.get(f"{M}/edge-routers/{rid}")).json()["data"]["enrollmentJwt"]
            router_home = tmp_path / "router-host"
            router_home.mkdir()
            (router_home / "r9.jwt").write_text(jwt)
            (tmp_path / "router.toml").write_text(
                f'home = "{router_home}"\n[[router]]\nname = "r9"\njwt = "r9.jwt"\nedge = "127.0.0.1:0"\n')
            router, rout = await _start(tmp_path / "router.toml")
            try:
                assert re.search(r"router\s+r9 at tls://127\.0\.0\.1:\d+", rout)
                detail = (await admin.get(f"{M}/edge-routers/{rid}")).json()["data"]
                assert detail["isOnline"] and detail["isVerified"]
                await _transfer_through(admin, tmp_path)
                await _reused_jwt_is_refused(tmp_path, jwt)
            finally:
                router.terminate()
                assert router.wait(timeout=20) == 0

            async def offline() -> bool:
                return not (await admin.get(f"{M}/edge-routers/{rid}")).json()["data"]["isOnline"]

            await wait_until(offline, 10, what="the stopped router to show offline")
    finally:
        ctrl.terminate()
        assert ctrl.wait(timeout=20) == 0


async def _transfer_through(admin: httpx.AsyncClient, tmp_path) -> None:
    """1 MiB echoed end-to-end encrypted between two SDK identities via the router node."""
    paths = {}
    for name, kind in (("host", "Bind"), ("client", "Dial")):
        iid = await create(admin, "identities", {"name": name, "type": "Device", "isAdmin": False,
                                                  "enrollment": {"ott": True}})
        jwt = (await admin.get(f"{M}/identities/{iid}")).json()["data"]["enrollment"]["ott"]["jwt"]
        paths[name] = tmp_path / f"{name}.json"
        await enroll_identity(jwt, paths[name])
        paths[kind] = iid
    svc = await create(admin, "services", {"name": "echo", "encryptionRequired": True})
    for kind in ("Bind", "Dial"):
        await create(admin, "service-policies", {"name": kind, "type": kind, "identityRoles": ["@" + paths[kind]],
                                                 "serviceRoles": ["@" + svc]})
    await create(admin, "edge-router-policies", {"name": "all", "identityRoles": ["#all"],
                                                 "edgeRouterRoles": ["#public"]})
    await create(admin, "service-edge-router-policies", {"name": "all", "serviceRoles": ["#all"],
                                                         "edgeRouterRoles": ["#all"]})
    payload = bytes(range(256)) * (MIB // 256)
    async with open_context(paths["host"]) as host, open_context(paths["client"]) as client, \
            trio.open_nursery() as nursery:
        listener = await host.bind("echo")

        async def echo_one() -> None:
            async with await listener.accept() as stream:
                while data := await stream.receive_some():
                    await stream.send_all(data)
                await stream.send_eof()

        nursery.start_soon(echo_one)
        with trio.fail_after(60):
            async with await client.dial("echo") as stream:

                async def send() -> None:
                    await stream.send_all(payload)
                    await stream.send_eof()

                nursery.start_soon(send)
                got = b""
                while data := await stream.receive_some():
                    got += data
        assert got == payload


async def _reused_jwt_is_refused(tmp_path, jwt: str) -> None:
    """A second node enrolling with the router's already used JWT: a clear error, exit 1."""
    home = tmp_path / "again"
    home.mkdir()
    (home / "r9.jwt").write_text(jwt)
    (tmp_path / "again.toml").write_text(f'home = "{home}"\n[[router]]\nname = "r9"\njwt = "r9.jwt"\n'
                                         'edge = "127.0.0.1:0"\n')
    with trio.fail_after(60):
        again = str(tmp_path / "again.toml")
        done = await trio.run_process([sys.executable, "-m", "ziti_aio", "run", "--config", again],
                                      capture_stdout=True, capture_stderr=True, check=False)
    assert done.returncode == 1
    assert done.stderr.decode().strip() == \
        "error: router enrollment refused: INVALID_ENROLLMENT_TOKEN: The supplied token is not valid"


async def test_bad_config_exits_non_zero_with_a_clear_message(tmp_path):
    (tmp_path / "bad.toml").write_text('home = "/x"\n[controller]\naddres = "a"\n')
    result = await trio.run_process([sys.executable, "-m", "ziti_aio", "run", "--config", str(tmp_path / "bad.toml")],
                                    capture_stdout=True, capture_stderr=True, check=False)
    assert result.returncode == 2
    assert b"controller.addres" in result.stderr or b"address is required" in result.stderr
    assert b"Traceback" not in result.stderr


async def test_a_node_shows_its_start_up_steps_and_ends_each_before_its_line(tmp_path):
    (tmp_path / "node.toml").write_text(
        f'home = "{tmp_path / "home"}"\n[controller]\naddress = "127.0.0.1"\nport = 0\nctrl_port = 0\n'
        'bind = "127.0.0.1"\nadmin_password = "node-admin-pw"\n')
    events: list = []
    async with trio.open_nursery() as nursery:
        await nursery.start(functools.partial(run_node, load_node_config(tmp_path / "node.toml"),
                                              out=lambda line: events.append(("out", line)),
                                              progress=ProgressRecorder(events)))
        nursery.cancel_scope.cancel()
    assert events[:3] == [("step", "generating the PKI, starting the controller"), ("done", True),
                          ("out", events[2][1])]
    assert events[2][1].startswith("controller   https://127.0.0.1:")
