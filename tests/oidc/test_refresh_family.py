"""A refresh-token family is stored with its API session (docs/oidc.md §3): only the hash of the one usable
refresh token, and it outlives a restart of the controller."""

from __future__ import annotations

import httpx

from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.oidc.provider import REFRESH_HASH, refresh_hash
from ziti_aio.testing.controller import ADMIN_PASSWORD, ADMIN_USERNAME, CLIENT, open_controller

from .flow import refresh, tokens_for

LOGIN = {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}


def _client(running) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=running.url, verify=running.ssl_context(), timeout=30)


async def test_a_refresh_token_rotates_across_a_restart_and_its_reuse_ends_the_session(tmp_path):
    home = tmp_path / "ctrl"
    async with open_controller(home) as first, _client(first) as client:
        issued = await tokens_for(client, login="password", body=LOGIN)
        rotated = await refresh(client, issued["refresh_token"])
        assert rotated.status_code == 200, rotated.text
        current = rotated.json()
        [api_session] = first.controller.model.all(Kind.API_SESSIONS)
        assert api_session[REFRESH_HASH] == refresh_hash(current["refresh_token"])
        assert current["refresh_token"] not in str(first.controller.model.all(Kind.API_SESSIONS))
    async with open_controller(home) as second, _client(second) as client:
        again = await refresh(client, current["refresh_token"])
        assert again.status_code == 200, again.text
        bearer = {"Authorization": f"Bearer {again.json()['access_token']}"}
        answer = await client.get(f"{CLIENT}/current-api-session", headers=bearer)
        assert answer.status_code == 200 and answer.json()["data"]["id"] == api_session["id"]
        assert REFRESH_HASH not in answer.json()["data"]  # stored, never shown
        reused = await refresh(client, issued["refresh_token"])  # rotated out before the restart
        assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
        assert (await client.get(f"{CLIENT}/current-api-session", headers=bearer)).status_code == 401
