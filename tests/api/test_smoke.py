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


async def test_one_keep_alive_connection_carries_answers_with_and_without_bodies(controller):
    """The API server sends a fixed-length answer's head together with its body (controller/api/server.py):
    a HEAD answer (a head and no body), an error and a normal answer in turn on one connection."""
    async with controller.client() as c:
        head = await c.head("/edge/client/v1/version")
        missing = await c.get("/edge/client/v1/no-such-thing")
        version = await c.get("/edge/client/v1/version")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(version.content) > 0
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
    assert version.json()["data"]["apiVersions"]["edge"]["v1"]["path"] == CLIENT
