"""``ziti-aio create/list/update/delete ext-jwt-signer`` and ``ziti-aio login --ext-jwt FILE`` against a real
controller and the loopback OIDC issuer."""

from __future__ import annotations

import pytest
from cli_helpers import Cli, created_id, find

from ziti_aio.testing.controller import CLIENT, create, open_controller
from ziti_aio.testing.idp import open_idp


@pytest.fixture
async def idp(tmp_path):
    async with open_idp(tmp_path / "idp") as running:
        yield running


@pytest.fixture
async def controller(tmp_path, idp):
    async with open_controller(tmp_path / "ctrl", jwks_ca_file=str(idp.ca_path)) as running:
        yield running


async def test_create_list_update_delete_ext_jwt_signer(logged_in: Cli, admin, idp):
    result = await logged_in("create", "ext-jwt-signer", "corp", idp.issuer, "-u", idp.jwks_url, "-a", "ziti",
                             "--client-id", "cli", "--scopes", "openid,email", "--enroll-to-token",
                             "--enroll-auth-policy", "default", "--enroll-attr-claims-selector", "/groups")
    ident = created_id(result, "external jwt signer", "corp")
    signer = await find(admin, "external-jwt-signers", "corp")
    assert signer is not None and signer["id"] == ident
    assert (signer["issuer"], signer["jwksEndpoint"], signer["audience"], signer["useExternalId"]) == (
        idp.issuer, idp.jwks_url, "ziti", True)
    assert (signer["scopes"], signer["enrollToTokenEnabled"], signer["enrollAttributeClaimsSelector"]) == (
        ["openid", "email"], True, "/groups")

    listed = await logged_in("list", "ext-jwt-signers")
    assert "corp" in listed.output and idp.jwks_url in listed.output

    await logged_in("update", "ext-jwt-signer", "corp", "-a", "other", "--disabled", "--no-external-id")
    signer = await find(admin, "external-jwt-signers", "corp")
    assert signer is not None and (signer["audience"], signer["enabled"], signer["useExternalId"]) == (
        "other", False, False)

    await logged_in("delete", "ext-jwt-signer", "corp")
    assert await find(admin, "external-jwt-signers", "corp") is None


async def test_create_refuses_two_key_sources_and_bad_input_cleanly(logged_in: Cli, admin, idp, tmp_path):
    pem = tmp_path / "signer.pem"
    pem.write_text(idp.current.cert_pem)
    both = await logged_in("create", "ext-jwt-signer", "x", idp.issuer, "-u", idp.jwks_url, "-f", str(pem),
                           "-a", "ziti", code=1)
    assert "only one of" in both.output
    bad_url = await logged_in("create", "ext-jwt-signer", "x", idp.issuer, "-u", "ftp://nope", "-a", "ziti", code=1)
    assert "jwksEndpoint" in bad_url.output
    assert await find(admin, "external-jwt-signers", "x") is None
    await logged_in("create", "ext-jwt-signer", "pem", idp.issuer, "-f", str(pem), "-k", idp.current.kid, "-a", "z")
    signer = await find(admin, "external-jwt-signers", "pem")
    assert signer is not None and signer["kid"] == idp.current.kid and signer["certPem"].startswith("-----BEGIN")


async def test_login_with_an_external_jwt_file(cli: Cli, controller, admin, idp, tmp_path):
    await create(admin, "external-jwt-signers", {"name": "idp", "issuer": idp.issuer, "audience": idp.audience,
                                                  "enabled": True, "jwksEndpoint": idp.jwks_url,
                                                  "useExternalId": True})
    await create(admin, "identities", {"name": "alice", "type": "User", "externalId": "alice", "isAdmin": True})
    token = tmp_path / "alice.jwt"
    token.write_text(idp.token("alice") + "\n")
    await cli("login", controller.url, "--ext-jwt", str(token), "-y")
    listed = await cli("list", "identities")
    assert "alice" in listed.output
    async with controller.client() as anon:
        assert (await anon.get(f"{CLIENT}/external-jwt-signers")).json()["data"][0]["name"] == "idp"

    token.write_text(idp.token("alice", expires_in=-60))
    refused = await cli("login", controller.url, "--ext-jwt", str(token), code=1)
    assert "UNAUTHORIZED" in refused.output and "expired" in refused.output
