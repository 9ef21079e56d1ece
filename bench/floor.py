"""The crypto floor of one e2e circuit (issue 19): what the prescribed work costs with no interpreter.

Per GB pushed and echoed, a circuit must seal and open every byte with libsodium secretstream once
in each direction, and TLS-encrypt and -decrypt it on each of the four one-way socket paths (dialer
→ router → host and back); the kernel's socket work comes on top. :func:`floor_s_per_gb` adds those
passes, measured in this process on the sizes the SDK and the router use, to the kernel time the
circuit's processes used in the same run. Used by ``cpu_floor.py`` and ``crypto_floor_ratio``.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import ssl
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ziti_aio.wire.e2e import MAX_PLAINTEXT_CHUNK_BYTES, SecretStreamReceiver, SecretStreamSender

GB = 1e9
PASS_BYTES = 128 << 20
E2E_PASSES = 2  # seal + open, each direction
TLS_PASSES = 4  # encrypt + decrypt, each one-way socket path


def user_sys(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a (Linux) process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


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


def floor_s_per_gb(e2e: float, tls: float, kernel: float) -> float:
    """CPU s/GB of the prescribed passes plus the kernel time per GB the circuit's processes used."""
    return E2E_PASSES * e2e + TLS_PASSES * tls + kernel
