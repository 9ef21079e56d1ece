from ziti_aio.testing.controller import CLIENT, MANAGEMENT


async def test_version_and_instance_header(controller):
    async with controller.client() as c:
        resp = await c.get("/version")
    assert resp.status_code == 200
    assert resp.headers["ziti-instance-id"]
    assert resp.json()["data"]["apiVersions"]["edge"]["v1"]["path"] == CLIENT


async def test_admin_can_list_identities(admin):
    resp = await admin.get(f"{MANAGEMENT}/identities")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["meta"]["pagination"]["totalCount"] == 1
    assert body["data"][0]["isDefaultAdmin"] is True
