"""Management API: envelopes, CRUD for every kind, paging, filters, relations, permissions, bad input."""

import pytest
import trio

from ziti_aio.testing.controller import CLIENT, MANAGEMENT, create

M = MANAGEMENT


async def _list(client, kind, **params):
    resp = await client.get(f"{M}/{kind}", params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def test_create_returns_201_envelope_and_get_renders_detail(admin):
    resp = await admin.post(f"{M}/services", json={"name": "web", "roleAttributes": ["w"]})
    assert resp.status_code == 201
    body = resp.json()
    assert set(body) == {"data", "meta"} and body["meta"] == {}
    sid = body["data"]["id"]
    assert body["data"]["_links"]["self"]["href"].endswith(sid)
    detail = (await admin.get(f"{M}/services/{sid}")).json()["data"]
    assert detail["name"] == "web"
    assert detail["encryptionRequired"] is True
    assert detail["terminatorStrategy"] == "smartrouting"
    assert detail["roleAttributes"] == ["w"]
    assert detail["createdAt"].endswith("Z")


@pytest.mark.parametrize(
    ("kind", "body", "patch"),
    [
        ("identities", {"name": "i1", "type": "Device", "isAdmin": False}, {"roleAttributes": ["x"]}),
        ("services", {"name": "s1"}, {"encryptionRequired": False}),
        ("config-types", {"name": "ct1", "schema": {"type": "object"}}, {"target": "router"}),
        ("edge-routers", {"name": "r1"}, {"cost": 7}),
        ("service-policies", {"name": "sp1", "type": "Dial", "semantic": "AnyOf"}, {"serviceRoles": ["#a"]}),
        ("edge-router-policies", {"name": "erp1", "semantic": "AnyOf"}, {"edgeRouterRoles": ["#all"]}),
        ("service-edge-router-policies", {"name": "serp1", "semantic": "AllOf"}, {"serviceRoles": ["#b"]}),
    ],
)
async def test_crud_round_trip_for_every_kind(admin, kind, body, patch):
    ident = await create(admin, kind, body)
    resp = await admin.patch(f"{M}/{kind}/{ident}", json=patch)
    assert resp.status_code == 200 and resp.json() == {"data": {}, "meta": {}}
    detail = (await admin.get(f"{M}/{kind}/{ident}")).json()["data"]
    for key, value in patch.items():
        assert detail[key] == value
    assert detail["name"] == body["name"]
    listed = await _list(admin, kind, filter=f'name="{body["name"]}"')
    assert [d["id"] for d in listed["data"]] == [ident]
    resp = await admin.delete(f"{M}/{kind}/{ident}")
    assert resp.status_code == 200
    assert (await admin.get(f"{M}/{kind}/{ident}")).status_code == 404


async def test_put_resets_omitted_fields(admin):
    sid = await create(admin, "services", {"name": "s", "roleAttributes": ["a"], "encryptionRequired": False})
    resp = await admin.put(f"{M}/services/{sid}", json={"name": "s2"})
    assert resp.status_code == 200
    detail = (await admin.get(f"{M}/services/{sid}")).json()["data"]
    assert detail["name"] == "s2" and detail["roleAttributes"] == [] and detail["encryptionRequired"] is True


async def test_configs_validate_against_their_type(admin):
    good = {"protocols": ["tcp"], "addresses": ["echo.ziti"], "portRanges": [{"low": 80, "high": 80}]}
    cid = await create(admin, "configs", {"name": "c1", "configTypeId": "intercept.v1", "data": good})
    detail = (await admin.get(f"{M}/configs/{cid}")).json()["data"]
    assert detail["configType"]["name"] == "intercept.v1"
    resp = await admin.post(f"{M}/configs", json={"name": "c2", "configTypeId": "intercept.v1",
                                                  "data": {"protocols": ["icmp"]}})
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "COULD_NOT_VALIDATE"
    sid = await create(admin, "services", {"name": "s", "configs": ["c1"]})
    assert (await admin.get(f"{M}/services/{sid}")).json()["data"]["configs"] == [cid]
    resp = await admin.delete(f"{M}/configs/{cid}")
    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == "CONFLICT_CANNOT_MODIFY_REFERENCED"


async def test_paging_counts_and_limits(admin):
    for n in range(23):
        await create(admin, "services", {"name": f"svc-{n:02d}"})
    first = await _list(admin, "services")
    assert len(first["data"]) == 10
    assert first["meta"]["pagination"] == {"limit": 10, "offset": 0, "totalCount": 23}
    last = await _list(admin, "services", limit=25, offset=20)
    assert [s["name"] for s in last["data"]] == ["svc-20", "svc-21", "svc-22"]
    assert last["meta"]["pagination"]["totalCount"] == 23
    filtered = await _list(admin, "services", filter='name contains "-1" sort by name desc limit 3')
    assert [s["name"] for s in filtered["data"]] == ["svc-19", "svc-18", "svc-17"]
    assert filtered["meta"]["pagination"]["totalCount"] == 10


@pytest.mark.parametrize("params", [{"filter": 'name = '}, {"filter": 'nosuchfield = "x"'}, {"limit": "ten"}])
async def test_bad_list_parameters_are_400(admin, params):
    resp = await admin.get(f"{M}/services", params=params)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] in ("INVALID_FILTER", "INVALID_PAGINATION")


async def test_relation_lists_follow_policies(admin):
    iid = await create(admin, "identities", {"name": "alice", "type": "Default", "isAdmin": False,
                                             "roleAttributes": ["clients"]})
    sid = await create(admin, "services", {"name": "echo", "roleAttributes": ["echo"]})
    await create(admin, "service-policies", {"name": "dial", "type": "Dial", "semantic": "AnyOf",
                                             "identityRoles": ["#clients"], "serviceRoles": ["@echo"]})
    services = (await admin.get(f"{M}/identities/{iid}/services")).json()
    assert [s["id"] for s in services["data"]] == [sid]
    identities = (await admin.get(f"{M}/services/{sid}/identities")).json()
    assert [i["id"] for i in identities["data"]] == [iid]
    policy = (await _list(admin, "service-policies"))["data"][0]
    assert policy["serviceRoles"] == [f"@{sid}"]
    assert policy["serviceRolesDisplay"] == [{"role": f"@{sid}", "name": "@echo"}]
    await admin.patch(f"{M}/identities/{iid}", json={"roleAttributes": []})
    assert (await admin.get(f"{M}/identities/{iid}/services")).json()["data"] == []


@pytest.mark.parametrize(
    ("kind", "body", "field"),
    [
        ("services", {"name": 3}, "name"),
        ("services", {"name": "x", "encryptionRequired": "yes"}, "encryptionRequired"),
        ("identities", {"name": "x", "isAdmin": False, "roleAttributes": ["#bad"]}, "roleAttributes"),
        ("service-policies", {"name": "x", "type": "Both", "semantic": "AnyOf"}, "type"),
        ("service-policies", {"name": "x", "type": "Dial", "identityRoles": ["#all", "#a"]}, "identityRoles"),
        ("service-policies", {"name": "x", "type": "Dial", "identityRoles": ["@nobody"]}, "identityRoles"),
        ("edge-routers", {"name": "x", "cost": 2**31}, "cost"),
        ("configs", {"name": "x", "configTypeId": "nope", "data": {}}, "configTypeId"),
    ],
)
async def test_invalid_bodies_are_refused_with_the_field_named(admin, kind, body, field):
    before = (await _list(admin, kind))["meta"]["pagination"]["totalCount"]
    resp = await admin.post(f"{M}/{kind}", json=body)
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == "COULD_NOT_VALIDATE"
    assert error["cause"]["field"] == field
    assert (await _list(admin, kind))["meta"]["pagination"]["totalCount"] == before


async def test_malformed_json_and_duplicates_and_unknown_ids(admin):
    resp = await admin.post(f"{M}/services", content=b"{not json", headers={"content-type": "application/json"})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "COULD_NOT_VALIDATE"
    await create(admin, "services", {"name": "dup"})
    resp = await admin.post(f"{M}/services", json={"name": "dup"})
    assert resp.status_code == 400
    resp = await admin.get(f"{M}/services/nope")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "NOT_FOUND"
    resp = await admin.delete(f"{M}/identities/nope")
    assert resp.status_code == 404
    resp = await admin.get(f"{M}/no-such-things")
    assert resp.status_code == 404 and "error" in resp.json()


async def test_oversized_body_is_refused_before_it_is_read(controller, admin):
    token = admin.headers["zt-session"]

    def post_headers_only() -> bytes:
        import socket

        raw = socket.create_connection(("127.0.0.1", controller.info.port))
        with controller.ssl_context().wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(f"POST {M}/services HTTP/1.1\r\nHost: x\r\nzt-session: {token}\r\n"
                        "Content-Type: application/json\r\nContent-Length: 2000000\r\n\r\n".encode())
            tls.settimeout(10)
            data = b""
            while b"REQUEST_TOO_LARGE" not in data and (chunk := tls.recv(65536)):
                data += chunk
            return data

    answer = await trio.to_thread.run_sync(post_headers_only)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert b'"REQUEST_TOO_LARGE"' in body


async def test_anonymous_and_forged_tokens_get_401(controller):
    async with controller.client() as anon:
        resp = await anon.get(f"{M}/identities")
        assert resp.status_code == 401 and resp.json()["error"]["code"] == "UNAUTHORIZED"
    forged = "eyJhbGciOiJub25lIn0.eyJqdGkiOiJ4Iiwic3ViIjoieSJ9."
    async with controller.client(token=forged) as c:
        assert (await c.get(f"{M}/identities")).status_code == 401
    async with controller.client(token="garbage") as c:
        assert (await c.get(f"{CLIENT}/services")).status_code == 401


async def test_logout_revokes_the_token(controller):
    client = await controller.login()
    async with client:
        assert (await client.delete(f"{M}/current-api-session")).status_code == 200
        assert (await client.get(f"{M}/identities")).status_code == 401
        revoked = None
    admin = await controller.login()
    async with admin:
        revoked = (await admin.get(f"{M}/revocations")).json()
    assert revoked["meta"]["pagination"]["totalCount"] == 1


async def _login_as(controller, admin, name, **identity):
    iid = await create(admin, "identities", {"name": name, "isAdmin": False, **identity})
    await create(admin, "authenticators", {"method": "updb", "identityId": iid, "username": name,
                                           "password": "secret-" + name})
    return await controller.login(name, "secret-" + name), iid


async def test_permissions_gate_management_routes(controller, admin):
    plain, _ = await _login_as(controller, admin, "plain")
    async with plain:
        assert (await plain.get(f"{M}/services")).status_code == 401
    reader, _ = await _login_as(controller, admin, "reader", permissions=["admin_readonly"])
    async with reader:
        assert (await reader.get(f"{M}/services")).status_code == 200
        assert (await reader.post(f"{M}/services", json={"name": "nope"})).status_code == 401
    svc_creator, _ = await _login_as(controller, admin, "svcs", permissions=["service.create", "service.read"])
    async with svc_creator:
        assert (await svc_creator.post(f"{M}/services", json={"name": "ok"})).status_code == 201
        assert (await svc_creator.get(f"{M}/identities")).status_code == 401


async def test_an_identity_cannot_grant_what_it_does_not_hold(controller, admin):
    manager, _ = await _login_as(controller, admin, "mgr", permissions=["identity"])
    async with manager:
        resp = await manager.post(f"{M}/identities", json={"name": "x", "isAdmin": True})
        assert resp.status_code == 401
        resp = await manager.post(f"{M}/identities", json={"name": "y", "isAdmin": False,
                                                           "permissions": ["service"]})
        assert resp.status_code == 401
        resp = await manager.post(f"{M}/identities", json={"name": "z", "isAdmin": False,
                                                           "permissions": ["identity.read"]})
        assert resp.status_code == 201
    names = [i["name"] for i in (await _list(admin, "identities", limit=-1))["data"]]
    assert "x" not in names and "y" not in names and "z" in names


async def test_deleting_a_policy_removes_sessions_it_granted(controller, admin):
    iid = await create(admin, "identities", {"name": "dialer", "isAdmin": False, "roleAttributes": ["c"]})
    await create(admin, "authenticators", {"method": "updb", "identityId": iid, "username": "dialer",
                                           "password": "dialer-pw"})
    sid = await create(admin, "services", {"name": "svc", "roleAttributes": ["s"]})
    pid = await create(admin, "service-policies", {"name": "p", "type": "Dial", "semantic": "AnyOf",
                                                   "identityRoles": ["#c"], "serviceRoles": ["#s"]})
    await create(admin, "edge-routers", {"name": "r1", "roleAttributes": ["public"]})
    await create(admin, "edge-router-policies", {"name": "erp", "semantic": "AnyOf", "identityRoles": ["#all"],
                                                 "edgeRouterRoles": ["#public"]})
    await create(admin, "service-edge-router-policies", {"name": "serp", "semantic": "AnyOf",
                                                         "serviceRoles": ["#all"], "edgeRouterRoles": ["#all"]})
    dialer = await controller.login("dialer", "dialer-pw")
    async with dialer:
        resp = await dialer.post(f"{CLIENT}/sessions", json={"serviceId": sid, "type": "Dial"})
        assert resp.status_code == 201, resp.text
        session = resp.json()["data"]
        assert session["token"] and [r["name"] for r in session["edgeRouters"]] == ["r1"]
        resp = await dialer.post(f"{CLIENT}/sessions", json={"serviceId": sid, "type": "Bind"})
        assert resp.status_code == 404
    assert (await _list(admin, "sessions"))["meta"]["pagination"]["totalCount"] == 1
    await admin.delete(f"{M}/service-policies/{pid}")
    assert (await _list(admin, "sessions"))["meta"]["pagination"]["totalCount"] == 0
    revoked = (await _list(admin, "revocations", filter='type = "SESSION"'))["data"]
    assert [r["id"] for r in revoked] == [session["id"]]


async def test_identity_delete_cascades(controller, admin):
    _, iid = await _login_as(controller, admin, "gone")
    assert (await _list(admin, "api-sessions", filter=f'identityId = "{iid}"'))["data"]
    await admin.delete(f"{M}/identities/{iid}")
    assert (await _list(admin, "authenticators", filter=f'identityId = "{iid}"'))["data"] == []
    assert (await _list(admin, "api-sessions", filter=f'identityId = "{iid}"'))["data"] == []
    default_admin = (await _list(admin, "identities", filter="isDefaultAdmin = true"))["data"][0]
    assert (await admin.delete(f"{M}/identities/{default_admin['id']}")).status_code == 409


async def test_tunneler_flag_on_an_existing_router_creates_renames_and_removes_its_identity(admin):
    rid = await create(admin, "edge-routers", {"name": "er-t"})
    assert (await admin.get(f"{M}/identities/{rid}")).status_code == 404

    resp = await admin.patch(f"{M}/edge-routers/{rid}", json={"isTunnelerEnabled": True})
    assert resp.status_code == 200, resp.text
    identity = (await admin.get(f"{M}/identities/{rid}")).json()["data"]
    assert identity["name"] == "er-t" and identity["typeId"] == "Router"
    system = (await _list(admin, "edge-router-policies", filter='isSystem=true'))["data"]
    assert [p["identityRoles"] for p in system if p["edgeRouterRoles"] == ["@" + rid]] == [["@" + rid]]

    resp = await admin.patch(f"{M}/edge-routers/{rid}", json={"name": "er-renamed"})
    assert resp.status_code == 200, resp.text
    assert (await admin.get(f"{M}/identities/{rid}")).json()["data"]["name"] == "er-renamed"

    await create(admin, "identities", {"name": "taken", "type": "Device", "isAdmin": False})
    resp = await admin.patch(f"{M}/edge-routers/{rid}", json={"name": "taken"})
    assert resp.status_code == 400, resp.text  # the router's identity cannot take that name
    assert (await admin.get(f"{M}/edge-routers/{rid}")).json()["data"]["name"] == "er-renamed"

    resp = await admin.patch(f"{M}/edge-routers/{rid}", json={"isTunnelerEnabled": False})
    assert resp.status_code == 200, resp.text
    assert (await admin.get(f"{M}/identities/{rid}")).status_code == 404
    system = (await _list(admin, "edge-router-policies", filter='isSystem=true'))["data"]
    assert [p for p in system if p["edgeRouterRoles"] == ["@" + rid]] == []


@pytest.mark.parametrize("api", [CLIENT, MANAGEMENT])
async def test_ending_a_session_from_either_api_records_its_revocation(controller, admin, api):
    svc = await create(admin, "services", {"name": "web"})
    await create(admin, "edge-routers", {"name": "er1"})
    await create(admin, "service-policies", {"name": "dial", "type": "Dial", "identityRoles": ["#all"],
                                             "serviceRoles": ["#all"]})
    await create(admin, "edge-router-policies", {"name": "erp", "identityRoles": ["#all"], "edgeRouterRoles": ["#all"]})
    await create(admin, "service-edge-router-policies", {"name": "serp", "serviceRoles": ["#all"],
                                                         "edgeRouterRoles": ["#all"]})
    session = (await admin.post(f"{CLIENT}/sessions", json={"serviceId": svc})).json()["data"]
    resp = await admin.delete(f"{api}/sessions/{session['id']}")
    assert resp.status_code == 200, resp.text
    revocations = (await _list(admin, "revocations", filter='type = "SESSION"'))["data"]
    assert [r["id"] for r in revocations] == [session["id"]]
    assert (await admin.get(f"{M}/sessions/{session['id']}")).status_code == 404
