"""TOTP inside the OIDC flow: a login of an identity with MFA answers its auth query instead of a
redirect, and no code, token or certificate is issued until ``/oidc/login/totp`` gets a valid code."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pyotp

from ziti_aio.testing.controller import CLIENT, MANAGEMENT, create

from .flow import REDIRECT, Flow, anonymous_client, authorize, exchange, query

PASSWORD = "totp-user-password"


async def _mfa_user(net, name: str) -> pyotp.TOTP:  # type: ignore[no-untyped-def]
    """An updb identity with verified TOTP MFA; its TOTP."""
    ident = await create(net.admin, "identities", {"name": name, "type": "User", "isAdmin": False})
    await create(net.admin, "authenticators", {"method": "updb", "identityId": ident, "username": name,
                                               "password": PASSWORD})
    async with anonymous_client(net) as client:
        login = await client.post(f"{CLIENT}/authenticate?method=password",
                                  json={"username": name, "password": PASSWORD})
        headers = {"zt-session": login.json()["data"]["token"]}
        enrolled = await client.post(f"{CLIENT}/current-identity/mfa", headers=headers)
        secret = parse_qs(urlsplit(enrolled.json()["data"]["provisioningUrl"]).query)["secret"][0]
        totp = pyotp.TOTP(secret)
        verified = await client.post(f"{CLIENT}/current-identity/mfa/verify", headers=headers,
                                     json={"code": totp.generate_otp(totp.timecode(time.time()) - 1)})
        assert verified.status_code == 200, verified.text
    return totp


async def test_an_mfa_login_waits_for_its_totp_code(net):
    totp = await _mfa_user(net, "carol")
    async with anonymous_client(net) as client:
        started = await authorize(client, verifier="v" * 50, state="s" * 30)
        request_id = query(started.headers["location"])["authRequestID"]
        logged_in = await client.post("/oidc/login/password", params={"id": request_id},
                                      json={"username": "carol", "password": PASSWORD})
        assert logged_in.status_code == 200, logged_in.text
        [asked] = logged_in.json()["authQueries"]
        assert asked["typeId"] == "TOTP" and asked["httpUrl"] == "./oidc/login/totp"
        pending = await client.get("/oidc/login/auth-queries", params={"id": request_id})
        assert [q["typeId"] for q in pending.json()["authQueries"]] == ["TOTP"]

        early = await client.get("/oidc/authorize/callback", params={"id": request_id})
        assert early.status_code == 401, "no code before the TOTP code"
        wrong = await client.post("/oidc/login/totp", data={"id": request_id, "code": "000000"})
        assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "MFA_INVALID_TOKEN"

        right = await client.post("/oidc/login/totp",
                                  data={"id": request_id, "code": totp.generate_otp(totp.timecode(time.time()))})
        assert right.status_code == 302, right.text
        issued = await client.get(right.headers["location"])
        assert issued.status_code == 302 and issued.headers["location"].startswith(REDIRECT)
        answer = await exchange(client, Flow(query(issued.headers["location"])["code"], "v" * 50, "s" * 30))
        assert answer.status_code == 200, answer.text
        me = await client.get(f"{CLIENT}/current-identity",
                              headers={"Authorization": f"Bearer {answer.json()['access_token']}"})
        assert me.status_code == 200 and me.json()["data"]["name"] == "carol"
        again = await client.get(f"{MANAGEMENT}/identities", headers={
            "Authorization": f"Bearer {answer.json()['access_token']}"})
        assert again.status_code in (401, 403)
