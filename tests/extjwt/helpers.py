"""Helpers of the ext-jwt tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from ziti_aio.testing.controller import CLIENT, MANAGEMENT, create


async def add_signer(admin, idp, **fields) -> str:
    """An enabled JWKS signer for ``idp`` that finds identities by externalId (``fields`` override)."""
    body = {"name": "test-idp", "issuer": idp.issuer, "audience": idp.audience, "enabled": True,
            "jwksEndpoint": idp.jwks_url, "useExternalId": True, **fields}
    return await create(admin, "external-jwt-signers", body)


async def signers(admin) -> list[dict]:
    return (await admin.get(f"{MANAGEMENT}/external-jwt-signers")).json()["data"]


async def ext_jwt_login(controller, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with controller.client() as anon:
        return await anon.post(f"{CLIENT}/authenticate", params={"method": "ext-jwt"}, headers=headers, json={})


async def enroll_token(controller, token: str, csr: str | None = None):
    async with controller.client() as anon:
        return await anon.post(f"{CLIENT}/enroll/token", headers={"Authorization": f"Bearer {token}"},
                               json={"clientCsr": csr} if csr else {})


async def count(admin, kind: str) -> int:
    resp = await admin.get(f"{MANAGEMENT}/{kind}")
    assert resp.status_code == 200, resp.text
    return int(resp.json()["meta"]["pagination"]["totalCount"])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict, claims: dict, secret: bytes | None) -> str:
    """A token PyJWT would refuse to make: ``alg: none`` (``secret`` None) or HS256 keyed with ``secret``."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = b"" if secret is None else hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"
