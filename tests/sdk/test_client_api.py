"""The SDK against a real controller: login, service listing, sessions, refresh, logout, errors."""

from __future__ import annotations

import json

import pytest

from ziti_aio.common.errors import ControllerUnavailable, InvalidAuth, NoEdgeRoutersAvailable, NotFoundError
from ziti_aio.sdk import client_api, open_context
from ziti_aio.testing.controller import MANAGEMENT, create
from ziti_aio.testing.network import open_network


async def test_login_services_in_pages_configs_and_logout(net, monkeypatch):
    monkeypatch.setattr(client_api, "PAGE_LIMIT", 2)
    alice = await net.create_identity("alice")
    for n in range(5):
        await net.create_service(f"svc{n}", encryption_required=n % 2 == 0)
        await net.allow("alice", f"svc{n}", "Dial" if n < 4 else "Bind")
    [ctype] = await net.get('config-types?filter=name="intercept.v1"')
    intercept = {"protocols": ["tcp"], "addresses": ["svc0.ziti"], "portRanges": [{"low": 80, "high": 80}]}
    config_id = await create(net.admin, "configs", {"name": "svc0-intercept", "configTypeId": ctype["id"],
                                                    "data": intercept})
    svc0 = (await net.get('services?filter=name="svc0"'))[0]["id"]
    (await net.admin.patch(f"{MANAGEMENT}/services/{svc0}", json={"configs": [config_id]})).raise_for_status()

    async with open_context(alice.path, config_types=["intercept.v1"]) as ctx:
        assert ctx.identity_name == "alice"
        assert sorted(ctx.services) == [f"svc{n}" for n in range(5)]
        assert ctx.services["svc0"].encryption_required and not ctx.services["svc1"].encryption_required
        assert ctx.services["svc3"].permissions == {"Dial"} and ctx.services["svc4"].permissions == {"Bind"}
        assert ctx.services["svc0"].config == {"intercept.v1": intercept}
        identity = await net.get(f"identities/{alice.id}")
        assert identity["sdkInfo"]["type"] == "ziti-aio"
        sessions = [s for s in await net.get("api-sessions") if s["identityId"] == alice.id]
        assert [s["id"] for s in sessions] == [ctx.client_api.api_session.id]
        session = await ctx.session(ctx.services["svc0"], "Dial")
        assert session.type == "Dial" and session.router_urls == (net.routers[0].info.edge_address,)
    assert not [s for s in await net.get("api-sessions") if s["identityId"] == alice.id]


async def test_refresh_swaps_token_and_a_revoked_session_logs_in_again(net):
    alice = await net.create_identity("alice")
    async with open_context(alice.path) as ctx:
        before = ctx.client_api.api_session
        refreshed = await ctx.client_api.refresh()
        assert refreshed.id == before.id and refreshed.token != before.token
        assert refreshed.expiration_seconds > 60
        (await net.admin.delete(f"{MANAGEMENT}/api-sessions/{before.id}")).raise_for_status()
        assert await ctx.client_api.services() == {}
        assert ctx.client_api.api_session.id != before.id


async def test_unknown_or_forbidden_service_is_not_found(net):
    alice = await net.create_identity("alice")
    await net.create_service("hosted")
    await net.create_service("secret")
    await net.allow("alice", "hosted", "Bind")
    async with open_context(alice.path) as ctx:
        with pytest.raises(NotFoundError, match="'nope' does not exist"):
            await ctx.dial("nope")
        with pytest.raises(NotFoundError, match="'secret' does not exist"):
            await ctx.dial("secret")
        with pytest.raises(NotFoundError, match="no Dial permission on service 'hosted'"):
            await ctx.dial("hosted")
        with pytest.raises(NotFoundError, match="'nope' does not exist"):
            await ctx.bind("nope")


async def test_no_edge_routers(tmp_path):
    async with open_network(tmp_path, routers=0) as net:
        alice = await net.create_identity("alice")
        await net.create_service("svc")
        await net.allow("alice", "svc", "Dial")
        async with open_context(alice.path) as ctx:
            with pytest.raises(NoEdgeRoutersAvailable):
                await ctx.dial("svc")


async def test_unknown_certificate_and_unreachable_controller(net, tmp_path):
    alice = await net.create_identity("alice")
    (await net.admin.delete(f"{MANAGEMENT}/identities/{alice.id}")).raise_for_status()
    with pytest.raises(InvalidAuth, match="authenticating at"):
        async with open_context(alice.path):
            pass
    bob = await net.create_identity("bob")
    doc = json.loads(bob.path.read_text())
    doc["ztAPI"] = "https://127.0.0.1:1"
    moved = tmp_path / "moved.json"
    moved.write_text(json.dumps(doc))
    with pytest.raises(ControllerUnavailable):
        async with open_context(moved):
            pass
