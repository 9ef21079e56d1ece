"""Identity actions of the management API: disable/enable (logins refused, API sessions and their
sessions ended, a timed disable ending by itself) and policy advice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.disabling import is_disabled
from ziti_aio.controller.model.fields import format_time, parse_time
from ziti_aio.testing.controller import CLIENT, MANAGEMENT, create

M = MANAGEMENT
PASSWORD = "disable-me-password"


async def _user(admin, name: str) -> str:
    ident = await create(admin, "identities", {"name": name, "type": "User"})
    await create(admin, "authenticators", {"method": "updb", "identityId": ident, "username": name,
                                           "password": PASSWORD})
    return ident


async def _login(controller, name: str):
    async with controller.client() as anon:
        return await anon.post(f"{CLIENT}/authenticate?method=password", json={"username": name, "password": PASSWORD})


async def test_disable_ends_sessions_refuses_logins_and_enable_lifts_it(controller, admin):
    user = await _user(admin, "dave")
    service = await create(admin, "services", {"name": "svc"})
    await create(admin, "service-policies", {"name": "dial", "type": "Dial", "identityRoles": ["@dave"],
                                             "serviceRoles": ["@svc"]})
    await create(admin, "edge-routers", {"name": "er"})
    await create(admin, "edge-router-policies", {"name": "erp", "identityRoles": ["#all"], "edgeRouterRoles": ["#all"]})
    await create(admin, "service-edge-router-policies", {"name": "serp", "serviceRoles": ["#all"],
                                                         "edgeRouterRoles": ["#all"]})
    login = await _login(controller, "dave")
    assert login.status_code == 200, login.text
    token, api_session = login.json()["data"]["token"], login.json()["data"]["id"]
    async with controller.client(token=token) as dave:
        session = await dave.post(f"{CLIENT}/sessions", json={"serviceId": service, "type": "Dial"})
        assert session.status_code == 201, session.text
        session_id = session.json()["data"]["id"]

        resp = await admin.post(f"{M}/identities/{user}/disable", json={"durationMinutes": 0})
        assert resp.status_code == 200 and resp.json() == {"data": {}, "meta": {}}, resp.text
        detail = (await admin.get(f"{M}/identities/{user}")).json()["data"]
        assert detail["disabled"] is True and detail["disabledAt"] and detail["disabledUntil"] is None
        assert detail["hasApiSession"] is False
        revoked = {r["id"] for r in (await admin.get(f"{M}/revocations")).json()["data"]}
        assert {api_session, session_id} <= revoked, "routers learn that both ended"
        assert (await dave.get(f"{CLIENT}/current-identity")).status_code == 401
    assert (await _login(controller, "dave")).status_code == 401

    resp = await admin.post(f"{M}/identities/{user}/enable")
    assert resp.status_code == 200, resp.text
    detail = (await admin.get(f"{M}/identities/{user}")).json()["data"]
    assert (detail["disabled"], detail["disabledAt"], detail["disabledUntil"]) == (False, None, None)
    assert (await _login(controller, "dave")).status_code == 200


async def test_a_timed_disable_ends_by_itself(controller, admin):
    user = await _user(admin, "tim")
    assert (await admin.post(f"{M}/identities/{user}/disable", json={"durationMinutes": 5})).status_code == 200
    detail = (await admin.get(f"{M}/identities/{user}")).json()["data"]
    until = parse_time(detail["disabledUntil"])
    assert timedelta(minutes=4) < until - parse_time(detail["disabledAt"]) <= timedelta(minutes=5)
    assert (await _login(controller, "tim")).status_code == 401
    stored = controller.controller.model.get(Kind.IDENTITIES, user)
    assert is_disabled(stored, until - timedelta(seconds=1)) and not is_disabled(stored, until)
    # Five minutes later, as the controller sees it: the stored end is put in the past.
    stored["disabledUntil"] = format_time(datetime.now(UTC) - timedelta(seconds=1))
    assert (await admin.get(f"{M}/identities/{user}")).json()["data"]["disabled"] is False
    assert (await _login(controller, "tim")).status_code == 200


@pytest.mark.parametrize("body", [{}, {"durationMinutes": -1}, {"durationMinutes": "5"}, {"durationMinutes": True},
                                  {"durationMinutes": 1.5}, {"durationMinutes": 10**12}, [], None])
async def test_bad_disable_requests_change_nothing(controller, admin, body):
    user = await _user(admin, "bad")
    before = dict(controller.controller.model.get(Kind.IDENTITIES, user))
    resp = await admin.post(f"{M}/identities/{user}/disable", json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "COULD_NOT_VALIDATE"
    assert controller.controller.model.get(Kind.IDENTITIES, user) == before
    assert (await _login(controller, "bad")).status_code == 200


async def test_disable_refuses_unknown_identities_and_the_default_admin(controller, admin):
    resp = await admin.post(f"{M}/identities/no-such-id/disable", json={"durationMinutes": 0})
    assert resp.status_code == 404
    assert (await admin.post(f"{M}/identities/no-such-id/enable")).status_code == 404
    me = (await admin.get(f"{M}/current-identity")).json()["data"]["id"]
    resp = await admin.post(f"{M}/identities/{me}/disable", json={"durationMinutes": 0})
    assert resp.status_code == 409, resp.text
    assert (await admin.get(f"{M}/identities/{me}")).json()["data"]["disabled"] is False


async def test_only_who_may_update_identities_disables(controller, admin):
    await _user(admin, "plain")
    target = await _user(admin, "target")
    async with controller.client(token=(await _login(controller, "plain")).json()["data"]["token"]) as plain:
        resp = await plain.post(f"{M}/identities/{target}/disable", json={"durationMinutes": 0})
    assert resp.status_code in (401, 403), resp.text
    assert (await _login(controller, "target")).status_code == 200


async def test_policy_advice_names_permissions_and_common_routers(admin):
    alice = await create(admin, "identities", {"name": "alice", "type": "Device", "roleAttributes": ["staff"]})
    svc = await create(admin, "services", {"name": "web", "roleAttributes": ["apps"]})
    advice_url = f"{M}/identities/{alice}/policy-advice/{svc}"
    advice = (await admin.get(advice_url)).json()["data"]
    assert (advice["isDialAllowed"], advice["isBindAllowed"]) == (False, False)
    assert (advice["identityRouterCount"], advice["serviceRouterCount"], advice["commonRouters"]) == (0, 0, [])
    assert advice["identity"]["name"] == "alice" and advice["serviceId"] == svc

    await create(admin, "service-policies", {"name": "d", "type": "Dial", "identityRoles": ["#staff"],
                                             "serviceRoles": ["#apps"]})
    shared = await create(admin, "edge-routers", {"name": "shared", "roleAttributes": ["both"]})
    await create(admin, "edge-routers", {"name": "only-alice", "roleAttributes": ["people"]})
    await create(admin, "edge-router-policies", {"name": "erp", "identityRoles": ["#staff"], "semantic": "AnyOf",
                                                 "edgeRouterRoles": ["#both", "#people"]})
    await create(admin, "service-edge-router-policies", {"name": "serp", "serviceRoles": ["#apps"],
                                                         "edgeRouterRoles": ["#both"]})
    advice = (await admin.get(advice_url)).json()["data"]
    assert (advice["isDialAllowed"], advice["isBindAllowed"]) == (True, False)
    assert (advice["identityRouterCount"], advice["serviceRouterCount"]) == (2, 1)
    assert [(r["id"], r["name"], r["isOnline"]) for r in advice["commonRouters"]] == [(shared, "shared", False)]

    assert (await admin.get(f"{M}/identities/{alice}/policy-advice/nope")).status_code == 404
    assert (await admin.get(f"{M}/identities/nope/policy-advice/{svc}")).status_code == 404


async def _svc_with_config(admin):
    ctype = await create(admin, "config-types", {"name": "addr.v1", "schema": {}})
    router_type = await create(admin, "config-types", {"name": "router-only.v1", "schema": {}, "target": "router"})
    base = await create(admin, "configs", {"name": "base", "configTypeId": ctype, "data": {"host": "base"}})
    mine = await create(admin, "configs", {"name": "mine", "configTypeId": ctype, "data": {"host": "mine"}})
    other = await create(admin, "configs", {"name": "other", "configTypeId": ctype, "data": {"host": "other"}})
    wrong = await create(admin, "configs", {"name": "wrong", "configTypeId": router_type, "data": {}})
    svc = await create(admin, "services", {"name": "cfg-svc", "configs": [base]})
    await create(admin, "service-policies", {"name": "all-dial", "type": "Dial", "identityRoles": ["#all"],
                                             "serviceRoles": ["#all"]})
    return svc, base, mine, other, wrong


async def _seen_config(controller, name: str, svc: str):
    async with controller.client() as anon:
        login = await anon.post(f"{CLIENT}/authenticate?method=password",
                                json={"username": name, "password": PASSWORD, "configTypes": ["addr.v1"]})
    async with controller.client(token=login.json()["data"]["token"]) as client:
        return (await client.get(f"{CLIENT}/services/{svc}")).json()["data"]["config"]


async def test_service_configs_override_a_service_config_for_one_identity(controller, admin):
    svc, _, mine, other, _ = await _svc_with_config(admin)
    user, bystander = await _user(admin, "cfg-user"), await _user(admin, "cfg-other")
    url = f"{M}/identities/{user}/service-configs"
    assert (await admin.get(url)).json()["data"] == []
    resp = await admin.post(url, json=[{"serviceId": svc, "configId": mine}])
    assert resp.status_code == 200 and resp.json() == {"data": {}, "meta": {}}, resp.text
    [listed] = (await admin.get(url)).json()["data"]
    assert (listed["serviceId"], listed["configId"], listed["service"]["name"], listed["config"]["name"]) == (
        svc, mine, "cfg-svc", "mine")
    assert await _seen_config(controller, "cfg-user", svc) == {"addr.v1": {"host": "mine"}}
    assert await _seen_config(controller, "cfg-other", svc) == {"addr.v1": {"host": "base"}}, bystander

    # A second config of the same type replaces the first; removing a pair it does not hold changes nothing.
    await admin.post(url, json=[{"serviceId": svc, "configId": other}])
    assert [c["configId"] for c in (await admin.get(url)).json()["data"]] == [other]
    await admin.request("DELETE", url, json=[{"serviceId": svc, "configId": mine}])
    assert [c["configId"] for c in (await admin.get(url)).json()["data"]] == [other]
    await admin.request("DELETE", url, json=[{"serviceId": svc, "configId": other}])
    assert (await admin.get(url)).json()["data"] == []
    await admin.post(url, json=[{"serviceId": svc, "configId": mine}])
    assert (await admin.delete(url)).status_code == 200, "no body: every override goes"
    assert (await admin.get(url)).json()["data"] == []
    assert await _seen_config(controller, "cfg-user", svc) == {"addr.v1": {"host": "base"}}


async def test_bad_service_config_requests_change_nothing(controller, admin):
    svc, _, mine, other, wrong = await _svc_with_config(admin)
    user = await _user(admin, "cfg-bad")
    url = f"{M}/identities/{user}/service-configs"
    await admin.post(url, json=[{"serviceId": svc, "configId": mine}])
    before = dict(controller.controller.model.get(Kind.IDENTITIES, user))
    for body in ({"serviceId": svc, "configId": other}, [{"serviceId": svc}],
                 [{"serviceId": "nope", "configId": other}], [{"serviceId": svc, "configId": "nope"}],
                 [{"serviceId": svc, "configId": wrong}],
                 [{"serviceId": svc, "configId": other}, {"serviceId": svc, "configId": mine}], [1], None):
        resp = await admin.post(url, json=body)
        assert resp.status_code == 400, (body, resp.text)
        assert controller.controller.model.get(Kind.IDENTITIES, user) == before
    assert (await admin.request("DELETE", url, json={"serviceId": svc})).status_code == 400
    assert (await admin.post(f"{M}/identities/nope/service-configs", json=[])).status_code == 404
    assert (await admin.get(f"{M}/identities/nope/service-configs")).status_code == 404
    assert controller.controller.model.get(Kind.IDENTITIES, user) == before
