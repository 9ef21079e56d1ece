"""Posture rules without a controller: OS version constraints, each check type's verdict, the SDK's reading
of postureQueries and its answers."""

from __future__ import annotations

import hashlib
import os
import platform
import sys
import time
from datetime import UTC, datetime

import pytest

from ziti_aio.controller.model.fields import format_time
from ziti_aio.controller.model.posture_data import SessionPosture, apply_response, parse_response
from ziti_aio.controller.model.posture_eval import check_failure, version_matches
from ziti_aio.sdk.posture import PostureQuery, collect, parse_queries


@pytest.mark.parametrize(("constraint", "version", "ok"), [
    (">=5.10", "6.1.0-13-amd64", True), (">=5.10", "5.4.0", False), ("5", "5.15.2", True), ("5.1", "5.15", False),
    (">=5.4 <6", "5.19", True), (">=5.4 <6", "6.0", False), ("1.2 || 1.4", "1.4.7", True), ("!=10", "10.0.1", False),
    ("~1.2.3", "1.2.9", True), ("~1.2.3", "1.3.0", False), ("^1.2", "1.9", True), ("^1.2", "2.0", False),
    (">=10.0.19041", "10.0.22631", True), ("<=3", "3.0.0", True), (">1", "garbage", False),
])
def test_version_constraints(constraint, version, ok):
    assert version_matches(constraint, version) is ok


def _check(type_id: str, **fields) -> dict:
    return {"id": "c1", "name": "check", "typeId": type_id, **fields}


def _posture(*responses: dict) -> SessionPosture:
    data = SessionPosture("identity")
    for r in responses:
        apply_response(data, parse_response("r", r))
    return data


def test_each_type_passes_and_fails():
    api_session = {"id": "a1", "identityId": "identity"}
    now = time.time()
    posture = _posture({"id": "x", "typeId": "OS", "type": "linux", "version": "6.1.0"},
                       {"id": "x", "typeId": "DOMAIN", "domain": "Corp"},
                       {"id": "x", "typeId": "MAC", "macAddresses": ["AA-BB-CC-DD-EE-FF"]},
                       {"id": "x", "typeId": "PROCESS", "path": "/a", "isRunning": True, "hash": "AB:CD"})
    cases = [
        (_check("OS", operatingSystems=[{"type": "Linux", "versions": [">=6"]}]), True),
        (_check("OS", operatingSystems=[{"type": "Linux", "versions": ["<6"]}]), False),
        (_check("DOMAIN", domains=["corp"]), True),
        (_check("MAC", macAddresses=["aa:bb:cc:dd:ee:ff"]), True),
        (_check("MAC", macAddresses=["aa:bb:cc:dd:ee:00"]), False),
        (_check("PROCESS", process={"osType": "Linux", "path": "/a", "hashes": ["abcd"]}), True),
        (_check("PROCESS", process={"osType": "Linux", "path": "/a", "hashes": ["ffff"]}), False),
        (_check("PROCESS", process={"osType": "Linux", "path": "/a", "hashes": [], "signerFingerprint": "01"}), False),
        (_check("PROCESS_MULTI", semantic="AnyOf", processes=[
            {"osType": "Linux", "path": "/a", "hashes": [], "signerFingerprints": []},
            {"osType": "Linux", "path": "/b", "hashes": [], "signerFingerprints": []}]), True),
        (_check("PROCESS_MULTI", semantic="AllOf", processes=[
            {"osType": "Linux", "path": "/a", "hashes": [], "signerFingerprints": []},
            {"osType": "Linux", "path": "/b", "hashes": [], "signerFingerprints": []}]), False),
    ]
    for check, passes in cases:
        assert (check_failure(check, posture, api_session, now) is None) is passes, check
    assert check_failure(_check("DOMAIN", domains=["corp"]), None, api_session, now)["actualValue"] == ""


def test_mfa_timeout_and_wake():
    check = _check("MFA", timeoutSeconds=60, promptOnWake=True, promptOnUnlock=False)
    now = time.time()
    passed = {"id": "a1", "mfaPassedAt": format_time(datetime.fromtimestamp(now - 30, UTC))}
    assert check_failure(check, None, {"id": "a1"}, now)["actualValue"]["passedMfa"] is False
    assert check_failure(check, None, passed, now) is None
    assert check_failure(check, None, passed, now + 31)["actualValue"]["timedOut"] is True
    woken = _posture({"id": "0", "typeId": "ENDPOINT_STATE", "woken": True})
    assert check_failure(check, woken, passed, now) is None, "within the grace period"
    assert check_failure({**check, "timeoutSeconds": -1}, woken, passed, now + 301) is not None
    assert check_failure({**check, "timeoutSeconds": -1, "promptOnWake": False}, woken, passed, now + 10**6) is None


def test_sdk_reads_queries_and_answers_them(tmp_path):
    me = os.path.realpath(sys.executable)  # this test's own interpreter: running
    exe = tmp_path / "tool"
    exe.write_bytes(b"binary")
    service = {"postureQueries": [
        {"policyId": "p", "isPassing": False, "postureQueries": [
            {"id": "os1", "queryType": "OS", "isPassing": False},
            {"id": "m1", "queryType": "PROCESS_MULTI", "isPassing": True,
             "processes": [{"osType": "Linux", "path": str(exe)}, {"osType": "Linux", "path": me}]},
            {"id": "mfa", "queryType": "MFA", "isPassing": False}]}]}
    queries = parse_queries(service)
    assert queries[1] == PostureQuery("m1", "PROCESS_MULTI", True, (str(exe), me))
    answers = collect(queries)
    assert set(answers) == {"OS", str(exe), me}
    assert answers["OS"]["version"] == platform.release()
    assert answers[str(exe)] == {"id": "m1", "typeId": "PROCESS", "path": str(exe), "isRunning": False,
                                 "hash": hashlib.sha512(b"binary").hexdigest(), "signerFingerprints": []}
    assert answers[me]["isRunning"] is True
    for answer in answers.values():
        parse_response("answer", answer)  # what the SDK sends, the controller accepts
