"""The router model reaches routers: a snapshot on connect, numbered events, a snapshot again after a
gap or a restart, and malformed messages dropped without harm (docs/router-model.md)."""

from __future__ import annotations

import trio

from ziti_aio.controller.kinds import Kind
from ziti_aio.router.edge.auth import Tokens
from ziti_aio.router.handlers.router_model import model_event, model_snapshot
from ziti_aio.router.router import EdgeRouter
from ziti_aio.testing import wait_until
from ziti_aio.testing.controller import MANAGEMENT
from ziti_aio.wire import ctrl
from ziti_aio.wire.frame import Message

from .helpers import feed, in_step, model, pair, parts


async def test_a_router_gets_a_snapshot_when_it_connects(net):
    ids = await pair(net)
    await wait_until(lambda: in_step(net, net.routers[0]), 10, what="the router model in step")
    # a router connecting now gets everything in one snapshot
    late = await net.add_router("er-late")
    await wait_until(lambda: in_step(net, late), 10, what="the late router's snapshot")
    entry = model(late).identities[ids["dialer"]]
    assert entry.name == "dialer" and not entry.disabled and entry.dial == {ids["svc"]} and not entry.bind
    assert model(late).identities[ids["host"]].bind == {ids["svc"]}
    assert model(late).allows(ids["dialer"], ids["svc"], "Dial")
    assert not model(late).allows(ids["dialer"], ids["svc"], "Bind")
    assert not model(late).allows(ids["host"], ids["svc"], "Dial")


async def test_each_change_is_one_numbered_event(net):
    ids = await pair(net)
    router = net.routers[0]
    await wait_until(lambda: in_step(net, router), 10, what="the router model in step")
    before = model(router).index
    (await net.admin.delete(f"{MANAGEMENT}/service-policies/{ids['dial']}")).raise_for_status()
    await wait_until(lambda: in_step(net, router), 10, what="the policy deletion at the router")
    assert model(router).index == before + 1
    assert not model(router).allows(ids["dialer"], ids["svc"], "Dial")
    disabled = await net.admin.post(f"{MANAGEMENT}/identities/{ids['host']}/disable", json={"durationMinutes": 0})
    disabled.raise_for_status()
    await wait_until(lambda: model(router).identities[ids["host"]].disabled, 10, what="the disabled flag")
    assert not model(router).allows(ids["host"], ids["svc"], "Bind")
    (await net.admin.delete(f"{MANAGEMENT}/identities/{ids['host']}")).raise_for_status()
    await wait_until(lambda: ids["host"] not in model(router).identities, 10, what="the identity's removal")
    # a change that touches nothing the routers hold is no event
    index = feed(net).index
    (await net.admin.patch(f"{MANAGEMENT}/services/{ids['svc']}", json={"tags": {"k": "v"}})).raise_for_status()
    assert feed(net).index == index


async def test_a_gap_in_the_numbering_brings_a_snapshot(net):
    ids = await pair(net)
    router = net.routers[0]
    await wait_until(lambda: in_step(net, router), 10, what="the router model in step")
    del model(router).identities[ids["dialer"]]  # out of step, as if an event had been lost
    gap = ctrl.message(ctrl.CtrlType.MODEL_EVENT, index=model(router).index + 5, identities={})
    await model_event(parts(router), parts(router).ctrl.source, gap)
    await wait_until(lambda: in_step(net, router), 10, what="the snapshot after the gap")
    assert model(router).allows(ids["dialer"], ids["svc"], "Dial")


async def test_malformed_model_messages_are_dropped_and_the_router_carries_on(net):
    ids = await pair(net)
    router = net.routers[0]
    await wait_until(lambda: in_step(net, router), 10, what="the router model in step")
    channel = parts(router).ctrl.channel
    network = net.controller.controller.network
    connected = network.routers.get(router.id)
    index = model(router).index
    bad = [
        Message(ctrl.CtrlType.MODEL_EVENT, body=b"not json"),
        ctrl.message(ctrl.CtrlType.MODEL_EVENT, index="one", identities={}),
        ctrl.message(ctrl.CtrlType.MODEL_EVENT, index=index + 1, identities=[]),
        ctrl.message(ctrl.CtrlType.MODEL_EVENT, index=index + 1, identities={"x": {"name": 3, "disabled": False}}),
        ctrl.message(ctrl.CtrlType.MODEL_EVENT, index=index + 1, identities={"x" * 500: None}),
        ctrl.message(ctrl.CtrlType.MODEL_SNAPSHOT, index=index, part=1, parts=2, identities={}),
        ctrl.message(ctrl.CtrlType.MODEL_SNAPSHOT, index=index, part=0, parts=0, identities={}),
        ctrl.message(ctrl.CtrlType.MODEL_SNAPSHOT, index=index, part=0, parts=1,
                     identities={ids["dialer"]: {"name": "x", "disabled": "no", "dial": [], "bind": []}}),
        # posture-checked grants and API sessions' postures (docs/router-model.md §7)
        ctrl.message(ctrl.CtrlType.MODEL_EVENT, index=index + 1, identities={}, postures=[]),
        ctrl.message(ctrl.CtrlType.MODEL_EVENT, index=index + 1, identities={}, postures={"a": {"passing": []}}),
        ctrl.message(ctrl.CtrlType.MODEL_EVENT, index=index + 1, identities={},
                     postures={"a": {"identityId": "x", "passing": "all"}}),
        ctrl.message(ctrl.CtrlType.MODEL_EVENT, index=index + 1, identities={
            "x": {"name": "x", "disabled": False, "dial": [], "bind": [], "dialChecks": {ids["svc"]: ["c"]}}}),
        ctrl.message(ctrl.CtrlType.MODEL_EVENT, index=index + 1, identities={
            "x": {"name": "x", "disabled": False, "dial": [], "bind": [], "bindChecks": []}}),
    ]
    for msg in bad:  # over the real control channel
        connected.push(msg)
    await wait_until(lambda: in_step(net, router) and not model(router).asked, 10, what="the model back in step")
    assert parts(router).ctrl.channel is channel  # the channel stayed up
    assert model(router).allows(ids["dialer"], ids["svc"], "Dial")
    # and called directly, none of them raises or changes the model
    for msg in bad:
        if msg.content_type == ctrl.CtrlType.MODEL_SNAPSHOT:
            await model_snapshot(parts(router), parts(router).ctrl.source, msg)
        else:
            await model_event(parts(router), parts(router).ctrl.source, msg)
    assert model(router).allows(ids["dialer"], ids["svc"], "Dial") and "x" not in model(router).identities


async def test_a_restarted_router_rebuilds_its_model_from_a_snapshot(net):
    ids = await pair(net)
    router = net.routers[0]
    await wait_until(lambda: in_step(net, router), 10, what="the router model in step")
    router.stop()
    await wait_until(lambda: net.controller.controller.network.routers.get(router.id) is None, 10,
                     what="the router offline")
    (await net.admin.delete(f"{MANAGEMENT}/service-policies/{ids['bind']}")).raise_for_status()
    again = EdgeRouter(router.router.config)
    async with trio.open_nursery() as nursery:
        await nursery.start(again.run)
        assert again.parts is not None and isinstance(again.parts.tokens, Tokens)
        await wait_until(lambda: again.parts is not None and again.parts.tokens.model.ready
                         and again.parts.tokens.model.index == feed(net).index, 10, what="the restarted router's model")
        restarted = again.parts.tokens.model
        assert restarted.allows(ids["dialer"], ids["svc"], "Dial")
        assert not restarted.allows(ids["host"], ids["svc"], "Bind")  # the change made while it was down
        assert {i["id"] for i in net.controller.controller.model.all(Kind.IDENTITIES)} <= set(restarted.identities)
        nursery.cancel_scope.cancel()


async def test_a_change_reaches_every_router(net):
    ids = await pair(net)
    routers = [net.routers[0], await net.add_router("er2"), await net.add_router("er3")]
    await wait_until(lambda: all(in_step(net, r) for r in routers), 10, what="every router in step")
    (await net.admin.patch(f"{MANAGEMENT}/identities/{ids['dialer']}", json={"roleAttributes": []})).raise_for_status()
    await wait_until(lambda: all(in_step(net, r) for r in routers), 10, what="every router holding the change")
    assert not any(model(r).allows(ids["dialer"], ids["svc"], "Dial") for r in routers)
