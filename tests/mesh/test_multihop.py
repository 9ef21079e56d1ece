"""Multi-hop circuits: SDK dialer on er1, host on er3; direct path, detour, and a path change mid-transfer."""

from __future__ import annotations

import hashlib
import os

import pytest
import trio
from mesh_net import MIB, link_between, set_link, sink, three_routers, wait_links

from ziti_aio.sdk import open_context
from ziti_aio.testing import wait_until


async def upload(net, size: int, *, at_mib: int | None = None, action=None):  # type: ignore[no-untyped-def]
    """Dialer sends ``size`` random bytes to the host, which answers with their SHA-256; ``action``
    runs once ``at_mib`` MiB are sent. Returns (sent digest, host's answer, circuits seen while open)."""
    payload = os.urandom(size)
    host_file, dialer_file = net.identities["host"].path, net.identities["dialer"].path
    async with open_context(host_file) as host, open_context(dialer_file) as dialer:
        listener = await host.bind("svc")
        async with trio.open_nursery() as nursery:
            async def serve() -> None:
                await sink(await listener.accept())
            nursery.start_soon(serve)
            with trio.fail_after(180):
                async with await dialer.dial("svc") as stream:
                    circuits = await net.get("circuits")
                    view = memoryview(payload)
                    for offset in range(0, size, MIB):
                        await stream.send_all(view[offset:offset + MIB])
                        if action is not None and offset == (at_mib or 0) * MIB:
                            await action(circuits)
                    await stream.send_eof()
                    answer = b""
                    while data := await stream.receive_some():
                        answer += data
    return hashlib.sha256(payload).digest(), answer, circuits


@pytest.mark.parametrize("encrypted", [True, False], ids=["e2e", "plain"])
async def test_direct_path_between_first_and_last_router(tmp_path, encrypted):
    async with three_routers(tmp_path, encrypted=encrypted) as net:
        er1, _, er3 = (r.id for r in net.routers)
        want, got, [circuit] = await upload(net, 4 * MIB)
        assert got == want
        link13 = link_between(await net.get("links"), er1, er3)
        assert circuit["path"] == {"nodes": [er1, er3], "links": [link13["id"]]}
        await wait_until(lambda: no_circuits(net), 10, what="the circuit to go")


async def test_a_down_link_makes_the_circuit_go_through_the_middle_router(tmp_path):
    async with three_routers(tmp_path) as net:
        er1, er2, er3 = (r.id for r in net.routers)
        links = await net.get("links")
        await set_link(net, link_between(links, er1, er3)["id"], down=True)
        want, got, [circuit] = await upload(net, 4 * MIB)
        assert got == want
        assert circuit["path"] == {"nodes": [er1, er2, er3],
                                   "links": [link_between(links, er1, er2)["id"], link_between(links, er2, er3)["id"]]}


async def test_marking_the_link_in_use_down_moves_a_64_mib_transfer(tmp_path):
    async with three_routers(tmp_path) as net:
        er1, er2, er3 = (r.id for r in net.routers)
        circuit_events = net.controller.controller.events.subscribe("test", ["circuit"])

        async def take_down(circuits) -> None:  # type: ignore[no-untyped-def]
            [link_id] = circuits[0]["path"]["links"]
            await set_link(net, link_id, down=True)
            await wait_until(lambda: path_is(net, "nodes", [er1, er2, er3]), 10, interval_s=0.02,
                             what="the detour through er2")

        want, got, _ = await upload(net, 64 * MIB, at_mib=16, action=take_down)
        assert got == want
        # the move is a circuit pathUpdated event with the new path (docs/events.md)
        events = [circuit_events.receive_nowait().to_json() for _ in range(circuit_events.queued)]
        assert [e["event_type"] for e in events][:2] == ["created", "pathUpdated"]
        assert events[1]["path"]["nodes"] == [er1, er2, er3] and events[1]["link_count"] == 2


async def test_killing_the_link_in_use_moves_a_64_mib_transfer(tmp_path):
    async with three_routers(tmp_path) as net:
        _er1, _, _er3 = (r.id for r in net.routers)

        async def kill(circuits) -> None:  # type: ignore[no-untyped-def]
            [link_id] = circuits[0]["path"]["links"]
            await net.routers[0].router.parts.links.get(link_id).aclose()

            async def rerouted() -> bool:
                return (await net.get("circuits"))[0]["path"]["links"] != [link_id]

            await wait_until(rerouted, 10, interval_s=0.02, what="the circuit off the closed link")

        want, got, _ = await upload(net, 64 * MIB, at_mib=16, action=kill)
        assert got == want
        await wait_links(net, 3)


async def test_no_path_left_closes_both_ends_cleanly(tmp_path):
    async with three_routers(tmp_path) as net:
        er1, er2, er3 = (r.id for r in net.routers)
        links = await net.get("links")
        async with open_context(net.identities["host"].path) as host, \
                open_context(net.identities["dialer"].path) as dialer:
            listener = await host.bind("svc")
            async with trio.open_nursery() as nursery:
                accepted = []

                async def accept() -> None:
                    accepted.append(await listener.accept())
                nursery.start_soon(accept)
                stream = await dialer.dial("svc")
            await stream.send_all(b"hello")
            assert await accepted[0].receive_some() == b"hello"
            await set_link(net, link_between(links, er1, er2)["id"], down=True)
            await set_link(net, link_between(links, er1, er3)["id"], down=True)
            with trio.fail_after(10):
                for end in (stream, accepted[0]):
                    with pytest.raises(trio.BrokenResourceError, match="no other path"):
                        await end.receive_some()
            assert await net.get("circuits") == []


async def test_a_much_cheaper_path_takes_over_a_64_mib_transfer(tmp_path):
    """Smart rerouting: raising the static cost of the link in use moves the live circuit."""
    async with three_routers(tmp_path) as net:
        er1, er2, er3 = (r.id for r in net.routers)

        async def raise_cost(circuits) -> None:  # type: ignore[no-untyped-def]
            [link_id] = circuits[0]["path"]["links"]
            await set_link(net, link_id, staticCost=1000)
            await wait_until(lambda: path_is(net, "nodes", [er1, er2, er3]), 10, interval_s=0.02,
                             what="the move to the cheaper path through er2")

        want, got, [circuit] = await upload(net, 64 * MIB, at_mib=16, action=raise_cost)
        assert got == want
        assert circuit["path"]["nodes"] == [er1, er3]


async def test_a_slightly_cheaper_path_does_not_move_a_circuit_but_a_disabled_router_does(tmp_path):
    async with three_routers(tmp_path) as net:
        er1, er2, er3 = (r.id for r in net.routers)
        links = await net.get("links")
        direct = link_between(links, er1, er3)["id"]
        await set_link(net, direct, down=True)

        async def steps(circuits) -> None:  # type: ignore[no-untyped-def]
            assert circuits[0]["path"]["nodes"] == [er1, er2, er3]
            await set_link(net, direct, down=False)  # one cost unit cheaper: not worth a move
            await trio.sleep(2)
            assert (await net.get("circuits"))[0]["path"]["nodes"] == [er1, er2, er3]
            resp = await net.admin.patch(f"/edge/management/v1/edge-routers/{er2}", json={"disabled": True})
            assert resp.status_code == 200, resp.text
            await wait_until(lambda: path_is(net, "nodes", [er1, er3]), 10, interval_s=0.02,
                             what="the move back to the direct link")

        want, got, _ = await upload(net, 16 * MIB, at_mib=4, action=steps)
        assert got == want


async def no_circuits(net) -> bool:
    return not await net.get("circuits")


async def path_is(net, key: str, expected: list[str]) -> bool:
    """The first circuit's path ``nodes`` or ``links`` are ``expected``."""
    return (await net.get("circuits"))[0]["path"][key] == expected
