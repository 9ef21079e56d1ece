"""libziti 0.29.3 (openziti 0.6.0) answers our posture queries: it posts its OS to the controller, and its
session requests for a service whose policy needs an OS check are judged by what it reported."""

from __future__ import annotations

import json
import platform

import pytest

from ziti_aio.testing.controller import MANAGEMENT, create
from ziti_aio.testing.csdk import csdk_enroll, csdk_run

pytestmark = [pytest.mark.interop,
              pytest.mark.skipif(platform.system() != "Linux", reason="checks a Linux OS posture")]

# libziti posts its posture right after listing services (logged at DEBUG); the dial waits for that.
SNIPPET = """
    posted = watch_log("done with bulk posture response submission")
    ctx = load()
    report(event="loaded", services=services(ctx), posted=posted.wait(20))
    try:
        dial(ctx, "guarded")
    except ZitiCallError as exc:
        report(event="dial", error=exc.code, message=exc.message)
    else:
        report(event="dial", error=None)
    idle()
    openziti.shutdown()
"""


async def test_csdk_posture_decides_its_sessions(admin, tmp_path):
    service = await create(admin, "services", {"name": "guarded", "encryptionRequired": True})
    check = await create(admin, "posture-checks", {"name": "os", "typeId": "OS",
                                                   "operatingSystems": [{"type": "Windows", "versions": []}]})
    await create(admin, "service-policies", {"name": "guarded-dial", "type": "Dial", "identityRoles": ["#clients"],
                                             "serviceRoles": [f"@{service}"], "postureCheckRoles": [f"@{check}"]})
    identity_id = await create(admin, "identities", {"name": "dialer", "type": "Device", "roleAttributes": ["clients"],
                                                     "enrollment": {"ott": True}})
    jwt = (await admin.get(f"{MANAGEMENT}/identities/{identity_id}")).json()["data"]["enrollment"]["ott"]["jwt"]
    (tmp_path / "dialer.jwt").write_text(jwt)
    identity_file = tmp_path / "dialer.json"
    enrolled = await csdk_enroll(tmp_path / "dialer.jwt", identity_file)
    assert enrolled.ok, enrolled.describe()

    async def failed_requests() -> list:
        return (await admin.get(f"{MANAGEMENT}/identities/{identity_id}/failed-service-requests")).json()["data"]

    # a Windows-only check: libziti's Linux report fails it, so the controller refuses the session
    result = await csdk_run(identity_file, SNIPPET)
    assert result.ok, result.describe()
    assert "guarded" in result.reports[0]["services"] and result.reports[0]["posted"]
    assert result.reports[1]["error"] is not None
    [failed] = await failed_requests()
    [check_failure] = failed["policyFailures"][0]["checks"]
    assert check_failure["postureCheckType"] == "OS"
    assert check_failure["actualValue"]["type"].lower() == "linux", json.dumps(check_failure)
    assert check_failure["actualValue"]["version"] == platform.release()

    # allowed for Linux: posture passes (no router exists, so the session still finds none: not a posture refusal)
    resp = await admin.patch(f"{MANAGEMENT}/posture-checks/{check}", json={
        "typeId": "OS", "operatingSystems": [{"type": "Linux", "versions": []}]})
    assert resp.status_code == 200, resp.text
    result = await csdk_run(identity_file, SNIPPET)
    assert result.ok, result.describe()
    assert result.reports[0]["posted"] and result.reports[1]["error"] is not None
    assert len(await failed_requests()) == 1, "no new posture refusal"
