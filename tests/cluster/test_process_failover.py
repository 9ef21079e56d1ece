"""A router and SDKs in this process, three controllers as separate processes
(``ziti_aio/testing/cluster_processes.py``): a bind while a member hangs (``SIGSTOP``) is answered by
the others, and a transfer running through
``kill -9`` of the leader loses no byte; the next dial is set up by a survivor (docs/ha.md)."""

from __future__ import annotations

import hashlib
import os
import signal
from typing import TYPE_CHECKING

import pytest
import trio

from ziti_aio.common.errors import ZitiError
from ziti_aio.router.ctrl import REQUEST_TIMEOUT_S as ROUTER_REQUEST_TIMEOUT_S
from ziti_aio.router.enroll import enroll_router
from ziti_aio.router.router import EdgeRouter, RouterConfig
from ziti_aio.sdk import open_context
from ziti_aio.sdk.enroll import enroll_identity
from ziti_aio.testing.cluster_processes import MANAGEMENT, admin_clients, controller_processes
from ziti_aio.testing.waiting import wait_until

from .leaders import one_leader

if TYPE_CHECKING:
    import httpx

pytestmark = pytest.mark.slow

CHUNK = 64 * 1024
CHUNKS = 96  # 6 MiB


async def _create(admin: httpx.AsyncClient, kind: str, body: dict) -> str:
    resp = await admin.post(f"{MANAGEMENT}/{kind}", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]["id"]


async def _get(admin: httpx.AsyncClient, path: str) -> dict:
    resp = await admin.get(f"{MANAGEMENT}/{path}")
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


async def _echo(listener, nursery: trio.Nursery) -> None:
    while True:
        conn = await listener.accept()

        async def echo(conn=conn) -> None:
            async with conn:
                try:
                    while data := await conn.receive_some():
                        await conn.send_all(data)
                except trio.BrokenResourceError:
                    pass

        nursery.start_soon(echo)


async def test_binds_while_a_member_hangs_and_a_transfer_through_kill_9_of_the_leader(tmp_path):
    async with controller_processes(tmp_path) as members, trio.open_nursery() as nursery:
        clients = await admin_clients(members)
        leader_id = await wait_until(lambda: one_leader(clients), 30, what="one leader")
        leader = next(m for m in members if m.ident == leader_id)
        admin = clients[leader_id]  # writes and reads through one member: it reads its own writes
        await _create(admin, "edge-router-policies", {"name": "all", "identityRoles": ["#all"],
                                                      "edgeRouterRoles": ["#all"]})
        await _create(admin, "service-edge-router-policies", {"name": "all", "serviceRoles": ["#all"],
                                                              "edgeRouterRoles": ["#all"]})
        router_id = await _create(admin, "edge-routers", {"name": "er1", "isTunnelerEnabled": True})
        router_home = tmp_path / "er1"
        await enroll_router((await _get(admin, f"edge-routers/{router_id}"))["enrollmentJwt"], router_home,
                            names=["127.0.0.1"])
        router = EdgeRouter(RouterConfig(home=router_home, edge_bind_host="127.0.0.1", edge_port=0,
                                         advertised_host="127.0.0.1"))
        await nursery.start(router.run)
        paths = {}
        for name in ("host", "dialer"):
            ident = await _create(admin, "identities", {"name": name, "type": "Device", "isAdmin": False,
                                                        "enrollment": {"ott": True}})
            paths[name] = tmp_path / f"{name}.json"
            await enroll_identity((await _get(admin, f"identities/{ident}"))["enrollment"]["ott"]["jwt"],
                                  paths[name])
        service_id = await _create(admin, "services", {"name": "bulk", "encryptionRequired": True})
        for name, kind in (("host", "Bind"), ("dialer", "Dial")):
            await _create(admin, "service-policies", {"name": f"{name}-{kind}", "type": kind,
                                                      "identityRoles": [f"@{paths[name].stem}"],
                                                      "serviceRoles": [f"@{service_id}"]})

        async def online_everywhere() -> bool:
            for client in clients.values():
                resp = await client.get(f"{MANAGEMENT}/edge-routers/{router_id}")
                if resp.status_code != 200 or not resp.json()["data"]["isOnline"]:
                    return False
            return True

        await wait_until(online_everywhere, 30, what="the router connected to every member")
        hung = next(m for m in members if m is not leader)
        async with open_context(paths["host"]) as hosting, open_context(paths["dialer"]) as dialing, \
                trio.open_nursery() as serving:
            hung.signal(signal.SIGSTOP)
            try:  # a member that neither answers nor closes its channel holds no bind up
                with trio.fail_after(ROUTER_REQUEST_TIMEOUT_S / 2):
                    listener = await hosting.bind("bulk")
            finally:
                hung.signal(signal.SIGCONT)
            serving.start_soon(_echo, listener, serving)

            async def terminators_everywhere() -> bool:
                for client in clients.values():
                    resp = await client.get(f"{MANAGEMENT}/terminators", params={"filter": f'service="{service_id}"'})
                    if resp.status_code != 200 or not resp.json()["data"]:
                        return False
                return True

            await wait_until(terminators_everywhere, 30, what="the terminator on every member, the hung one too")
            payload = os.urandom(CHUNK * CHUNKS)
            received = bytearray()
            with trio.fail_after(120):
                async with await dialing.dial("bulk") as stream:
                    async def send() -> None:
                        for n in range(CHUNKS):
                            if n == CHUNKS // 4:
                                leader.kill()  # kill -9 of the leader mid-transfer
                            await stream.send_all(payload[n * CHUNK:(n + 1) * CHUNK])

                    async with trio.open_nursery() as transfer:
                        transfer.start_soon(send)
                        while len(received) < len(payload):
                            received += await stream.receive_some()
            assert leader.process is not None and leader.process.returncode == -signal.SIGKILL
            assert len(received) == len(payload)
            assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()

            survivors = [clients[m.ident] for m in members if m is not leader]

            async def dial_again() -> tuple[bytes, int] | None:
                try:
                    async with await dialing.dial("bulk") as again:
                        await again.send_all(b"after the failover")
                        echoed = bytes(await again.receive_some())
                        circuits = 0
                        for client in survivors:  # while the circuit is up: a survivor made it
                            resp = await client.get(f"{MANAGEMENT}/circuits")
                            circuits += len(resp.json()["data"]) if resp.status_code == 200 else 0
                        return echoed, circuits
                except (ZitiError, trio.BrokenResourceError):  # an election on a loaded machine: the next try
                    return None

            echoed, circuits = await wait_until(dial_again, 60, what="a dial after the failover")
            assert echoed == b"after the failover"
            assert circuits == 1, "one surviving member set the new circuit up"
            serving.cancel_scope.cancel()
        for client in clients.values():
            await client.aclose()
        nursery.cancel_scope.cancel()
