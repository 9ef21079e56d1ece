"""Where one authenticated management request's time goes (issue 19, not in CI).

    python bench/request_profile.py [--seconds 5] [--path /edge/management/v1/services] [--top 30]

Seeds the ``small`` bench network, serves it from a child controller that runs under cProfile
from the moment it is up (start-up is not in the profile), logs the admin in with a password,
sends the GET with its ``zt-session`` over 16 keep-alive TLS connections for ``--seconds``, then
prints the child's functions by cumulative and by own time, in milliseconds per request, and the
server CPU per request measured outside the profiler (the profiler itself roughly doubles it).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import trio

from bench.common import CONCURRENCY, announce_and_wait, open_child
from bench.controller_bench import HOST, SMALL, client_ssl
from bench.load import Request, Worker, hammer
from bench.seed import seed
from ziti_aio.common.api_paths import MANAGEMENT
from ziti_aio.testing.controller import ADMIN_PASSWORD, ADMIN_USERNAME, open_controller


async def _serve(home: Path, out: Path) -> None:
    async with open_controller(home) as running:
        profile = cProfile.Profile()
        profile.enable()
        try:
            await announce_and_wait({"url": running.url, "port": running.info.port})
        finally:
            profile.disable()
            profile.dump_stats(out)


async def _measure(seconds: float, path: str, top: int, profiled: bool) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="ziti-aio-request-profile-"))
    network = await seed(SMALL, scratch / "home")
    out = scratch / "server.prof"
    argv = [sys.executable, "-m", "bench.request_profile", "--serve", str(network.home), str(out)]
    if not profiled:
        argv = [sys.executable, "-m", "bench.serve_controller", str(network.home)]
    async with open_child(argv, scratch / "server.log") as info:
        async with httpx.AsyncClient(base_url=info["url"], verify=client_ssl(network), timeout=60) as client:
            resp = await client.post(f"{MANAGEMENT}/authenticate?method=password",
                                     json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD})
            resp.raise_for_status()
            token = resp.json()["data"]["token"]
        request = Request("GET", path, (("zt-session", token),))
        workers = [Worker(client_ssl(network), lambda seq: request) for _ in range(CONCURRENCY)]
        result = await hammer(HOST, info["port"], workers, duration_s=seconds, warmup_s=0.5, server_pid=info["pid"])
    print(f"GET {path}: {result.ops_per_s:.1f} requests/s, server {result.cpu_ms_per_op:.3f} CPU ms/request"
          f"{' (under cProfile)' if profiled else ''}", flush=True)
    if profiled:
        stats = pstats.Stats(str(out))
        total = result.ops + 0.5 * result.ops_per_s  # the warm-up's requests are in the profile too
        print(f"profile: {stats.total_tt * 1000 / total:.3f} ms per request (cumulative columns ÷ requests)")
        for key in ("cumulative", "tottime"):
            stats.sort_stats(key).print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--path", default=f"{MANAGEMENT}/services")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--no-profile", action="store_true", help="only the CPU per request, no profiler")
    parser.add_argument("--serve", nargs=2, metavar=("HOME", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        trio.run(_serve, Path(args.serve[0]), Path(args.serve[1]))
        return
    began = time.perf_counter()
    trio.run(_measure, args.seconds, args.path, args.top, not args.no_profile)
    print(f"({time.perf_counter() - began:.1f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
