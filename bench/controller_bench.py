"""Controller benchmarks (issue 3 and the controller metrics of issue 7).

Networks are seeded in-process as one big command; each controller and each baseline server
then runs as its own child process on 127.0.0.1, and the load client (this process) measures
them over real HTTPS with :data:`~bench.common.CONCURRENCY` keep-alive connections.

``python bench/controller_bench.py [--quick] [--json-only]`` runs the issue 3 set on its own.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import ssl
import subprocess
import sys
import time
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from typing import TYPE_CHECKING

import httpx
import trio

from bench.baselines import canned_server_argv, interpreter_import_s
from bench.common import (
    CONCURRENCY,
    FULL,
    QUICK,
    REPO,
    Context,
    Goal,
    Metric,
    Suite,
    median,
    open_child,
    progress,
    run_suites,
)
from bench.load import LoadResult, Request, Worker, hammer
from bench.seed import BENCH_PASSWORD, Network, NetworkSpec, User, seed
from bench.serve_controller import serve_argv
from ziti_aio.common.api_paths import CLIENT

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

HOST = "127.0.0.1"
QUICKSTART_PASSWORD = "bench-admin-password"
QUICKSTART_TIMEOUT_S = 60.0
READY_LINE = re.compile(rb"^ready in ([0-9.]+) s$", re.MULTILINE)
JSON_HEADERS = (("content-type", "application/json"),)
SLOW_WINDOW_FACTOR = 3  # password logins cost ~0.1 s of CPU each: a longer window gets enough of them
# What libziti sends with every login; storing it updates the identity.
LOGIN_INFO = {
    "configTypes": ["intercept.v1", "host.v1"],
    "sdkInfo": {"type": "ziti-sdk-c", "version": "0.29.3", "appId": "bench", "appVersion": "1"},
    "envInfo": {"os": "Linux", "arch": "x86_64", "osRelease": "6", "osVersion": "bench"},
}

SMALL = NetworkSpec("small", identities=CONCURRENCY, services=10, users=CONCURRENCY)
MANY_SERVICES = NetworkSpec("10k-services", identities=CONCURRENCY, services=10_000, users=CONCURRENCY)
MANY_IDENTITIES = NetworkSpec("10k-identities", identities=10_000, services=1_000, users=CONCURRENCY)

SMALL_BASELINE = f"same at {SMALL.identities} identities, {SMALL.services} services"
QUICKSTART_READY = Metric("quickstart_ready_s", None, "s", "python -c 'import ziti_aio'",
                          goal=Goal("<=", 2.0, on="value", unit="s"))
QUICKSTART_CTRL_READY = Metric("quickstart_ctrl_ready_s", None, "s", "none (the 'ready in' figure itself)",
                               goal=Goal("<=", 1.0, on="value", unit="s"))
API_OPS = Metric("api_ops_s", None, "ops/s", "bare trio+h11 TLS server, same requests", goal=Goal(">=", 0.5))
SCALE_SERVICES = Metric("scale_services", None, "CPU ms/op", "session creation at 10 services",
                        goal=Goal("<=", 1.2))
LIST_SERVICES = Metric("list_services_10k_vs_10", None, "CPU ms/op", "service listing at 10 services",
                       goal=Goal("<=", 1.2))
AUTH_CERT = Metric("auth_cert_per_s", None, "logins/s", SMALL_BASELINE)
AUTH_PASSWORD = Metric("auth_password_per_s", None, "logins/s", SMALL_BASELINE)
SESSION_CREATE = Metric("session_create_per_s", None, "sessions/s", SMALL_BASELINE)
CURRENT_IDENTITY = Metric("current_identity_per_s", None, "requests/s", SMALL_BASELINE)


# --- talking to a controller ---------------------------------------------------------------

def client_ssl(network: Network, user: User | None = None) -> ssl.SSLContext:
    """Trusts the network's CA; presents ``user``'s certificate when given."""
    ctx = ssl.create_default_context(cafile=str(network.ca_bundle))
    if user is not None:
        ctx.load_cert_chain(str(user.cert), str(user.key))
    return ctx


async def cert_tokens(url: str, network: Network) -> list[str]:
    """One API session token per bench user, by certificate login."""
    tokens = []
    for user in network.users:
        async with httpx.AsyncClient(base_url=url, verify=client_ssl(network, user), timeout=60) as client:
            resp = await client.post(f"{CLIENT}/authenticate?method=cert", json=LOGIN_INFO)
            resp.raise_for_status()
            tokens.append(resp.json()["data"]["token"])
    return tokens


def list_services(token: str) -> Request:
    return Request("GET", f"{CLIENT}/services", (("zt-session", token),))


def create_session(token: str, service_id: str) -> Request:
    body = json.dumps({"serviceId": service_id, "type": "Dial"}).encode()
    return Request("POST", f"{CLIENT}/sessions", (("zt-session", token), *JSON_HEADERS), body, expect=201)


def current_identity(token: str) -> Request:
    return Request("GET", f"{CLIENT}/current-identity", (("zt-session", token),))


def cert_login(seq: int) -> Request:
    return Request("POST", f"{CLIENT}/authenticate?method=cert", JSON_HEADERS, json.dumps(LOGIN_INFO).encode())


def password_login(user: User) -> Callable[[int], Request]:
    body = json.dumps({"username": user.username, "password": BENCH_PASSWORD, **LOGIN_INFO}).encode()
    return lambda seq: Request("POST", f"{CLIENT}/authenticate?method=password", JSON_HEADERS, body)


@dataclass(frozen=True)
class Server:
    """A child server process listening on :data:`HOST`."""

    port: int
    pid: int


@dataclass
class Target:
    """A running controller of a bench network, with the load client's view of it."""

    network: Network
    server: Server
    tokens: list[str]

    def workers(self, make: Callable[[int, User, str], Callable[[int], Request]], *, with_cert: bool = False
                ) -> list[Worker]:
        """One worker per bench user; ``make(index, user, token)`` gives its request per sequence number."""
        return [Worker(client_ssl(self.network, user if with_cert else None), make(i, user, self.tokens[i]))
                for i, user in enumerate(self.network.users)]

    def sessions(self) -> list[Worker]:
        ids = self.network.dial_service_ids
        return self.workers(lambda i, user, token: lambda seq: create_session(token, ids[(i + seq) % len(ids)]))

    def listings(self) -> list[Worker]:
        return self.workers(lambda i, user, token: lambda seq: list_services(token))


async def measure(ctx: Context, server: Server, workers: list[Worker], *, window_factor: float = 1) -> LoadResult:
    return await hammer(HOST, server.port, workers, duration_s=ctx.budget.duration_s * window_factor,
                        warmup_s=ctx.budget.warmup_s * window_factor, server_pid=server.pid)


@asynccontextmanager
async def serving(ctx: Context, spec: NetworkSpec) -> AsyncIterator[Target]:
    """Seed ``spec`` into a fresh home, serve it from a child controller, log its users in."""
    started = time.perf_counter()
    network = await seed(spec, ctx.workdir / spec.name)
    progress(f"seeded {spec.name} in {time.perf_counter() - started:.1f} s")
    async with open_child(serve_argv(network.home), ctx.workdir / f"{spec.name}.log") as info:
        progress(f"controller for {spec.name} started in {info['startup_s']:.2f} s")
        yield Target(network, Server(info["port"], info["pid"]), await cert_tokens(info["url"], network))


async def alternate(ctx: Context, runs: dict[str, Callable[[], Awaitable[LoadResult]]]
                    ) -> dict[str, list[LoadResult]]:
    """Run each named measurement once per round, alternating, so drift hits all alike."""
    out: dict[str, list[LoadResult]] = {name: [] for name in runs}
    for _ in range(ctx.budget.rounds):
        for name, run in runs.items():
            out[name].append(await run())
            last = out[name][-1]
            progress(f"  {name}: {last.ops_per_s:.1f} ops/s, server {last.cpu_ms_per_op:.2f} CPU ms/op")
    return out


def median_rate(results: list[LoadResult]) -> float:
    return median([r.ops_per_s for r in results])


def median_cpu_ms(results: list[LoadResult]) -> float:
    return median([r.cpu_ms_per_op for r in results])


# --- suites ------------------------------------------------------------------------------

async def quickstart_ready(argv: list[str], log_path: Path) -> tuple[float, float]:
    """Start a quickstart (``argv``); wall time from process start to its ``ready in`` line and the figure
    that line prints. The process is stopped with SIGINT afterwards."""
    with open(log_path, "wb") as log:
        began = time.perf_counter()
        proc = await trio.lowlevel.open_process(argv, stdout=subprocess.PIPE, stderr=log, cwd=REPO)
    try:
        seen = b""
        with trio.fail_after(QUICKSTART_TIMEOUT_S):
            while (found := READY_LINE.search(seen)) is None:
                chunk = await proc.stdout.receive_some(65536)
                if not chunk:
                    raise RuntimeError(f"quickstart exited without 'ready in': {log_path.read_text()[-500:]}")
                seen += chunk
        return time.perf_counter() - began, float(found.group(1))
    finally:
        with trio.CancelScope(shield=True):
            proc.send_signal(signal.SIGINT)
            with trio.move_on_after(QUICKSTART_TIMEOUT_S):
                await proc.wait()
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            await proc.stdout.aclose()


async def _quickstart_once(ctx: Context, n: int) -> tuple[float, float]:
    """A controller-only quickstart with a fresh home: (wall time to ``ready in``, the figure printed)."""
    argv = [sys.executable, "-m", "ziti_aio", "quickstart", "--home", str(ctx.workdir / f"quickstart-{n}"),
            "--ctrl-port", "0", "--ctrl-address", HOST, "-p", QUICKSTART_PASSWORD, "--routers", "0",
            "--no-tunneler"]
    return await quickstart_ready(argv, ctx.workdir / f"quickstart-{n}.log")


async def quickstart_suite(ctx: Context) -> list[Metric]:
    """quickstart with a fresh home, from process start to ``ready in``, against a bare interpreter."""
    walls, reported, imports = [], [], []
    for n in range(ctx.budget.process_runs):
        wall, said = await _quickstart_once(ctx, n)
        walls.append(wall)
        reported.append(said)
        imports.append(await interpreter_import_s())
    return [replace(QUICKSTART_READY, value=median(walls), baseline_value=median(imports)),
            replace(QUICKSTART_CTRL_READY, value=median(reported))]


async def _capture(url: str, target: Target, path: Path) -> None:
    """The controller's real answers to the measured requests, for the canned baseline."""
    token, service_id = target.tokens[0], target.network.dial_service_ids[0]
    async with httpx.AsyncClient(base_url=url, verify=client_ssl(target.network), timeout=60,
                                 headers={"zt-session": token}) as client:
        listing = await client.get(f"{CLIENT}/services")
        session = await client.post(f"{CLIENT}/sessions", json={"serviceId": service_id, "type": "Dial"})
    for resp in (listing, session):
        resp.raise_for_status()
    path.write_text(json.dumps({
        f"GET {CLIENT}/services": {"status": listing.status_code, "body": listing.text},
        f"POST {CLIENT}/sessions": {"status": session.status_code, "body": session.text},
    }))


def _mixed(target: Target) -> list[Worker]:
    ids = target.network.dial_service_ids

    def make(i: int, user: User, token: str) -> Callable[[int], Request]:
        return lambda seq: list_services(token) if seq % 2 else create_session(token, ids[(i + seq) % len(ids)])

    return target.workers(make)


async def api_ops_suite(ctx: Context) -> list[Metric]:
    """Half service listings, half session creations, against the canned h11 server."""
    async with serving(ctx, SMALL) as target:
        responses = ctx.workdir / "canned.json"
        await _capture(f"https://{HOST}:{target.server.port}", target, responses)
        net = target.network
        argv = canned_server_argv(cert=net.server_chain, key=net.server_key, client_ca=net.ca_bundle,
                                  responses=responses)
        async with open_child(argv, ctx.workdir / "canned.log") as canned:
            results = await alternate(ctx, {
                "controller": lambda: measure(ctx, target.server, _mixed(target)),
                "h11 baseline": lambda: measure(ctx, Server(canned["port"], canned["pid"]), _mixed(target)),
            })
    return [replace(API_OPS, value=median_rate(results["controller"]),
                    baseline_value=median_rate(results["h11 baseline"]))]


async def scale_suite(ctx: Context) -> list[Metric]:
    """Session creation and service listing for one identity, at 10,000 services against 10."""
    async with serving(ctx, SMALL) as few, serving(ctx, MANY_SERVICES) as many:
        results = await alternate(ctx, {
            "sessions@small": lambda: measure(ctx, few.server, few.sessions()),
            "sessions@10k-services": lambda: measure(ctx, many.server, many.sessions()),
            "list@small": lambda: measure(ctx, few.server, few.listings()),
            "list@10k-services": lambda: measure(ctx, many.server, many.listings()),
        })
    return [replace(SCALE_SERVICES, value=median_cpu_ms(results["sessions@10k-services"]),
                    baseline_value=median_cpu_ms(results["sessions@small"])),
            replace(LIST_SERVICES, value=median_cpu_ms(results["list@10k-services"]),
                    baseline_value=median_cpu_ms(results["list@small"]))]


async def identities_suite(ctx: Context) -> list[Metric]:
    """Logins (certificate, password), session creations and the caller's identity (which libziti
    reads after each login) at 10,000 identities and 1,000 services."""
    async with AsyncExitStack() as stack:
        small = await stack.enter_async_context(serving(ctx, SMALL))
        big = await stack.enter_async_context(serving(ctx, MANY_IDENTITIES))
        runs = {}
        for target in (small, big):
            label = target.network.spec.name
            runs[f"cert@{label}"] = lambda t=target: measure(ctx, t.server, t.workers(
                lambda i, user, token: cert_login, with_cert=True))
            runs[f"password@{label}"] = lambda t=target: measure(ctx, t.server, t.workers(
                lambda i, user, token: password_login(user)), window_factor=SLOW_WINDOW_FACTOR)
            runs[f"sessions@{label}"] = lambda t=target: measure(ctx, t.server, t.sessions())
            runs[f"me@{label}"] = lambda t=target: measure(ctx, t.server, t.workers(
                lambda i, user, token: lambda seq: current_identity(token)))
        results = await alternate(ctx, dict(sorted(runs.items())))
    keys = ((AUTH_CERT, "cert"), (AUTH_PASSWORD, "password"), (SESSION_CREATE, "sessions"),
            (CURRENT_IDENTITY, "me"))
    return [replace(spec, value=median_rate(results[f"{key}@{MANY_IDENTITIES.name}"]),
                    baseline_value=median_rate(results[f"{key}@{SMALL.name}"])) for spec, key in keys]


QUICKSTART = Suite((QUICKSTART_READY, QUICKSTART_CTRL_READY), quickstart_suite)
API = Suite((API_OPS,), api_ops_suite)
SCALE = Suite((SCALE_SERVICES, LIST_SERVICES), scale_suite)
IDENTITIES = Suite((AUTH_CERT, AUTH_PASSWORD, SESSION_CREATE, CURRENT_IDENTITY), identities_suite)
ISSUE_3 = (IDENTITIES, SCALE, QUICKSTART)


def main() -> None:
    parser = argparse.ArgumentParser(description="Controller benchmarks (issue 3).")
    parser.add_argument("--quick", action="store_true", help="short windows, one round")
    parser.add_argument("--json-only", action="store_true", help="print only the JSON lines")
    args = parser.parse_args()
    trio.run(lambda: run_suites(ISSUE_3, QUICK if args.quick else FULL, json_only=args.json_only))


if __name__ == "__main__":
    main()
