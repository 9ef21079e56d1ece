"""The controller's own cost of a dial's events, without the network (``python -m bench.event_build
[--dials 5000] [--subscribers 2]``): instructions (``valgrind --tool=callgrind``) to build a circuit's
``created`` and ``deleted`` events, as the controller does on every dial, publish them to ``--subscribers``
subscriptions and encode them as the sinks take them, in batches of :data:`BATCH` dials. Deterministic to a few
instructions, so it resolves changes that ``ops_bench --instructions`` cannot (docs/events.md, "Cost"). It
runs itself under callgrind twice, with the loop counted 0 and ``--dials`` times, and prints the difference per
dial; ``--run N`` is that child."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys

from ziti_aio.controller.events.bus import EventBus
from ziti_aio.controller.events.types import json_lines
from ziti_aio.controller.network.circuits import Circuit
from ziti_aio.controller.network.network import Network

BATCH = 50
"""Dials whose events the subscribers take at once (a sink's batch: docs/events.md)."""


def run(dials: int, subscribers: int) -> None:
    """``dials`` times: a circuit's two events, built by the network's own code, published and encoded."""
    bus = EventBus("controller-id")
    subs = [bus.subscribe(f"sub{n}", size=1 << 30) for n in range(subscribers)]

    class Publisher:  # the network's circuit event code, without the rest of the network
        events = bus
        _circuit_event = Network._circuit_event

    publisher = Publisher()
    for n in range(dials + 1):  # one more: the first builds what is built once
        circuit = Circuit(id="Zc1rcuitId", service_id="5erviceId1", client_id="1dentityId", session_id="5essionId1",
                          api_session_id="ap1SessId", terminator_id="7erminator", nodes=["r0uterA1d", "r0uterB1d"],
                          links=["l1nkABid01"], host_id="h0stIdent1")
        publisher._circuit_event("created", circuit, creation_timespan_ns=2_345_678)  # type: ignore[attr-defined]
        publisher._circuit_event("deleted", circuit, duration_ns=98_765_432)  # type: ignore[attr-defined]
        if n % BATCH == 0:  # as the sinks take them: in batches, each event encoded once for both
            for sub in subs:
                json_lines(sub.take(2 * BATCH))


def _count(dials: int, subscribers: int) -> int:
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-m",
                           "bench.event_build", "--run", str(dials), "--subscribers", str(subscribers)],
                          capture_output=True, text=True, check=True)
    return int(re.findall(r"Collected : (\d+)", done.stderr)[-1])


def _circuit_alone(dials: int) -> None:
    for _ in range(dials + 1):
        Circuit(id="Zc1rcuitId", service_id="5erviceId1", client_id="1dentityId", session_id="5essionId1",
                api_session_id="ap1SessId", terminator_id="7erminator", nodes=["r0uterA1d", "r0uterB1d"],
                links=["l1nkABid01"], host_id="h0stIdent1")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dials", type=int, default=5000)
    parser.add_argument("--subscribers", type=int, default=2)
    parser.add_argument("--run", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run is not None:
        if args.subscribers < 0:  # the circuit alone, to subtract
            _circuit_alone(args.run)
        else:
            run(args.run, args.subscribers)
    else:
        per_dial = (_count(args.dials, args.subscribers) - _count(0, args.subscribers)) / args.dials
        circuit = (_count(args.dials, -1) - _count(0, -1)) / args.dials
        print(json.dumps({"instructions_per_dial": round(per_dial), "of_which_the_circuit": round(circuit),
                          "events": round(per_dial - circuit), "subscribers": args.subscribers}))
