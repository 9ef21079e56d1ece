"""The OIDC provider end to end over real HTTPS: code + PKCE, logins, refresh rotation, bad input."""

from __future__ import annotations

from urllib.parse import quote

import jwt

from ziti_aio.common import api_paths
from ziti_aio.testing.controller import ADMIN_PASSWORD, ADMIN_USERNAME

from .flow import (
    REDIRECT,
    anonymous_client,
    authorize,
    code_flow,
    exchange,
    identity_client,
    query,
    refresh,
    tokens_for,
)

CLIENT = api_paths.CLIENT
MANAGEMENT = api_paths.MANAGEMENT


async def test_discovery_keys_and_version_advertise_the_provider(net):
    async with anonymous_client(net) as client:
        version = (await client.get(f"{CLIENT}/version")).json()["data"]
        config = (await client.get("/oidc/.well-known/openid-configuration")).json()
        keys = (await client.get("/oidc/keys")).json()
    assert "OIDC_AUTH" in version["capabilities"]
    assert version["apiVersions"]["edge-oidc"]["v1"] == {"path": "/oidc",
                                                         "apiBaseUrls": [net.controller.url + "/oidc"]}
    assert config["authorization_endpoint"] == net.controller.url + "/oidc/authorize"
    assert config["token_endpoint"] == net.controller.url + "/oidc/oauth/token"
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert [k["kty"] for k in keys["keys"]] == ["EC"]


async def test_cert_login_gives_tokens_that_work_on_both_apis(net):
    await net.create_identity("alice")
    async with identity_client(net, "alice") as client:
        issued = await tokens_for(client)
        bearer = {"Authorization": f"Bearer {issued['access_token']}"}
        me = await client.get(f"{CLIENT}/current-identity", headers=bearer)
        session = await client.get(f"{CLIENT}/current-api-session", headers=bearer)
        services = await client.get(f"{CLIENT}/services", headers=bearer)
        # a non-admin's token is refused where a legacy session of it would be refused too
        management = await client.get(f"{MANAGEMENT}/identities", headers=bearer)
    assert issued["token_type"] == "Bearer" and issued["refresh_token"] and issued["id_token"]
    claims = jwt.decode(issued["access_token"], options={"verify_signature": False})
    assert claims["z_t"] == "a" and claims["sub"] == net.identities["alice"].id and len(claims["z_cfs"]) == 1
    assert me.status_code == 200 and me.json()["data"]["name"] == "alice"
    assert session.json()["data"]["token"] == issued["access_token"]
    assert services.status_code == 200
    assert management.status_code in (401, 403)


async def test_password_login_gives_an_admin_token_for_the_management_api(net):
    async with anonymous_client(net) as client:
        issued = await tokens_for(client, login="password",
                                  body={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD})
        listing = await client.get(f"{MANAGEMENT}/identities",
                                   headers={"Authorization": f"Bearer {issued['access_token']}"})
        started = await authorize(client)
        request_id = query(started.headers["location"])["authRequestID"]
        wrong = await client.post("/oidc/login/password", params={"id": request_id},
                                  json={"username": ADMIN_USERNAME, "password": "not-it"})
    assert listing.status_code == 200 and any(i["name"] == "Default Admin" or i["isAdmin"]
                                              for i in listing.json()["data"])
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "INVALID_AUTH"
    assert jwt.decode(issued["access_token"], options={"verify_signature": False})["z_cfs"] == []


async def test_refresh_rotates_and_reuse_revokes_the_family(net):
    await net.create_identity("alice")
    async with identity_client(net, "alice") as client:
        first = await tokens_for(client)
        second = await refresh(client, first["refresh_token"])
        assert second.status_code == 200, second.text
        rotated = second.json()
        assert rotated["refresh_token"] != first["refresh_token"]
        assert rotated["access_token"] != first["access_token"]
        ok = await client.get(f"{CLIENT}/current-identity",
                              headers={"Authorization": f"Bearer {rotated['access_token']}"})
        reused = await refresh(client, first["refresh_token"])
        after = await client.get(f"{CLIENT}/current-identity",
                                 headers={"Authorization": f"Bearer {rotated['access_token']}"})
        latest = await refresh(client, rotated["refresh_token"])
    assert ok.status_code == 200
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert after.status_code == 401, "reusing a rotated refresh token ends the whole login"
    assert latest.status_code == 400 and latest.json()["error"] == "invalid_grant"


async def test_a_code_is_single_use_and_a_replay_revokes_what_it_gave(net):
    await net.create_identity("alice")
    async with identity_client(net, "alice") as client:
        flow = await code_flow(client)
        first = await exchange(client, flow)
        replay = await exchange(client, flow)
        after = await client.get(f"{CLIENT}/current-identity",
                                 headers={"Authorization": f"Bearer {first.json()['access_token']}"})
    assert first.status_code == 200
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert after.status_code == 401


async def test_a_wrong_pkce_verifier_is_refused(net):
    await net.create_identity("alice")
    async with identity_client(net, "alice") as client:
        flow = await code_flow(client)
        wrong = await exchange(client, flow, verifier="x" * 50)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"


async def test_authorize_refuses_bad_requests(net):
    async with anonymous_client(net) as client:
        unregistered = await authorize(client, redirect_uri="https://attacker.example/auth/callback")
        other_path = await authorize(client, redirect_uri="http://localhost:20314/elsewhere")
        no_pkce = await authorize(client, code_challenge="", code_challenge_method="")
        plain = await authorize(client, code_challenge_method="plain")
        unknown_client = await authorize(client, client_id="someone")
        loopback_ip = await authorize(client, redirect_uri="http://127.0.0.1:4444/auth/callback")
    for refused in (unregistered, other_path, unknown_client):
        assert refused.status_code in (400, 401) and "location" not in refused.headers, refused.text
    for refused in (no_pkce, plain):
        # the redirect URI is registered, so the error goes back to it (RFC 6749 §4.1.2.1)
        assert refused.status_code == 302 and "error=invalid_request" in refused.headers["location"]
    assert loopback_ip.status_code == 302 and "authRequestID=" in loopback_ip.headers["location"]
    assert REDIRECT.startswith("http://localhost")


async def test_login_needs_a_pending_request_and_a_known_certificate(net):
    async with anonymous_client(net) as client:
        no_request = await client.post("/oidc/login/cert", params={"id": "nosuch"}, json={})
        started = await authorize(client)
        request_id = query(started.headers["location"])["authRequestID"]
        no_cert = await client.post("/oidc/login/cert", params={"id": request_id}, json={})
        not_logged_in = await client.get("/oidc/authorize/callback", params={"id": request_id})
        queries = await client.get("/oidc/login/auth-queries", params={"authRequestID": request_id})
    assert no_request.status_code == 401 and no_request.json()["error"]["code"] == "INVALID_AUTH"
    assert no_cert.status_code == 401 and no_cert.json()["error"]["code"] == "INVALID_AUTH"
    assert not_logged_in.status_code == 401
    assert queries.status_code == 200 and queries.json() == {"authQueries": []}


async def test_a_request_takes_one_login(net):
    async with anonymous_client(net) as client:
        started = await authorize(client)
        request_id = query(started.headers["location"])["authRequestID"]
        login = {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}
        first = await client.post("/oidc/login/password", params={"id": request_id}, json=login)
        sessions = len(await net.get("api-sessions"))
        second = await client.post("/oidc/login/password", params={"id": request_id}, json=login)
    assert first.status_code == 302
    assert second.status_code == 401 and len(await net.get("api-sessions")) == sessions


async def test_the_token_request_as_libziti_writes_it(net):
    """libziti copies everything after ``code=`` into its form, so the form carries ``state`` twice."""
    await net.create_identity("alice")
    async with identity_client(net, "alice") as client:
        flow = await code_flow(client)
        body = (f"state={flow.state}&code={flow.code}&state={flow.state}&grant_type=authorization_code"
                f"&code_verifier={flow.verifier}&client_id=openziti&redirect_uri={quote(REDIRECT, safe='')}")
        answer = await client.post("/oidc/oauth/token", content=body,
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["access_token"].count(".") == 2


async def test_authorize_sends_a_certificate_holder_to_the_certificate_login(net):
    await net.create_identity("alice")
    async with identity_client(net, "alice") as with_cert, anonymous_client(net) as without:
        cert = (await authorize(with_cert)).headers["location"]
        password = (await authorize(without)).headers["location"]
    assert cert.startswith("/oidc/login/cert?authRequestID=")
    assert password.startswith("/oidc/login/username?authRequestID=")
