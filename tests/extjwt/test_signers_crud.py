"""The ``external-jwt-signers`` collection: create, read, update, delete, each refusal changing nothing, the
client API's list for a login page, and identities' unique ``externalId``."""

from __future__ import annotations

import pytest

from ziti_aio.testing.controller import CLIENT, MANAGEMENT, create

from .helpers import add_signer, count, signers

M = MANAGEMENT


async def test_create_read_update_delete(admin, idp):
    ident = await add_signer(admin, idp, clientId="ziti-cli", scopes=["openid", "email"],
                             externalAuthUrl=f"{idp.issuer}/authorize")
    got = (await admin.get(f"{M}/external-jwt-signers/{ident}")).json()["data"]
    assert (got["name"], got["issuer"], got["jwksEndpoint"], got["certPem"]) == (
        "test-idp", idp.issuer, idp.jwks_url, None)
    assert (got["claimsProperty"], got["targetToken"], got["enrollNameClaimsSelector"]) == ("sub", "ACCESS", "/sub")
    assert got["scopes"] == ["openid", "email"] and got["useExternalId"] is True

    resp = await admin.patch(f"{M}/external-jwt-signers/{ident}", json={"audience": "new-aud", "enabled": False})
    assert resp.status_code == 200, resp.text
    got = (await admin.get(f"{M}/external-jwt-signers/{ident}")).json()["data"]
    assert (got["audience"], got["enabled"], got["clientId"]) == ("new-aud", False, "ziti-cli")

    put = {"name": "renamed", "issuer": idp.issuer, "audience": "a", "enabled": True,
           "certPem": idp.current.cert_pem}
    assert (await admin.put(f"{M}/external-jwt-signers/{ident}", json=put)).status_code == 200
    got = (await admin.get(f"{M}/external-jwt-signers/{ident}")).json()["data"]
    assert got["jwksEndpoint"] is None and got["kid"] == got["fingerprint"] != ""
    assert got["commonName"].startswith("test-idp") and got["notAfter"] > got["notBefore"]

    assert (await admin.delete(f"{M}/external-jwt-signers/{ident}")).status_code == 200
    assert (await admin.get(f"{M}/external-jwt-signers/{ident}")).status_code == 404


@pytest.mark.parametrize(("fields", "field"), [
    ({"jwksEndpoint": None}, "certPem"),
    ({"certPem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}, "jwksEndpoint"),
    ({"jwksEndpoint": "ftp://keys.example.com/jwks"}, "jwksEndpoint"),
    ({"jwksEndpoint": "https://"}, "jwksEndpoint"),
    ({"externalAuthUrl": "not a url"}, "externalAuthUrl"),
    ({"jwksEndpoint": None, "certPem": "not a certificate"}, "certPem"),
    ({"issuer": ""}, "issuer"),
    ({"audience": None}, "audience"),
    ({"enabled": "yes"}, "enabled"),
    ({"targetToken": "REFRESH"}, "targetToken"),
    ({"claimsProperty": "/bad~2pointer"}, "claimsProperty"),
    ({"enrollToTokenEnabled": True}, "enrollAuthPolicyId"),
    ({"enrollToCertEnabled": True, "enrollAuthPolicyId": "no-such-policy"}, "enrollAuthPolicyId"),
])
async def test_invalid_signers_are_refused_and_store_nothing(admin, idp, fields, field):
    body = {"name": "bad", "issuer": idp.issuer, "audience": "a", "enabled": True, "jwksEndpoint": idp.jwks_url,
            **fields}
    resp = await admin.post(f"{M}/external-jwt-signers", json=body)
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == "COULD_NOT_VALIDATE" and error["cause"]["field"] == field
    assert await count(admin, "external-jwt-signers") == 0


async def test_name_and_issuer_are_unique(admin, idp):
    ident = await add_signer(admin, idp)
    for clash, field in (({"issuer": "https://other.example.com"}, "name"), ({"name": "other"}, "issuer")):
        resp = await admin.post(f"{M}/external-jwt-signers", json={
            "name": "test-idp", "issuer": idp.issuer, "audience": "a", "enabled": True,
            "jwksEndpoint": idp.jwks_url, **clash})
        assert resp.status_code == 400 and resp.json()["error"]["cause"]["field"] == field, resp.text
    assert [s["id"] for s in await signers(admin)] == [ident]


async def test_client_api_lists_enabled_signers_for_a_login_page(controller, admin, idp):
    await add_signer(admin, idp, clientId="ziti-cli", scopes=["openid"], externalAuthUrl=f"{idp.issuer}/authorize")
    await create(admin, "external-jwt-signers", {"name": "off", "issuer": "https://off.example.com", "audience": "a",
                                                  "enabled": False, "jwksEndpoint": "https://off.example.com/keys"})
    async with controller.client() as anon:  # before any login
        listed = (await anon.get(f"{CLIENT}/external-jwt-signers")).json()["data"]
    assert [s["name"] for s in listed] == ["test-idp"]
    shown = listed[0]
    assert shown["openIdConfigurationUrl"] == f"{idp.issuer}/.well-known/openid-configuration"
    assert (shown["clientId"], shown["scopes"], shown["externalAuthUrl"]) == (
        "ziti-cli", ["openid"], f"{idp.issuer}/authorize")
    assert not {"issuer", "jwksEndpoint", "certPem", "claimsProperty", "useExternalId"} & set(shown)


async def test_identity_external_id_is_settable_and_unique(admin):
    alice = await create(admin, "identities", {"name": "alice", "type": "User", "externalId": "a@example.com"})
    resp = await admin.post(f"{M}/identities", json={"name": "bob", "type": "User", "externalId": "a@example.com"})
    assert resp.status_code == 400 and resp.json()["error"]["cause"]["field"] == "externalId"
    bob = await create(admin, "identities", {"name": "bob", "type": "User"})
    clash = await admin.patch(f"{M}/identities/{bob}", json={"externalId": "a@example.com"})
    assert clash.status_code == 400
    assert (await admin.patch(f"{M}/identities/{alice}", json={"externalId": "alice"})).status_code == 200
    assert (await admin.patch(f"{M}/identities/{bob}", json={"externalId": "a@example.com"})).status_code == 200
    found = (await admin.get(f"{M}/identities", params={"filter": 'externalId="a@example.com"'})).json()["data"]
    assert [i["id"] for i in found] == [bob]
