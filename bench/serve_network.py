"""Child process: a controller and one edge router (``open_network``) until stdin closes.

``python -m bench.serve_network HOME`` creates the bench services (end-to-end encrypted), a
host identity allowed to Bind them and a dialer identity allowed to Dial them, and announces
``{"host", "dialer", "services"}`` (identity file paths, service names) on stdout. The router
relays every bench circuit, so this process's CPU and memory are the router's (the controller
beside it is idle while data flows).
"""

from __future__ import annotations

import sys
from pathlib import Path

import trio

from bench.common import announce_and_wait
from ziti_aio.testing.network import open_network

SERVICES = ("bench-echo", "bench-echo-csdk")


async def serve(home: Path) -> None:
    async with open_network(home, routers=1) as net:
        host = await net.create_identity("bench-host")
        dialer = await net.create_identity("bench-dialer")
        for service in SERVICES:
            await net.create_service(service, encryption_required=True)
            await net.allow(host.name, service, "Bind")
            await net.allow(dialer.name, service, "Dial")
        await announce_and_wait({"host": str(host.path), "dialer": str(dialer.path), "services": list(SERVICES)})


def serve_argv(home: Path) -> list[str]:
    """The command line of this child for ``home``."""
    return [sys.executable, "-m", "bench.serve_network", str(home)]


if __name__ == "__main__":
    trio.run(serve, Path(sys.argv[1]))
