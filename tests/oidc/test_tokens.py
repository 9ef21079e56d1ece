"""Access tokens the APIs must refuse: expired, forged, unsigned, HS256 with the public key, the wrong
kind, and those of a login that ended (identity disabled or deleted)."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ziti_aio.common import api_paths
from ziti_aio.testing.controller import ADMIN_PASSWORD, ADMIN_USERNAME

from .flow import anonymous_client, identity_client, tokens_for

READS = (f"{api_paths.CLIENT}/current-identity", f"{api_paths.MANAGEMENT}/identities")


async def _admin_tokens(net) -> dict:  # type: ignore[no-untyped-def]
    async with anonymous_client(net) as client:
        return await tokens_for(client, login="password",
                                body={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD})


async def _status(net, token: str) -> list[int]:  # type: ignore[no-untyped-def]
    async with anonymous_client(net) as client:
        return [(await client.get(path, headers={"Authorization": f"Bearer {token}"})).status_code for path in READS]


def _variants(good: str, signer) -> dict[str, str]:  # type: ignore[no-untyped-def]
    claims = jwt.decode(good, options={"verify_signature": False})
    header = jwt.get_unverified_header(good)
    public_pem = signer.key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    unsigned = jwt.api_jws.PyJWS(algorithms=["none"]).encode(jwt.utils.force_bytes(jwt.api_jwt.json.dumps(claims)),
                                                             None, algorithm="none")
    return {
        "expired": jwt.encode({**claims, "exp": int(time.time()) - 60}, signer.key, algorithm="ES256", headers=header),
        "forged": jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers=header),
        "alg-none": unsigned,
        "hs256-public-key": _hs256(claims, public_pem),
        "another-audience": jwt.encode({**claims, "aud": ["elsewhere"]}, signer.key, algorithm="ES256"),
        "refresh-as-access": jwt.encode({**claims, "z_t": "r"}, signer.key, algorithm="ES256"),
    }


def _hs256(claims: dict, secret: bytes) -> str:
    """HMAC-signed with the controller's public key as the secret (PyJWT itself refuses to do it)."""
    import base64
    import hashlib
    import hmac
    import json

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing = f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing}.{b64(hmac.new(secret, signing.encode(), hashlib.sha256).digest())}"


async def test_bad_access_tokens_are_refused_on_both_apis(net):
    issued = await _admin_tokens(net)
    assert await _status(net, issued["access_token"]) == [200, 200]
    signer = net.controller.controller.api.access.signer
    for name, token in _variants(issued["access_token"], signer).items():
        assert await _status(net, token) == [401, 401], name
    assert await _status(net, issued["refresh_token"]) == [401, 401]
    assert await _status(net, issued["id_token"]) == [401, 401]


@pytest.mark.parametrize("action", ["disable", "delete"])
async def test_ending_the_identity_refuses_its_tokens_at_once(net, action):
    alice = await net.create_identity("alice")
    async with identity_client(net, "alice") as client:
        issued = await tokens_for(client)
    assert (await _status(net, issued["access_token"]))[0] == 200
    if action == "disable":
        resp = await net.admin.post(f"{api_paths.MANAGEMENT}/identities/{alice.id}/disable",
                                    json={"durationMinutes": 0})
    else:
        resp = await net.admin.delete(f"{api_paths.MANAGEMENT}/identities/{alice.id}")
    assert resp.status_code == 200, resp.text
    assert await _status(net, issued["access_token"]) == [401, 401]
    async with anonymous_client(net) as client:
        refreshed = await client.post("/oidc/oauth/token", data={
            "grant_type": "refresh_token", "refresh_token": issued["refresh_token"], "client_id": "openziti"})
        introspected = await client.post("/oidc/oauth/introspect", data={
            "token": issued["access_token"], "client_id": "openziti"})
    assert refreshed.status_code == 400
    assert introspected.json() == {"active": False}


async def test_introspection_describes_a_live_token(net):
    await net.create_identity("alice")
    async with identity_client(net, "alice") as client:
        issued = await tokens_for(client)
        live = await client.post("/oidc/oauth/introspect", data={"token": issued["access_token"],
                                                                 "client_id": "openziti"})
        junk = await client.post("/oidc/oauth/introspect", data={"token": "junk", "client_id": "openziti"})
    assert live.json()["active"] is True and live.json()["sub"] == net.identities["alice"].id
    assert junk.json() == {"active": False}
