"""The posture-checks collection: each type's fields, validation, role attributes, types, and the
service policies that select checks."""

from __future__ import annotations

import pytest

from ziti_aio.testing.controller import MANAGEMENT, create

M = MANAGEMENT
SHA512 = "ab" * 64

VALID = {
    "OS": {"operatingSystems": [{"type": "Linux", "versions": [">=5.4.0"]}, {"type": "Windows", "versions": []}]},
    "DOMAIN": {"domains": ["corp.example"]},
    "MAC": {"macAddresses": ["00:11:22:33:44:55"]},
    "PROCESS": {"process": {"osType": "Linux", "path": "/usr/bin/agent", "hashes": [SHA512]}},
    "PROCESS_MULTI": {"semantic": "AnyOf", "processes": [{"osType": "Linux", "path": "/usr/bin/a"},
                                                         {"osType": "macOS", "path": "/bin/b",
                                                          "signerFingerprints": ["AA:BB"]}]},
    "MFA": {"timeoutSeconds": 300, "promptOnWake": True},
}


@pytest.mark.parametrize("type_id", sorted(VALID))
async def test_each_type_round_trips(admin, type_id):
    ident = await create(admin, "posture-checks", {"name": f"pc-{type_id}", "typeId": type_id,
                                                   "roleAttributes": ["corp"], "tags": {"k": "v"}, **VALID[type_id]})
    detail = (await admin.get(f"{M}/posture-checks/{ident}")).json()["data"]
    assert detail["typeId"] == type_id and detail["version"] == 1
    assert detail["roleAttributes"] == ["corp"] and detail["tags"] == {"k": "v"}
    for name in VALID[type_id]:
        assert name in detail
    # Another type's fields never show
    assert ("domains" in detail) == (type_id == "DOMAIN")
    assert ("timeoutSeconds" in detail) == (type_id == "MFA")
    listed = (await admin.get(f"{M}/posture-checks", params={"filter": f'name="pc-{type_id}"'})).json()
    assert [c["id"] for c in listed["data"]] == [ident]


async def test_mfa_defaults_and_update_counts_versions(admin):
    ident = await create(admin, "posture-checks", {"name": "mfa", "typeId": "MFA"})
    detail = (await admin.get(f"{M}/posture-checks/{ident}")).json()["data"]
    assert (detail["timeoutSeconds"], detail["promptOnWake"], detail["promptOnUnlock"]) == (-1, False, False)
    resp = await admin.patch(f"{M}/posture-checks/{ident}", json={"timeoutSeconds": 60})
    assert resp.status_code == 200, resp.text
    detail = (await admin.get(f"{M}/posture-checks/{ident}")).json()["data"]
    assert detail["timeoutSeconds"] == 60 and detail["version"] == 2
    resp = await admin.put(f"{M}/posture-checks/{ident}", json={"name": "mfa2", "typeId": "MFA"})
    assert resp.status_code == 200, resp.text
    detail = (await admin.get(f"{M}/posture-checks/{ident}")).json()["data"]
    assert detail["name"] == "mfa2" and detail["timeoutSeconds"] == -1 and detail["version"] == 3


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x"}, "typeId"),
    ({"name": "x", "typeId": "FINGERPRINT"}, "typeId"),
    ({"name": "x", "typeId": "OS"}, "operatingSystems"),
    ({"name": "x", "typeId": "OS", "operatingSystems": []}, "operatingSystems"),
    ({"name": "x", "typeId": "OS", "operatingSystems": [{"type": "BeOS", "versions": []}]},
     "operatingSystems[0].type"),
    ({"name": "x", "typeId": "DOMAIN", "domains": [""]}, "domains[0]"),
    ({"name": "x", "typeId": "MAC", "macAddresses": ["not-a-mac"]}, "macAddresses[0]"),
    ({"name": "x", "typeId": "PROCESS", "process": {"osType": "Linux"}}, "process.path"),
    ({"name": "x", "typeId": "PROCESS", "process": {"osType": "Linux", "path": "/a", "hashes": ["zz"]}},
     "process.hashes[0]"),
    ({"name": "x", "typeId": "PROCESS_MULTI", "processes": [{"osType": "Linux", "path": "/a"}]}, "semantic"),
    ({"name": "x", "typeId": "MFA", "timeoutSeconds": -2}, "timeoutSeconds"),
    ({"name": "x", "typeId": "MFA", "timeoutSeconds": "10"}, "timeoutSeconds"),
])
async def test_bad_bodies_are_refused_and_store_nothing(admin, body, field):
    resp = await admin.post(f"{M}/posture-checks", json=body)
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == "COULD_NOT_VALIDATE" and error["cause"]["field"] == field
    assert (await admin.get(f"{M}/posture-checks")).json()["data"] == []


async def test_type_cannot_change_and_names_are_unique(admin):
    ident = await create(admin, "posture-checks", {"name": "dom", "typeId": "DOMAIN", "domains": ["a"]})
    resp = await admin.patch(f"{M}/posture-checks/{ident}", json={"typeId": "MAC"})
    assert resp.status_code == 400 and resp.json()["error"]["cause"]["field"] == "typeId"
    resp = await admin.post(f"{M}/posture-checks", json={"name": "dom", "typeId": "DOMAIN", "domains": ["b"]})
    assert resp.status_code == 400 and resp.json()["error"]["cause"]["field"] == "name"
    assert (await admin.get(f"{M}/posture-checks/{ident}")).json()["data"]["domains"] == ["a"]


async def test_types_role_attributes_and_policy_selection(admin):
    types = (await admin.get(f"{M}/posture-check-types")).json()
    assert {t["id"] for t in types["data"]} == {"OS", "PROCESS", "DOMAIN", "MAC", "MFA", "PROCESS_MULTI"}
    assert types["meta"]["pagination"]["totalCount"] == 6
    os_type = (await admin.get(f"{M}/posture-check-types/OS")).json()["data"]
    assert {o["type"] for o in os_type["operatingSystems"]} >= {"Linux", "Windows", "macOS"}
    assert (await admin.get(f"{M}/posture-check-types/NOPE")).status_code == 404

    a = await create(admin, "posture-checks", {"name": "a", "typeId": "DOMAIN", "domains": ["x"],
                                               "roleAttributes": ["laptops"]})
    b = await create(admin, "posture-checks", {"name": "b", "typeId": "MFA", "roleAttributes": ["strict"]})
    attrs = (await admin.get(f"{M}/posture-check-role-attributes")).json()["data"]
    assert attrs == ["laptops", "strict"]
    policy = await create(admin, "service-policies", {"name": "p", "type": "Dial", "identityRoles": ["#all"],
                                                      "serviceRoles": ["#all"], "postureCheckRoles": ["#laptops", "@b"],
                                                      "semantic": "AnyOf"})
    detail = (await admin.get(f"{M}/service-policies/{policy}")).json()["data"]
    assert detail["postureCheckRoles"] == ["#laptops", f"@{b}"], "@name is stored as @id"
    assert {"role": f"@{b}", "name": "@b"} in detail["postureCheckRolesDisplay"]
    selected = (await admin.get(f"{M}/service-policies/{policy}/posture-checks")).json()["data"]
    assert sorted(c["id"] for c in selected) == sorted([a, b])
    resp = await admin.post(f"{M}/service-policies", json={"name": "q", "type": "Dial",
                                                           "postureCheckRoles": ["@missing"]})
    assert resp.status_code == 400 and resp.json()["error"]["cause"]["field"] == "postureCheckRoles"
