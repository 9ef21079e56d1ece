"""Three full controllers in one process forming a cluster: the APIs of a member."""

from __future__ import annotations

import pytest

from ziti_aio.testing.cluster import free_port, leading, open_controller_cluster
from ziti_aio.testing.waiting import wait_until

from .leaders import leader_login


@pytest.fixture
async def cluster(tmp_path):
    async with open_controller_cluster(tmp_path) as running:
        yield running


async def names_of(running, token) -> set[str]:
    async with running.client(token=token) as http:
        answer = await http.get("/edge/management/v1/config-types", params={"limit": 500})
        assert answer.status_code == 200
        return {c["name"] for c in answer.json()["data"]}


async def test_writes_on_any_member_reach_every_member_and_read_back_where_made(cluster):
    leader, admin = await leader_login(cluster)
    followers = [r for r in cluster if r is not leader]
    async with admin:
        token = admin.headers["zt-session"]
        created = await admin.post("/edge/management/v1/config-types", json={"name": "on-leader", "schema": {}})
        assert created.status_code == 201
        async with followers[0].client(token=token) as http:  # forwarded to the leader
            forwarded = await http.post("/edge/management/v1/config-types", json={"name": "on-follower", "schema": {}})
            assert forwarded.status_code == 201, forwarded.text
            # read back at once on the member that took it: it waited to apply the leader's log that far
            read = await http.get(f"/edge/management/v1/config-types/{forwarded.json()['data']['id']}")
            assert read.status_code == 200 and read.json()["data"]["name"] == "on-follower"
            duplicate = await http.post("/edge/management/v1/config-types", json={"name": "on-leader", "schema": {}})
            assert duplicate.status_code == 400, "validated by the leader against the whole state"
        for member in cluster:
            for name in ("on-leader", "on-follower"):
                await wait_until(lambda member=member, name=name: _has(member, token, name), 10,
                                 what=f"{member.controller.api.cluster.node_id} has {name}")


async def test_a_login_on_a_follower_works_everywhere(cluster):
    await leader_login(cluster)
    follower = next(r for r in cluster if r is not leading(cluster))
    async with await follower.login() as admin:  # POST /authenticate: forwarded, the session replicated
        me = await admin.get("/edge/management/v1/current-api-session")
        assert me.status_code == 200, "at once on the member that took the login"
        for member in cluster:
            async with member.client(token=admin.headers["zt-session"]) as http:
                async def known(http=http) -> bool:
                    return (await http.get("/edge/management/v1/current-api-session")).status_code == 200

                await wait_until(known, 10, what="the session on every member")


async def _has(member, token, name) -> bool:
    return name in await names_of(member, token)


async def test_version_controllers_and_cluster_members(cluster):
    leader, admin = await leader_login(cluster)
    async with admin:
        version = (await admin.get("/edge/client/v1/version")).json()["data"]
        assert "HA_CONTROLLER" in version["capabilities"]
        listed = (await admin.get("/edge/management/v1/controllers")).json()["data"]
        assert sorted(c["id"] for c in listed) == ["ctrl-1", "ctrl-2", "ctrl-3"]
        urls = {c["id"]: c["apiAddresses"]["edge-client"][0]["url"] for c in listed}
        assert {u.split("/edge/")[0] for u in urls.values()} == {r.url for r in cluster}
        members = (await admin.get("/fabric/v1/cluster/list-members")).json()["data"]
        assert sum(m["leader"] for m in members) == 1
        assert next(m for m in members if m["leader"])["id"] == leader.controller.api.cluster.node_id
        assert all(m["connected"] for m in members)

    async def one_leader_by_health() -> bool:
        leaders = []
        for member in cluster:
            async with member.client() as anyone:  # health checks answer without credentials
                health = (await anyone.get("/health-checks")).json()["data"]
            raft = next(c for c in health["checks"] if c["id"] == "raft.leader")
            if not raft["healthy"]:
                return False
            leaders += [member] if raft["details"]["isLeader"] else []
        return len(leaders) == 1

    await wait_until(one_leader_by_health, 20, what="one member reporting isLeader, all healthy")


async def test_transfer_leadership_moves_it_and_writes_follow(cluster):
    leader, admin = await leader_login(cluster)
    target = next(r for r in cluster if r is not leader).controller.api.cluster.node_id
    async with admin:
        token = admin.headers["zt-session"]
        moved = await admin.post("/fabric/v1/cluster/transfer-leadership", json={"newLeaderId": target})
        assert moved.status_code == 200, moved.text
    new = await wait_until(lambda: leading(cluster), 20, what="a leader after the transfer")
    assert new.controller.api.cluster.node_id == target
    async with new.client(token=token) as http:  # the API session replicated: the token works on every member
        created = await http.post("/edge/management/v1/config-types", json={"name": "after", "schema": {}})
        assert created.status_code == 201, created.text


async def test_adding_an_unreachable_address_fails_and_changes_nothing(cluster):
    _, admin = await leader_login(cluster)
    async with admin:
        answer = await admin.post("/fabric/v1/cluster/add-member", json={"address": f"tls:127.0.0.1:{free_port()}",
                                                                         "isVoter": True})
        assert answer.status_code == 400
        assert "cannot reach" in answer.json()["error"]["message"]
        members = (await admin.get("/fabric/v1/cluster/list-members")).json()["data"]
        assert len(members) == 3


async def test_the_leader_cannot_remove_itself_but_removes_a_follower(cluster):
    leader, admin = await leader_login(cluster)
    me = leader.controller.api.cluster.node_id
    other = next(r for r in cluster if r is not leader).controller.api.cluster.node_id
    async with admin:
        refused = await admin.post("/fabric/v1/cluster/remove-member", json={"id": me})
        assert refused.status_code == 409
        removed = await admin.post("/fabric/v1/cluster/remove-member", json={"id": other})
        assert removed.status_code == 200, removed.text
        members = (await admin.get("/fabric/v1/cluster/list-members")).json()["data"]
        assert sorted(m["id"] for m in members) == sorted({"ctrl-1", "ctrl-2", "ctrl-3"} - {other})

