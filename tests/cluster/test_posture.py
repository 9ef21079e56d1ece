"""Posture facts are part of the replicated model (docs/router-model.md §7): a router whose model comes from
any member decides a posture-checked dial, also after the member the SDK reported to is gone."""

from __future__ import annotations

import platform

import pytest
import trio

from ziti_aio.common.errors import ZitiError
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.posture_data import STORED
from ziti_aio.sdk import open_context
from ziti_aio.testing import open_network, wait_until
from ziti_aio.testing.controller import MANAGEMENT, create

from .test_failover import _connected_everywhere, _serve_echo, _terminators_everywhere

OS_REPORT = {"typeId": "OS", "type": "Linux", "version": "6.1.0", "build": "1"}


def _passing_everywhere(net, asid: str, check_id: str) -> bool:
    return all(check_id in (c.controller.network.router_model.postures.get(asid) or {}).get("passing", ())
               for c in net.controllers)


@pytest.mark.skipif(platform.system() != "Linux", reason="the SDK reports this machine's OS")
async def test_every_member_feeds_the_posture_and_a_router_decides_after_the_leaders_loss(tmp_path):
    async with open_network(tmp_path, controllers=3, routers=1) as net:
        router = net.routers[0]
        await wait_until(lambda: _connected_everywhere(net, router.id), 30, what="the router on every controller")
        service_id = await net.create_service("gated")
        host, dialer = await net.create_identity("host"), await net.create_identity("dialer")
        await net.allow("host", "gated", "Bind")
        dial_policy = await net.allow("dialer", "gated", "Dial")
        check_id = await create(net.admin, "posture-checks", {
            "name": "linux", "typeId": "OS", "roleAttributes": ["strict"],
            "operatingSystems": [{"type": "Linux", "versions": [">=2.6"]}]})
        (await net.admin.patch(f"{MANAGEMENT}/service-policies/{dial_policy}",
                               json={"postureCheckRoles": ["#strict"]})).raise_for_status()
        leader = net.controller
        writes: list[str] = []
        leader.controller.model.add_listener(
            lambda command, _: writes.extend(c.id for c in command.changes if c.kind == Kind.API_SESSIONS))
        async with open_context(host.path) as hosting, open_context(dialer.path) as dialing, \
                trio.open_nursery() as nursery:
            nursery.start_soon(_serve_echo, await hosting.bind("gated"), nursery)
            await wait_until(lambda: _terminators_everywhere(net, service_id), 30,
                             what="the terminator on every controller")
            asid = dialing.client_api.api_session.id
            await dialing.client_api.submit_posture([{"id": check_id, **OS_REPORT}])
            await wait_until(lambda: _passing_everywhere(net, asid, check_id), 30,
                             what="every member's feed passing the dialer's posture")
            # the same facts again are not written again (an SDK repeats its reports)
            stored = len(writes)
            await dialing.client_api.submit_posture([{"id": check_id, **OS_REPORT}])
            assert len(writes) == stored
            assert leader.controller.model.get(Kind.API_SESSIONS, asid)[STORED]["os"]["type"] == "Linux"

            leader.stop()  # the member the SDK reported to
            survivors = [c for c in net.controllers if c is not leader]

            async def dial() -> bytes | None:
                try:
                    async with await dialing.dial("gated") as stream:
                        await stream.send_all(b"posture known everywhere")
                        return bytes(await stream.receive_some())
                except (ZitiError, trio.BrokenResourceError):  # an election on a loaded machine: try again
                    return None

            assert await wait_until(dial, 60, what="a posture-checked dial after the failover") \
                == b"posture known everywhere"
            assert all(not list(c.controller.model.all(Kind.SESSIONS)) for c in survivors), \
                "decided by the router's model, no service session"
            nursery.cancel_scope.cancel()
