"""The SDK's login when the controller asks for a TOTP code (MFA): answered from the
``totp_provider`` callback, or a clear failure without one or with a wrong code."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest

from ziti_aio.common import api_paths
from ziti_aio.common.errors import InvalidAuth, MfaInvalidToken
from ziti_aio.sdk import open_context
from ziti_aio.sdk.identity_file import load_identity
from ziti_aio.testing.controller import MANAGEMENT, create


async def _enroll_mfa(path) -> pyotp.TOTP:
    """Enroll the identity in MFA over its own certificate login; its TOTP generator."""
    identity = load_identity(path)
    async with httpx.AsyncClient(base_url=identity.ztapi + api_paths.CLIENT, verify=identity.ssl_context()) as http:
        login = await http.post("/authenticate", params={"method": "cert"}, json={})
        headers = {"zt-session": login.json()["data"]["token"]}
        enroll = await http.post("/current-identity/mfa", headers=headers)
        totp = pyotp.TOTP(parse_qs(urlsplit(enroll.json()["data"]["provisioningUrl"]).query)["secret"][0])
        code = totp.generate_otp(totp.timecode(time.time()) - 1)
        verify = await http.post("/current-identity/mfa/verify", headers=headers, json={"code": code})
        assert verify.status_code == 200, verify.text
        await http.delete("/current-api-session", headers=headers)
    return totp


async def test_the_sdk_answers_the_mfa_auth_query_from_its_provider(net):
    alice = await net.create_identity("alice")
    totp = await _enroll_mfa(alice.path)

    with pytest.raises(InvalidAuth, match="totp_provider"):
        async with open_context(alice.path):  # by OIDC: its login answers a TOTP query
            pass
    with pytest.raises(InvalidAuth, match="totp_provider"):
        async with open_context(alice.path, legacy=True):
            pass

    async def wrong(query):
        return "000000"

    with pytest.raises(MfaInvalidToken):
        async with open_context(alice.path, totp_provider=wrong):
            pass

    asked = []

    async def provider(query):
        asked.append(query)
        return totp.now()

    async with open_context(alice.path, totp_provider=provider) as ctx:
        assert await ctx.client_api.services() == {}
        mine = [s for s in await net.get("api-sessions") if s["identityId"] == alice.id]
        # The refused legacy logins logged out; the abandoned OIDC login's partial session never had a token
        # (none is issued before the code) and ends with its sliding expiry.
        assert sorted((s["isMfaRequired"], s["isMfaComplete"]) for s in mine) == [(True, False), (True, True)]
    assert [q["typeId"] for q in asked] == ["MFA"]


async def test_a_policy_without_cert_logins_refuses_the_sdk(net):
    bob = await net.create_identity("bob")
    policy = await create(net.admin, "auth-policies", {"name": "no-certs", "primary": {"cert": {"allowed": False}},
                                                       "secondary": {}})
    async with open_context(bob.path):
        pass
    (await net.admin.patch(f"{MANAGEMENT}/identities/{bob.id}", json={"authPolicyId": policy})).raise_for_status()
    with pytest.raises(InvalidAuth):
        async with open_context(bob.path):
            pass
