"""``POST /authenticate?method=ext-jwt`` against a real OIDC issuer on loopback: a good token logs in, every bad
one is refused with 401 UNAUTHORIZED and OpenZiti's WWW-Authenticate, and nothing is stored."""

from __future__ import annotations

import time

import pytest
import trio

from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.external_jwt import JwksCache, jwks_ssl_context
from ziti_aio.controller.store.commands import Command, Put
from ziti_aio.testing.controller import CLIENT, MANAGEMENT, create
from ziti_aio.testing.idp import public_key_pem

from .helpers import add_signer, count, ext_jwt_login, forged


@pytest.fixture
async def alice(admin, idp):
    await add_signer(admin, idp)
    return await create(admin, "identities", {"name": "alice", "type": "User", "externalId": "alice@example.com"})


def _refused(resp, error: str = "invalid", words: str = "") -> None:
    assert resp.status_code == 401, resp.text
    body = resp.json()["error"]
    assert body["code"] == "UNAUTHORIZED"
    assert words in body["message"], body["message"]
    challenge = resp.headers["www-authenticate"]
    assert 'realm="openziti-primary-ext-jwt"' in challenge and f'error="{error}"' in challenge


async def test_a_valid_token_logs_in_as_the_identity_its_subject_names(controller, admin, idp, alice):
    resp = await ext_jwt_login(controller, idp.token("alice@example.com"))
    assert resp.status_code == 200, resp.text
    token = resp.json()["data"]["token"]
    async with controller.client(token=token) as client:
        me = await client.get(f"{CLIENT}/current-identity")
    assert me.json()["data"]["id"] == alice
    session = (await admin.get(f"{MANAGEMENT}/api-sessions/{resp.json()['data']['id']}")).json()["data"]
    signer = (await admin.get(f"{MANAGEMENT}/external-jwt-signers")).json()["data"][0]
    assert session["authenticatorId"] == f"extJwtId:{signer['id']}"


async def test_claims_property_and_identity_id_lookup(controller, admin, idp):
    await add_signer(admin, idp, useExternalId=False, claimsProperty="/ziti/id")
    bob = await create(admin, "identities", {"name": "bob", "type": "User"})
    resp = await ext_jwt_login(controller, idp.token("someone-else", extra={"ziti": {"id": bob}}))
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["identityId"] == bob


@pytest.mark.parametrize(("case", "error", "words"), [
    ("expired", "expired", "expired"),
    ("not-yet-valid", "invalid", "not valid yet"),
    ("wrong-issuer", "invalid", "issuer"),
    ("wrong-audience", "invalid", "audience"),
    ("unknown-subject", "invalid", "no identity"),
    ("unknown-kid", "invalid", "no key"),
    ("alg-none", "invalid", "not allowed"),
    ("hs256-with-public-key", "invalid", "not allowed"),
    ("tampered", "invalid", "signature"),
    ("not-a-jwt", "invalid", "not a JWT"),
    ("missing", "missing", "no external JWT"),
])
async def test_bad_tokens_are_refused_and_store_nothing(controller, admin, idp, alice, case, error, words):
    sub = "alice@example.com"
    header = {"alg": "none", "kid": idp.current.kid, "typ": "JWT"}
    tokens = {
        "expired": lambda: idp.token(sub, expires_in=-60),
        "not-yet-valid": lambda: idp.token(sub, not_before_in=600),
        "wrong-issuer": lambda: idp.token(sub, iss="https://issuer.invalid"),
        "wrong-audience": lambda: idp.token(sub, aud="someone-else"),
        "unknown-subject": lambda: idp.token("mallory@example.com"),
        "unknown-kid": lambda: idp.token(sub, kid="no-such-kid"),
        "alg-none": lambda: forged(header, idp.claims(sub), None),
        "hs256-with-public-key": lambda: forged({**header, "alg": "HS256"}, idp.claims(sub),
                                                public_key_pem(idp.current).encode()),
        "tampered": lambda: _tampered(idp.token(sub), idp.token("mallory@example.com")),
        "not-a-jwt": lambda: "not.a.jwt",
        "missing": lambda: None,
    }
    sessions = await count(admin, "api-sessions")
    resp = await ext_jwt_login(controller, tokens[case]())
    _refused(resp, error, words)
    assert await count(admin, "api-sessions") == sessions


def _tampered(good: str, other: str) -> str:
    """``good``'s header and signature around ``other``'s claims."""
    head, _, sig = good.split(".")
    return f"{head}.{other.split('.')[1]}.{sig}"


async def test_key_rotation_new_kid_accepted_retired_key_refused(controller, idp, alice):
    assert (await ext_jwt_login(controller, idp.token("alice@example.com"))).status_code == 200
    old = idp.rotate("ES256")
    assert (await ext_jwt_login(controller, idp.token("alice@example.com"))).status_code == 200
    _refused(await ext_jwt_login(controller, idp.token("alice@example.com", key=old)), words="no key")


async def test_jwks_down_or_slow_is_a_clear_refusal(controller, admin, idp, alice):
    idp.mode = "down"
    _refused(await ext_jwt_login(controller, idp.token("alice@example.com")), words="could not be fetched")
    idp.mode, idp.slow_s = "slow", 60
    with trio.fail_after(30):  # bounded by the controller's JWKS timeout, far below the issuer's delay
        resp = await ext_jwt_login(controller, idp.token("alice@example.com"))
    _refused(resp, words="did not answer within")
    assert await count(admin, "api-sessions") == 1  # the admin's own
    idp.mode = "up"
    assert (await ext_jwt_login(controller, idp.token("alice@example.com"))).status_code == 200


async def test_keys_are_cached_and_unknown_kids_refetch_at_most_every_few_seconds(idp):
    cache = JwksCache(verify=jwks_ssl_context(str(idp.ca_path)), timeout_s=5, refetch_s=3600)
    signer = {"id": "s", "name": "s", "jwksEndpoint": idp.jwks_url}
    assert await cache.key(signer, idp.current.kid) is not None
    assert await cache.key(signer, idp.current.kid) is not None
    assert await cache.key(signer, "unknown") is None
    assert await cache.key(signer, "unknown-too") is None
    assert idp.jwks_requests == 1
    idp.mode = "down"  # cached keys keep working while the issuer is down
    assert await cache.key(signer, idp.current.kid) is not None


async def test_cert_pem_signer(controller, admin, idp):
    await add_signer(admin, idp, jwksEndpoint=None, certPem=idp.current.cert_pem, kid=idp.current.kid)
    await create(admin, "identities", {"name": "carol", "type": "User", "externalId": "carol"})
    assert (await ext_jwt_login(controller, idp.token("carol"))).status_code == 200
    assert idp.jwks_requests == 0
    _refused(await ext_jwt_login(controller, idp.token("carol", kid="other")), words="no key")


async def test_disabled_signer_disabled_identity_and_auth_policy_refuse(controller, admin, idp, alice):
    signer = (await admin.get(f"{MANAGEMENT}/external-jwt-signers")).json()["data"][0]["id"]
    token = idp.token("alice@example.com")
    await admin.patch(f"{MANAGEMENT}/external-jwt-signers/{signer}", json={"enabled": False})
    _refused(await ext_jwt_login(controller, token), words="issuer")
    await admin.patch(f"{MANAGEMENT}/external-jwt-signers/{signer}", json={"enabled": True})
    assert (await ext_jwt_login(controller, token)).status_code == 200

    model = controller.controller.model
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    policy = {"id": "no-ext-jwt", "name": "no-ext-jwt", "createdAt": now, "updatedAt": now, "tags": {},
              "primary": {"cert": {"allowed": True}, "updb": {"allowed": True},
                          "extJwt": {"allowed": True, "allowedSigners": ["some-other-signer"]}},
              "secondary": {}}
    await model.transact(lambda: Command("test", "policy", (Put(Kind.AUTH_POLICIES, policy),)))
    await admin.patch(f"{MANAGEMENT}/identities/{alice}", json={"authPolicyId": "no-ext-jwt"})
    _refused(await ext_jwt_login(controller, token), words="auth policy")
    await admin.patch(f"{MANAGEMENT}/identities/{alice}", json={"authPolicyId": "default"})
    allowing = {**policy, "id": "only-this-signer", "name": "only-this-signer",
                "primary": {**policy["primary"], "extJwt": {"allowed": True, "allowedSigners": [signer]}}}
    await model.transact(lambda: Command("test", "policy", (Put(Kind.AUTH_POLICIES, allowing),)))
    await admin.patch(f"{MANAGEMENT}/identities/{alice}", json={"authPolicyId": "only-this-signer"})
    assert (await ext_jwt_login(controller, token)).status_code == 200
    in_use = await admin.delete(f"{MANAGEMENT}/external-jwt-signers/{signer}")
    assert in_use.status_code == 409 and "only-this-signer" in in_use.json()["error"]["message"]

    await admin.post(f"{MANAGEMENT}/identities/{alice}/disable", json={"durationMinutes": 0})
    _refused(await ext_jwt_login(controller, token), words="disabled")
