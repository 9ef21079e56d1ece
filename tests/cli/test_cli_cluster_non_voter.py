"""``ziti-aio cluster add ADDRESS --voter=false``: a non-voting member, listed as such, then promoted."""

import pytest

from ziti_aio.testing import wait_until
from ziti_aio.testing.cluster import leading, open_controller_cluster, open_joining_controller
from ziti_aio.testing.controller import ADMIN_PASSWORD, ADMIN_USERNAME


@pytest.fixture
async def two_and_a_newcomer(tmp_path):
    async with open_controller_cluster(tmp_path / "cluster", 2) as cluster, \
            open_joining_controller(cluster, "ctrl-3") as three:
        yield cluster, three


def voters(output: str) -> dict[str, str]:
    lines = output.splitlines()
    assert lines[0].split()[:3] == ["ID", "ADDRESS", "VOTER"]
    return {line.split()[0]: line.split()[2] for line in lines[1:]}


async def test_cluster_add_a_non_voter_and_promote_it(cli, two_and_a_newcomer):
    cluster, three = two_and_a_newcomer
    leader = await wait_until(lambda: leading(cluster), 20, what="a leader")
    await cli("login", leader.url, "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD, "-y")
    address = f"tls:{three.controller.api.cluster.config.address}"
    assert "--voter" in (await cli("cluster", "add", address, "--voter=maybe", code=2)).output
    assert "non-voting" in (await cli("cluster", "add", address, "--voter=false")).output
    assert voters((await cli("cluster", "list")).output) == {"ctrl-1": "true", "ctrl-2": "true", "ctrl-3": "false"}
    refused = await cli("cluster", "transfer-leadership", "ctrl-3", code=1)
    assert "not a voting member" in refused.output
    await cli("cluster", "add", address, "--voter=true")
    assert voters((await cli("cluster", "list")).output) == {"ctrl-1": "true", "ctrl-2": "true", "ctrl-3": "true"}
