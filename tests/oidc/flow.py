"""The authorization-code + PKCE flow driven step by step with httpx, as libziti 1.x runs it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from ziti_aio.sdk.identity_file import load_identity

REDIRECT = "http://localhost:20314/auth/callback"


def identity_client(net: Any, name: str) -> httpx.AsyncClient:
    """An HTTPS client presenting identity ``name``'s certificate, not following redirects."""
    identity = load_identity(net.identities[name].path)
    return httpx.AsyncClient(base_url=net.controller.url, verify=identity.ssl_context(), timeout=30)


def anonymous_client(net: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=net.controller.url, verify=net.controller.ssl_context(), timeout=30)


@dataclass
class Flow:
    """One run of the flow up to the code: what the token request needs."""

    code: str
    verifier: str
    state: str


def query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def authorize(client: httpx.AsyncClient, *, redirect_uri: str = REDIRECT, verifier: str | None = None,
                    **overrides: str) -> httpx.Response:
    """``POST /oidc/authorize`` with the parameters in the query, as libziti sends it."""
    verifier = verifier or secrets.token_urlsafe(48)
    params = {"client_id": "openziti", "scope": "openid offline_access", "response_type": "code",
              "redirect_uri": redirect_uri, "code_challenge": create_s256_code_challenge(verifier),
              "code_challenge_method": "S256", "state": secrets.token_urlsafe(30), "audience": "openziti",
              **overrides}
    return await client.post("/oidc/authorize", params=params)


async def code_flow(client: httpx.AsyncClient, *, login: str = "cert", body: dict[str, Any] | None = None) -> Flow:
    """authorize → login → callback: the code and the verifier that goes with it."""
    verifier = secrets.token_urlsafe(48)
    state = secrets.token_urlsafe(30)
    started = await authorize(client, verifier=verifier, state=state)
    assert started.status_code == 302, started.text
    request_id = query(started.headers["location"])["authRequestID"]
    logged_in = await client.post(f"/oidc/login/{login}", params={"id": request_id}, json=body or {})
    assert logged_in.status_code == 302, logged_in.text
    issued = await client.get(logged_in.headers["location"])
    assert issued.status_code == 302, issued.text
    location = issued.headers["location"]
    assert location.startswith(REDIRECT + "?")
    found = query(location)
    assert found["state"] == state
    return Flow(found["code"], verifier, state)


async def exchange(client: httpx.AsyncClient, flow: Flow, *, verifier: str | None = None) -> httpx.Response:
    return await client.post("/oidc/oauth/token", data={
        "grant_type": "authorization_code", "code": flow.code, "code_verifier": verifier or flow.verifier,
        "client_id": "openziti", "redirect_uri": REDIRECT, "state": flow.state})


async def refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    """The refresh as libziti sends it: Basic ``openziti:`` plus ``client_id`` in the form."""
    return await client.post("/oidc/oauth/token", auth=("openziti", ""), data={
        "grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": "openziti"})


async def tokens_for(client: httpx.AsyncClient, **kwargs: Any) -> dict[str, Any]:
    answer = await exchange(client, await code_flow(client, **kwargs))
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found
