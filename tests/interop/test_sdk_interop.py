"""ziti-aio's SDK and the unmodified OpenZiti C SDK (openziti 0.6.0) on the two ends of a circuit.

The C SDK runs in a child process (``ziti_aio.testing.csdk``); 16 MiB of seeded random bytes
are echoed end-to-end encrypted, and both sides compare SHA-256 digests.
"""

from __future__ import annotations

import hashlib
import random

import pytest
import trio

from ziti_aio.sdk import open_context
from ziti_aio.testing import wait_until
from ziti_aio.testing.csdk import csdk_run
from ziti_aio.testing.network import open_network

pytestmark = pytest.mark.interop

MIB = 1024 * 1024
SIZE = 16 * MIB
SEED = 7
WAIT_S = 60.0

CSDK_HOST = """
    import hashlib
    ctx = load()
    srv = ctx.bind("echo")
    srv.listen(4)
    conn, _ = srv.accept()
    digest, total = hashlib.sha256(), 0
    while data := conn.recv(1 << 20):
        digest.update(data)
        total += len(data)
        conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)  # zitilib sends no FIN on a bare close()
    report(event="served", bytes=total, sha256=digest.hexdigest())
    while not os.path.exists(os.environ["DONE_FILE"]):
        time.sleep(0.05)
    conn.close()
"""

CSDK_DIAL = """
    import hashlib, random
    ctx = load()
    size = int(os.environ["SIZE"])
    payload = random.Random(int(os.environ["SEED"])).randbytes(size)
    sock = dial(ctx, "echo")
    sender = threading.Thread(target=sock.sendall, args=(payload,))
    sender.start()
    digest, total = hashlib.sha256(), 0
    while total < size and (data := sock.recv(1 << 20)):
        digest.update(data)
        total += len(data)
    sender.join()
    sock.shutdown(socket.SHUT_WR)
    report(bytes=total, sha256=digest.hexdigest())
    # Exiting at once could cut libziti's FIN: stay until the host has seen it.
    while not os.path.exists(os.environ["DONE_FILE"]):
        time.sleep(0.05)
    sock.close()
"""


def payload() -> bytes:
    return random.Random(SEED).randbytes(SIZE)


async def _network(net):  # type: ignore[no-untyped-def]
    """An encrypted ``echo`` service with identities ``echo-host`` (Bind) and ``echo-client`` (Dial)."""
    service_id = await net.create_service("echo", encryption_required=True)
    host = await net.create_identity("echo-host")
    client = await net.create_identity("echo-client")
    await net.allow(host.name, "echo", "Bind")
    await net.allow(client.name, "echo", "Dial")
    return service_id, host, client


async def test_csdk_dials_a_ziti_aio_host(tmp_path):
    async with open_network(tmp_path) as net:
        _, host, client = await _network(net)
        served, done = {}, tmp_path / "done"
        async with open_context(host.path) as ctx, trio.open_nursery() as nursery:
            listener = await ctx.bind("echo")

            async def serve() -> None:
                digest, total = hashlib.sha256(), 0
                async with await listener.accept() as stream:
                    while data := await stream.receive_some():
                        digest.update(data)
                        total += len(data)
                        await stream.send_all(data)
                    await stream.send_eof()
                served.update(bytes=total, sha256=digest.hexdigest())
                done.touch()

            nursery.start_soon(serve)
            result = await csdk_run(client.path, CSDK_DIAL, timeout_s=WAIT_S, log_level=None,
                                    env={"SIZE": str(SIZE), "SEED": str(SEED), "DONE_FILE": str(done)})
        expected = hashlib.sha256(payload()).hexdigest()
        assert result.ok, result.describe()
        assert result.reports == [{"bytes": SIZE, "sha256": expected}], result.describe()
        assert served == {"bytes": SIZE, "sha256": expected}


async def test_ziti_aio_dials_a_csdk_host(tmp_path):
    async with open_network(tmp_path) as net:
        service_id, host, client = await _network(net)
        done = tmp_path / "done"
        async with trio.open_nursery() as nursery:
            results = []

            async def run_host() -> None:
                results.append(await csdk_run(host.path, CSDK_HOST, timeout_s=2 * WAIT_S, log_level=None,
                                              env={"DONE_FILE": str(done)}))

            nursery.start_soon(run_host)

            async def terminated() -> bool:
                return any(t["serviceId"] == service_id for t in await net.get("terminators"))

            await wait_until(terminated, WAIT_S, what="the C SDK host's terminator")
            data = payload()
            got = hashlib.sha256()
            async with open_context(client.path) as ctx:
                with trio.fail_after(WAIT_S):
                    async with await ctx.dial("echo") as stream, trio.open_nursery() as transfer:
                        assert stream.encrypted
                        transfer.start_soon(stream.send_all, data)
                        received = 0
                        while received < SIZE and (chunk := await stream.receive_some()):
                            got.update(chunk)
                            received += len(chunk)
                        # FIN only now: zitilib answers it by closing (StateClosed, no FIN), and
                        # that StateClosed can overtake echoed data it still had queued.
                        await stream.send_eof()
            done.touch()
        [result] = results
        expected = hashlib.sha256(data).hexdigest()
        assert got.hexdigest() == expected
        assert result.ok, result.describe()
        assert result.reports == [{"event": "served", "bytes": SIZE, "sha256": expected}], result.describe()
