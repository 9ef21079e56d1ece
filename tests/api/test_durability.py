"""Restarts on the same home keep everything; kill -9 after a 2xx answer loses nothing."""

import os
import signal
import ssl

import httpx
import pytest

from ziti_aio.testing.controller import MANAGEMENT, create, open_controller
from ziti_aio.testing.quickstart import start_quickstart

PASSWORD = "durable-password"


async def test_restart_on_the_same_home_keeps_store_and_pki(tmp_path):
    home = tmp_path / "ctrl"
    async with open_controller(home) as first:
        admin = await first.login()
        async with admin:
            sid = await create(admin, "services", {"name": "kept", "roleAttributes": ["a"]})
            iid = await create(admin, "identities", {"name": "who", "isAdmin": False, "enrollment": {"ott": True}})
            jwt_before = (await admin.get(f"{MANAGEMENT}/identities/{iid}")).json()["data"]["enrollment"]["ott"]["jwt"]
        ca_before = first.info.ca_bundle_path.read_bytes()
    async with open_controller(home) as second:
        assert second.info.ca_bundle_path.read_bytes() == ca_before
        admin = await second.login()
        async with admin:
            assert (await admin.get(f"{MANAGEMENT}/services/{sid}")).json()["data"]["name"] == "kept"
            detail = (await admin.get(f"{MANAGEMENT}/identities/{iid}")).json()["data"]
            assert detail["enrollment"]["ott"]["jwt"] == jwt_before
            services = (await admin.get(f"{MANAGEMENT}/services", params={"filter": 'anyOf(roleAttributes) = "a"'}))
            assert services.json()["meta"]["pagination"]["totalCount"] == 1


QS_ARGS = ("--ctrl-port", "0", "--ctrl-address", "127.0.0.1", "-p", PASSWORD, "--routers", "0", "--no-tunneler")


async def _start_quickstart(home):
    qs = await start_quickstart(home, *QS_ARGS)
    return qs.process, qs.url


@pytest.mark.slow
async def test_kill_9_after_acknowledged_writes_loses_nothing(tmp_path):
    home = tmp_path / "qs"
    proc, url = await _start_quickstart(home)
    ca = ssl.create_default_context(cafile=str(home / "controller" / "pki" / "ca-bundle.pem"))
    acknowledged = []
    try:
        async with httpx.AsyncClient(base_url=url, verify=ca, timeout=30) as anon:
            resp = await anon.post(f"{MANAGEMENT}/authenticate?method=password",
                                   json={"username": "admin", "password": PASSWORD})
            token = resp.json()["data"]["token"]
        async with httpx.AsyncClient(base_url=url, verify=ca, timeout=30, headers={"zt-session": token}) as admin:
            for n in range(40):
                acknowledged.append(await create(admin, "services", {"name": f"svc-{n}"}))
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    proc, url = await _start_quickstart(home)
    try:
        async with httpx.AsyncClient(base_url=url, verify=ca, timeout=30) as anon:
            resp = await anon.post(f"{MANAGEMENT}/authenticate?method=password",
                                   json={"username": "admin", "password": PASSWORD})
            assert resp.status_code == 200
            token = resp.json()["data"]["token"]
        async with httpx.AsyncClient(base_url=url, verify=ca, timeout=30, headers={"zt-session": token}) as admin:
            listed = (await admin.get(f"{MANAGEMENT}/services", params={"limit": 500})).json()
        assert sorted(s["id"] for s in listed["data"]) == sorted(acknowledged)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert proc.returncode == 0
