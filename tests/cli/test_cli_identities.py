"""``create/list/update/delete identity`` and enrollments/authenticators through the CLI, checked through the API."""

import json

from cli_helpers import created_id, find

from ziti_aio.testing.controller import MANAGEMENT


async def test_identity_lifecycle(logged_in, admin, tmp_path):
    jwt_path = tmp_path / "alice.jwt"
    result = await logged_in("create", "identity", "alice", "-a", "clients,blue", "-a", "extra",
                             "--permissions", "service.read", "-p", "required", "-o", str(jwt_path))
    alice = await find(admin, "identities", "alice")
    assert created_id(result, "identity", "alice") == alice["id"]
    assert alice["roleAttributes"] == ["clients", "blue", "extra"]
    assert alice["permissions"] == ["service.read"]
    assert alice["defaultHostingPrecedence"] == "required"
    assert alice["isAdmin"] is False
    assert jwt_path.read_text() == alice["enrollment"]["ott"]["jwt"]

    table = (await logged_in("list", "identities")).output.splitlines()
    assert table[0].split() == ["ID", "NAME", "TYPE", "ROLE", "ATTRIBUTES", "IS", "ADMIN", "AUTH", "POLICY"]
    assert any(line.startswith(alice["id"]) and "clients, blue, extra" in line for line in table)
    assert table[-1] == "results: 1-2 of 2"

    as_json = json.loads((await logged_in("list", "identities", 'name="alice"', "-j")).output)
    assert [i["id"] for i in as_json["data"]] == [alice["id"]]
    assert as_json["meta"]["pagination"]["totalCount"] == 1

    await logged_in("update", "identity", "alice", "-n", "alice2", "-a", "red", "--permissions", "")
    renamed = (await admin.get(f"{MANAGEMENT}/identities/{alice['id']}")).json()["data"]
    assert (renamed["name"], renamed["roleAttributes"], renamed["permissions"]) == ("alice2", ["red"], [])
    assert renamed["defaultHostingPrecedence"] == "required"

    result = await logged_in("delete", "identity", alice["id"])
    assert result.output.strip() == "deleted identity alice2"
    assert (await admin.get(f"{MANAGEMENT}/identities/{alice['id']}")).status_code == 404


async def test_admin_identity_with_updb_enrollment(logged_in, admin, tmp_path):
    await logged_in("create", "identity", "ops", "-A", "--updb", "ops-user", "-o", str(tmp_path / "ops.jwt"))

    ops = await find(admin, "identities", "ops")
    assert ops["isAdmin"] is True
    assert ops["enrollment"]["updb"]["username"] == "ops-user"
    assert (tmp_path / "ops.jwt").read_text() == ops["enrollment"]["updb"]["jwt"]


async def test_list_is_paged_by_the_server_and_the_filter_limit(logged_in):
    for n in range(11):
        await logged_in("create", "identity", f"user-{n:02d}")

    default_page = (await logged_in("list", "identities")).output.splitlines()
    assert default_page[-1] == "results: 1-10 of 12"
    assert len(default_page) == 12
    everything = (await logged_in("list", "identities", "true limit 50")).output.splitlines()
    assert everything[-1] == "results: 1-12 of 12"
    skipped = (await logged_in("list", "identities", 'name contains "user" skip 10')).output.splitlines()
    assert skipped[-1] == "results: 11-11 of 11"


async def test_identity_errors_are_clean(logged_in, admin):
    await logged_in("create", "identity", "dup")

    result = await logged_in("create", "identity", "dup", code=1)
    assert result.stderr.startswith("error: COULD_NOT_VALIDATE: name")
    result = await logged_in("update", "identity", "dup", code=1)
    assert "nothing to update" in result.stderr
    result = await logged_in("delete", "identity", "ghost", code=1)
    assert result.stderr == "error: no identity found with id or name 'ghost'\n"
    result = await logged_in("list", "identities", "bad filter", code=1)
    assert result.stderr.startswith("error: INVALID_FILTER: ")
    admin_identity = (await admin.get(f"{MANAGEMENT}/current-identity")).json()["data"]
    result = await logged_in("delete", "identity", admin_identity["id"], code=1)
    assert result.stderr.startswith("error: CONFLICT_CANNOT_MODIFY_REFERENCED: ")


async def test_enrollments(logged_in, admin, tmp_path):
    await logged_in("create", "identity", "dave", "--updb", "dave")
    dave = await find(admin, "identities", "dave")

    result = await logged_in("create", "enrollment", "ott", "dave", "--duration", "60",
                             "-o", str(tmp_path / "dave.jwt"))
    enrollment_id = created_id(result, "ott enrollment for", "dave")
    enrollment = (await admin.get(f"{MANAGEMENT}/enrollments/{enrollment_id}")).json()["data"]
    assert (enrollment["method"], enrollment["identityId"]) == ("ott", dave["id"])
    assert (tmp_path / "dave.jwt").read_text() == enrollment["jwt"]

    table = (await logged_in("list", "identity", "enrollments", "dave")).output
    assert enrollment_id in table and "updb" in table and table.endswith("results: 1-2 of 2\n")
    as_json = json.loads((await logged_in("list", "enrollments", 'method="ott"', "-j")).output)
    assert [e["id"] for e in as_json["data"]] == [enrollment_id]

    await logged_in("delete", "enrollment", enrollment_id)
    assert (await admin.get(f"{MANAGEMENT}/enrollments/{enrollment_id}")).status_code == 404
    result = await logged_in("delete", "enrollment", "dave", code=1)
    assert "no enrollment found with id 'dave'" in result.stderr

    await logged_in("create", "identity", "erin")
    await logged_in("create", "enrollment", "updb", "erin", "erin-user")
    erin = await find(admin, "identities", "erin")
    assert erin["enrollment"]["updb"]["username"] == "erin-user"


async def test_updb_authenticator(logged_in, admin, controller):
    await logged_in("create", "identity", "carol")
    carol = await find(admin, "identities", "carol")

    result = await logged_in("create", "authenticator", "updb", "carol", "carol-user", "carol-secret-1")
    authenticator_id = created_id(result, "updb authenticator for", "carol")
    async with controller.client() as anon:
        resp = await anon.post(f"{MANAGEMENT}/authenticate?method=password",
                               json={"username": "carol-user", "password": "carol-secret-1"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["identity"]["id"] == carol["id"]

    table = (await logged_in("list", "authenticators")).output
    assert any(authenticator_id in line and "carol-user" in line and "carol" in line for line in table.splitlines())
    related = json.loads((await logged_in("list", "identity", "authenticators", carol["id"], "-j")).output)
    assert [a["id"] for a in related["data"]] == [authenticator_id]

    await logged_in("delete", "authenticator", authenticator_id)
    assert (await admin.get(f"{MANAGEMENT}/authenticators/{authenticator_id}")).status_code == 404


async def test_api_sessions_sessions_and_role_attributes(logged_in, admin):
    await logged_in("create", "identity", "frank", "-a", "zeta,alpha")

    attributes = (await logged_in("list", "identity-role-attributes")).output.splitlines()
    assert attributes == ["ROLE ATTRIBUTE", "alpha", "zeta", "results: 1-2 of 2"]
    assert (await logged_in("list", "sessions")).output == "results: none\n"
    api_sessions = json.loads((await logged_in("list", "api-sessions", "-j")).output)["data"]
    assert len(api_sessions) == 2
    mine = (await admin.get(f"{MANAGEMENT}/current-api-session")).json()["data"]["id"]
    other = next(s["id"] for s in api_sessions if s["id"] != mine)

    await logged_in("delete", "api-session", mine)

    remaining = (await logged_in("list", "api-sessions")).output
    assert other in remaining and mine not in remaining


async def test_disable_and_enable_an_identity(logged_in, admin):
    await logged_in("create", "identity", "dora")
    result = await logged_in("update", "identity", "dora", "--disable", "--duration-minutes", "30")
    assert result.output.strip() == "disabled identity dora"
    dora = await find(admin, "identities", "dora")
    assert dora["disabled"] is True and dora["disabledUntil"] is not None
    await logged_in("update", "identity", "dora", "--disable")
    assert (await find(admin, "identities", "dora"))["disabledUntil"] is None
    result = await logged_in("update", "identity", "dora", "--enable", "-a", "back")
    assert result.output.splitlines() == ["updated identity dora", "enabled identity dora"]
    dora = await find(admin, "identities", "dora")
    assert (dora["disabled"], dora["roleAttributes"]) == (False, ["back"])
    result = await logged_in("update", "identity", "dora", "--disable", "--enable", code=1)
    assert "not both" in result.stderr
    result = await logged_in("update", "identity", "dora", "--duration-minutes", "5", code=1)
    assert "goes with --disable" in result.stderr
    assert (await find(admin, "identities", "dora"))["disabled"] is False


async def test_policy_advice_explains_what_is_missing(logged_in, admin):
    await logged_in("create", "identity", "pat", "-a", "staff")
    await logged_in("create", "service", "web", "-a", "apps")
    result = await logged_in("policy-advice", "pat", "web")
    lines = result.output.splitlines()
    assert lines[0] == "ERROR: pat -> web" and lines[1] == "  dial: no, bind: no"
    assert "  - no service policy lets the identity dial or bind the service" in lines
    assert "  - no edge router policy gives the identity an edge router" in lines

    await logged_in("create", "service-policy", "d", "Dial", "--identity-roles", "#staff", "--service-roles", "#apps")
    await logged_in("create", "edge-router", "er", "-a", "edge")
    await logged_in("create", "edge-router-policy", "erp", "--identity-roles", "#staff", "--edge-router-roles", "#edge")
    await logged_in("create", "service-edge-router-policy", "serp", "--service-roles", "#apps",
                    "--edge-router-roles", "#edge")
    lines = (await logged_in("policy-advice", "pat", "web")).output.splitlines()
    assert lines == ["ERROR: pat -> web", "  dial: yes, bind: no",
                     "  edge routers: 1 for the identity, 1 for the service, 1 shared, 0 of them online",
                     "  - every edge router they share is offline"]
    as_json = json.loads((await logged_in("policy-advice", "pat", "web", "-j")).output)
    assert as_json["data"]["commonRouters"][0]["name"] == "er"
    result = await logged_in("policy-advice", "pat", "nope", code=1)
    assert "nope" in result.stderr
