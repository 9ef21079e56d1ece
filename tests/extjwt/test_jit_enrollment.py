"""Just-in-time enrollment (``POST /enroll/token``): a valid token of an unknown subject creates its identity
(token-only, or with a certificate from a CSR in the same exchange); refused tokens create nothing."""

from __future__ import annotations

import pytest
import trio
from cryptography.hazmat.primitives.serialization import Encoding

from ziti_aio.pki.csr import create_csr
from ziti_aio.pki.keys import generate_key
from ziti_aio.sdk import open_ext_jwt_context
from ziti_aio.testing import open_network
from ziti_aio.testing.controller import MANAGEMENT, create

from .helpers import add_signer, count, enroll_token, ext_jwt_login

ENROLLING = {"enrollToTokenEnabled": True, "enrollToCertEnabled": True, "enrollAuthPolicyId": "default",
             "enrollNameClaimsSelector": "/preferred_username", "enrollAttributeClaimsSelector": "/groups"}


def _csr() -> str:
    return create_csr(generate_key("ec256"), "jit").public_bytes(Encoding.PEM).decode()


async def _identity(admin, external_id: str) -> dict:
    found = (await admin.get(f"{MANAGEMENT}/identities", params={"filter": f'externalId="{external_id}"'})).json()
    assert len(found["data"]) == 1, found
    return found["data"][0]


async def test_enroll_to_token_then_logins_find_the_same_identity(controller, admin, idp):
    await add_signer(admin, idp, **ENROLLING)
    token = idp.token("u-1", extra={"preferred_username": "bob", "groups": ["eng", "ops"]})
    resp = await enroll_token(controller, token)
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"] == {}
    bob = await _identity(admin, "u-1")
    assert (bob["name"], sorted(bob["roleAttributes"]), bob["authPolicyId"]) == ("bob", ["eng", "ops"], "default")
    assert bob["authenticators"] == {}
    for _ in range(2):  # a second login with the same subject finds the same identity
        login = await ext_jwt_login(controller, idp.token("u-1"))
        assert login.status_code == 200, login.text
        assert login.json()["data"]["identityId"] == bob["id"]
    again = await enroll_token(controller, token)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "ENROLLMENT_IDENTITY_ALREADY_ENROLLED"
    assert await count(admin, "identities") == 2


async def test_enroll_to_cert_answers_a_certificate_for_the_csr(controller, admin, idp):
    await add_signer(admin, idp, **ENROLLING)
    resp = await enroll_token(controller, idp.token("u-2", extra={"preferred_username": "carol", "groups": "eng"}),
                              _csr())
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert "BEGIN CERTIFICATE" in data["cert"] and "BEGIN CERTIFICATE" in data["ca"]
    carol = await _identity(admin, "u-2")
    assert carol["roleAttributes"] == ["eng"]
    assert "cert" in carol["authenticators"]


@pytest.mark.parametrize(("case", "status", "code"), [
    ("expired", 400, "INVALID_ENROLLMENT_TOKEN"),
    ("wrong-audience", 400, "INVALID_ENROLLMENT_TOKEN"),
    ("no-name-claim", 400, "INVALID_ENROLLMENT_TOKEN"),
    ("bad-groups-claim", 400, "INVALID_ENROLLMENT_TOKEN"),
    ("token-not-allowed", 409, "INVALID_ENROLLMENT_NOT_ALLOWED"),
    ("cert-not-allowed", 409, "INVALID_ENROLLMENT_NOT_ALLOWED"),
    ("bad-csr", 400, "COULD_NOT_PROCESS_CSR"),
    ("name-clash", 400, "COULD_NOT_VALIDATE"),
])
async def test_refused_enrollments_create_nothing(controller, admin, idp, case, status, code):
    allowed = {"token-not-allowed": {"enrollToTokenEnabled": False},
               "cert-not-allowed": {"enrollToCertEnabled": False}}.get(case, {})
    await add_signer(admin, idp, **{**ENROLLING, **allowed})
    await create(admin, "identities", {"name": "taken", "type": "User"})
    claims = {"preferred_username": "dave", "groups": ["eng"]}
    token, csr = {
        "expired": (idp.token("u-3", expires_in=-60, extra=claims), None),
        "wrong-audience": (idp.token("u-3", aud="other", extra=claims), None),
        "no-name-claim": (idp.token("u-3", extra={"groups": ["eng"]}), None),
        "bad-groups-claim": (idp.token("u-3", extra={**claims, "groups": [1, 2]}), None),
        "token-not-allowed": (idp.token("u-3", extra=claims), None),
        "cert-not-allowed": (idp.token("u-3", extra=claims), _csr()),
        "bad-csr": (idp.token("u-3", extra=claims), "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"),
        "name-clash": (idp.token("u-3", extra={**claims, "preferred_username": "taken"}), None),
    }[case]
    identities, authenticators = await count(admin, "identities"), await count(admin, "authenticators")
    resp = await enroll_token(controller, token, csr)
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code
    if case == "name-clash":
        assert "taken" in resp.json()["error"]["message"]
    assert (await count(admin, "identities"), await count(admin, "authenticators")) == (identities, authenticators)


async def test_jit_identity_dials_a_service_through_a_router(tmp_path, idp):
    """End to end with the ziti_aio SDK: a certificate identity made by JIT enrollment (role attribute ``eng``
    from its token's ``groups``) dials a service an enrolled identity binds; a token-only one logs in with
    ``open_ext_jwt_context`` and sees the same service."""
    async with open_network(tmp_path / "net", idp=idp) as net:
        await net.create_identity("host")
        await net.create_service("echo")
        await net.allow("host", "echo", "Bind")
        await create(net.admin, "service-policies", {"name": "eng-dial", "type": "Dial", "identityRoles": ["#eng"],
                                                     "serviceRoles": ["@echo"]})
        erin = await net.enroll_ext_jwt(idp.token("erin", extra={"groups": ["eng"]}))
        assert erin.name == "erin"
        async with net.context("host") as host, net.context("erin") as dialer:
            listener = await host.bind("echo")

            async def echo_once() -> None:
                conn = await listener.accept()
                await conn.send_all(await conn.receive_some(1024))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(echo_once)
                stream = await dialer.dial("echo")
                await stream.send_all(b"hello from a JIT identity")
                assert await stream.receive_some(1024) == b"hello from a JIT identity"
            await listener.aclose()

        frank = await net.enroll_ext_jwt(idp.token("frank", extra={"groups": ["eng"]}), cert=False)
        ca_pem = net.controller.info.ca_bundle_path.read_text()
        minted: list[str] = []

        def fresh_token() -> str:
            minted.append(idp.token("frank"))
            return minted[-1]

        async with open_ext_jwt_context(net.controller.url, fresh_token, ca_pem=ca_pem) as ctx:
            assert ctx.identity_name == frank.name == "frank"
            assert "echo" in ctx.services
            first = ctx.client_api.api_session
            assert first is not None
            # the API session ends: the next call logs in again with a fresh token
            assert (await net.admin.delete(f"{MANAGEMENT}/api-sessions/{first.id}")).status_code == 200
            assert "echo" in await ctx.client_api.services()
            assert ctx.client_api.api_session is not None and ctx.client_api.api_session.id != first.id
            assert len(minted) == 2
