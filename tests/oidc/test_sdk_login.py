"""The SDK's choice of login: OIDC when the controller offers it, legacy when asked to."""

from __future__ import annotations

import jwt

from ziti_aio.sdk import open_context


async def test_the_sdk_logs_in_by_oidc_by_default_and_by_api_session_when_legacy(net):
    alice = await net.create_identity("alice")
    async with open_context(alice.path) as ctx:
        oidc_token = ctx.client_api.token
        renewed = await ctx.client_api.refresh()
        assert renewed.id == ctx.client_api.api_session.id and renewed.token != oidc_token
    async with open_context(alice.path, legacy=True) as ctx:
        assert ctx.client_api.oidc is None
        legacy_token = ctx.client_api.token
    assert jwt.decode(oidc_token, options={"verify_signature": False})["z_t"] == "a"
    assert jwt.decode(legacy_token, options={"verify_signature": False})["typ"] == "api-session"
