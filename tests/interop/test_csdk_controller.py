"""The unmodified OpenZiti C SDK (openziti 0.6.0, libziti 0.29.3) against our controller.

Each test drives libziti in a child process (``ziti_aio.testing.csdk``) and checks the
outcome from both sides: what the SDK printed and what the management API now shows.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from ziti_aio.testing.controller import MANAGEMENT, RunningController, create
from ziti_aio.testing.csdk import csdk_enroll, csdk_run

if TYPE_CHECKING:
    from pathlib import Path

    import httpx

pytestmark = pytest.mark.interop

DIAL_SNIPPET = """
    ctx = load()
    report(event="loaded", services=services(ctx))
    for name in json.loads(os.environ["DIAL_SERVICES"]):
        try:
            dial(ctx, name)
        except ZitiCallError as exc:
            report(event="dial", service=name, error=exc.code, message=exc.message)
        else:
            report(event="dial", service=name, error=None)
"""

REFRESH_SNIPPET = """
    ctx = load()
    refreshed = watch_log("refreshed successfully")
    zitilib.ziti.ziti_force_api_session_refresh.argtypes = [ctypes.c_void_p]
    on_loop(ctx, zitilib.ziti.ziti_force_api_session_refresh)
    report(refreshed=refreshed.wait(10))
    idle()
    openziti.shutdown()
    report(shutdown=True)
"""

PAGE_SIZE = 25  # libziti 0.29.3 DEFAULT_PAGE_SIZE


async def _get(admin: httpx.AsyncClient, path: str) -> Any:
    resp = await admin.get(f"{MANAGEMENT}/{path}")
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


async def _ott_identity(admin: httpx.AsyncClient, tmp_path: Path, name: str,
                        attributes: list[str] | None = None) -> tuple[str, Path]:
    """A new OTT identity and its enrollment JWT written to a file."""
    identity_id = await create(admin, "identities", {"name": name, "type": "Device", "isAdmin": False,
                                                     "roleAttributes": attributes or [],
                                                     "enrollment": {"ott": True}})
    jwt = (await _get(admin, f"identities/{identity_id}"))["enrollment"]["ott"]["jwt"]
    jwt_path = tmp_path / f"{name}.jwt"
    jwt_path.write_text(jwt)
    return identity_id, jwt_path


async def _enrolled(admin: httpx.AsyncClient, tmp_path: Path, name: str, attributes: list[str]) -> tuple[str, Path]:
    identity_id, jwt_path = await _ott_identity(admin, tmp_path, name, attributes)
    identity_file = tmp_path / f"{name}.json"
    result = await csdk_enroll(jwt_path, identity_file)
    assert result.ok, result.describe()
    return identity_id, identity_file


async def _network(admin: httpx.AsyncClient) -> dict[str, str]:
    """Services ``granted`` (Dial for ``#clients``) and ``forbidden`` (no policy), both on one router."""
    ids = {
        "granted": await create(admin, "services", {"name": "granted", "encryptionRequired": True,
                                                    "roleAttributes": ["demo"]}),
        "forbidden": await create(admin, "services", {"name": "forbidden", "encryptionRequired": True,
                                                      "roleAttributes": ["demo"]}),
        "router": await create(admin, "edge-routers", {"name": "er1", "roleAttributes": ["edge"]}),
    }
    await create(admin, "service-policies", {"name": "clients-dial", "type": "Dial", "semantic": "AnyOf",
                                             "identityRoles": ["#clients"], "serviceRoles": [f"@{ids['granted']}"]})
    await create(admin, "edge-router-policies", {"name": "clients-edge", "semantic": "AnyOf",
                                                 "identityRoles": ["#clients"], "edgeRouterRoles": ["#edge"]})
    await create(admin, "service-edge-router-policies", {"name": "demo-edge", "semantic": "AnyOf",
                                                         "serviceRoles": ["#demo"], "edgeRouterRoles": ["#edge"]})
    return ids


async def test_ott_enrollment_writes_identity_and_stores_cert_authenticator(controller: RunningController, admin,
                                                                           tmp_path):
    identity_id, jwt_path = await _ott_identity(admin, tmp_path, "enrollee")
    identity_file = tmp_path / "enrollee.json"

    result = await csdk_enroll(jwt_path, identity_file)

    assert result.ok, result.describe()
    config = json.loads(identity_file.read_text())
    assert config["ztAPI"] == controller.url
    assert "BEGIN CERTIFICATE" in config["id"]["cert"]
    assert "PRIVATE KEY" in config["id"]["key"]
    assert "BEGIN CERTIFICATE" in config["id"]["ca"]
    detail = await _get(admin, f"identities/{identity_id}")
    assert detail["enrollment"] == {}
    assert await _get(admin, f"identities/{identity_id}/enrollments") == []
    [auth] = await _get(admin, f"identities/{identity_id}/authenticators")
    assert auth["method"] == "cert"
    assert detail["authenticators"]["cert"]["id"] == auth["id"]
    assert auth["certPem"].strip() in config["id"]["cert"]


async def test_second_enrollment_with_same_jwt_fails(admin, tmp_path):
    identity_id, jwt_path = await _ott_identity(admin, tmp_path, "once")
    first = await csdk_enroll(jwt_path, tmp_path / "first.json")
    assert first.ok, first.describe()
    [auth] = await _get(admin, f"identities/{identity_id}/authenticators")

    second = await csdk_enroll(jwt_path, tmp_path / "second.json")

    assert not second.timed_out, second.describe()
    assert second.returncode != 0, second.describe()
    assert "JWT not accepted by controller" in second.stderr, second.describe()
    assert "ztAPI" not in (tmp_path / "second.json").read_text()
    assert await _get(admin, f"identities/{identity_id}/authenticators") == [auth]
    assert await _get(admin, f"identities/{identity_id}/enrollments") == []


async def test_cert_login_lists_services_and_creates_dial_session(controller: RunningController, admin, tmp_path):
    ids = await _network(admin)
    identity_id, identity_file = await _enrolled(admin, tmp_path, "dialer", ["clients"])

    result = await csdk_run(identity_file, DIAL_SNIPPET, env={"DIAL_SERVICES": json.dumps(["granted"])})

    assert result.ok, result.describe()
    loaded, dialled = result.reports
    assert loaded["services"] == {"granted": {"id": ids["granted"], "dial": True, "bind": False, "config": {}}}
    assert dialled["service"] == "granted"
    assert dialled["error"] is not None, "there is no running router, so the dial cannot complete"
    [auth] = await _get(admin, f"identities/{identity_id}/authenticators")
    api_sessions = [a for a in await _get(admin, "api-sessions") if a["identityId"] == identity_id]
    assert api_sessions and all(a["authenticatorId"] == auth["id"] for a in api_sessions)
    sessions = [s for s in await _get(admin, "sessions") if s["identityId"] == identity_id]
    assert [(s["type"], s["serviceId"]) for s in sessions] == [("Dial", ids["granted"])]
    assert sessions[0]["apiSessionId"] in {a["id"] for a in api_sessions}
    sdk_info = (await _get(admin, f"identities/{identity_id}"))["sdkInfo"]
    assert sdk_info["type"] == "ziti-sdk-c"
    assert sdk_info["version"].startswith("0.29.3")


async def test_dial_without_policy_is_refused(admin, tmp_path):
    ids = await _network(admin)
    identity_id, identity_file = await _enrolled(admin, tmp_path, "outsider", ["clients"])

    result = await csdk_run(identity_file, DIAL_SNIPPET, env={"DIAL_SERVICES": json.dumps(["forbidden"])})

    assert result.ok, result.describe()
    loaded, dialled = result.reports
    assert "forbidden" not in loaded["services"]
    assert dialled["service"] == "forbidden"
    assert dialled["message"] == "Service not available"
    sessions = await _get(admin, "sessions")
    assert not [s for s in sessions if s["serviceId"] == ids["forbidden"]]
    assert not [s for s in sessions if s["identityId"] == identity_id]


async def test_paged_service_list_carries_requested_configs(admin, tmp_path):
    intercept = {"protocols": ["tcp"], "addresses": ["echo.ziti"], "portRanges": [{"low": 80, "high": 80}]}
    configs = [await create(admin, "configs", {"name": "echo-intercept", "configTypeId": "intercept.v1",
                                               "data": intercept}),
               await create(admin, "configs", {"name": "echo-host", "configTypeId": "host.v1",
                                               "data": {"protocol": "tcp", "address": "localhost", "port": 80}})]
    await create(admin, "services", {"name": "echo", "encryptionRequired": True, "roleAttributes": ["many"],
                                     "configs": configs})
    names = ["echo"] + [f"svc-{i:02}" for i in range(PAGE_SIZE + 5)]
    for name in names[1:]:
        await create(admin, "services", {"name": name, "encryptionRequired": True, "roleAttributes": ["many"]})
    await create(admin, "service-policies", {"name": "many-dial", "type": "Dial", "semantic": "AnyOf",
                                             "identityRoles": ["#clients"], "serviceRoles": ["#many"]})
    _, identity_file = await _enrolled(admin, tmp_path, "lister", ["clients"])

    result = await csdk_run(identity_file, "report(services=services(load()))")

    assert result.ok, result.describe()
    [listed] = result.reports
    assert sorted(listed["services"]) == sorted(names)
    assert listed["services"]["echo"]["config"] == {"intercept.v1": intercept}
    assert f"limit={PAGE_SIZE}&offset={PAGE_SIZE}" in result.stderr


async def test_api_session_refresh_and_logout(admin, tmp_path):
    await _network(admin)
    identity_id, identity_file = await _enrolled(admin, tmp_path, "refresher", ["clients"])

    result = await csdk_run(identity_file, REFRESH_SNIPPET)

    assert result.ok, result.describe()
    assert result.reports == [{"refreshed": True}, {"shutdown": True}]
    assert [a for a in await _get(admin, "api-sessions") if a["identityId"] == identity_id] == []


async def test_helper_kills_a_hung_child_and_keeps_its_output(tmp_path):
    result = await csdk_run(tmp_path / "unused.json", "report(started=True)\nimport time\ntime.sleep(60)",
                            timeout_s=2)

    assert result.timed_out and result.returncode is None
    assert result.reports == [{"started": True}]
