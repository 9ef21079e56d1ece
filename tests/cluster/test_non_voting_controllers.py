"""A non-voting controller (docs/ha.md "Non-voting members"): added through the fabric API with
``isVoter: false``, listed as such, it answers reads and forwards writes, cannot take the lead, and is
promoted by adding it again as a voter."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import pytest
import trio

from ziti_aio.controller.pki_home import SIGNER_CA
from ziti_aio.pki.bundle import certs_to_pem
from ziti_aio.pki.files import load_ca
from ziti_aio.pki.keys import key_to_pem
from ziti_aio.testing.cluster import open_controller_cluster, open_joining_controller
from ziti_aio.testing.waiting import wait_until
from ziti_aio.transport.serve import serve_tls
from ziti_aio.transport.tls import server_context

from .leaders import leader_login

if TYPE_CHECKING:
    import ssl
    from pathlib import Path


@pytest.fixture
async def two_and_a_newcomer(tmp_path):
    async with open_controller_cluster(tmp_path, 2) as cluster, open_joining_controller(cluster, "ctrl-3") as three:
        yield cluster, three


async def hang_up(stream) -> None:
    await stream.aclose()


def not_a_controller(home: Path, directory: Path) -> ssl.SSLContext:
    """A server context with a certificate of the cluster's CA whose SPIFFE id names a router."""
    signer = load_ca(home / "pki", SIGNER_CA)
    cert, key = signer.issue_server("router", ips=["127.0.0.1"], spiffe_id="router/r1")
    chain, key_file = directory / "router.chain.pem", directory / "router.key.pem"
    chain.write_bytes(certs_to_pem([cert, *signer.certs]))
    key_file.write_bytes(key_to_pem(key))
    return server_context(cert_chain=str(chain), key=str(key_file), require_client_cert=False)


async def test_a_non_voting_controller_serves_reads_and_forwarded_writes(two_and_a_newcomer, tmp_path):
    cluster, three = two_and_a_newcomer
    leader, admin = await leader_login(cluster)
    address = f"tls:{three.controller.api.cluster.config.address}"
    async with admin:
        token = admin.headers["zt-session"]
        bad = await admin.post("/fabric/v1/cluster/add-member", json={"address": address, "isVoter": "no"})
        assert bad.status_code == 400 and bad.json()["error"]["cause"]["field"] == "isVoter"
        async with trio.open_nursery() as nursery:  # a server of the trust domain that is no controller
            _, port = await nursery.start(partial(serve_tls, hang_up, not_a_controller(cluster[0].home, tmp_path),
                                                  host="127.0.0.1", port=0, name="router"))
            refused = await admin.post("/fabric/v1/cluster/add-member",
                                       json={"address": f"tls:127.0.0.1:{port}", "isVoter": False})
            nursery.cancel_scope.cancel()
        assert refused.status_code == 400 and "is no controller" in refused.json()["error"]["message"]
        added = await admin.post("/fabric/v1/cluster/add-member", json={"address": address, "isVoter": False})
        assert added.status_code == 200, added.text
        members = {m["id"]: m for m in (await admin.get("/fabric/v1/cluster/list-members")).json()["data"]}
        assert {i: m["voter"] for i, m in members.items()} == {"ctrl-1": True, "ctrl-2": True, "ctrl-3": False}
        refused = await admin.post("/fabric/v1/cluster/transfer-leadership", json={"newLeaderId": "ctrl-3"})
        assert refused.status_code == 400 and "not a voting member" in refused.json()["error"]["message"]

    async with three.client(token=token) as http:
        async def caught_up() -> bool:  # the API session made on the leader reaches it through the log
            return (await http.get("/edge/management/v1/current-api-session")).status_code == 200

        await wait_until(caught_up, 20, what="the non-voter knowing the session")
        listed = (await http.get("/fabric/v1/cluster/list-members")).json()["data"]
        assert next(m for m in listed if m["id"] == "ctrl-3")["voter"] is False
        assert sum(m["leader"] for m in listed) == 1
        created = await http.post("/edge/management/v1/config-types", json={"name": "via-non-voter", "schema": {}})
        assert created.status_code == 201, created.text  # forwarded to the leader
        read = await http.get(f"/edge/management/v1/config-types/{created.json()['data']['id']}")
        assert read.status_code == 200 and read.json()["data"]["name"] == "via-non-voter"
        controllers = (await http.get("/edge/management/v1/controllers")).json()["data"]
        assert sorted(c["id"] for c in controllers) == ["ctrl-1", "ctrl-2", "ctrl-3"]

    async with await leader.login() as admin:
        promoted = await admin.post("/fabric/v1/cluster/add-member", json={"address": address, "isVoter": True})
        assert promoted.status_code == 200, promoted.text
        members = (await admin.get("/fabric/v1/cluster/list-members")).json()["data"]
        assert all(m["voter"] for m in members) and len(members) == 3
    await wait_until(lambda: three.controller.api.cluster.voter, 10, what="ctrl-3 knowing it votes")
