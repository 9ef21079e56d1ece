"""Instructions per dial and per MiB, counted by valgrind: an A/B measure that VM noise cannot move (not in CI).

    python bench/instructions.py [--dials 30] [--mib 16] [--only dial|bulk]

Wall time and even CPU time on a shared VM move by 15 % between runs minutes apart, which hides
changes worth a few percent. ``valgrind --tool=callgrind`` counts the instructions a run executes,
repeatable to about 0.1 %. This script runs the whole network in one process
(``ziti_aio.testing.open_network``: controller, one edge router, an SDK host echoing an encrypted
service, an SDK dialer; real mTLS on 127.0.0.1) under callgrind, with counting switched on only
around the measured part, and prints:

- ``dial``: instructions per dial + 1-byte echo + close (everything all roles do for it);
- ``bulk``: instructions per MiB pushed and echoed through one circuit.

Compare two commits by running it on each. Caveats: the kernel's work is not counted; copies are
over-counted (valgrind counts ``rep movsb`` byte by byte, so a large memcpy looks dearer than it
is); the slowdown is ~50x, so keep the counts small. Needs valgrind (``apt-get install valgrind``).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trio

from ziti_aio.sdk import open_context
from ziti_aio.testing.network import open_network

MIB = 1 << 20
BLOCK = os.urandom(64 * 1024)
WARMUP_DIALS = 10
RUN_TIMEOUT_S = 1800


def _counting(on: bool) -> None:
    subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())], capture_output=True,
                   check=False)


async def _echo(stream: trio.abc.HalfCloseableStream) -> None:
    async with stream:
        try:
            while data := await stream.receive_some():
                await stream.send_all(data)
        except trio.BrokenResourceError:
            pass


async def _push(stream: trio.abc.HalfCloseableStream, size: int) -> None:
    async def send() -> None:
        for _ in range(size // len(BLOCK)):
            await stream.send_all(BLOCK)
        await stream.send_eof()

    async with stream, trio.open_nursery() as nursery:
        nursery.start_soon(send)
        got = 0
        while got < size:
            got += len(await stream.receive_some(1 << 18))


async def measured(mode: str, count: int) -> None:
    """The network, a warm-up, then ``count`` dials or MiB with counting on (run under callgrind)."""
    async with open_network(Path(tempfile.mkdtemp()), routers=1) as net:
        host, client = await net.create_identity("host"), await net.create_identity("client")
        await net.create_service("svc", encryption_required=True)
        await net.allow("host", "svc", "Bind")
        await net.allow("client", "svc", "Dial")
        async with open_context(host.path) as server, open_context(client.path) as dialer, \
                trio.open_nursery() as nursery:
            nursery.start_soon(trio.serve_listeners, _echo, [await server.bind("svc")])

            async def one_dial() -> None:
                async with await dialer.dial("svc") as stream:
                    await stream.send_all(b"x")
                    await stream.receive_some(1)

            for _ in range(WARMUP_DIALS):
                await one_dial()
            await _push(await dialer.dial("svc"), 4 * MIB)
            await trio.sleep(0.3)
            _counting(True)
            if mode == "dial":
                for _ in range(count):
                    await one_dial()
            else:
                await _push(await dialer.dial("svc"), count * MIB)
            await trio.sleep(0.2)  # the closes finish
            _counting(False)
            nursery.cancel_scope.cancel()


def count_instructions(mode: str, count: int) -> int:
    """Run :func:`measured` in a child under callgrind; the instructions it counted."""
    with tempfile.TemporaryDirectory() as workdir:
        out = Path(workdir) / "callgrind.out"
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
             sys.executable, __file__, "--child", mode, "--count", str(count)],
            capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"valgrind run failed:\n{done.stderr[-3000:]}")
        totals = re.search(r"^totals:\s+(\d+)", out.read_text(errors="replace"), re.M)
        if totals is None:
            raise RuntimeError("callgrind wrote no totals")
        return int(totals.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dials", type=int, default=30)
    parser.add_argument("--mib", type=int, default=16)
    parser.add_argument("--only", choices=("dial", "bulk"))
    parser.add_argument("--child", choices=("dial", "bulk"), help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        trio.run(measured, args.child, args.count)
        return
    if args.only in (None, "dial"):
        total = count_instructions("dial", args.dials)
        print(f"dial: {total / args.dials / 1e6:.3f} M instructions per dial + echo + close ({args.dials} dials)")
    if args.only in (None, "bulk"):
        total = count_instructions("bulk", args.mib)
        print(f"bulk: {total / args.mib / 1e6:.3f} M instructions per MiB pushed and echoed ({args.mib} MiB)")


if __name__ == "__main__":
    main()
