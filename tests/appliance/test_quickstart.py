"""The quickstart as a user runs it: a real process, a persistent home, routers that come online."""

import ssl

import httpx
import trio

from ziti_aio.testing.quickstart import start_quickstart

M = "/edge/management/v1"
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
            with trio.fail_after(20):
                while not (links := (await admin.get(f"{M}/links")).json()["data"]):
                    await trio.sleep(0.1)
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
