"""``ziti-aio cluster``: list the members, move the leadership; a single controller is a cluster of one."""

import json

import pytest

from ziti_aio.testing import wait_until
from ziti_aio.testing.cluster import leading, open_controller_cluster
from ziti_aio.testing.controller import ADMIN_PASSWORD, ADMIN_USERNAME


@pytest.fixture
async def cluster(tmp_path):
    async with open_controller_cluster(tmp_path / "cluster") as running:
        yield running


async def test_cluster_list_and_transfer_leadership(cli, cluster):
    leader = await wait_until(lambda: leading(cluster), 20, what="a leader")
    await cli("login", leader.url, "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD, "-y")
    table = (await cli("cluster", "list")).output.splitlines()
    assert table[0].split() == ["ID", "ADDRESS", "VOTER", "LEADER", "CONNECTED", "VERSION"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert sorted(rows) == ["ctrl-1", "ctrl-2", "ctrl-3"]
    me = leader.controller.api.cluster.node_id
    assert rows[me][3] == "true" and sum(r[3] == "true" for r in rows.values()) == 1
    target = next(i for i in rows if i != me)
    await cli("cluster", "transfer-leadership", target)
    new = await wait_until(lambda: leading(cluster), 20, what="the new leader")
    assert new.controller.api.cluster.node_id == target
    members = json.loads((await cli("cluster", "list", "-j")).output)["data"]
    assert next(m for m in members if m["leader"])["id"] == target


async def test_a_single_controller_is_a_cluster_of_one_named_by_its_instance_id(logged_in, controller):
    members = json.loads((await logged_in("cluster", "list", "-j")).output)["data"]
    assert [(m["id"], m["leader"], m["voter"]) for m in members] == [(controller.info.instance_id, True, True)]
