"""Where a dial's time goes: every message of a dial, in order, with its median time (not in CI).

    python bench/dial_steps.py [--dials 200]
    python bench/dial_steps.py --ab TREE_A TREE_B [--dials 400] [--round 20]

Runs the data-plane bench's processes (``serve_network``: controller + edge router; ``echo``: the SDK
host; this process: the SDK dialer), each with every channel message it encodes (``tx``) or decodes
(``rx``) stamped with ``time.monotonic_ns`` (one clock for all processes on Linux). ``dials`` dials, one
at a time with a pause between them, each timed as ``dial_p50_ms`` is (``ctx.dial`` to the first echoed
byte). For the dials whose messages came in the most common order, prints each message's median time
from the dial's start and the median gap from the message before: who waits for whom, and how long each
hop (encode, TLS, socket, wake-up, TLS, decode) and each piece of work between two messages takes.

A ``tx`` is stamped when the frame is encoded, just before its socket write; an ``rx`` when the frame is
decoded, after the read and the TLS record's decryption. The ``ctrl`` rows are the router's control
channel, whose other end (the controller) runs in the router's process.

``--ab`` compares two source trees (e.g. ``git archive`` of two commits): each runs its own network, host
and dialer processes (this script's ``--dialer`` mode, started in that tree), both at once, and the dials
alternate between them in rounds of ``--round``, so a shared machine's load hits both alike. Prints each
tree's p50 and p99 (``ctx.dial`` to the first echoed byte), B's ratio to A, and the median over rounds of
B's round median over A's neighbouring one (what a shared machine's changing load moves least).
"""

from __future__ import annotations

import argparse
import atexit
import collections
import json
import os
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trio

from bench.common import open_child
from bench.dataplane import SERVICE, first_echo_s, percentile
from bench.serve_network import serve_argv
from ziti_aio.sdk import open_context
from ziti_aio.wire import connection
from ziti_aio.wire.content import ChannelContentType, EdgeContentType
from ziti_aio.wire.ctrl import CtrlType

TRACE_ENV = "ZITI_AIO_DIAL_TRACE"
WARMUP_DIALS = 20
PAUSE_S = 0.01
IGNORED = {ChannelContentType.LATENCY, ChannelContentType.LATENCY_RESPONSE, ChannelContentType.HEARTBEAT,
           CtrlType.METRICS, CtrlType.LINK_METRICS}

Event = tuple[int, str, str, int]  # (monotonic ns, process, "tx"/"rx", content type)


def install(process: str) -> list[Event]:
    """Stamp every message this process's channels encode or decode; returns the growing list."""
    events: list[Event] = []
    cls = connection.ChannelConnection
    encode_parts, next_event = cls._encode_parts, cls.next_event

    def traced_encode_parts(self: Any, msg: Any) -> Any:
        events.append((time.monotonic_ns(), process, "tx", msg.content_type))
        return encode_parts(self, msg)

    def traced_next_event(self: Any) -> Any:
        event = next_event(self)
        msg = getattr(event, "message", None)
        if msg is not None:
            events.append((time.monotonic_ns(), process, "rx", msg.content_type))
        return event

    cls._encode_parts = traced_encode_parts  # type: ignore[method-assign]
    cls.next_event = traced_next_event  # type: ignore[method-assign]  (_encode calls _encode_parts)
    return events


def _name(content_type: int) -> str:
    for enum in (EdgeContentType, CtrlType, ChannelContentType):
        try:
            return enum(content_type).name
        except ValueError:
            continue
    return str(content_type)


def child(module: str, args: list[str]) -> None:
    """Run ``module`` as ``__main__`` with tracing on; write the events to $ZITI_AIO_DIAL_TRACE at exit."""
    events = install(module.rsplit(".", 1)[-1].replace("serve_network", "router").replace("echo", "host"))
    out = os.environ[TRACE_ENV]
    atexit.register(lambda: Path(out).write_text(json.dumps(events)))
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


async def measure(dials: int, workdir: Path) -> tuple[list[Event], list[tuple[int, int]]]:
    """Trace ``dials`` dials through child processes; all events and each dial's (start, end)."""
    events = install("dialer")
    windows: list[tuple[int, int]] = []
    here = [sys.executable, str(Path(__file__).resolve()), "--child"]
    os.environ[TRACE_ENV] = str(workdir / "router.json")
    async with open_child([*here, "bench.serve_network", str(workdir / "net")], workdir / "network.log") as network:
        os.environ[TRACE_ENV] = str(workdir / "host.json")
        async with open_child([*here, "bench.echo", network["host"], SERVICE], workdir / "echo.log"), \
                open_context(network["dialer"]) as ziti:
            async def dial() -> trio.abc.HalfCloseableStream:
                return await ziti.dial(SERVICE)

            for _ in range(WARMUP_DIALS):
                await first_echo_s(dial)
            for _ in range(dials):
                await trio.sleep(PAUSE_S)
                began = time.monotonic_ns()
                windows.append((began, began + round(await first_echo_s(dial) * 1e9)))
    for name in ("router.json", "host.json"):
        events.extend(tuple(e) for e in json.loads((workdir / name).read_text()))  # type: ignore[misc]
    return events, windows


def report(events: list[Event], windows: list[tuple[int, int]]) -> None:
    events = sorted(e for e in events if e[3] not in IGNORED)
    per_dial: list[list[tuple[float, str]]] = []
    for began, ended in windows:
        per_dial.append([((t - began) / 1e6, f"{proc} {way} {_name(ctype)}")
                         for t, proc, way, ctype in events if began <= t <= ended])
    shapes = collections.Counter(tuple(label for _, label in dial) for dial in per_dial)
    shape, count = shapes.most_common(1)[0]
    same = [dial for dial in per_dial if tuple(label for _, label in dial) == shape]
    totals = [(ended - began) / 1e6 for began, ended in windows]
    print(f"{len(windows)} dials, median {statistics.median(totals):.3f} ms to the first echoed byte; "
          f"{count} in the most common order of {len(shape)} messages:")
    print(f"{'#':>3} {'message':<36} {'at ms':>7} {'gap ms':>7}")
    for i, label in enumerate(shape):
        at = statistics.median(dial[i][0] for dial in same)
        gap = statistics.median(dial[i][0] - (dial[i - 1][0] if i else 0.0) for dial in same)
        print(f"{i + 1:>3} {label:<36} {at:7.3f} {gap:7.3f}")
    print(f"{'':>3} {'(first echoed byte in the dialer)':<36} {statistics.median(totals):7.3f}")


async def dialer(workdir: Path) -> None:
    """``--dialer``: this tree's network, host and dialer; then, for each number N read on stdin, N dials
    (one at a time, paused as above), answered with their seconds as one JSON line."""
    async with open_child(serve_argv(workdir / "net"), workdir / "network.log") as network, \
            open_child([sys.executable, "-m", "bench.echo", network["host"], SERVICE], workdir / "echo.log"), \
            open_context(network["dialer"]) as ziti:
        async def dial() -> trio.abc.HalfCloseableStream:
            return await ziti.dial(SERVICE)

        for _ in range(WARMUP_DIALS):
            await first_echo_s(dial)
        print("ready", flush=True)
        while line := await trio.to_thread.run_sync(sys.stdin.readline):
            seconds = []
            for _ in range(int(line)):
                await trio.sleep(PAUSE_S)
                seconds.append(await first_echo_s(dial))
            print(json.dumps(seconds), flush=True)


def compare(trees: list[str], dials: int, per_round: int) -> None:
    """``--ab``: alternate rounds of dials between the two trees' dialers; print p50, p99 and B / A."""
    procs = [subprocess.Popen([sys.executable, "bench/dial_steps.py", "--dialer"], cwd=tree, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE) for tree in trees]
    samples: list[list[float]] = [[], []]
    pairs: list[float] = []  # B's round median over A's, round by round: what load drift moves least
    try:
        for proc in procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("a dialer did not start")
        for n in range(dials // per_round):
            rounds: list[list[float]] = [[], []]
            for i in (n % 2, 1 - n % 2):
                proc = procs[i]
                assert proc.stdin is not None and proc.stdout is not None
                proc.stdin.write(f"{per_round}\n")
                proc.stdin.flush()
                rounds[i] = json.loads(proc.stdout.readline())
                samples[i] += rounds[i]
            pairs.append(statistics.median(rounds[1]) / statistics.median(rounds[0]))
    finally:
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=60)
    stats = [(statistics.median(s) * 1000, percentile(s, 0.99) * 1000) for s in samples]
    for name, tree, (p50, p99) in zip("AB", trees, stats, strict=True):
        print(f"{name} {tree}: {len(samples[0])} dials, p50 {p50:.3f} ms, p99 {p99:.3f} ms")
    print(f"B / A: p50 {stats[1][0] / stats[0][0]:.3f}x, p99 {stats[1][1] / stats[0][1]:.3f}x; "
          f"median of the {len(pairs)} rounds' ratios {statistics.median(pairs):.3f}x")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dials", type=int, default=200)
    parser.add_argument("--ab", nargs=2, metavar=("TREE_A", "TREE_B"))
    parser.add_argument("--round", type=int, default=20)
    parser.add_argument("--dialer", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        if args.dialer:
            trio.run(dialer, Path(workdir))
        elif args.ab:
            compare(args.ab, args.dials, args.round)
        else:
            events, windows = trio.run(measure, args.dials, Path(workdir))
            report(events, windows)


if __name__ == "__main__":
    main()
