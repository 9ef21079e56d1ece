"""Posture on the client API: responses kept per API session, sessions refused with INVALID_POSTURE
while posture fails, services' postureQueries, sessions ended when posture stops passing (a newer
response, an MFA timeout), posture data, failed requests and policy advice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.fields import format_time
from ziti_aio.testing.controller import CLIENT, MANAGEMENT, create
from ziti_aio.testing.waiting import wait_until

M = MANAGEMENT
PASSWORD = "posture-user-password"
LINUX = {"id": "os-check", "typeId": "OS", "type": "Linux", "version": "6.1.0-13-amd64", "build": "#1 SMP"}


async def _setup(admin, *, checks: list[dict], name: str = "pat") -> dict[str, str]:
    """A user, a service it may dial only through a policy needing ``checks``, and a router."""
    user = await create(admin, "identities", {"name": name, "type": "User"})
    await create(admin, "authenticators", {"method": "updb", "identityId": user, "username": name,
                                           "password": PASSWORD})
    ids = {"user": user, "service": await create(admin, "services", {"name": f"{name}-svc"})}
    for i, check in enumerate(checks):
        ids[f"check{i}"] = await create(admin, "posture-checks", {"name": f"{name}-check{i}",
                                                                  "roleAttributes": ["needed"], **check})
    ids["policy"] = await create(admin, "service-policies", {
        "name": f"{name}-dial", "type": "Dial", "identityRoles": [f"@{user}"], "serviceRoles": [f"@{ids['service']}"],
        "postureCheckRoles": ["#needed"]})
    await create(admin, "edge-routers", {"name": f"{name}-er"})
    await create(admin, "edge-router-policies", {"name": f"{name}-erp", "identityRoles": ["#all"],
                                                 "edgeRouterRoles": ["#all"]})
    await create(admin, "service-edge-router-policies", {"name": f"{name}-serp", "serviceRoles": ["#all"],
                                                         "edgeRouterRoles": ["#all"]})
    return ids


async def _login(controller, name: str = "pat"):
    async with controller.client() as anon:
        resp = await anon.post(f"{CLIENT}/authenticate?method=password", json={"username": name,
                                                                                "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    return controller.client(token=data["token"]), data["id"]


async def test_os_check_refuses_then_allows_then_cuts(controller, admin):
    ids = await _setup(admin, checks=[{"typeId": "OS", "operatingSystems": [{"type": "Linux",
                                                                              "versions": [">=5.10"]}]}])
    client, api_session = await _login(controller)
    async with client:
        refused = await client.post(f"{CLIENT}/sessions", json={"serviceId": ids["service"], "type": "Dial"})
        assert refused.status_code == 409, refused.text
        error = refused.json()["error"]
        assert error["code"] == "INVALID_POSTURE"
        failures = error["cause"]["data"][ids["policy"]]
        assert [f["postureCheckId"] for f in failures] == [ids["check0"]]
        assert failures[0]["actualValue"] == {"type": "", "version": ""}

        listed = (await client.get(f"{CLIENT}/services")).json()["data"]
        queries = listed[0]["postureQueries"]
        assert [(q["policyId"], q["isPassing"]) for q in queries] == [(ids["policy"], False)]
        assert queries[0]["postureQueries"][0]["queryType"] == "OS"
        assert queries[0]["postureQueries"][0]["id"] == ids["check0"]

        resp = await client.post(f"{CLIENT}/posture-response-bulk", json=[{**LINUX, "version": "4.19.0"}])
        assert resp.status_code == 200 and resp.json()["data"] == {"services": []}, resp.text
        assert (await client.post(f"{CLIENT}/sessions", json={"serviceId": ids["service"]})).status_code == 409

        resp = await client.post(f"{CLIENT}/posture-response-bulk", json=[LINUX])
        assert resp.status_code == 200, resp.text
        granted = await client.post(f"{CLIENT}/sessions", json={"serviceId": ids["service"], "type": "Dial"})
        assert granted.status_code == 201, granted.text
        session_id = granted.json()["data"]["id"]
        listed = (await client.get(f"{CLIENT}/services")).json()["data"]
        assert listed[0]["postureQueries"][0]["isPassing"] is True

        # A newer response that fails ends the session at once, and routers learn of it
        resp = await client.post(f"{CLIENT}/posture-response", json={**LINUX, "type": "Windows"})
        assert resp.status_code == 201, resp.text
        assert (await client.get(f"{CLIENT}/sessions/{session_id}")).status_code == 404
        revoked = {r["id"] for r in (await admin.get(f"{M}/revocations")).json()["data"]}
        assert session_id in revoked

    data = (await admin.get(f"{M}/identities/{ids['user']}/posture-data")).json()["data"]
    assert data["os"]["type"] == "Windows" and data["os"]["version"] == LINUX["version"]
    assert api_session in data["apiSessionPostureData"]
    failed = (await admin.get(f"{M}/identities/{ids['user']}/failed-service-requests")).json()["data"]
    assert len(failed) == 2 and failed[0]["serviceId"] == ids["service"] and failed[0]["sessionType"] == "Dial"
    assert failed[0]["policyFailures"][0]["checks"][0]["postureCheckType"] == "OS"


async def test_domain_mac_and_processes(controller, admin):
    ids = await _setup(admin, checks=[
        {"typeId": "DOMAIN", "domains": ["CORP.example"]},
        {"typeId": "MAC", "macAddresses": ["00-11-22-33-44-55"]},
        {"typeId": "PROCESS", "process": {"osType": "Linux", "path": "/opt/agent", "hashes": ["AB" * 64]}},
        {"typeId": "PROCESS_MULTI", "semantic": "AllOf", "processes": [
            {"osType": "Linux", "path": "/opt/a", "signerFingerprints": ["0a0b"]},
            {"osType": "Linux", "path": "/opt/b"}]},
    ])
    client, _ = await _login(controller)
    good = [
        {"id": ids["check0"], "typeId": "DOMAIN", "domain": "corp.example"},
        {"id": ids["check1"], "typeId": "MAC", "macAddresses": ["aa:bb:cc:dd:ee:ff", "00:11:22:33:44:55"]},
        {"id": ids["check2"], "typeId": "PROCESS", "path": "/opt/agent", "isRunning": True, "hash": "ab" * 64},
        {"id": ids["check3"], "typeId": "PROCESS", "path": "/opt/a", "isRunning": True, "hash": "",
         "signerFingerprints": ["0A:0B"]},
        {"id": ids["check3"], "typeId": "PROCESS", "path": "/opt/b", "isRunning": True},
    ]
    async with client:
        for missing in range(len(good)):
            resp = await client.post(f"{CLIENT}/posture-response-bulk",
                                     json=[r if i != missing else {**r, "isRunning": False, "domain": "other",
                                                                   "macAddresses": []}
                                           for i, r in enumerate(good)])
            assert resp.status_code == 200, resp.text
            refused = await client.post(f"{CLIENT}/sessions", json={"serviceId": ids["service"]})
            assert refused.status_code == 409, (missing, refused.text)
        assert (await client.post(f"{CLIENT}/posture-response-bulk", json=good)).status_code == 200
        granted = await client.post(f"{CLIENT}/sessions", json={"serviceId": ids["service"]})
        assert granted.status_code == 201, granted.text
        # the process stops: the session ends
        stopped = {**good[2], "isRunning": False}
        assert (await client.post(f"{CLIENT}/posture-response", json=stopped)).status_code == 201
        assert (await client.get(f"{CLIENT}/sessions/{granted.json()['data']['id']}")).status_code == 404


async def test_mfa_check_passes_until_its_timeout_runs_out(controller, admin):
    """Nothing on this branch verifies TOTP yet, so the test writes the API session's ``mfaPassedAt``
    through the model, as the MFA login will."""
    ids = await _setup(admin, checks=[{"typeId": "MFA", "timeoutSeconds": 3}])
    model = controller.controller.api.model
    client, api_session_id = await _login(controller)

    async def passed_mfa(at: datetime) -> None:
        from ziti_aio.controller.store.commands import Command, Put
        api_session = model.get(Kind.API_SESSIONS, api_session_id)
        await model.transact(lambda: Command("test", "mfa passed", (
            Put(Kind.API_SESSIONS, {**api_session, "mfaPassedAt": format_time(at)}),)))

    async with client:
        refused = await client.post(f"{CLIENT}/sessions", json={"serviceId": ids["service"]})
        assert refused.status_code == 409
        assert refused.json()["error"]["cause"]["data"][ids["policy"]][0]["actualValue"]["passedMfa"] is False
        query = (await client.get(f"{CLIENT}/services")).json()["data"][0]["postureQueries"][0]["postureQueries"][0]
        assert (query["queryType"], query["timeout"], query["timeoutRemaining"]) == ("MFA", 3, 0)

        await passed_mfa(datetime.now(UTC) - timedelta(seconds=10))
        assert (await client.post(f"{CLIENT}/sessions", json={"serviceId": ids["service"]})).status_code == 409

        await passed_mfa(datetime.now(UTC))
        granted = await client.post(f"{CLIENT}/sessions", json={"serviceId": ids["service"]})
        assert granted.status_code == 201, granted.text
        session_id = granted.json()["data"]["id"]
        query = (await client.get(f"{CLIENT}/services")).json()["data"][0]["postureQueries"][0]["postureQueries"][0]
        assert query["isPassing"] is True and 0 <= query["timeoutRemaining"] <= 3 and query["timeoutAt"]

        # No request needed: the sweep ends the session once the timeout runs out
        await wait_until(lambda: model.maybe(Kind.SESSIONS, session_id) is None, timeout=15)
        revoked = {r["id"] for r in (await admin.get(f"{M}/revocations")).json()["data"]}
        assert session_id in revoked


async def test_policy_without_checks_still_grants_and_checks_change_is_enforced(controller, admin):
    ids = await _setup(admin, checks=[{"typeId": "DOMAIN", "domains": ["corp"]}])
    client, _ = await _login(controller)
    async with client:
        await client.post(f"{CLIENT}/posture-response", json={"id": ids["check0"], "typeId": "DOMAIN",
                                                              "domain": "corp"})
        granted = await client.post(f"{CLIENT}/sessions", json={"serviceId": ids["service"]})
        assert granted.status_code == 201
        # the check changes so that the reported domain no longer passes: the sweep ends the session
        resp = await admin.patch(f"{M}/posture-checks/{ids['check0']}", json={"typeId": "DOMAIN",
                                                                               "domains": ["other"]})
        assert resp.status_code == 200, resp.text
        model = controller.controller.api.model
        await wait_until(lambda: model.maybe(Kind.SESSIONS, granted.json()["data"]["id"]) is None, timeout=15)

        advice = (await admin.get(f"{M}/identities/{ids['user']}/policy-advice/{ids['service']}")).json()["data"]
        assert advice["isDialAllowed"] is True
        [policy] = advice["posturePolicies"]
        assert policy["policyId"] == ids["policy"] and policy["isPassing"] is False
        assert policy["postureChecks"] == [{"id": ids["check0"], "name": "pat-check0", "typeId": "DOMAIN",
                                            "isPassing": False}]

        # a second policy with no checks grants the service whatever the posture
        await create(admin, "service-policies", {"name": "open", "type": "Dial", "identityRoles": [f"@{ids['user']}"],
                                                 "serviceRoles": [f"@{ids['service']}"]})
        assert (await client.post(f"{CLIENT}/sessions", json={"serviceId": ids["service"]})).status_code == 201
        queries = (await client.get(f"{CLIENT}/services")).json()["data"][0]["postureQueries"]
        assert sorted(q["isPassing"] for q in queries) == [False, True]


@pytest.mark.parametrize("body", [
    {"typeId": "OS", "type": "Linux", "version": "6"},                    # no id
    {"id": "x", "typeId": "NOPE"},
    {"id": "x", "typeId": "OS", "type": "Linux"},                         # no version
    {"id": "x", "typeId": "MAC", "macAddresses": "00:11:22:33:44:55"},
    {"id": "x", "typeId": "PROCESS", "path": "/a", "isRunning": "yes"},
    {"id": "x", "typeId": "PROCESS", "path": "/a" * 5000},
    {"id": "x", "typeId": "DOMAIN", "domain": 7},
    [LINUX],                                                             # a list to the single endpoint
])
async def test_bad_responses_are_refused_and_change_nothing(controller, admin, body):
    ids = await _setup(admin, checks=[{"typeId": "OS", "operatingSystems": [{"type": "Linux", "versions": []}]}])
    client, api_session = await _login(controller)
    async with client:
        assert (await client.post(f"{CLIENT}/posture-response", json=LINUX)).status_code == 201
        resp = await client.post(f"{CLIENT}/posture-response", json=body)
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "COULD_NOT_VALIDATE", resp.text
        # a bulk with one bad answer keeps none of them
        bad_bulk = await client.post(f"{CLIENT}/posture-response-bulk", json=[{**LINUX, "type": "Windows"}, body])
        assert bad_bulk.status_code == 400
        assert (await client.post(f"{CLIENT}/posture-response-bulk", json=[])).status_code == 400
        assert (await client.post(f"{CLIENT}/posture-response-bulk", content=b"{not json")).status_code == 400
        assert (await client.post(f"{CLIENT}/sessions", json={"serviceId": ids["service"]})).status_code == 201
    data = controller.controller.api.access.posture.sessions[api_session]
    assert data.os["type"] == "Linux"


async def test_responses_need_a_session_and_are_the_callers_own(controller, admin):
    ids = await _setup(admin, checks=[{"typeId": "DOMAIN", "domains": ["corp"]}])
    async with controller.client() as anon:
        resp = await anon.post(f"{CLIENT}/posture-response", json={"id": "x", "typeId": "DOMAIN", "domain": "corp"})
        assert resp.status_code == 401
    await create(admin, "identities", {"name": "other", "type": "User"})
    client, api_session = await _login(controller)
    async with client:
        # an identityId or apiSessionId in the body changes nothing: the token names the session
        resp = await client.post(f"{CLIENT}/posture-response", json={"id": "x", "typeId": "DOMAIN", "domain": "corp",
                                                                     "identityId": ids["service"]})
        assert resp.status_code == 201
    posture = controller.controller.api.access.posture
    assert set(posture.sessions) == {api_session}
    assert posture.sessions[api_session].identity_id == ids["user"]


async def test_posture_answers_match_openzitis_schemas(controller, admin):
    from .openapi import body_problems, openapi_dir, operation

    openapi_dir()
    ids = await _setup(admin, checks=[
        {"typeId": "OS", "operatingSystems": [{"type": "Linux", "versions": []}]},
        {"typeId": "PROCESS_MULTI", "semantic": "AnyOf", "processes": [{"osType": "Linux", "path": "/opt/a"}]},
        {"typeId": "MFA", "timeoutSeconds": 60, "promptOnWake": True}])
    client, _ = await _login(controller)
    answers = []
    async with client:
        answers.append(("client.yml", "POST", "/posture-response-bulk", await client.post(
            f"{CLIENT}/posture-response-bulk", json=[LINUX, {"id": ids["check1"], "typeId": "PROCESS",
                                                             "path": "/opt/a", "isRunning": True}])))
        answers.append(("client.yml", "POST", "/posture-response", await client.post(
            f"{CLIENT}/posture-response", json={"id": "0", "typeId": "ENDPOINT_STATE", "woken": True})))
        refused = await client.post(f"{CLIENT}/sessions", json={"serviceId": ids["service"]})
        assert refused.status_code == 409
        answers.append(("client.yml", "GET", "/services", await client.get(f"{CLIENT}/services")))
    answers.append(("management.yml", "GET", "/identities/{id}/posture-data",
                    await admin.get(f"{M}/identities/{ids['user']}/posture-data")))
    answers.append(("management.yml", "GET", "/identities/{id}/failed-service-requests",
                    await admin.get(f"{M}/identities/{ids['user']}/failed-service-requests")))
    for file, method, path, answer in answers:
        assert 200 <= answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text}"
        assert body_problems(operation(file, method, path), answer) == [], (path, answer.text)
    failed = answers[-1][3].json()["data"]
    assert {c["postureCheckType"] for c in failed[0]["policyFailures"][0]["checks"]} == {"MFA"}


async def test_oversized_responses_are_refused(controller, admin):
    await _setup(admin, checks=[{"typeId": "MAC", "macAddresses": ["00:11:22:33:44:55"]}])
    client, api_session = await _login(controller)
    async with client:
        too_many = [{"id": "x", "typeId": "DOMAIN", "domain": "d"}] * 257
        resp = await client.post(f"{CLIENT}/posture-response-bulk", json=too_many)
        assert resp.status_code == 400 and resp.json()["error"]["cause"]["field"] == "body"
        many_macs = {"id": "x", "typeId": "MAC", "macAddresses": ["00:11:22:33:44:55"] * 300}
        assert (await client.post(f"{CLIENT}/posture-response", json=many_macs)).status_code == 400
        long_domain = {"id": "x", "typeId": "DOMAIN", "domain": "d" * 100_000}
        assert (await client.post(f"{CLIENT}/posture-response", json=long_domain)).status_code == 400
    assert api_session not in controller.controller.api.access.posture.sessions
