"""``/transit-routers``: routers that only forward, listed apart from the edge routers they are stored with."""

import pytest

from ziti_aio.testing.controller import MANAGEMENT, create

M = MANAGEMENT


async def test_transit_router_collection(admin):
    edge = await create(admin, "edge-routers", {"name": "edge-1"})
    resp = await admin.post(f"{M}/transit-routers", json={"name": "t1", "cost": 5})
    assert resp.status_code == 201, resp.text
    tid = resp.json()["data"]["id"]
    listed = (await admin.get(f"{M}/transit-routers")).json()
    assert [r["id"] for r in listed["data"]] == [tid]
    assert listed["meta"]["pagination"]["totalCount"] == 1
    detail = (await admin.get(f"{M}/transit-routers/{tid}")).json()["data"]
    assert detail["name"] == "t1" and detail["cost"] == 5 and detail["isTunnelerEnabled"] is False
    assert detail["enrollmentJwt"]
    assert (await admin.get(f"{M}/transit-routers/{edge}")).status_code == 404
    assert (await admin.delete(f"{M}/transit-routers/{edge}")).status_code == 404
    assert (await admin.delete(f"{M}/transit-routers/{tid}")).status_code == 200
    assert (await admin.get(f"{M}/transit-routers")).json()["data"] == []
    assert [r["id"] for r in (await admin.get(f"{M}/edge-routers")).json()["data"]] == [edge]


async def test_transit_routers_need_router_permissions(controller):
    async with controller.client() as anon:
        assert (await anon.get(f"{M}/transit-routers")).status_code == 401


@pytest.mark.parametrize("tags", ["AAA", [None, None], -1.5])
async def test_transit_router_with_tags_not_an_object_is_refused(admin, tags):
    resp = await admin.post(f"{M}/transit-routers", json={"name": "t-bad", "tags": tags})
    assert resp.status_code == 400 and resp.json()["error"]["cause"]["field"] == "tags"
    assert (await admin.get(f"{M}/transit-routers")).json()["data"] == []
