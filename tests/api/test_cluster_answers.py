"""A cluster member's answers (fabric cluster/list-members, both APIs' /controllers) against OpenZiti's schemas."""

from __future__ import annotations

import pytest

from ziti_aio.testing.cluster import leading, open_controller_cluster
from ziti_aio.testing.waiting import wait_until

from .openapi import body_problems, needs_fabric_openapi, needs_openapi, operation


@pytest.fixture
async def cluster(tmp_path):
    async with open_controller_cluster(tmp_path) as running:
        yield running



@needs_fabric_openapi
@needs_openapi
async def test_cluster_answers_match_openzitis_schemas(cluster):
    leader = await wait_until(lambda: leading(cluster), 20, what="a leader")
    async with await leader.login() as admin:
        members = await admin.get("/fabric/v1/cluster/list-members")
        problems = body_problems(operation("fabric.yml", "GET", "/cluster/list-members"), members)
        for file, path in (("management.yml", "/edge/management/v1"), ("client.yml", "/edge/client/v1")):
            listed = await admin.get(f"{path}/controllers")
            problems += body_problems(operation(file, "GET", "/controllers"), listed)
        assert not problems, "\n".join(problems)
