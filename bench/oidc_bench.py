"""OIDC logins (issue 15): full certificate logins per second through ``/oidc`` against legacy
``POST /authenticate?method=cert`` logins, alternating in the same run on the same controller.

An OIDC login is four HTTPS requests (authorize, ``/oidc/login/cert``, callback, token; discovery is
asked once per client, as libziti does; docs/oidc.md §2) and signs three JWTs where a legacy login is
one request and one token, so the ratio says what the flow costs (no goal: the issue names none).
:data:`~bench.common.CONCURRENCY` clients log in back to back, each on its own connection with the
identity's certificate, the SDK's flow code (:mod:`ziti_aio.sdk.oidc`) driving it.

``python bench/oidc_bench.py [--quick]`` runs it on its own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import trio

from bench.common import CONCURRENCY, FULL, QUICK, Context, Metric, Suite, median, run_suites
from ziti_aio.common import api_paths
from ziti_aio.sdk.identity_file import load_identity
from ziti_aio.sdk.oidc import discovery_flow, login_flow, run_async
from ziti_aio.testing.network import open_network

if TYPE_CHECKING:
    import ssl

OIDC_LOGINS = Metric("oidc_cert_logins_s", None, "logins/s", "legacy POST /authenticate?method=cert, same run")


async def _rate(url: str, ssl_context: ssl.SSLContext, window_s: float, *, oidc: bool) -> float:
    done = 0

    async def client() -> None:
        nonlocal done
        async with httpx.AsyncClient(base_url=url, verify=ssl_context, timeout=30) as http:
            endpoints = await run_async(http, discovery_flow(url + api_paths.OIDC))  # once, as libziti
            while True:
                if oidc:
                    await run_async(http, login_flow(endpoints))
                else:
                    resp = await http.post(f"{api_paths.CLIENT}/authenticate", params={"method": "cert"}, json={})
                    resp.raise_for_status()
                done += 1

    start = trio.current_time()
    with trio.move_on_after(window_s):
        async with trio.open_nursery() as nursery:
            for _ in range(CONCURRENCY):
                nursery.start_soon(client)
    return done / (trio.current_time() - start)


async def oidc_suite(ctx: Context) -> list[Metric]:
    oidc: list[float] = []
    legacy: list[float] = []
    async with open_network(ctx.workdir / "net", routers=0) as net:
        identity = await net.create_identity("bench")
        ssl_context = load_identity(identity.path).ssl_context()
        url = net.controller.url
        await _rate(url, ssl_context, ctx.budget.warmup_s, oidc=True)
        for _ in range(ctx.budget.rounds):
            oidc.append(await _rate(url, ssl_context, ctx.budget.duration_s, oidc=True))
            legacy.append(await _rate(url, ssl_context, ctx.budget.duration_s, oidc=False))
    return [Metric(OIDC_LOGINS.metric, median(oidc), OIDC_LOGINS.unit, OIDC_LOGINS.baseline,
                   baseline_value=median(legacy))]


OIDC_SUITE = Suite((OIDC_LOGINS,), oidc_suite)


def main() -> None:
    parser = argparse.ArgumentParser(description="OIDC certificate logins against legacy certificate logins")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    trio.run(lambda: run_suites([OIDC_SUITE], QUICK if args.quick else FULL, json_only=False))


if __name__ == "__main__":
    main()
