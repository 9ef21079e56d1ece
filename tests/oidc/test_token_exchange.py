"""RFC 8693 token exchange at ``/oidc/oauth/token`` with the provider's own access and refresh tokens, as
OpenZiti's provider answers it (docs/oidc.md §3a)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from ziti_aio.common import api_paths

from .flow import identity_client, refresh, tokens_for

if TYPE_CHECKING:
    import httpx

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
REFRESH = "urn:ietf:params:oauth:token-type:refresh_token"
ID = "urn:ietf:params:oauth:token-type:id_token"


async def _exchange(client: httpx.AsyncClient, subject: str, subject_type: str, **extra: str) -> httpx.Response:
    return await client.post("/oidc/oauth/token", data={
        "grant_type": EXCHANGE, "client_id": "openziti", "subject_token": subject, "subject_token_type": subject_type,
        **extra})


async def _session_status(client: httpx.AsyncClient, access_token: str) -> int:
    answer = await client.get(api_paths.CLIENT + "/current-api-session",
                              headers={"Authorization": f"Bearer {access_token}"})
    return answer.status_code


async def test_a_refresh_token_exchanges_for_new_tokens_and_rotates(net):
    await net.create_identity("alice")
    async with identity_client(net, "alice") as client:
        issued = await tokens_for(client)
        answer = await _exchange(client, issued["refresh_token"], REFRESH)
        assert answer.status_code == 200, answer.text
        got: dict[str, Any] = answer.json()
        assert (got["issued_token_type"], got["token_type"]) == (REFRESH, "Bearer")
        assert got["refresh_token"] != issued["refresh_token"] and got["access_token"] != issued["access_token"]
        assert await _session_status(client, got["access_token"]) == 200

        only_access = await _exchange(client, got["refresh_token"], REFRESH, requested_token_type=ACCESS)
        assert only_access.status_code == 200, only_access.text
        assert only_access.json()["issued_token_type"] == ACCESS and "refresh_token" not in only_access.json()
        # That refresh token is still the family's current one.
        assert (await refresh(client, got["refresh_token"])).status_code == 200


async def test_an_access_token_exchanges_for_an_access_token_only(net):
    await net.create_identity("alice")
    async with identity_client(net, "alice") as client:
        issued = await tokens_for(client)
        answer = await _exchange(client, issued["access_token"], ACCESS, requested_token_type=ACCESS,
                                 audience="openziti", scope="openid")
        assert answer.status_code == 200, answer.text
        got = answer.json()
        assert got["issued_token_type"] == ACCESS and "refresh_token" not in got
        assert await _session_status(client, got["access_token"]) == 200


@pytest.mark.parametrize(("subject", "subject_type", "extra", "error", "says"), [
    ("access_token", ACCESS, {"requested_token_type": REFRESH}, "invalid_request", "access_token for refresh_token"),
    ("access_token", ACCESS, {}, "invalid_request", "access_token for refresh_token"),
    ("id_token", ID, {"requested_token_type": ACCESS}, "invalid_request", "id_token"),
    ("access_token", "urn:example:saml", {}, "invalid_request", "not supported"),
    ("refresh_token", REFRESH, {"audience": "elsewhere"}, "invalid_request", "audience"),
    ("refresh_token", REFRESH, {"scope": "openid admin"}, "invalid_scope", "scope"),
    ("access_token", REFRESH, {}, "invalid_grant", "subject token"),
    ("refresh_token", ACCESS, {"requested_token_type": ACCESS}, "invalid_grant", "subject token"),
    ("garbage", ACCESS, {"requested_token_type": ACCESS}, "invalid_grant", "subject token"),
])
async def test_refused_exchanges(net, subject, subject_type, extra, error, says):
    await net.create_identity("alice")
    async with identity_client(net, "alice") as client:
        issued = await tokens_for(client)
        token = issued.get(subject, "not.a.jwt")
        answer = await _exchange(client, token, subject_type, **extra)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == error and says in answer.json().get("error_description", ""), answer.text
        assert token not in answer.text
        # Nothing changed: the refresh token still refreshes.
        assert (await refresh(client, issued["refresh_token"])).status_code == 200


async def test_a_rotated_refresh_token_exchanged_again_ends_the_session(net):
    await net.create_identity("alice")
    async with identity_client(net, "alice") as client:
        issued = await tokens_for(client)
        first = await _exchange(client, issued["refresh_token"], REFRESH)
        assert first.status_code == 200, first.text
        replay = await _exchange(client, issued["refresh_token"], REFRESH)
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
        assert await _session_status(client, first.json()["access_token"]) == 401
