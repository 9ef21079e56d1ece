"""``auth-policies`` in the management API: CRUD and validation, the system ``default`` policy,
identities' ``authPolicyId``, and what a policy enforces (primary cert/updb allowed, password rules,
updb lockout after repeated wrong passwords)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from ziti_aio.common.errors import InvalidAuth
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.access import cert_expired_authenticator
from ziti_aio.controller.model.auth_policies import (
    DEFAULT_PRIMARY,
    DEFAULT_SECONDARY,
    check_primary_allowed,
    completed_policy,
)
from ziti_aio.pki.ca import CertAuthority
from ziti_aio.testing.controller import CLIENT, MANAGEMENT, create

M = MANAGEMENT
PASSWORD = "Policy-pass-1"


async def _login(controller, name: str, password: str = PASSWORD):
    async with controller.client() as anon:
        return await anon.post(f"{CLIENT}/authenticate?method=password", json={"username": name, "password": password})


async def test_default_policy_is_listed_complete_and_cannot_be_deleted(admin):
    listed = (await admin.get(f"{M}/auth-policies")).json()["data"]
    default = next(p for p in listed if p["id"] == "default")
    assert default["name"] == "Default"
    assert default["primary"] == DEFAULT_PRIMARY and default["secondary"] == DEFAULT_SECONDARY
    resp = await admin.delete(f"{M}/auth-policies/default")
    assert resp.status_code == 409, resp.text
    assert (await admin.get(f"{M}/auth-policies/default")).status_code == 200


async def test_crud_merges_parts_and_refuses_a_policy_in_use(admin):
    ident = await create(admin, "auth-policies", {
        "name": "strict", "primary": {"updb": {"minPasswordLength": 12, "maxAttempts": 3}},
        "secondary": {"requireTotp": True}, "tags": {"team": "ops"}})
    policy = (await admin.get(f"{M}/auth-policies/{ident}")).json()["data"]
    assert policy["primary"]["updb"]["minPasswordLength"] == 12 and policy["primary"]["updb"]["allowed"] is True
    assert policy["primary"]["cert"] == DEFAULT_PRIMARY["cert"]
    assert policy["secondary"] == {"requireTotp": True, "requireExtJwtSigner": None}

    resp = await admin.patch(f"{M}/auth-policies/{ident}", json={"primary": {"cert": {"allowed": False}}})
    assert resp.status_code == 200, resp.text
    policy = (await admin.get(f"{M}/auth-policies/{ident}")).json()["data"]
    assert policy["primary"]["cert"] == {"allowed": False, "allowExpiredCerts": True}
    assert policy["primary"]["updb"]["minPasswordLength"] == 12, "a patch keeps what it does not name"

    user = await create(admin, "identities", {"name": "uses-strict", "type": "User", "authPolicyId": "strict"})
    shown = (await admin.get(f"{M}/identities/{user}")).json()["data"]
    assert shown["authPolicyId"] == ident and shown["authPolicy"]["name"] == "strict", "named policies resolve"
    in_use = await admin.delete(f"{M}/auth-policies/{ident}")
    assert in_use.status_code == 409 and "uses-strict" in in_use.json()["error"]["message"]
    await admin.delete(f"{M}/identities/{user}")
    assert (await admin.delete(f"{M}/auth-policies/{ident}")).status_code == 200
    assert (await admin.get(f"{M}/auth-policies/{ident}")).status_code == 404


@pytest.mark.parametrize("body", [
    {"primary": {}, "secondary": {}},  # no name
    {"name": "p", "secondary": {}},  # no primary
    {"name": "p", "primary": {"updb": {"minPasswordLength": 2}}, "secondary": {}},
    {"name": "p", "primary": {"updb": {"maxAttempts": -1}}, "secondary": {}},
    {"name": "p", "primary": {"cert": {"allowed": "yes"}}, "secondary": {}},
    {"name": "p", "primary": {"totp": {}}, "secondary": {}},
    {"name": "p", "primary": {"cert": {"allowd": True}}, "secondary": {}},
    {"name": "p", "primary": {}, "secondary": {"requireTotp": 1}},
    {"name": "p", "primary": [], "secondary": {}},
    {"name": "Default", "primary": {}, "secondary": {}},  # the name is taken
])
async def test_bad_policies_are_refused_and_store_nothing(controller, admin, body):
    before = dict(controller.controller.model.entities[Kind.AUTH_POLICIES])
    resp = await admin.post(f"{M}/auth-policies", json=body)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "COULD_NOT_VALIDATE", resp.text
    assert controller.controller.model.entities[Kind.AUTH_POLICIES] == before


async def test_identity_auth_policy_must_exist(admin):
    resp = await admin.post(f"{M}/identities", json={"name": "x", "type": "User", "authPolicyId": "nope"})
    assert resp.status_code == 400 and resp.json()["error"]["cause"]["field"] == "authPolicyId", resp.text
    assert (await admin.get(f"{M}/identities", params={"filter": 'name="x"'})).json()["data"] == []


async def test_password_rules_apply_when_a_password_is_set(admin):
    policy = await create(admin, "auth-policies", {"name": "pw", "secondary": {}, "primary": {"updb": {
        "minPasswordLength": 10, "requireSpecialChar": True, "requireNumberChar": True, "requireMixedCase": True}}})
    user = await create(admin, "identities", {"name": "pw-user", "type": "User", "authPolicyId": policy})
    for weak in ("Short-1", "longenough-1", "LONGENOUGH-1", "Long-enough", "Longenough1"):
        resp = await admin.post(f"{M}/authenticators", json={"method": "updb", "identityId": user,
                                                              "username": "pw-user", "password": weak})
        assert resp.status_code == 400 and resp.json()["error"]["cause"]["field"] == "password", weak
    stored = (await admin.get(f"{M}/authenticators")).json()["data"]
    assert [a for a in stored if a["identityId"] == user] == [], "a refused password stores nothing"
    await create(admin, "authenticators", {"method": "updb", "identityId": user, "username": "pw-user",
                                           "password": "Long-enough-1"})


async def test_primary_methods_the_policy_refuses(controller, admin):
    policy = await create(admin, "auth-policies", {"name": "no-updb", "secondary": {},
                                                   "primary": {"updb": {"allowed": False}}})
    user = await create(admin, "identities", {"name": "blocked", "type": "User"})
    await create(admin, "authenticators", {"method": "updb", "identityId": user, "username": "blocked",
                                           "password": PASSWORD})
    assert (await _login(controller, "blocked")).status_code == 200
    await admin.patch(f"{M}/identities/{user}", json={"authPolicyId": policy})
    refused = await _login(controller, "blocked")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "INVALID_AUTH"


async def test_updb_lockout_after_max_attempts(controller, admin):
    policy = await create(admin, "auth-policies", {"name": "lockout", "secondary": {}, "primary": {
        "updb": {"maxAttempts": 3, "lockoutDurationMinutes": 10}}})
    user = await create(admin, "identities", {"name": "guesser", "type": "User", "authPolicyId": policy})
    await create(admin, "authenticators", {"method": "updb", "identityId": user, "username": "guesser",
                                           "password": PASSWORD})
    assert (await _login(controller, "guesser", "wrong-1")).status_code == 401
    assert (await _login(controller, "guesser")).status_code == 200, "a good password resets the count"
    for attempt in range(3):
        assert (await _login(controller, "guesser", f"wrong-{attempt}")).status_code == 401
    detail = (await admin.get(f"{M}/identities/{user}")).json()["data"]
    assert detail["disabled"] is True and detail["disabledUntil"] is not None
    assert (await _login(controller, "guesser")).status_code == 401, "locked out, even with the right password"
    await admin.post(f"{M}/identities/{user}/enable")
    assert (await _login(controller, "guesser")).status_code == 200


def test_allow_expired_certs_decides_for_an_expired_certificate():
    ca = CertAuthority.create_root("policy root", now=datetime.now(UTC) - timedelta(days=30))
    expired, _ = ca.issue_client("old-device", days=1, now=datetime.now(UTC) - timedelta(days=10))
    current, _ = ca.issue_client("new-device", days=1)
    auth = {"method": "cert", "certPem": expired.public_bytes(Encoding.PEM).decode()}
    assert cert_expired_authenticator(auth) is True
    assert cert_expired_authenticator({**auth, "certPem": current.public_bytes(Encoding.PEM).decode()}) is False
    strict = completed_policy({"primary": {"cert": {"allowExpiredCerts": False}}})
    with pytest.raises(InvalidAuth):
        check_primary_allowed(strict, "cert", cert_expired=True)
    check_primary_allowed(strict, "cert", cert_expired=False)
    check_primary_allowed(completed_policy({}), "cert", cert_expired=True)
