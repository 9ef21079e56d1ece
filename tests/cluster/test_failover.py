"""Routers and SDKs of a three-controller network when the leader stops (docs/ha.md, "Routers and the cluster")."""

from __future__ import annotations

import hashlib
import json
import os

import trio

from ziti_aio.common.errors import ZitiError
from ziti_aio.controller.kinds import Kind
from ziti_aio.sdk import open_context
from ziti_aio.testing import open_network, wait_until
from ziti_aio.testing.controller import CLIENT, create

CHUNK = 64 * 1024
CHUNKS = 96  # 6 MiB


def _connected_everywhere(net, router_id: str) -> bool:
    return all(c.controller.network is not None and c.controller.network.routers.get(router_id) is not None
               for c in net.controllers)


def _terminators_everywhere(net, service_id: str) -> bool:
    return all(c.controller.network is not None and c.controller.network.terminators.for_service(service_id)
               for c in net.controllers)


async def _serve_echo(listener, nursery: trio.Nursery) -> None:
    while True:
        conn = await listener.accept()

        async def echo(conn=conn) -> None:
            async with conn:
                try:
                    while data := await conn.receive_some():
                        await conn.send_all(data)
                except trio.BrokenResourceError:
                    pass  # the dialer closed its end without a FIN

        nursery.start_soon(echo)


async def test_a_transfer_survives_the_leaders_loss_and_a_new_dial_goes_through_a_survivor(tmp_path):
    async with open_network(tmp_path, controllers=3, routers=1) as net:
        router = net.routers[0]
        # the router learns every member from its first hello and keeps a channel to each
        await wait_until(lambda: _connected_everywhere(net, router.id), 30, what="the router on every controller")
        assert sorted(router.router.parts.ctrl.endpoints) == sorted(c.info.ctrl_address for c in net.controllers)
        service_id = await net.create_service("bulk")
        host, dialer = await net.create_identity("host"), await net.create_identity("dialer")
        await net.allow("host", "bulk", "Bind")
        await net.allow("dialer", "bulk", "Dial")
        async with open_context(host.path) as hosting, open_context(dialer.path) as dialing, \
                trio.open_nursery() as nursery:
            listener = await hosting.bind("bulk")
            nursery.start_soon(_serve_echo, listener, nursery)
            await wait_until(lambda: _terminators_everywhere(net, service_id), 30,
                             what="the terminator on every controller")
            payload = os.urandom(CHUNK * CHUNKS)
            received = bytearray()
            stopped = trio.Event()
            leader = net.controller
            with trio.fail_after(120):
                async with await dialing.dial("bulk") as stream:
                    async def send() -> None:
                        for n in range(CHUNKS):
                            if n == CHUNKS // 4:
                                leader.stop()  # the leader, which created this circuit, goes away mid-transfer
                                stopped.set()
                            await stream.send_all(payload[n * CHUNK:(n + 1) * CHUNK])

                    async with trio.open_nursery() as transfer:
                        transfer.start_soon(send)
                        while len(received) < len(payload):
                            received += await stream.receive_some()
            assert stopped.is_set()
            assert len(received) == len(payload)
            assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()

            survivors = [c for c in net.controllers if c is not leader]
            before = {id(c): len(c.controller.network.circuits) for c in survivors}

            async def dial_again() -> bytes | None:
                try:
                    async with await dialing.dial("bulk") as again:
                        await again.send_all(b"after the failover")
                        return bytes(await again.receive_some())
                except (ZitiError, trio.BrokenResourceError):  # not yet (a loaded machine): the next try
                    return None

            assert await wait_until(dial_again, 60, what="a dial after the failover") == b"after the failover"
            assert any(len(c.controller.network.circuits) > before[id(c)] for c in survivors), \
                "a surviving controller created the new circuit"
            nursery.cancel_scope.cancel()


async def test_a_transfer_across_a_link_survives_the_leaders_loss(tmp_path):
    """The dialer on one router, the host on another: the circuit crosses a link that every member knows."""
    async with open_network(tmp_path, controllers=3, routers=0) as net:
        near = await net.add_router("near", attributes=("near",))
        far = await net.add_router("far", attributes=("far",))
        for side in ("near", "far"):
            await create(net.admin, "edge-router-policies", {"name": f"{side}-only", "identityRoles": [f"#{side}"],
                                                             "edgeRouterRoles": [f"#{side}"]})
        await wait_until(lambda: all(_connected_everywhere(net, r.id) for r in (near, far)), 30,
                         what="both routers on every controller")
        await wait_until(lambda: all(len(c.controller.network.links.edges()) > 0 for c in net.controllers), 30,
                         what="the link known to every controller")
        service_id = await net.create_service("across")
        host = await net.create_identity("host", attributes=("far",))
        dialer = await net.create_identity("dialer", attributes=("near",))
        await net.allow("host", "across", "Bind")
        await net.allow("dialer", "across", "Dial")
        async with open_context(host.path) as hosting, open_context(dialer.path) as dialing, \
                trio.open_nursery() as nursery:
            listener = await hosting.bind("across")
            nursery.start_soon(_serve_echo, listener, nursery)
            await wait_until(lambda: _terminators_everywhere(net, service_id), 30,
                             what="the terminator on every controller")
            payload = os.urandom(CHUNK * CHUNKS)
            received = bytearray()
            leader = net.controller
            with trio.fail_after(120):
                async with await dialing.dial("across") as stream:
                    circuits = leader.controller.network.circuits.all()
                    assert [c.nodes for c in circuits] == [[near.id, far.id]], "the circuit crosses the link"

                    async def send() -> None:
                        for n in range(CHUNKS):
                            if n == CHUNKS // 4:
                                leader.stop()
                            await stream.send_all(payload[n * CHUNK:(n + 1) * CHUNK])

                    async with trio.open_nursery() as transfer:
                        transfer.start_soon(send)
                        while len(received) < len(payload):
                            received += await stream.receive_some()
            assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()

            async def dial_again() -> bytes | None:
                try:
                    async with await dialing.dial("across") as again:
                        await again.send_all(b"across again")
                        return bytes(await again.receive_some())
                except (ZitiError, trio.BrokenResourceError):
                    return None

            assert await wait_until(dial_again, 60, what="a dial across the link after the failover") \
                == b"across again"
            nursery.cancel_scope.cancel()


async def test_the_sdk_moves_to_another_member_and_keeps_its_session(tmp_path):
    async with open_network(tmp_path, controllers=3, routers=1) as net:
        router = net.routers[0]
        await wait_until(lambda: _connected_everywhere(net, router.id), 30, what="the router on every controller")
        service_id = await net.create_service("echo-after")
        host, dialer = await net.create_identity("host"), await net.create_identity("dialer")
        await net.allow("host", "echo-after", "Bind")
        await net.allow("dialer", "echo-after", "Dial")
        async with open_context(host.path) as hosting, open_context(dialer.path) as dialing, \
                trio.open_nursery() as nursery:
            api = dialing.client_api
            # it learned every member at login, and its token is good on each of them
            assert sorted(api.controllers) == sorted(c.url for c in net.controllers)
            assert api.controller_url == net.controller.url
            session_id = api.api_session.id
            for member in net.controllers:
                async with member.client() as http:
                    answer = await http.get(f"{CLIENT}/current-api-session",
                                            headers={"Authorization": f"Bearer {api.token}"})
                    assert answer.status_code == 200, answer.text
                    assert answer.json()["data"]["id"] == session_id
            listener = await hosting.bind("echo-after")
            nursery.start_soon(_serve_echo, listener, nursery)
            await wait_until(lambda: _terminators_everywhere(net, service_id), 30,
                             what="the terminator on every controller")

            net.controller.stop()
            services = await wait_until(_answers(api.services), 60, what="the service list from another member")
            assert "echo-after" in services
            assert api.controller_url != net.controller.url
            assert api.api_session.id == session_id, "the same API session, not a new login"

            async def dial() -> bytes | None:
                try:
                    async with await dialing.dial("echo-after") as stream:
                        await stream.send_all(b"still here")
                        return bytes(await stream.receive_some())
                except (ZitiError, trio.BrokenResourceError):
                    return None

            assert await wait_until(dial, 60, what="a dial after the failover") == b"still here"
            nursery.cancel_scope.cancel()


def _answers(call):
    async def attempt():
        try:
            return await call()
        except ZitiError:  # an election on a loaded machine answers 503 for a moment
            return None

    return attempt


async def test_a_router_follows_the_members_the_cluster_announces(tmp_path):
    async with open_network(tmp_path, controllers=3, routers=1) as net:
        router = net.routers[0]
        await wait_until(lambda: _connected_everywhere(net, router.id), 30, what="the router on every controller")
        endpoints_file = tmp_path / "routers" / "er1" / "endpoints.json"
        everyone = sorted(c.info.ctrl_address for c in net.controllers)
        assert json.loads(endpoints_file.read_text())["endpoints"] == everyone
        leaving = next(c for c in net.controllers if c is not net.controller)
        staying = [a for a in everyone if a != leaving.info.ctrl_address]
        for member in net.controllers:  # as if `cluster remove` took `leaving` out: each member announces two
            member.controller.network.ctrl_endpoints = lambda: staying

        def left() -> bool:
            return leaving.controller.network.routers.get(router.id) is None \
                and sorted(router.router.parts.ctrl.endpoints) == staying \
                and json.loads(endpoints_file.read_text())["endpoints"] == staying

        await wait_until(left, 30, what="the router's channel to the member that left closed, the file rewritten")
        for member in net.controllers:  # and back in
            member.controller.network.ctrl_endpoints = lambda: everyone
        await wait_until(lambda: _connected_everywhere(net, router.id), 30, what="the router on every member again")


async def test_an_sdk_whose_controller_is_down_at_start_logs_in_at_a_member_it_remembers(tmp_path):
    async with open_network(tmp_path, controllers=3, routers=0) as net:
        dialer = await net.create_identity("dialer")
        assert "ztAPIs" not in json.loads(dialer.path.read_text())
        async with open_context(dialer.path) as ctx:  # the first login learns the members, kept in the file
            everyone = sorted(ctx.client_api.controllers)
            assert everyone == sorted(c.url for c in net.controllers)
        kept = json.loads(dialer.path.read_text())["ztAPIs"]
        assert sorted(url.removesuffix(CLIENT) for url in kept) == everyone
        net.controller.stop()  # the identity's ztAPI
        assert json.loads(dialer.path.read_text())["ztAPI"] == net.controller.url

        async def start_elsewhere() -> str | None:
            try:
                async with open_context(dialer.path) as again:
                    assert again.identity_name == "dialer"
                    return again.client_api.controller_url
            except ZitiError:  # an election on a loaded machine answers 503 for a moment
                return None

        assert await wait_until(start_elsewhere, 60, what="a login at another member") != net.controller.url


async def test_an_oidc_refresh_at_another_member_keeps_the_session_and_a_reused_token_ends_it(tmp_path):
    """The refresh-token family is part of the replicated model (docs/oidc.md §3): a survivor rotates it."""
    async with open_network(tmp_path, controllers=3, routers=0) as net:
        dialer = await net.create_identity("dialer")
        async with open_context(dialer.path) as ctx:
            api = ctx.client_api
            assert api.oidc is not None, "the cluster's members offer OIDC"
            first_token, old_refresh, session_id = api.token, api.oidc.refresh_token, api.api_session.id
            net.controller.stop()
            await wait_until(_answers(api.refresh), 60, what="an OIDC refresh at another member")
            assert api.controller_url != net.controller.url
            assert api.oidc.token_endpoint.startswith(api.controller_url)
            assert api.token != first_token and api.oidc.refresh_token != old_refresh
            assert api.api_session.id == session_id, "refreshed, not a new login"
            [member] = [c for c in net.controllers if c.url == api.controller_url]
            async with member.client() as http:
                current = await http.get(f"{CLIENT}/current-api-session",
                                         headers={"Authorization": f"Bearer {api.token}"})
                assert current.status_code == 200 and current.json()["data"]["id"] == session_id
                # the refresh token rotated out before the failover, used again: the family ends on every member
                reused = await http.post("/oidc/oauth/token", auth=("openziti", ""), data={
                    "grant_type": "refresh_token", "refresh_token": old_refresh, "client_id": "openziti"})
                assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
                ended = await http.get(f"{CLIENT}/current-api-session",
                                       headers={"Authorization": f"Bearer {api.token}"})
                assert ended.status_code == 401
            survivors = [c for c in net.controllers if c is not net.controller]
            await wait_until(lambda: all(c.controller.model.maybe(Kind.API_SESSIONS, session_id) is None
                                         for c in survivors), 30, what="the session gone on every survivor")
