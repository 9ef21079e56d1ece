"""CPU per GB of one e2e circuit and of ``ssh -L``, process by process, and the floor our crypto sets (not in CI).

    python bench/cpu_floor.py [--mib 256] [--rounds 3]

Runs the data-plane bench's processes (``bench.dataplane.open_bench``: controller + router, the SDK
echo host, sshd + ``ssh -L``, the SDK dialer in this process) and pushes ``--mib`` MiB through each
path per round, alternating. Per round it prints CPU seconds per GB pushed (and echoed) of every
process of the path and their total. Then the floor: what the prescribed work costs with no
interpreter at all, from passes measured in this process on the same data sizes: a PyNaCl
secretstream seal and open at each end for each direction, a TLS encrypt and decrypt (memory BIOs,
the router's cipher) on each of the four one-way socket paths, plus the system (kernel) time our
three processes used. ``floor / ssh`` >= 1 means the path cannot match ``ssh -L`` on this machine
whatever the Python code does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trio

from bench.common import QUICK, Context, tree_cpu_s
from bench.dataplane import MIB, open_bench, push_echo
from bench.floor import GB, floor_s_per_gb, secretstream_s_per_gb, tls_s_per_gb, user_sys


async def measure(mib: int, rounds: int) -> None:
    size = mib * MIB
    gb = size / GB
    ours, theirs, kernel = [], [], []
    async with open_bench(Context(QUICK, Path(tempfile.mkdtemp()))) as bench:
        router, host = bench.router_pid, bench.echo_pid
        await push_echo(await bench.dial(), 16 * MIB)  # warm-up
        for n in range(rounds):
            before = [user_sys(router), user_sys(host), os.times()]
            began = time.perf_counter()
            await push_echo(await bench.dial(), size)
            seconds = time.perf_counter() - began
            after = [user_sys(router), user_sys(host), os.times()]
            parts = [(b[0] - a[0], b[1] - a[1]) for a, b in zip(before, after, strict=False)]
            total = sum(u + s for u, s in parts)
            ours.append(total / gb)
            kernel.append(sum(s for _, s in parts) / gb)
            print(f"round {n + 1} ziti-aio {size / seconds / 1e6:6.1f} MB/s: router "
                  f"{sum(parts[0]) / gb:.2f}, host {sum(parts[1]) / gb:.2f}, dialer {sum(parts[2]) / gb:.2f}, "
                  f"total {total / gb:.2f} CPU s/GB ({total / seconds:.2f} cores)", flush=True)
            cpu = [bench.ssh.cpu_s(), os.times(), tree_cpu_s(host)]
            began = time.perf_counter()
            await push_echo(await bench.tcp(), size)
            seconds = time.perf_counter() - began
            ssh_s = bench.ssh.cpu_s() - cpu[0]
            client_s = sum(os.times()[:2]) - sum(cpu[1][:2])
            echo_s = tree_cpu_s(host) - cpu[2]
            total = ssh_s + client_s + echo_s
            theirs.append(total / gb)
            print(f"round {n + 1} ssh -L   {size / seconds / 1e6:6.1f} MB/s: ssh + sshd {ssh_s / gb:.2f}, "
                  f"TCP client {client_s / gb:.2f}, echo server {echo_s / gb:.2f}, total {total / gb:.2f} "
                  f"CPU s/GB ({total / seconds:.2f} cores)", flush=True)
    e2e = secretstream_s_per_gb()
    tls = tls_s_per_gb(Path(tempfile.mkdtemp()))
    floor = floor_s_per_gb(e2e, tls, statistics.median(kernel))
    ssh_total = statistics.median(theirs)
    print(f"secretstream seal + open {e2e:.2f} CPU s/GB; TLS encrypt + decrypt {tls:.2f} CPU s/GB")
    print(f"floor per GB pushed: 2 x {e2e:.2f} (e2e, both directions) + 4 x {tls:.2f} (TLS, four one-way "
          f"socket paths) + {statistics.median(kernel):.2f} (kernel) = {floor:.2f} CPU s/GB")
    print(f"ziti-aio {statistics.median(ours):.2f}, ssh -L {ssh_total:.2f}, floor / ssh = {floor / ssh_total:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=256, help="MiB pushed per transfer")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    trio.run(measure, args.mib, args.rounds)


if __name__ == "__main__":
    main()
