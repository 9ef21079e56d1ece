"""Issue 17's two operating figures, in one run (``python -m bench.ops_bench [--dials N] [--requests N]``):

1. the controller's CPU per dial without events, and with a JSON-lines file sink and a websocket
   subscriber taking every event type (goal: at most 5 % more). The controller runs alone in a child
   process (``python -m bench.ops_bench --serve HOME PORT SINK``), so its CPU is read from /proc; the
   router, the SDK host and dialer run in this process. Each dial: dial, one echo, close.
2. the Management API's answer time over the overlay (the dark management plane's service, served by the
   same controller) against its TCP listener (goal: at most 2x): ``GET /edge/management/v1/services``
   repeated on one kept-alive connection each.

``--instructions [--variants file websocket both] [--keep DIR]`` measures the first figure in instructions, which
the machine's load moves far less than CPU time: the controller runs under ``valgrind --tool=callgrind`` (counting
switched on around the dials only; ``--delay-scale``: its sinks' batching delays stretched as its dials are, so that a
batch holds as many events as at full speed), once per variant in one run, and the ratios to no sink are
printed (docs/events.md, "Cost"). Needs valgrind; ``callgrind_annotate`` reads the files ``--keep`` leaves.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Protocol

import httpx
import trio
from trio_websocket import open_websocket_url

from bench.common import announce_and_wait, median, open_child, process_cpu_s, progress
from ziti_aio.common import api_paths
from ziti_aio.common.events_config import EVENT_TYPES, EventFileConfig
from ziti_aio.controller.api import events_routes
from ziti_aio.controller.dark import ADMIN_ATTRIBUTE, run_dark_plane
from ziti_aio.controller.events import file_sink
from ziti_aio.router.enroll import enroll_router
from ziti_aio.router.router import EdgeRouter, RouterConfig
from ziti_aio.sdk import open_context
from ziti_aio.sdk.enroll import enroll_identity
from ziti_aio.sdk.overlay_http import overlay_client
from ziti_aio.testing.controller import ADMIN_PASSWORD, ADMIN_USERNAME, create, open_controller
from ziti_aio.testing.network import open_network

SERVICE = "bench-echo"
DELAY_SCALE = 5.0
"""How much longer a dial takes with the controller under callgrind (see ``--instructions``): ~13 ms against
~2.5 ms (the router and the SDKs in this process pace the dials; a websocket message then holds ~80 events at full
speed, as under callgrind with this scale). Not the controller's own slowdown (~40): with that, batches held eight
times as many events as at full speed, and the counted window's 20 s of settling (timers: Raft ticks,
heartbeats, the SDKs' polls) weighed more than 100 dials themselves (docs/events.md, "Cost")."""


async def serve(home: Path, port: int, sink: bool, delay_scale: float) -> None:
    """Child: the controller of ``home`` on ``port``, with a file sink of every event type when ``sink``; the
    sinks' batching delays times ``delay_scale`` (under valgrind: a batch then holds as many events as at full
    speed)."""
    file_sink.FLUSH_DELAY_S *= delay_scale
    events_routes.BATCH_DELAY_S *= delay_scale
    events = (EventFileConfig(types=EVENT_TYPES, file=home / "events.log"),) if sink else ()
    async with open_controller(home, port=port, events=events) as running:
        await announce_and_wait({"url": running.url})


async def echo(listener) -> None:  # type: ignore[no-untyped-def]
    async def one(stream) -> None:  # type: ignore[no-untyped-def]
        async with stream:
            try:
                while data := await stream.receive_some():
                    await stream.send_all(data)
            except trio.BrokenResourceError:
                pass  # the dialer closed without a FIN

    async with trio.open_nursery() as nursery:
        while True:
            nursery.start_soon(one, await listener.accept())


async def _prepare(url: str, work: Path) -> None:
    """Once, on the first controller: a router, a host and a dialer identity, the service and its policies."""
    async with httpx.AsyncClient(base_url=url, verify=False) as anon:
        token = (await anon.post(f"{api_paths.MANAGEMENT}/authenticate?method=password",
                                 json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD})).json()["data"]["token"]
    async with httpx.AsyncClient(base_url=url, verify=False, headers={"zt-session": token}) as admin:
        router = await create(admin, "edge-routers", {"name": "er1", "roleAttributes": ["public"],
                                                      "isTunnelerEnabled": False})
        jwt = (await admin.get(f"{api_paths.MANAGEMENT}/edge-routers/{router}")).json()["data"]["enrollmentJwt"]
        await enroll_router(jwt, work / "er1", names=["127.0.0.1", "localhost"])
        for name in ("host", "dialer"):
            ident = await create(admin, "identities", {"name": name, "type": "Device", "isAdmin": False,
                                                       "roleAttributes": [name], "enrollment": {"ott": True}})
            jwt = (await admin.get(f"{api_paths.MANAGEMENT}/identities/{ident}")).json()["data"]
            await enroll_identity(jwt["enrollment"]["ott"]["jwt"], work / f"{name}.json")
        await create(admin, "services", {"name": SERVICE, "encryptionRequired": True})
        for kind, role in (("Bind", "#host"), ("Dial", "#dialer")):
            await create(admin, "service-policies", {"name": f"{kind}-all", "type": kind, "identityRoles": [role],
                                                     "serviceRoles": [f"@{SERVICE}"]})
        await create(admin, "edge-router-policies", {"name": "all", "identityRoles": ["#all"],
                                                     "edgeRouterRoles": ["#all"]})
        await create(admin, "service-edge-router-policies", {"name": "all", "serviceRoles": ["#all"],
                                                             "edgeRouterRoles": ["#all"]})


class Meter(Protocol):
    """What one variant measures of the controller around the dials."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class CpuMeter:
    """The controller's CPU seconds (from /proc) between start and stop."""

    def __init__(self, pid: int) -> None:
        self.pid, self.used = pid, 0.0

    def start(self) -> None:
        self.used = -process_cpu_s(self.pid)

    def stop(self) -> None:
        self.used += process_cpu_s(self.pid)


class CallgrindMeter:
    """Switches callgrind's counting on and off in the controller (its count is read when it exits)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def _switch(self, on: bool) -> None:
        subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(self.pid)], capture_output=True,
                       check=True)

    def start(self) -> None:
        self._switch(True)

    def stop(self) -> None:
        self._switch(False)


async def _dials(work: Path, meter: Meter, count: int, settle_s: float) -> None:
    """``count`` dials (dial, one echo, close) with ``meter`` running; the router and the SDKs run here.
    ``settle_s`` before and after: the warm-up's and the closes' events are written."""
    async with open_context(work / "host.json") as host, open_context(work / "dialer.json") as dialer, \
            trio.open_nursery() as nursery:
        nursery.start_soon(echo, await host.bind(SERVICE))
        for _ in range(10):  # warm-up: sessions, router connections
            async with await dialer.dial(SERVICE) as conn:
                await conn.send_all(b"ping")
                await conn.receive_some()
        await trio.sleep(settle_s)
        meter.start()
        for _ in range(count):
            async with await dialer.dial(SERVICE) as conn:
                await conn.send_all(b"ping")
                await conn.receive_some()
        await trio.sleep(settle_s)
        meter.stop()
        nursery.cancel_scope.cancel()


async def _ws_reader(url: str, token: str, seen: list[int]) -> None:
    """Follows the event stream; ``seen``: [events, messages]."""
    ws_url = url.replace("https://", "wss://") + api_paths.EVENTS
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    async with open_websocket_url(ws_url, ctx, extra_headers=[(b"zt-session", token.encode())]) as ws:
        while True:
            seen[0] += len((await ws.get_message()).splitlines())  # one event per line
            seen[1] += 1


VARIANTS = {"none": (False, False), "file": (True, False), "websocket": (False, True), "both": (True, True)}
"""Sinks attached to the controller: (a file sink, a websocket subscriber), each taking every type."""


async def _variant(work: Path, port: int, name: str, dials: int, *, first: bool,
                   valgrind: Path | None = None, delay_scale: float = 1.0) -> float:
    """One controller run with the sinks of ``name``: controller CPU ms per dial, or (``valgrind``: its
    callgrind output file) instructions per dial."""
    file, ws = VARIANTS[name]
    argv = [sys.executable, "-m", "bench.ops_bench", "--serve", str(work / "ctrl"), str(port), str(int(file)),
            str(delay_scale)]
    if valgrind is not None:
        argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={valgrind}", *argv]
    timeouts = {"start_timeout_s": 900, "stop_timeout_s": 300} if valgrind else {}
    async with open_child(argv, work / f"ctrl-{name}.log", **timeouts) as child, trio.open_nursery() as nursery:
        if first:
            await _prepare(child["url"], work)
        router = EdgeRouter(RouterConfig(home=work / "er1", edge_bind_host="127.0.0.1", edge_port=0,
                                         advertised_host="127.0.0.1", link_bind_host="127.0.0.1"))
        await nursery.start(router.run)
        seen = [0, 0]
        if ws:
            async with httpx.AsyncClient(base_url=child["url"], verify=False, timeout=300) as anon:
                token = (await anon.post(f"{api_paths.MANAGEMENT}/authenticate?method=password", json={
                    "username": ADMIN_USERNAME, "password": ADMIN_PASSWORD})).json()["data"]["token"]
            nursery.start_soon(_ws_reader, child["url"], token, seen)
        settle_s = 0.5 * delay_scale
        meter: CpuMeter | CallgrindMeter = CallgrindMeter(child["pid"]) if valgrind else CpuMeter(child["pid"])
        await _dials(work, meter, dials, settle_s)
        nursery.cancel_scope.cancel()
    if isinstance(meter, CpuMeter):
        result = meter.used * 1000 / dials
        unit = "controller CPU ms per dial"
    else:
        totals = re.search(r"^totals:\s+(\d+)", valgrind.read_text(errors="replace"), re.M)  # type: ignore[union-attr]
        if totals is None:
            raise RuntimeError("callgrind wrote no totals")
        result, unit = int(totals.group(1)) / dials / 1000, "thousand controller instructions per dial"
    progress(f"events {name}: {result:.3f} {unit}"
             + (f" ({seen[0]} events streamed in {seen[1]} messages)" if ws else ""))
    return result


async def events_cpu(dials: int, rounds: int) -> tuple[float, float]:
    """(controller CPU ms per dial without events, with a file sink and a websocket subscriber): the median
    of ``rounds`` alternating runs of each (CPU time read in clock ticks is coarse and the machine shared)."""
    with tempfile.TemporaryDirectory(prefix="ops-bench-") as tmp:
        work, port = Path(tmp), _free_port()
        results: dict[str, list[float]] = {"none": [], "both": []}
        for n, name in enumerate(["none", "both"] * rounds):
            results[name].append(await _variant(work, port, name, dials, first=n == 0))
    return median(results["none"]), median(results["both"])


async def events_instructions(dials: int, delay_scale: float, variants: list[str],
                              keep: Path | None) -> dict[str, float]:
    """Thousands of controller instructions per dial for each of ``variants`` (of :data:`VARIANTS`), the
    controller alone under callgrind (counting on around the dials only), its sinks' delays times
    ``delay_scale`` (its slowdown); ``keep``: a directory for the callgrind files (for callgrind_annotate)."""
    with tempfile.TemporaryDirectory(prefix="ops-bench-") as tmp:
        work, port = Path(tmp), _free_port()
        out = keep or work
        out.mkdir(parents=True, exist_ok=True)
        return {name: await _variant(work, port, name, dials, first=n == 0, valgrind=out / f"{name}.callgrind",
                                     delay_scale=delay_scale)
                for n, name in enumerate(variants)}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def overlay_vs_tcp(requests: int) -> tuple[float, float]:
    """(ms per management request over TCP, over the overlay) against one controller."""
    with tempfile.TemporaryDirectory(prefix="ops-bench-") as tmp:
        async with open_network(Path(tmp), routers=1) as net, trio.open_nursery() as nursery:
            controller = net.controller.controller
            admin_id = await create(net.admin, "identities", {"name": "ops", "type": "User", "isAdmin": True,
                                                              "roleAttributes": [ADMIN_ATTRIBUTE],
                                                              "enrollment": {"ott": True}})
            jwt = (await net.get(f"identities/{admin_id}"))["enrollment"]["ott"]["jwt"]
            await enroll_identity(jwt, Path(tmp) / "ops.json")
            assert controller.api is not None
            nursery.start_soon(run_dark_plane, controller.api, controller.app, Path(tmp) / "dark",
                               api_paths.MANAGEMENT_SERVICE)
            path = f"{api_paths.MANAGEMENT}/services"
            timings = []
            async with open_context(Path(tmp) / "ops.json") as ctx:
                headers = {"zt-session": ctx.client_api.token}
                async with overlay_client(ctx, api_paths.MANAGEMENT_SERVICE, timeout_s=30, headers=headers) as dark:
                    for _ in range(100):  # until the controller has bound the service
                        try:
                            if (await dark.get(path)).status_code == 200:
                                break
                        except httpx.HTTPError:
                            await trio.sleep(0.2)
                    for client in (net.admin, dark):
                        for _ in range(20):
                            (await client.get(path)).raise_for_status()
                        began = time.perf_counter()
                        for _ in range(requests):
                            (await client.get(path)).raise_for_status()
                        timings.append((time.perf_counter() - began) * 1000 / requests)
            nursery.cancel_scope.cancel()
    return timings[0], timings[1]


async def main(args: argparse.Namespace) -> None:
    if args.instructions:
        counts = await events_instructions(args.dials, args.delay_scale, ["none", *args.variants], args.keep)
        print(json.dumps({"controller_kinstr_per_dial": {k: round(v, 1) for k, v in counts.items()},
                          "ratio": {k: round(v / counts["none"], 3) for k, v in counts.items()},
                          "goal": "both <= 1.05"}, indent=2))
        return
    off, on = await events_cpu(args.dials, args.rounds)
    tcp, overlay = await overlay_vs_tcp(args.requests)
    print(json.dumps({"controller_cpu_ms_per_dial": {"events_off": round(off, 3), "events_on": round(on, 3),
                                                     "ratio": round(on / off, 3), "goal": "<= 1.05"},
                      "management_ms_per_request": {"tcp": round(tcp, 3), "overlay": round(overlay, 3),
                                                    "ratio": round(overlay / tcp, 3), "goal": "<= 2"}}, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dials", type=int, default=500)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--instructions", action="store_true",
                        help="count the controller's instructions per dial under callgrind, every sink variant")
    parser.add_argument("--delay-scale", type=float, default=DELAY_SCALE,
                        help="the sinks' batching delays times this under callgrind (how much longer a dial takes)")
    parser.add_argument("--variants", nargs="+", choices=[v for v in VARIANTS if v != "none"],
                        default=[v for v in VARIANTS if v != "none"], help="sinks to measure against none")
    parser.add_argument("--keep", type=Path, help="keep the callgrind files in this directory")
    parser.add_argument("--serve", nargs=4, metavar=("HOME", "PORT", "SINK", "SCALE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        trio.run(serve, Path(args.serve[0]), int(args.serve[1]), args.serve[2] == "1", float(args.serve[3]))
    else:
        trio.run(main, args)
