"""Response conformance: 2xx bodies match the response schemas of OpenZiti's own OpenAPI files.

OpenZiti's clients (the Go CLI, ZAC) are generated from those files and expect what they declare:
required fields present, declared types, ``null`` only where a field is ``x-nullable``. The tests below
read every GET operation of ``management.yml`` and ``client.yml`` on seeded ids, create, patch and delete
each writable kind, log in and out, enroll, and run a live network; the hostile sweep checks the bodies
of its fuzzed cases the same way.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from ziti_aio.pki.csr import create_csr
from ziti_aio.pki.keys import generate_key
from ziti_aio.sdk.context import open_context
from ziti_aio.testing.controller import ADMIN_PASSWORD, ADMIN_USERNAME, CLIENT, MANAGEMENT, create
from ziti_aio.testing.network import open_network
from ziti_aio.testing.waiting import wait_until

from .openapi import body_problems, needs_openapi, operation, schema
from .seeds import CLIENT_READS, MANAGEMENT_READS, seed

pytestmark = needs_openapi


def _with_body(resp: httpx.Response, body: Any) -> httpx.Response:
    """``resp`` as if the controller had answered ``body`` instead."""
    return _answer(resp.status_code, body, resp.request)


def _answer(status: int, body: Any, request: httpx.Request) -> httpx.Response:
    answer = httpx.Response(status, json=body, request=request)
    answer.elapsed = timedelta(0)
    return answer


async def test_the_check_rejects_wrong_bodies_and_honours_x_nullable(admin):
    router = await create(admin, "edge-routers", {"name": "conform-router"})
    op = operation("management.yml", "GET", "/edge-routers/{id}")
    resp = await admin.get(f"{MANAGEMENT}/edge-routers/{router}")
    assert body_problems(op, resp) == []
    good = resp.json()
    data = good["data"]
    assert data["enrollmentJwt"], "a router awaiting enrollment has a JWT"
    wrong = {
        "a required field missing": {k: v for k, v in data.items() if k != "isVerified"},
        "null where the schema says object": {**data, "versionInfo": None},
        "null where the field is not x-nullable": {**data, "fingerprint": None},
        "a wrong type": {**data, "cost": "0"},
        "a wrong type in a nested object": {**data, "versionInfo": {**data["versionInfo"], "os": 1}},
    }
    for what, body in wrong.items():
        assert body_problems(op, _with_body(resp, {**good, "data": body})), f"{what} passed the check"
    # x-nullable fields may be null, and only those.
    nullable = {**data, "enrollmentJwt": None, "enrollmentToken": None, "certPem": None, "cost": None}
    assert body_problems(op, _with_body(resp, {**good, "data": nullable})) == []
    # A 2xx status the operation does not declare is a mismatch too.
    assert body_problems(op, _answer(201, good, resp.request))


async def test_every_read_answers_its_schema(controller, admin):
    ids = await seed(admin)
    problems: list[str] = []
    for file, base, expected in (("management.yml", MANAGEMENT, MANAGEMENT_READS),
                                 ("client.yml", CLIENT, CLIENT_READS)):
        answered: set[str] = set()
        for result in schema(file).get_all_operations():
            op = result.ok()
            if op.method.upper() != "GET":
                continue
            collection = op.path.split("/")[1]
            path = op.path.replace("{id}", ids.get(collection, "unknown-id")).replace("{serviceId}", ids["services"])
            if re.search(r"\{\w+\}", path):
                continue
            resp = await admin.get(base + path)
            if resp.status_code == 404 and op.path not in expected:
                continue
            if not 200 <= resp.status_code < 300:
                problems.append(f"{file} {op.label}: {resp.status_code} {resp.text[:200]}")
                continue
            answered.add(op.path)
            problems += [f"{file} {p}" for p in body_problems(op, resp)]
        assert answered == expected, f"{file}: answered {sorted(answered - expected)}, " \
                                     f"not {sorted(expected - answered)}"
    assert not problems, f"{len(problems)} mismatches:\n" + "\n".join(problems)


@pytest.mark.parametrize("kind, body", [
    ("identities", {"name": "conform-id", "type": "Device", "isAdmin": False}),
    ("services", {"name": "conform-svc", "encryptionRequired": True}),
    ("config-types", {"name": "conform-ct"}),
    ("edge-routers", {"name": "conform-er"}),
    ("service-policies", {"name": "conform-sp", "type": "Bind", "semantic": "AnyOf"}),
    ("edge-router-policies", {"name": "conform-erp", "semantic": "AnyOf"}),
    ("service-edge-router-policies", {"name": "conform-serp", "semantic": "AnyOf"}),
    ("transit-routers", {"name": "conform-tr"}),
    ("auth-policies", {"name": "conform-ap", "primary": {"cert": {"allowed": False}}, "secondary": {}}),
    ("posture-checks", {"name": "conform-pc", "typeId": "MAC", "macAddresses": ["00:11:22:33:44:55"]}),
])
async def test_create_patch_delete_answer_their_schemas(admin, kind, body):
    answers = []
    resp = await admin.post(f"{MANAGEMENT}/{kind}", json=body)
    answers.append(("POST", f"/{kind}", resp))
    ident = resp.json()["data"]["id"]
    if kind != "transit-routers":
        resp = await admin.patch(f"{MANAGEMENT}/{kind}/{ident}", json={"tags": {"conform": True}})
        answers.append(("PATCH", f"/{kind}/{{id}}", resp))
    resp = await admin.delete(f"{MANAGEMENT}/{kind}/{ident}")
    answers.append(("DELETE", f"/{kind}/{{id}}", resp))
    for method, path, answer in answers:
        assert 200 <= answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text}"
        assert body_problems(operation("management.yml", method, path), answer) == []


async def test_operations_on_entities_answer_their_schemas(controller, admin):
    ids = await seed(admin)
    checks = [
        ("management.yml", "POST", "/edge-routers/{id}/re-enroll",
         await admin.post(f"{MANAGEMENT}/edge-routers/{ids['edge-routers']}/re-enroll")),
        ("management.yml", "POST", "/identities/{id}/disable",
         await admin.post(f"{MANAGEMENT}/identities/{ids['identities']}/disable", json={"durationMinutes": 5})),
        ("management.yml", "POST", "/identities/{id}/enable",
         await admin.post(f"{MANAGEMENT}/identities/{ids['identities']}/enable")),
        ("management.yml", "POST", "/identities/{id}/service-configs",
         await admin.post(f"{MANAGEMENT}/identities/{ids['identities']}/service-configs",
                          json=[{"serviceId": ids["services"], "configId": ids["configs"]}])),
        ("management.yml", "DELETE", "/identities/{id}/service-configs",
         await admin.request("DELETE", f"{MANAGEMENT}/identities/{ids['identities']}/service-configs",
                             json=[{"serviceId": ids["services"], "configId": ids["configs"]}])),
        ("management.yml", "POST", "/enrollments/{id}/refresh",
         await admin.post(f"{MANAGEMENT}/enrollments/{ids['enrollments']}/refresh",
                          json={"expiresAt": "2099-01-01T00:00:00Z"})),
    ]
    for file, base in (("management.yml", MANAGEMENT), ("client.yml", CLIENT)):
        async with controller.client() as anon:
            login = await anon.post(f"{base}/authenticate?method=password",
                                    json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD})
        checks.append((file, "POST", "/authenticate", login))
        async with controller.client(token=login.json()["data"]["token"]) as own:
            checks.append((file, "DELETE", "/current-api-session", await own.delete(f"{base}/current-api-session")))
    dial = await admin.post(f"{CLIENT}/sessions", json={"serviceId": ids["services"], "type": "Dial"})
    checks.append(("client.yml", "POST", "/sessions", dial))
    checks.append(("client.yml", "DELETE", "/sessions/{id}",
                   await admin.delete(f"{CLIENT}/sessions/{dial.json()['data']['id']}")))
    problems = []
    for file, method, path, resp in checks:
        assert 200 <= resp.status_code < 300, f"{method} {path}: {resp.status_code} {resp.text}"
        problems += body_problems(operation(file, method, path), resp)
    assert not problems, "\n".join(problems)


async def _enrollment_token(admin, **owner: str) -> str:
    key, value = next(iter(owner.items()))
    listed = await admin.get(f"{MANAGEMENT}/enrollments", params={"filter": f'{key}="{value}"'})
    return listed.json()["data"][0]["token"]


def _csr_pem(name: str, **kw: Any) -> str:
    return create_csr(generate_key("ec256"), name, **kw).public_bytes(Encoding.PEM).decode()


async def test_enrollments_answer_their_schemas(controller, admin):
    device = await create(admin, "identities", {"name": "conform-device", "type": "Device",
                                                "enrollment": {"ott": True}})
    user = await create(admin, "identities", {"name": "conform-user", "type": "User",
                                              "enrollment": {"updb": "conform-user"}})
    router = await create(admin, "edge-routers", {"name": "conform-enrolled-router"})
    ott = await _enrollment_token(admin, identityId=device)
    async with controller.client() as anon:
        answers = {
            "/enroll/ott": await anon.post(
                f"{CLIENT}/enroll", params={"method": "ott", "token": ott}, content=_csr_pem("conform-device"),
                headers={"content-type": "application/x-pem-file", "accept": "application/json"}),
            "/enroll/updb": await anon.post(
                f"{CLIENT}/enroll", params={"method": "updb", "token": await _enrollment_token(admin, identityId=user)},
                json={"password": "conform-password-1"}),
            "/enroll/erott": await anon.post(
                f"{CLIENT}/enroll",
                params={"method": "erott", "token": await _enrollment_token(admin, edgeRouterId=router)},
                json={"certCsr": _csr_pem(router), "serverCertCsr": _csr_pem(router, dns=["localhost"])}),
        }
    problems = []
    for path, resp in answers.items():
        assert resp.status_code == 200, f"{path}: {resp.status_code} {resp.text}"
        # /enroll?method=X answers what /enroll/X declares.
        problems += body_problems(operation("client.yml", "POST", path), resp)
    assert not problems, "\n".join(problems)


async def test_a_live_network_answers_its_schemas(tmp_path):
    """What only a running network fills in: an online router's version and addresses, an SDK's
    sdkInfo and envInfo, a certificate login's API session, a hosted service's terminator."""
    async with open_network(tmp_path, routers=1) as net:
        admin, router = net.admin, net.routers[0]
        alice = await net.create_identity("alice")
        service = await net.create_service("svc")
        await net.allow("alice", "svc", "Bind")
        await create(admin, "service-policies", {"name": "all-dial", "type": "Dial", "identityRoles": ["#all"],
                                                 "serviceRoles": ["#all"]})
        async with open_context(alice.path) as ctx:
            listener = await ctx.bind("svc")
            async def ready() -> bool:
                return bool(listener.routers) and (await net.get(f"edge-routers/{router.id}"))["isOnline"]

            await wait_until(ready, 20, what="the router online and alice's terminator in place")
            dial = await admin.post(f"{CLIENT}/sessions", json={"serviceId": service, "type": "Dial"})
            assert dial.status_code == 201, dial.text
            assert dial.json()["data"]["edgeRouters"][0]["urls"], "the online router's addresses"
            answers = [("client.yml", "POST", "/sessions", dial)]
            for file, path, ident in (
                    ("management.yml", "/edge-routers/{id}", router.id),
                    ("management.yml", "/identities/{id}", alice.id),
                    ("management.yml", "/api-sessions", ""), ("management.yml", "/sessions", ""),
                    ("management.yml", "/terminators", ""), ("client.yml", "/services", ""),
                    ("client.yml", "/current-identity/edge-routers", ""),
                    ("client.yml", "/services/{id}/edge-routers", service),
                    ("client.yml", "/external-jwt-signers", "")):
                base = MANAGEMENT if file == "management.yml" else CLIENT
                answers.append((file, "GET", path, await admin.get(base + path.replace("{id}", ident))))
        detail = answers[1][3].json()["data"]
        assert detail["versionInfo"]["version"] and detail["isOnline"], "an online router reports its version"
        assert answers[2][3].json()["data"]["sdkInfo"], "the SDK reported itself"
        assert answers[-2][3].json()["data"]["edgeRouters"][0]["supportedProtocols"]["tls"], "libziti 1.x dials this"
    problems = []
    for file, method, path, resp in answers:
        assert resp.status_code in (200, 201), f"{method} {path}: {resp.status_code} {resp.text}"
        problems += body_problems(operation(file, method, path), resp)
    assert not problems, "\n".join(problems)
