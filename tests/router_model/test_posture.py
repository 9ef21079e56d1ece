"""Routers judge posture-checked dials from their router model: the controller streams, per API session,
which checks its posture passes; an OIDC dial of a posture-checked service needs no service session, is
refused at the router when the posture fails, and is cut when it stops passing (docs/router-model.md §7)."""

from __future__ import annotations

import platform
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
import trio

from ziti_aio.common.errors import InvalidPosture
from ziti_aio.sdk import open_context
from ziti_aio.testing import wait_until
from ziti_aio.testing.controller import CLIENT, MANAGEMENT, create
from ziti_aio.wire import edge
from ziti_aio.wire.content import EdgeContentType

from .helpers import PAYLOAD, echo, feed, in_step, model, pair, parts
from .test_authorize import _closed


async def _gate(net, ids: dict[str, str], check: dict) -> str:
    """The dialers' Dial policy of ``svc`` needs ``check``."""
    check_id = await create(net.admin, "posture-checks", {"name": "gate", "roleAttributes": ["strict"], **check})
    (await net.admin.patch(f"{MANAGEMENT}/service-policies/{ids['dial']}",
                           json={"postureCheckRoles": ["#strict"]})).raise_for_status()
    return check_id


def _passing(net, api_session_id: str, check_id: str) -> bool:
    posture = model(net.routers[0]).postures.get(api_session_id)
    return in_step(net, net.routers[0]) and posture is not None and check_id in posture.passing


@pytest.mark.skipif(platform.system() != "Linux", reason="the SDK reports this machine's OS")
async def test_a_posture_checked_dial_is_decided_and_cut_by_the_router(net):
    ids = await pair(net)
    check_id = await _gate(net, ids, {"typeId": "OS", "operatingSystems": [{"type": "Linux", "versions": [">=2.6"]}]})
    async with open_context(net.identities["host"].path) as hosting, \
            open_context(net.identities["dialer"].path) as ctx, trio.open_nursery() as nursery:
        nursery.start_soon(echo, await hosting.bind("svc"))
        assert ctx.client_api.api_session is not None
        asid = ctx.client_api.api_session.id
        entry = feed(net).view[ids["dialer"]]
        assert entry["dial"] == [] and entry["dialChecks"] == {ids["svc"]: [[check_id]]}
        await wait_until(lambda: _passing(net, asid, check_id), 10, what="the router holding the passing posture")

        stream = await ctx.dial("svc")
        await stream.send_all(PAYLOAD)
        assert await stream.receive_some() == PAYLOAD
        assert await net.get("sessions") == []  # decided by the router's model, posture included
        sdk = next(s for s in parts(net.routers[0]).sdks.open if s.identity_id == ids["dialer"])
        assert [c.grant for c in sdk.conns.values()] == ["Dial"]

        # the device now reports another OS: the router cuts the connection it authorized
        await ctx.client_api.submit_posture([{"id": check_id, "typeId": "OS", "type": "Windows",
                                              "version": "10.0.19041", "build": "1"}])
        with trio.fail_after(10):
            assert await _closed(stream)
        assert not model(net.routers[0]).allows(ids["dialer"], ids["svc"], "Dial", asid)
        # and a new dial is refused by the router, then by the controller
        with pytest.raises(InvalidPosture):
            await ctx.dial("svc")
        assert await net.get("sessions") == []
        nursery.cancel_scope.cancel()


async def test_the_router_refuses_a_dial_whose_posture_fails(net):
    ids = await pair(net)
    check_id = await _gate(net, ids, {"typeId": "MFA"})
    async with open_context(net.identities["dialer"].path) as ctx:
        assert ctx.client_api.api_session is not None
        asid = ctx.client_api.api_session.id
        await wait_until(lambda: in_step(net, net.routers[0]) and asid in model(net.routers[0]).postures, 10,
                         what="the router holding the dialer's posture")
        assert check_id not in model(net.routers[0]).postures[asid].passing  # no TOTP in this session
        [url] = await ctx.client_api.service_routers(await ctx.service("svc", "Dial"))
        router = await ctx.router(url)
        conn_id = ctx.next_conn_id()
        router.register_conn(conn_id)
        reply = await router.request(edge.connect(conn_id, edge.model_token(ids["svc"]), "dialer"), timeout_s=10)
        assert reply.content_type == EdgeContentType.STATE_CLOSED
        assert edge.parse_state_closed(reply).reason == edge.INVALID_SESSION
        # a policy without checks granting the same service makes posture irrelevant
        await net.allow("dialer", "svc", "Dial")
        await wait_until(lambda: model(net.routers[0]).allows(ids["dialer"], ids["svc"], "Dial", asid), 10,
                         what="the check-free grant at the router")
        assert "dialChecks" not in feed(net).view[ids["dialer"]]
    assert await net.get("sessions") == []


async def test_a_posture_checked_bind_is_unbound_when_posture_fails(net):
    ids = await pair(net)
    check_id = await create(net.admin, "posture-checks", {
        "name": "host-os", "typeId": "OS", "roleAttributes": ["strict"],
        "operatingSystems": [{"type": "Windows", "versions": []}, {"type": "Linux", "versions": []}]})
    (await net.admin.patch(f"{MANAGEMENT}/service-policies/{ids['bind']}",
                           json={"postureCheckRoles": ["#strict"]})).raise_for_status()
    async with open_context(net.identities["host"].path) as hosting:
        assert hosting.client_api.api_session is not None
        asid = hosting.client_api.api_session.id
        # this device says it runs Windows, whatever it runs: the check passes
        await hosting.client_api.submit_posture([{"id": check_id, "typeId": "OS", "type": "Windows",
                                                  "version": "10.0.19041", "build": "1"}])
        await wait_until(lambda: _passing(net, asid, check_id), 10, what="the router holding the passing posture")
        listener = await hosting.bind("svc")
        binds = parts(net.routers[0]).binds
        [bind] = binds.by_terminator.values()
        assert not bind.session_id and await net.get("sessions") == []  # bound by the model
        # the check now wants macOS only: the router unbinds the host
        (await net.admin.patch(f"{MANAGEMENT}/posture-checks/{check_id}", json={
            "operatingSystems": [{"type": "macOS", "versions": []}]})).raise_for_status()
        await wait_until(lambda: not binds.by_terminator, 10, what="the bind cut")
        await listener.aclose()


async def test_an_mfa_timeout_cuts_a_connection_the_router_authorized(net):
    """TOTP given in the OIDC session lets the router allow the dial; the check's timeout running out is no
    request at all — the controller's posture sweep notices, the router hears it and cuts (within ~1 s)."""
    ids = await pair(net)
    check_id = await _gate(net, ids, {"typeId": "MFA", "timeoutSeconds": 2})
    async with open_context(net.identities["host"].path) as hosting, \
            open_context(net.identities["dialer"].path) as ctx, trio.open_nursery() as nursery:
        nursery.start_soon(echo, await hosting.bind("svc"))
        assert ctx.client_api.api_session is not None
        asid = ctx.client_api.api_session.id
        async with net.controller.client() as http:
            headers = {"Authorization": f"Bearer {ctx.client_api.token}"}
            enroll = await http.post(f"{CLIENT}/current-identity/mfa", headers=headers)
            assert enroll.status_code == 201, enroll.text
            totp = pyotp.TOTP(parse_qs(urlsplit(enroll.json()["data"]["provisioningUrl"]).query)["secret"][0])
            verify = await http.post(f"{CLIENT}/current-identity/mfa/verify", headers=headers,
                                     json={"code": totp.now()})
            assert verify.status_code == 200, verify.text
        await wait_until(lambda: _passing(net, asid, check_id), 10, what="the router holding the passed MFA")
        stream = await ctx.dial("svc")
        await stream.send_all(PAYLOAD)
        assert await stream.receive_some() == PAYLOAD
        assert await net.get("sessions") == []
        with trio.fail_after(10):
            assert await _closed(stream)
        assert not model(net.routers[0]).allows(ids["dialer"], ids["svc"], "Dial", asid)
        nursery.cancel_scope.cancel()
