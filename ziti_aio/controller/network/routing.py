"""Installing multi-hop circuits on their routers, and moving them when their path breaks or a better one appears.

Set-up (the terminator is on another router than the dialer's): ``ROUTE`` to each transit
router, then ``ROUTE`` with ``dial`` to the egress router, which Dials the host and answers with
its key; only then does the ingress router get its reply. A path change installs the new
transit routes first, then points both ends at the new first and last links (they resend what
is unacked), and finally drops the route on routers no longer on the path. A circuit that has
no path left is closed on its routers, so both applications see a clean close.

Any change of costs or usability (a link up, gone, marked down or re-costed, a latency that
moved, a router updated, disabled or gone) is followed by a revision of every multi-hop
circuit: one that may no longer use its path moves, and so does one for which a clearly
cheaper path now exists (smart rerouting, with hysteresis).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import trio

from ziti_aio.common.errors import ChannelError, CircuitError, PathUnavailable, ZitiError
from ziti_aio.wire import ctrl
from ziti_aio.wire.ctrl import CtrlType

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ziti_aio.controller.network.circuits import Circuit
    from ziti_aio.controller.network.network import Network
    from ziti_aio.controller.network.paths import Path
    from ziti_aio.controller.network.routers import ConnectedRouter
    from ziti_aio.controller.network.terminators import Terminator
    from ziti_aio.wire.frame import Message

log = logging.getLogger(__name__)

ROUTE_TIMEOUT_S = 5.0
SETUP_TIMEOUT_S = 20.0
REVISE_DELAY_S = 0.5
"""Changes arriving together (a router's links going, latencies of several links) make one revision."""
MIN_GAIN = 0.2
MIN_COST_DELTA = 15
"""A usable circuit moves only to a path cheaper by both this fraction of its cost and this many
cost units (about ms of latency): latency jitter must not make circuits flap between paths."""


class Routing:
    """Runs set-ups and path changes as tasks of one nursery."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self._nursery: trio.Nursery | None = None
        self._revise = trio.Event()
        self._revise_reason = ""
        self._revise_count = 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await self._revise_loop()

    def revise(self, reason: str) -> None:
        """Costs or usability changed: soon, check every multi-hop circuit's path."""
        if not self._revise_count:
            self._revise_reason = reason
        self._revise_count += 1
        self._revise.set()

    async def _revise_loop(self) -> None:
        while True:
            await self._revise.wait()
            await trio.sleep(REVISE_DELAY_S)
            self._revise = trio.Event()
            reason, more = self._revise_reason, self._revise_count - 1
            self._revise_count = 0
            if more:
                reason += f" (and {more} more changes)"
            for circuit in self.network.circuits.all():
                if len(circuit.nodes) > 1 and self._move_needed(circuit)[0]:  # a task only for those that move
                    self._spawn(self._reroute, circuit, reason)

    def _spawn(self, fn: Any, *args: Any) -> None:
        if self._nursery is not None:
            self._nursery.start_soon(fn, *args)

    async def _route(self, router_id: str, circuit_id: str, initiator_link: str, terminator_link: str, *,
                     timeout_s: float = ROUTE_TIMEOUT_S, **extra: Any) -> dict[str, Any]:
        router = self.network.routers.get(router_id)
        if router is None:
            raise PathUnavailable(f"router {router_id} is offline")
        msg = ctrl.message(CtrlType.ROUTE, circuitId=circuit_id, initiatorLink=initiator_link,
                           terminatorLink=terminator_link, **extra)
        answer = ctrl.parse(await router.channel.request(msg, timeout_s=timeout_s))
        if not answer.get("ok"):
            raise CircuitError(f"router {router.name}: {answer.get('message', 'route refused')}")
        return answer

    async def _install_transit(self, circuit_id: str, nodes: tuple[str, ...], links: tuple[str, ...]) -> None:
        for i in range(1, len(nodes) - 1):
            await self._route(nodes[i], circuit_id, links[i - 1], links[i])

    # --- set-up -----------------------------------------------------------------------------

    def set_up(self, ingress: ConnectedRouter, request: Message, circuit: Circuit, terminator: Terminator,
               data: dict[str, Any], *, started: float) -> None:
        """Install ``circuit`` (already on its path) and then answer the ingress router's ``request``;
        ``data`` is the request's checked fields (``callerId``, base64 ``publicKey`` and ``appData``);
        ``started`` (``time.perf_counter()``) is when the request arrived, for the dial latency metric."""
        self._spawn(self._set_up, ingress, request, circuit, terminator, data, started)

    async def _set_up(self, ingress: ConnectedRouter, request: Message, circuit: Circuit, terminator: Terminator,
                      data: dict[str, Any], started: float) -> None:
        nodes, links = tuple(circuit.nodes), tuple(circuit.links)
        dial = {"terminatorId": terminator.id, "callerId": data.get("callerId") or "",
                "publicKey": data.get("publicKey"), "appData": data.get("appData")}
        try:
            async with circuit.lock:
                with trio.fail_after(SETUP_TIMEOUT_S):
                    await self._install_transit(circuit.id, nodes, links)
                    egress = await self._route(nodes[-1], circuit.id, links[-1], "", dial=dial,
                                               timeout_s=SETUP_TIMEOUT_S)
                answer = ctrl.reply(request, circuitId=circuit.id, path={"nodes": list(nodes), "links": list(links)},
                                    terminator={"id": terminator.id, "routerId": terminator.router_id,
                                                "address": terminator.address},
                                    terminatorLink=links[0], hostKey=egress.get("hostKey"))
            self.network.circuit_created(circuit, time.perf_counter() - started)
        except (ZitiError, trio.TooSlowError) as exc:
            message = exc.message if isinstance(exc, ZitiError) else "setting up the path timed out"
            log.info("circuit %s: set-up failed: %s", circuit.id, message)
            self.network.circuit_failed(exc.code if isinstance(exc, ZitiError) else CircuitError.code, message,
                                        circuit)
            self.network.close_circuit(circuit.id, message)
            answer = ctrl.error_reply(request, CircuitError.code, message)
        try:
            await ingress.channel.send(answer)
        except ChannelError:
            self.network.close_circuit(circuit.id, "the dialer's router went away")

    # --- path changes -----------------------------------------------------------------------

    def reroute_all(self, circuits: Iterable[Circuit], reason: str) -> None:
        for circuit in circuits:
            self._spawn(self._reroute, circuit, reason)

    def _move_needed(self, circuit: Circuit) -> tuple[bool, Path | None]:
        """Whether ``circuit`` should leave its path, and the cheapest path now (``None``: there is none)."""
        graph = self.network.graph()
        cost = graph.path_cost(circuit.nodes, circuit.links)
        path = graph.shortest_path(circuit.nodes[0], circuit.nodes[-1])
        if cost is not None and (path is None or cost - path.cost < max(MIN_COST_DELTA, cost * MIN_GAIN)):
            return False, path
        return True, path

    async def _reroute(self, circuit: Circuit, reason: str) -> None:
        """Move ``circuit`` if its path can no longer be used, or if one cheaper by :data:`MIN_GAIN` exists."""
        async with circuit.lock:
            if self.network.circuits.get(circuit.id) is not circuit:
                return
            needed, path = self._move_needed(circuit)
            if not needed:
                return
            if path is None:
                log.info("circuit %s: %s and no other path exists, closing it", circuit.id, reason)
                self.network.close_circuit(circuit.id, f"{reason}; no other path")
                return
            try:
                await self._move(circuit, path)
            except (ZitiError, trio.TooSlowError) as exc:
                log.info("circuit %s: moving to %s failed: %s", circuit.id, path.nodes, exc)
                self.network.close_circuit(circuit.id, f"{reason}; the new path failed")
                return
            log.info("circuit %s: %s; moved to %s", circuit.id, reason, list(path.nodes))

    async def _move(self, circuit: Circuit, path: Path) -> None:
        old = circuit.routers
        with trio.fail_after(SETUP_TIMEOUT_S):
            await self._install_transit(circuit.id, path.nodes, path.links)
            await self._route(path.nodes[0], circuit.id, "", path.links[0])
            await self._route(path.nodes[-1], circuit.id, path.links[-1], "")
        circuit.nodes, circuit.links = list(path.nodes), list(path.links)
        self.network.circuit_moved(circuit)
        for router_id in old - set(path.nodes):
            self.network.tell(router_id, circuit.id, "the circuit moved to another path")

