"""Routers authorizing from their router model (issue 15 item 5, docs/router-model.md), two figures in one run.

- ``model_dial_ms``: the median time of an OIDC dial the router authorizes from its model (no service
  session), against a dial that needs a new service session (``POST /sessions`` first), alternating on the
  same two contexts. Goal: at most 0.8x. ``model_dial_vs_cached_ms`` compares the same model dials with
  dials reusing a cached service session (no goal: both skip the controller's session round trip).
- ``posture_model_dial_ms``: the same comparison for a service whose Dial policy needs a posture check (an OS
  check this machine passes): the router decides from the posture results the controller streams to it, against a
  dial whose new service session the controller grants after evaluating the posture (docs/router-model.md §7).
- ``policy_change_enforced_s``: 10,000 identities may dial a service through one role-selected policy;
  the time from the request deleting that policy to every router's model (two routers) holding the
  change, which is when each router cuts what lost access. Goal: at most 1 s.

``python bench/router_model_bench.py [--quick]`` runs it on its own.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trio

from bench.common import FULL, QUICK, Context, Goal, Metric, Suite, median, run_suites
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.store.commands import Command
from ziti_aio.sdk import open_context
from ziti_aio.testing import wait_until
from ziti_aio.testing.controller import MANAGEMENT, create
from ziti_aio.testing.network import RunningNetwork, open_network

if TYPE_CHECKING:
    from ziti_aio.sdk.context import ZitiContext

CROWD = 10_000
CROWD_PER_COMMAND = 2_000
DIALS_PER_ROUND = 20

MODEL_DIAL = Metric("model_dial_ms", None, "ms", "dial with a new service session (POST /sessions), same run",
                    goal=Goal("<=", 0.8))
MODEL_DIAL_CACHED = Metric("model_dial_vs_cached_ms", None, "ms", "dial reusing a cached service session, same run")
POSTURE_DIAL = Metric("posture_model_dial_ms", None, "ms",
                      "posture-checked dial with a new service session (POST /sessions), same run",
                      goal=Goal("<=", 0.8))
POLICY_ENFORCED = Metric("policy_change_enforced_s", None, "s", f"{CROWD} identities, 2 routers",
                         goal=Goal("<=", 1.0, on="value", unit="s"))


async def _echo(listener) -> None:  # type: ignore[no-untyped-def]
    while True:
        async with await listener.accept() as stream:
            try:
                while data := await stream.receive_some():
                    await stream.send_all(data)
            except trio.BrokenResourceError:
                pass  # the bench closes each connection as soon as it is up


async def _dial_ms(ctx: ZitiContext, *, by_model: bool, fresh_session: bool, service: str = "svc") -> float:
    ctx.use_router_model = by_model
    if fresh_session:
        ctx._dial_sessions.clear()
    started = time.perf_counter()
    stream = await ctx.dial(service)
    elapsed = (time.perf_counter() - started) * 1000
    await stream.aclose()
    return elapsed


async def _dials(net: RunningNetwork, rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"model": [], "fresh": [], "cached": [], "posture_model": [], "posture_fresh": []}
    async with open_context(net.identities["host"].path) as hosting, \
            open_context(net.identities["dialer"].path) as ctx, trio.open_nursery() as nursery:
        nursery.start_soon(_echo, await hosting.bind("svc"))
        nursery.start_soon(_echo, await hosting.bind("guarded"))
        network = net.controller.controller.network
        assert network is not None
        feed = network.router_model
        await wait_until(lambda: all(r.router.parts is not None and r.router.parts.tokens.model.index >= feed.index
                                     for r in net.routers), 30, what="the routers holding the dialer's posture")
        for service in ("svc", "guarded"):  # router channels up, routers' URLs known
            await _dial_ms(ctx, by_model=True, fresh_session=False, service=service)
            await _dial_ms(ctx, by_model=False, fresh_session=True, service=service)
        for _ in range(rounds):
            for _ in range(DIALS_PER_ROUND):
                times["model"].append(await _dial_ms(ctx, by_model=True, fresh_session=False))
                times["fresh"].append(await _dial_ms(ctx, by_model=False, fresh_session=True))
                times["cached"].append(await _dial_ms(ctx, by_model=False, fresh_session=False))
                times["posture_model"].append(await _dial_ms(ctx, by_model=True, fresh_session=False,
                                                             service="guarded"))
                times["posture_fresh"].append(await _dial_ms(ctx, by_model=False, fresh_session=True,
                                                             service="guarded"))
        nursery.cancel_scope.cancel()
    return times


async def _enforcement_s(net: RunningNetwork) -> float:
    controller = net.controller.controller
    assert controller.api is not None and controller.network is not None
    crud, feed = controller.api.crud, controller.network.router_model
    for first in range(0, CROWD, CROWD_PER_COMMAND):  # one replicated command is bounded in size
        changes = []
        for n in range(first, min(first + CROWD_PER_COMMAND, CROWD)):
            command, _ = crud.build_create(Kind.IDENTITIES, {"name": f"crowd-{n}", "type": "Default",
                                                          "isAdmin": False, "roleAttributes": ["crowd"]}, actor="bench")
            changes.extend(command.changes)
        await controller.model.transact(lambda c=tuple(changes): Command("bench", "a crowd of identities", c))
    policy = await create(net.admin, "service-policies", {"name": "crowd-dial", "type": "Dial",
                                                          "identityRoles": ["#crowd"], "serviceRoles": ["#all"]})

    def every_router_at(index: int) -> bool:
        return all(r.router.parts is not None and r.router.parts.tokens.model.index >= index for r in net.routers)

    await wait_until(lambda: every_router_at(feed.index), 60, what="the routers in step")
    started = time.perf_counter()
    (await net.admin.delete(f"{MANAGEMENT}/service-policies/{policy}")).raise_for_status()
    target = feed.index
    await wait_until(lambda: every_router_at(target), 60, what="every router enforcing the change", interval_s=0.001)
    return time.perf_counter() - started


async def _guarded(net: RunningNetwork) -> None:
    """Service ``guarded``: hosted by ``host``; dialed by ``dialer`` through a policy needing an OS check that
    every OS an SDK reports passes."""
    await net.create_service("guarded", encryption_required=True)
    await net.allow("host", "guarded", "Bind")
    check = await create(net.admin, "posture-checks", {
        "name": "any-os", "typeId": "OS", "operatingSystems": [
            {"type": t, "versions": []} for t in ("Windows", "WindowsServer", "macOS", "Linux", "Android", "iOS")]})
    await create(net.admin, "service-policies", {
        "name": "dialer-dial-guarded", "type": "Dial", "identityRoles": [f"@{net.identities['dialer'].id}"],
        "serviceRoles": ["@guarded"], "postureCheckRoles": [f"@{check}"]})


async def router_model_suite(ctx: Context) -> list[Metric]:
    async with open_network(ctx.workdir / "net", routers=2) as net:
        await net.create_service("svc", encryption_required=True)
        await net.create_identity("host")
        await net.create_identity("dialer")
        await net.allow("host", "svc", "Bind")
        await net.allow("dialer", "svc", "Dial")
        await _guarded(net)
        times = await _dials(net, ctx.budget.rounds)
        enforced = await _enforcement_s(net)
    return [
        Metric(MODEL_DIAL.metric, median(times["model"]), MODEL_DIAL.unit, MODEL_DIAL.baseline,
               baseline_value=median(times["fresh"]), goal=MODEL_DIAL.goal),
        Metric(MODEL_DIAL_CACHED.metric, median(times["model"]), MODEL_DIAL_CACHED.unit, MODEL_DIAL_CACHED.baseline,
               baseline_value=median(times["cached"])),
        Metric(POSTURE_DIAL.metric, median(times["posture_model"]), POSTURE_DIAL.unit, POSTURE_DIAL.baseline,
               baseline_value=median(times["posture_fresh"]), goal=POSTURE_DIAL.goal),
        Metric(POLICY_ENFORCED.metric, enforced, POLICY_ENFORCED.unit, POLICY_ENFORCED.baseline,
               goal=POLICY_ENFORCED.goal),
    ]


ROUTER_MODEL_SUITE = Suite((MODEL_DIAL, MODEL_DIAL_CACHED, POSTURE_DIAL, POLICY_ENFORCED), router_model_suite)


def main() -> None:
    parser = argparse.ArgumentParser(description="dials authorized by the router model; policy change enforcement")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    trio.run(lambda: run_suites([ROUTER_MODEL_SUITE], QUICK if args.quick else FULL, json_only=False))


if __name__ == "__main__":
    main()
