"""Three full controllers in one process forming a cluster: the APIs of a member."""

from __future__ import annotations

import pytest

from ziti_aio.sdk.management import ManagementError
from ziti_aio.testing.cluster import free_port, leading, open_controller_cluster
from ziti_aio.testing.waiting import wait_until


@pytest.fixture
async def cluster(tmp_path):
    async with open_controller_cluster(tmp_path) as running:
        yield running


async def leader_login(cluster):
    """The leader and an admin client logged in on it (an election under load is waited out)."""

    async def attempt():
        leader = leading(cluster)
        if leader is None:
            return None
        try:
            return leader, await leader.login()
        except ManagementError as exc:
            if exc.api_code != "CLUSTER_HAS_NO_LEADER":
                raise
            return None

    return await wait_until(attempt, 20, what="a login on the leader")


async def names_of(running, token) -> set[str]:
    async with running.client(token=token) as http:
        answer = await http.get("/edge/management/v1/config-types", params={"limit": 500})
        assert answer.status_code == 200
        return {c["name"] for c in answer.json()["data"]}


async def test_writes_on_the_leader_are_read_on_every_member_and_followers_answer_503(cluster):
    leader, admin = await leader_login(cluster)
    followers = [r for r in cluster if r is not leader]
    async with admin:
        token = admin.headers["zt-session"]
        created = await admin.post("/edge/management/v1/config-types", json={"name": "replicated", "schema": {}})
        assert created.status_code == 201
        for member in cluster:
            await wait_until(lambda member=member: names_of(member, token), 10)
            await wait_until(lambda member=member: _has(member, token, "replicated"), 10,
                             what=f"{member.controller.api.cluster.node_id} has the write")
        async with followers[0].client(token=token) as http:
            refused = await http.post("/edge/management/v1/config-types", json={"name": "nope", "schema": {}})
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "CLUSTER_HAS_NO_LEADER"
        assert leader.controller.api.cluster.node_id in refused.json()["error"]["message"]
        assert "nope" not in await names_of(leader, token)


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

