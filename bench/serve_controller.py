"""Child process: a controller serving an existing (seeded) home on 127.0.0.1 until stdin closes.

``python -m bench.serve_controller HOME`` announces ``{"url", "port", "startup_s", "startup_cpu_s"}`` on stdout
(wall and CPU seconds of ``open_controller``: CPU is what a loaded machine disturbs least).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import trio

from bench.common import announce_and_wait
from ziti_aio.testing.controller import open_controller


async def serve(home: Path) -> None:
    began, cpu = time.perf_counter(), time.process_time()
    async with open_controller(home) as running:
        await announce_and_wait({"url": running.url, "port": running.info.port,
                                 "startup_s": time.perf_counter() - began,
                                 "startup_cpu_s": time.process_time() - cpu})


def serve_argv(home: Path) -> list[str]:
    """The command line of this child for ``home``."""
    return [sys.executable, "-m", "bench.serve_controller", str(home)]


if __name__ == "__main__":
    trio.run(serve, Path(sys.argv[1]))
