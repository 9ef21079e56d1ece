"""A controller configured as a cluster of one: it leads at once, serves as soon as it started (the
first content written through its Raft log), fsyncs its journal before acknowledging a write, and keeps
everything across restarts and ``kill -9`` (docs/ha.md)."""

from __future__ import annotations

import ssl
import subprocess
import sys
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import httpx
import pytest

from ziti_aio.controller.cluster.member import ClusterSettings
from ziti_aio.testing.cluster import free_port
from ziti_aio.testing.cluster_processes import ControllerProcess
from ziti_aio.testing.controller import MANAGEMENT, create, open_controller

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

ALONE = ClusterSettings("ctrl-1")
PASSWORD = "one-admin-pw"


async def test_a_cluster_of_one_serves_at_once_and_keeps_its_writes_across_a_restart(tmp_path):
    home = tmp_path / "ctrl"
    async with open_controller(home, cluster=ALONE) as first:
        replica = first.controller.api.cluster
        assert replica is not None and replica.alone and replica.writable
        admin = await first.login()  # no wait: the admin was written before the controller said it started
        async with admin:
            sid = await create(admin, "services", {"name": "kept"})
            assert replica.journal.synced >= replica.applied_index  # acknowledged after the journal's fsync
            version = (await admin.get("/edge/client/v1/version")).json()["data"]
            assert "HA_CONTROLLER" in version["capabilities"]
            members = (await admin.get("/fabric/v1/cluster/list-members")).json()["data"]
            assert [(m["id"], m["leader"]) for m in members] == [("ctrl-1", True)]
    async with open_controller(home, cluster=ALONE) as second:
        admin = await second.login()
        async with admin:
            assert (await admin.get(f"{MANAGEMENT}/services/{sid}")).json()["data"]["name"] == "kept"
            await create(admin, "services", {"name": "after-restart"})


@pytest.mark.slow
async def test_kill_9_of_an_initialised_member_loses_no_acknowledged_write(tmp_path):
    port = free_port()
    config = tmp_path / "node.toml"
    config.write_text(f'home = "{tmp_path / "home"}"\n[controller]\naddress = "127.0.0.1"\nport = {port}\n'
                      f'bind = "127.0.0.1"\nadmin_password = "{PASSWORD}"\n')
    init = subprocess.run([sys.executable, "-m", "ziti_aio", "cluster", "init", "--config", str(config)],
                          capture_output=True, text=True, check=False)
    assert init.returncode == 0, init.stderr
    assert "spiffe://ziti-aio/controller/ctrl-1" in init.stdout
    ca = ssl.create_default_context(cafile=str(tmp_path / "home" / "controller" / "pki" / "ca-bundle.pem"))
    url = f"https://127.0.0.1:{port}"
    acknowledged: list[str] = []
    member = ControllerProcess("ctrl-1", tmp_path / "home", "127.0.0.1", port, config)
    await member.start()
    try:
        async with _admin(url, ca) as admin:
            for n in range(40):
                acknowledged.append(await create(admin, "services", {"name": f"svc-{n}"}))
    finally:
        member.kill()
    await member.start()
    try:
        async with _admin(url, ca) as admin:
            listed = (await admin.get(f"{MANAGEMENT}/services", params={"limit": 500})).json()["data"]
        assert sorted(s["id"] for s in listed) == sorted(acknowledged)
    finally:
        member.stop()


@asynccontextmanager
async def _admin(url: str, ca: ssl.SSLContext) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=url, verify=ca, timeout=30) as client:
        resp = await client.post(f"{MANAGEMENT}/authenticate?method=password",
                                 json={"username": "admin", "password": PASSWORD})
        resp.raise_for_status()
        client.headers["zt-session"] = resp.json()["data"]["token"]
        yield client
