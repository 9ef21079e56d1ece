"""TOTP MFA end to end: enrollment with real codes (pyotp), partial API sessions refused until
``POST /authenticate/mfa``, replayed and wrong codes, the rate limit, recovery codes, removal by the
identity and by an admin, and that no answer but the enrollment's carries the secret."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pyotp

from ziti_aio.controller.events.entity_changes import public_state
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.mfa import MAX_FAILURES
from ziti_aio.testing.controller import CLIENT, MANAGEMENT, create

from .openapi import body_problems, needs_openapi, operation

M = MANAGEMENT
PASSWORD = "mfa-user-password"


class Codes:
    """TOTP codes of consecutive time steps from one fixed start, so a step that rolls over during the
    test never pushes a code out of the controller's window (two steps either side of now)."""

    def __init__(self, secret: str) -> None:
        self.totp = pyotp.TOTP(secret)
        self.step = self.totp.timecode(time.time()) - 1

    def next(self) -> str:
        code = self.totp.generate_otp(self.step)
        self.step += 1
        return code

    def again(self) -> str:
        """The code used last."""
        return self.totp.generate_otp(self.step - 1)


async def _user(admin, name: str, **fields) -> str:
    ident = await create(admin, "identities", {"name": name, "type": "User", **fields})
    await create(admin, "authenticators", {"method": "updb", "identityId": ident, "username": name,
                                           "password": PASSWORD})
    return ident


async def _login(controller, name: str) -> dict:
    async with controller.client() as anon:
        resp = await anon.post(f"{CLIENT}/authenticate?method=password", json={"username": name, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


async def _enroll(client) -> tuple[str, Codes, list[str]]:
    """Enroll and verify the client's identity; its secret, codes and recovery codes."""
    resp = await client.post(f"{CLIENT}/current-identity/mfa")
    assert resp.status_code == 201, resp.text
    data = resp.json()["data"]
    url = data["provisioningUrl"]
    assert url.startswith("otpauth://totp/") and data["isVerified"] is False
    secret = parse_qs(urlsplit(url).query)["secret"][0]
    codes = Codes(secret)
    resp = await client.post(f"{CLIENT}/current-identity/mfa/verify", json={"code": codes.next()})
    assert resp.status_code == 200, resp.text
    return secret, codes, data["recoveryCodes"]


async def test_enrollment_partial_session_and_mfa_login(controller, admin):
    user = await _user(admin, "alice")
    token = (await _login(controller, "alice"))["token"]
    async with controller.client(token=token) as alice:
        assert (await alice.get(f"{CLIENT}/current-identity/mfa")).status_code == 404
        resp = await alice.post(f"{CLIENT}/current-identity/mfa")
        assert resp.status_code == 201, resp.text
        data = resp.json()["data"]
        assert len(data["recoveryCodes"]) == 20 and data["id"]
        secret = parse_qs(urlsplit(data["provisioningUrl"]).query)["secret"][0]
        assert (await alice.post(f"{CLIENT}/current-identity/mfa")).json()["error"]["code"] == "MFA_EXISTS"
        qr = await alice.get(f"{CLIENT}/current-identity/mfa/qr-code")
        assert qr.status_code == 200 and qr.headers["content-type"] == "image/png"
        assert qr.content.startswith(b"\x89PNG\r\n\x1a\n")
        bad = await alice.post(f"{CLIENT}/current-identity/mfa/verify", json={"code": "000000"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "MFA_INVALID_TOKEN"
        codes = Codes(secret)
        resp = await alice.post(f"{CLIENT}/current-identity/mfa/verify", json={"code": codes.next()})
        assert resp.status_code == 200, resp.text
        shown = (await alice.get(f"{CLIENT}/current-identity/mfa")).json()["data"]
        assert shown["isVerified"] is True and "provisioningUrl" not in shown and "recoveryCodes" not in shown
        assert (await alice.get(f"{CLIENT}/current-identity/mfa/qr-code")).status_code == 404
        detail = (await admin.get(f"{M}/identities/{user}")).json()["data"]
        assert detail["isMfaEnabled"] is True
        assert secret not in (await admin.get(f"{M}/identities/{user}")).text
        [record] = controller.controller.model.owned_by(Kind.MFAS, user)
        assert set(public_state(Kind.MFAS, record)) == {"id", "createdAt", "updatedAt", "tags", "identityId",
                                                        "isVerified"}, "events carry nothing of the secret"
        assert (await admin.get(f"{M}/mfas")).status_code == 404, "no collection shows the records"

    login = await _login(controller, "alice")
    assert login["isMfaRequired"] is True and login["isMfaComplete"] is False
    assert login["authQueries"] == [{
        "typeId": "MFA", "provider": "ziti", "format": "alphaNumeric", "httpMethod": "POST",
        "httpUrl": "./authenticate/mfa", "minLength": 4, "maxLength": 6, "isTotpEnrolled": True}]
    async with controller.client(token=login["token"]) as partial:
        refused = await partial.get(f"{CLIENT}/services")
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "UNAUTHORIZED"
        assert (await partial.get(f"{M}/identities")).status_code == 401
        assert (await partial.post(f"{CLIENT}/sessions", json={"serviceId": "x", "type": "Dial"})).status_code == 401
        current = await partial.get(f"{CLIENT}/current-api-session")
        assert current.status_code == 200 and current.json()["data"]["authQueries"][0]["typeId"] == "MFA"
        odd = await partial.post(f"{CLIENT}/authenticate/mfa", json={"code": "\u00e7\u41fd\u00b9\u2803"})
        assert odd.status_code == 400 and odd.json()["error"]["code"] == "MFA_INVALID_TOKEN"
        wrong = await partial.post(f"{CLIENT}/authenticate/mfa", json={"code": "123456"})
        assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "MFA_INVALID_TOKEN"
        assert (await partial.get(f"{CLIENT}/services")).status_code == 401
        resp = await partial.post(f"{CLIENT}/authenticate/mfa", json={"code": codes.next()})
        assert resp.status_code == 200, resp.text
        assert (await partial.get(f"{CLIENT}/services")).status_code == 200
        current = (await partial.get(f"{CLIENT}/current-api-session")).json()["data"]
        assert current["isMfaComplete"] is True and current["authQueries"] == []
        stored = controller.controller.model.get(Kind.API_SESSIONS, login["id"])
        assert stored["mfaPassedAt"].endswith("Z")


async def test_a_code_works_once(controller, admin):
    await _user(admin, "bob")
    async with controller.client(token=(await _login(controller, "bob"))["token"]) as bob:
        _, codes, _ = await _enroll(bob)
        used = codes.again()
    async with controller.client(token=(await _login(controller, "bob"))["token"]) as partial:
        replay = await partial.post(f"{CLIENT}/authenticate/mfa", json={"code": used})
        assert replay.status_code == 400 and replay.json()["error"]["code"] == "MFA_INVALID_TOKEN"
        fresh = codes.next()
        assert (await partial.post(f"{CLIENT}/authenticate/mfa", json={"code": fresh})).status_code == 200
    async with controller.client(token=(await _login(controller, "bob"))["token"]) as other:
        again = await other.post(f"{CLIENT}/authenticate/mfa", json={"code": fresh})
        assert again.status_code == 400, "the same code in another session is a replay too"
        assert (await other.get(f"{CLIENT}/services")).status_code == 401
    metrics = (await admin.get("/metrics")).text
    assert 'ziti_logins_total{method="mfa",outcome="success"} 1.0' in metrics
    assert 'ziti_logins_total{method="mfa",outcome="failure"} 2.0' in metrics


async def test_recovery_codes_and_rate_limit(controller, admin):
    await _user(admin, "carol")
    async with controller.client(token=(await _login(controller, "carol"))["token"]) as carol:
        _, codes, recovery = await _enroll(carol)
        shown = await carol.request("GET", f"{CLIENT}/current-identity/mfa/recovery-codes",
                                    headers={"mfa-validation-code": codes.next()})
        assert shown.status_code == 200, shown.text
        assert shown.json()["data"]["recoveryCodes"] == recovery
    async with controller.client(token=(await _login(controller, "carol"))["token"]) as partial:
        assert (await partial.post(f"{CLIENT}/authenticate/mfa", json={"code": recovery[0]})).status_code == 200
    async with controller.client(token=(await _login(controller, "carol"))["token"]) as partial:
        reused = await partial.post(f"{CLIENT}/authenticate/mfa", json={"code": recovery[0]})
        assert reused.status_code == 400, "a recovery code is used up"
        for _ in range(MAX_FAILURES - 1):
            assert (await partial.post(f"{CLIENT}/authenticate/mfa", json={"code": "999999"})).status_code == 400
        limited = await partial.post(f"{CLIENT}/authenticate/mfa", json={"code": codes.next()})
        assert limited.status_code == 429 and limited.json()["error"]["code"] == "RATE_LIMITED"
        assert (await partial.get(f"{CLIENT}/services")).status_code == 401


async def test_removal_by_the_identity_and_by_an_admin(controller, admin):
    dave = await _user(admin, "dave")
    await _user(admin, "erin")
    async with controller.client(token=(await _login(controller, "dave"))["token"]) as client:
        _, codes, _ = await _enroll(client)
        no_code = await client.delete(f"{CLIENT}/current-identity/mfa")
        assert no_code.status_code == 400 and no_code.json()["error"]["code"] == "MFA_INVALID_TOKEN"
        resp = await client.request("DELETE", f"{CLIENT}/current-identity/mfa",
                                    headers={"mfa-validation-code": codes.next()})
        assert resp.status_code == 200, resp.text
        assert (await client.get(f"{CLIENT}/current-identity/mfa")).status_code == 404
        _, codes, _ = await _enroll(client)
    async with controller.client(token=(await _login(controller, "erin"))["token"]) as erin:
        refused = await erin.delete(f"{M}/identities/{dave}/mfa")
        assert refused.status_code == 401, "only admins remove another identity's MFA"
    assert (await _login(controller, "dave"))["isMfaRequired"] is True
    resp = await admin.delete(f"{M}/identities/{dave}/mfa")
    assert resp.status_code == 200, resp.text
    login = await _login(controller, "dave")
    assert login["isMfaRequired"] is False and login["authQueries"] == []
    assert controller.controller.model.owned_by(Kind.MFAS, dave) == []
    assert (await admin.delete(f"{M}/identities/not-there/mfa")).status_code == 404


async def test_totp_token_and_full_session_only_routes(controller, admin):
    await _user(admin, "frank")
    login = await _login(controller, "frank")
    async with controller.client(token=login["token"]) as frank:
        not_enrolled = await frank.post(f"{CLIENT}/authenticate/mfa", json={"code": "123456"})
        assert not_enrolled.json()["error"]["code"] == "MFA_NOT_ENROLLED"
        _, codes, _ = await _enroll(frank)
        resp = await frank.post(f"{CLIENT}/current-api-session/totp-token", json={"code": codes.next()})
        assert resp.status_code == 200, resp.text
        assert set(resp.json()["data"]) == {"token", "issuedAt"}
        renewed = await frank.post(f"{CLIENT}/current-identity/mfa/recovery-codes", json={"code": codes.next()})
        assert renewed.status_code == 200, renewed.text


async def test_policy_requiring_totp_lets_the_identity_enroll_in_its_partial_session(controller, admin):
    policy = await create(admin, "auth-policies", {
        "name": "totp-required", "primary": {}, "secondary": {"requireTotp": True}})
    await _user(admin, "gina", authPolicyId=policy)
    login = await _login(controller, "gina")
    assert login["authQueries"][0]["isTotpEnrolled"] is False
    async with controller.client(token=login["token"]) as partial:
        assert (await partial.get(f"{CLIENT}/services")).status_code == 401
        await _enroll(partial)
        assert (await partial.get(f"{CLIENT}/services")).status_code == 200


@needs_openapi
async def test_mfa_operations_answer_their_schemas(controller, admin):
    user = await _user(admin, "hank")
    checks = []
    for file, base in (("client.yml", CLIENT), ("management.yml", M)):
        login = await _login(controller, "hank")
        async with controller.client(token=login["token"]) as hank:
            enroll = await hank.post(f"{base}/current-identity/mfa")
            checks.append((file, "POST", "/current-identity/mfa", enroll))
            checks.append((file, "GET", "/current-identity/mfa", await hank.get(f"{base}/current-identity/mfa")))
            codes = Codes(parse_qs(urlsplit(enroll.json()["data"]["provisioningUrl"]).query)["secret"][0])
            checks.append((file, "POST", "/current-identity/mfa/verify",
                           await hank.post(f"{base}/current-identity/mfa/verify", json={"code": codes.next()})))
            checks.append((file, "GET", "/current-identity/mfa/recovery-codes", await hank.request(
                "GET", f"{base}/current-identity/mfa/recovery-codes", headers={"mfa-validation-code": codes.next()})))
            if file == "client.yml":
                checks.append((file, "POST", "/current-api-session/totp-token", await hank.post(
                    f"{base}/current-api-session/totp-token", json={"code": codes.next()})))
        async with controller.client(token=(await _login(controller, "hank"))["token"]) as partial:
            checks.append((file, "POST", "/authenticate/mfa",
                           await partial.post(f"{base}/authenticate/mfa", json={"code": codes.next()})))
        checks.append(("management.yml", "DELETE", "/identities/{id}/mfa",
                       await admin.delete(f"{M}/identities/{user}/mfa")))
    problems = []
    for file, method, path, resp in checks:
        assert 200 <= resp.status_code < 300, f"{file} {method} {path}: {resp.status_code} {resp.text}"
        problems += body_problems(operation(file, method, path), resp)
    assert not problems, "\n".join(problems)
