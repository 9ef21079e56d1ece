"""Issue 17's two operating figures, in one run (``python -m bench.ops_bench [--dials N] [--requests N]``):

1. the controller's CPU per dial without events, and with a JSON-lines file sink and a websocket
   subscriber taking every event type (goal: at most 5 % more). The controller runs alone in a child
   process (``python -m bench.ops_bench --serve HOME PORT SINK``), so its CPU is read from /proc; the
   router, the SDK host and dialer run in this process. Each dial: dial, one echo, close.
2. the Management API's answer time over the overlay (the dark management plane's service, served by the
   same controller) against its TCP listener (goal: at most 2x): ``GET /edge/management/v1/services``
   repeated on one kept-alive connection each.
"""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import sys
import tempfile
import time
from pathlib import Path

import httpx
import trio
from trio_websocket import open_websocket_url

from bench.common import announce_and_wait, median, open_child, process_cpu_s, progress
from ziti_aio.common import api_paths
from ziti_aio.common.events_config import EVENT_TYPES, EventFileConfig
from ziti_aio.controller.dark import ADMIN_ATTRIBUTE, run_dark_plane
from ziti_aio.router.enroll import enroll_router
from ziti_aio.router.router import EdgeRouter, RouterConfig
from ziti_aio.sdk import open_context
from ziti_aio.sdk.enroll import enroll_identity
from ziti_aio.sdk.overlay_http import overlay_client
from ziti_aio.testing.controller import ADMIN_PASSWORD, ADMIN_USERNAME, create, open_controller
from ziti_aio.testing.network import open_network

SERVICE = "bench-echo"


async def serve(home: Path, port: int, sink: bool) -> None:
    """Child: the controller of ``home`` on ``port``, with a file sink of every event type when ``sink``."""
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


async def _dials(work: Path, pid: int, count: int) -> float:
    """Controller CPU ms per dial over ``count`` dials (the router and the SDKs run here)."""
    async with open_context(work / "host.json") as host, open_context(work / "dialer.json") as dialer, \
            trio.open_nursery() as nursery:
        nursery.start_soon(echo, await host.bind(SERVICE))
        for _ in range(10):  # warm-up: sessions, router connections
            async with await dialer.dial(SERVICE) as conn:
                await conn.send_all(b"ping")
                await conn.receive_some()
        await trio.sleep(0.5)
        before = process_cpu_s(pid)
        for _ in range(count):
            async with await dialer.dial(SERVICE) as conn:
                await conn.send_all(b"ping")
                await conn.receive_some()
        await trio.sleep(0.5)  # the closes' events
        used = process_cpu_s(pid) - before
        nursery.cancel_scope.cancel()
    return used * 1000 / count


async def _ws_reader(url: str, token: str, seen: list[int]) -> None:
    ws_url = url.replace("https://", "wss://") + api_paths.EVENTS
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    async with open_websocket_url(ws_url, ctx, extra_headers=[(b"zt-session", token.encode())]) as ws:
        while True:
            seen[0] += len((await ws.get_message()).splitlines())  # one event per line


async def events_cpu(dials: int, rounds: int) -> tuple[float, float]:
    """(controller CPU ms per dial without events, with a file sink and a websocket subscriber): the median
    of ``rounds`` alternating runs of each (CPU time read in clock ticks is coarse and the machine shared)."""
    with tempfile.TemporaryDirectory(prefix="ops-bench-") as tmp:
        work = Path(tmp)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        results: dict[bool, list[float]] = {False: [], True: []}
        for n, sink in enumerate([False, True] * rounds):
            argv = [sys.executable, "-m", "bench.ops_bench", "--serve", str(work / "ctrl"), str(port), str(int(sink))]
            async with open_child(argv, work / f"ctrl-{sink}.log") as child, trio.open_nursery() as nursery:
                if n == 0:
                    await _prepare(child["url"], work)
                router = EdgeRouter(RouterConfig(home=work / "er1", edge_bind_host="127.0.0.1", edge_port=0,
                                                 advertised_host="127.0.0.1", link_bind_host="127.0.0.1"))
                await nursery.start(router.run)
                seen = [0]
                if sink:
                    async with httpx.AsyncClient(base_url=child["url"], verify=False) as anon:
                        token = (await anon.post(f"{api_paths.MANAGEMENT}/authenticate?method=password", json={
                            "username": ADMIN_USERNAME, "password": ADMIN_PASSWORD})).json()["data"]["token"]
                    nursery.start_soon(_ws_reader, child["url"], token, seen)
                    await trio.sleep(0.5)
                results[sink].append(await _dials(work, child["pid"], dials))
                progress(f"events {'on' if sink else 'off'}: {results[sink][-1]:.3f} controller CPU ms per dial"
                         + (f" ({seen[0]} events streamed)" if sink else ""))
                nursery.cancel_scope.cancel()
    return median(results[False]), median(results[True])


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


async def main(dials: int, requests: int, rounds: int) -> None:
    off, on = await events_cpu(dials, rounds)
    tcp, overlay = await overlay_vs_tcp(requests)
    print(json.dumps({"controller_cpu_ms_per_dial": {"events_off": round(off, 3), "events_on": round(on, 3),
                                                     "ratio": round(on / off, 3), "goal": "<= 1.05"},
                      "management_ms_per_request": {"tcp": round(tcp, 3), "overlay": round(overlay, 3),
                                                    "ratio": round(overlay / tcp, 3), "goal": "<= 2"}}, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dials", type=int, default=500)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", nargs=3, metavar=("HOME", "PORT", "SINK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        trio.run(serve, Path(args.serve[0]), int(args.serve[1]), args.serve[2] == "1")
    else:
        trio.run(main, args.dials, args.requests, args.rounds)
