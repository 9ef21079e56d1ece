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
import datetime
import os
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import contextlib

import trio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bench.common import QUICK, Context, tree_cpu_s
from bench.dataplane import MIB, open_bench, push_echo
from ziti_aio.wire.e2e import MAX_PLAINTEXT_CHUNK_BYTES, SecretStreamReceiver, SecretStreamSender

GB = 1e9
PASS_BYTES = 128 * MIB


def _user_sys(pid: int) -> tuple[float, float]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def _child(name: str) -> int:
    """The pid of this process's child whose command line contains ``name``."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == os.getpid() \
                    and name in (stat.parent / "cmdline").read_text():
                return int(stat.parent.name)
        except (OSError, ValueError):
            continue
    raise RuntimeError(f"no child process running {name}")


def secretstream_s_per_gb() -> float:
    """CPU seconds per GB of one seal plus one open, in 64 KiB messages as the SDK sends them."""
    key = os.urandom(32)
    sender = SecretStreamSender(key)
    receiver = SecretStreamReceiver(key, sender.header())
    chunk = os.urandom(MAX_PLAINTEXT_CHUNK_BYTES)
    count = PASS_BYTES // len(chunk)
    began = time.process_time()
    for _ in range(count):
        receiver.pull(sender.push(chunk))
    return (time.process_time() - began) / (count * len(chunk) / GB)


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "floor")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def tls_s_per_gb(directory: Path) -> float:
    """CPU seconds per GB of one TLS encrypt plus one decrypt through memory BIOs (TLS 1.3)."""
    cert, key = _self_signed(directory)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_ctx.wrap_bio(c_in, c_out)
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(4):  # the handshake: a few flights each way
        for side, into, source in ((client, s_in, c_out), (server, c_in, s_out)):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
            into.write(source.read())
    data, buffer = os.urandom(256 * 1024), bytearray(256 * 1024)
    count = PASS_BYTES // len(data)
    began = time.process_time()
    for _ in range(count):
        client.write(data)
        s_in.write(c_out.read())
        got = 0
        while got < len(data):
            got += server.read(len(buffer) - got, memoryview(buffer)[got:])
    return (time.process_time() - began) / (count * len(data) / GB)


async def measure(mib: int, rounds: int) -> None:
    size = mib * MIB
    gb = size / GB
    ours, theirs, kernel = [], [], []
    async with open_bench(Context(QUICK, Path(tempfile.mkdtemp()))) as bench:
        router, host = bench.router_pid, _child("bench.echo")
        await push_echo(await bench.dial(), 16 * MIB)  # warm-up
        for n in range(rounds):
            before = [_user_sys(router), _user_sys(host), os.times()]
            began = time.perf_counter()
            await push_echo(await bench.dial(), size)
            seconds = time.perf_counter() - began
            after = [_user_sys(router), _user_sys(host), os.times()]
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
    floor = 2 * e2e + 4 * tls + statistics.median(kernel)
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
