"""``ziti-aio run --config``: a controller node and a router-only node, two processes, join up."""

import re
import ssl
import subprocess
import sys

import httpx
import trio

M = "/edge/management/v1"


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
            finally:
                router.terminate()
                assert router.wait(timeout=20) == 0
            with trio.fail_after(10):
                while (await admin.get(f"{M}/edge-routers/{rid}")).json()["data"]["isOnline"]:
                    await trio.sleep(0.05)
    finally:
        ctrl.terminate()
        assert ctrl.wait(timeout=20) == 0


async def test_bad_config_exits_non_zero_with_a_clear_message(tmp_path):
    (tmp_path / "bad.toml").write_text('home = "/x"\n[controller]\naddres = "a"\n')
    result = await trio.run_process([sys.executable, "-m", "ziti_aio", "run", "--config", str(tmp_path / "bad.toml")],
                                    capture_stdout=True, capture_stderr=True, check=False)
    assert result.returncode == 1
    assert b"controller.addres" in result.stderr or b"address is required" in result.stderr
    assert b"Traceback" not in result.stderr
