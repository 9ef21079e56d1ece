"""The unmodified OpenZiti C SDK (openziti 0.6.0) on both ends of a circuit through our router.

Each C SDK runs in a child process (``ziti_aio.testing.csdk``): a host that binds a service and
echoes every accepted connection, and a dialer that sends seeded random bytes, half-closes and
reads the echo back. Both report SHA-256 digests; the management API shows terminators and
circuits. Readiness across processes is the host's terminator appearing in the API.
"""

from __future__ import annotations

import hashlib
import os
import random

import pytest
import trio

from ziti_aio.testing import wait_until
from ziti_aio.testing.csdk import CsdkResult, csdk_run
from ziti_aio.testing.network import Identity, RunningNetwork, open_network

pytestmark = pytest.mark.interop

MIB = 1024 * 1024
WAIT_S = 30.0

HOST = """
    import hashlib
    ctx = load()
    srv = ctx.bind(os.environ["SERVICE"])
    srv.listen(16)
    def serve(conn):
        digest, total = hashlib.sha256(), 0
        while True:
            data = conn.recv(1 << 20)
            if not data:
                break
            digest.update(data)
            total += len(data)
            if total > int(os.environ.get("VANISH_AFTER", "-1")) >= 0:
                os._exit(3)
            conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)  # zitilib sends nothing on a bare close()
        conn.close()
        report(event="served", bytes=total, sha256=digest.hexdigest())
    workers = []
    for _ in range(int(os.environ["ACCEPT"])):
        conn, _ = srv.accept()
        workers.append(threading.Thread(target=serve, args=(conn,)))
        workers[-1].start()
    for worker in workers:
        worker.join()
    # Exiting at once could cut libziti's flush of the last echoed bytes: stay until the dialer is done.
    while not os.path.exists(os.environ["DONE_FILE"]):
        time.sleep(0.05)
"""

DIAL = """
    import hashlib, random
    ctx = load()
    size = int(os.environ["SIZE"])
    def transfer(index):
        block = random.Random(index).randbytes(1 << 20)
        try:
            sock = dial(ctx, os.environ["SERVICE"])
        except ZitiCallError as exc:
            report(index=index, error=exc.code, message=exc.message)
            return
        def send():
            try:
                view = memoryview(block)
                for offset in range(0, size, 1 << 16):
                    sock.sendall(view[offset % (1 << 20):][:min(1 << 16, size - offset)])
            except OSError:
                pass
        sender = threading.Thread(target=send)
        sender.start()
        digest, total, failure = hashlib.sha256(), 0, None
        while total < size:
            try:
                data = sock.recv(1 << 20)
            except OSError as exc:
                failure = str(exc)
                break
            if not data:
                break
            digest.update(data)
            total += len(data)
        sender.join()
        # The dialer closes once it has everything: libziti 0.29.3 drops data it still buffers
        # when the far end's StateClosed arrives, so a host closing first would lose the tail.
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        sock.close()
        report(index=index, error=failure, bytes=total, sha256=digest.hexdigest())
    threads = [threading.Thread(target=transfer, args=(i,)) for i in range(int(os.environ["COUNT"]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
"""


def expected_sha256(index: int, size: int) -> str:
    """Digest of what dialer ``index`` sends: its seeded 1 MiB block, repeated to ``size`` bytes."""
    block = random.Random(index).randbytes(MIB)
    digest = hashlib.sha256()
    for offset in range(0, size, MIB):
        digest.update(block[:min(MIB, size - offset)])
    return digest.hexdigest()



async def terminators(net: RunningNetwork, service_id: str) -> list[dict]:
    return [t for t in await net.get("terminators") if t["serviceId"] == service_id]


async def setup(net: RunningNetwork, *, encrypted: bool, service: str = "echo") -> tuple[str, Identity, Identity]:
    service_id = await net.create_service(service, encryption_required=encrypted)
    host = await net.create_identity(f"{service}-host")
    client = await net.create_identity(f"{service}-client")
    await net.allow(host.name, service, "Bind")
    await net.allow(client.name, service, "Dial")
    return service_id, host, client


async def echo(net: RunningNetwork, service_id: str, host: Identity, client: Identity, *, size: int, count: int,
               service: str = "echo", during=None, host_env=None) -> tuple[CsdkResult, CsdkResult]:  # type: ignore[no-untyped-def]
    """Run the host, wait for its terminator, run the dialer (and ``during()`` alongside it)."""
    results: dict[str, CsdkResult] = {}
    done = net.home / f"{service}-dialer.done"

    async def run_host() -> None:
        results["host"] = await csdk_run(host.path, HOST, log_level=int(os.environ.get("HOST_LOG", "2")), timeout_s=80,
                                         env={"SERVICE": service, "ACCEPT": str(count), "DONE_FILE": str(done),
                                              **(host_env or {})})

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_host)
        try:
            await wait_until(lambda: _has_terminator(net, service_id), WAIT_S, what="the host's terminator")
            if during is not None:
                nursery.start_soon(during)
            results["dialer"] = await csdk_run(client.path, DIAL, log_level=2, timeout_s=80,
                                               env={"SERVICE": service, "SIZE": str(size), "COUNT": str(count)})
        finally:
            done.touch()
    return results["host"], results["dialer"]


async def _has_terminator(net: RunningNetwork, service_id: str) -> bool:
    return bool(await terminators(net, service_id))


def check_transfers(host: CsdkResult, dialer: CsdkResult, *, size: int, count: int) -> None:
    assert dialer.ok, dialer.describe()
    assert host.ok, host.describe()
    got = sorted(dialer.reports, key=lambda r: r["index"])
    assert [r["error"] for r in got] == [None] * count, dialer.describe()
    assert [(r["bytes"], r["sha256"]) for r in got] == [(size, expected_sha256(i, size)) for i in range(count)]
    served = sorted((r["bytes"], r["sha256"]) for r in host.reports)
    assert served == sorted((size, expected_sha256(i, size)) for i in range(count))


@pytest.mark.parametrize("encrypted", [True, False], ids=["e2e", "plain"])
async def test_echo_16_mib_each_way(tmp_path, encrypted):
    size = 16 * MIB
    async with open_network(tmp_path) as net:
        service_id, host, client = await setup(net, encrypted=encrypted)
        host_result, dialer_result = await echo(net, service_id, host, client, size=size, count=1)
        check_transfers(host_result, dialer_result, size=size, count=1)
        assert await net.get("circuits") == []


async def test_eight_concurrent_transfers(tmp_path):
    async with open_network(tmp_path) as net:
        service_id, host, client = await setup(net, encrypted=True)
        host_result, dialer_result = await echo(net, service_id, host, client, size=2 * MIB, count=8)
        check_transfers(host_result, dialer_result, size=2 * MIB, count=8)


async def test_identity_without_dial_policy_is_refused(tmp_path):
    async with open_network(tmp_path) as net:
        service_id, host, _ = await setup(net, encrypted=True)
        outsider = await net.create_identity("outsider")
        await net.allow(outsider.name, "echo", "Bind")  # it sees the service, but may not dial it
        host_result, dialer_result = await echo(net, service_id, host, outsider, size=MIB, count=1,
                                                host_env={"ACCEPT": "0"})
        assert dialer_result.ok, dialer_result.describe()
        [attempt] = dialer_result.reports
        assert attempt["error"] is not None, attempt
        assert await net.get("circuits") == []
        assert host_result.ok, host_result.describe()


async def test_deleting_the_dialer_cuts_its_transfer(tmp_path):
    size = 1024 * MIB
    async with open_network(tmp_path) as net:
        service_id, host, client = await setup(net, encrypted=True)

        async def delete_client_mid_transfer() -> None:
            await wait_until(lambda: _has_circuit(net), WAIT_S, what="the transfer's circuit")
            resp = await net.admin.delete(f"/edge/management/v1/identities/{client.id}")
            assert resp.status_code == 200, resp.text

        host_result, dialer_result = await echo(net, service_id, host, client, size=size, count=1,
                                                during=delete_client_mid_transfer)
        assert not dialer_result.timed_out, dialer_result.describe()
        [cut] = dialer_result.reports
        assert cut["bytes"] < size, cut
        await wait_until(lambda: _no_circuits(net), WAIT_S, what="the circuit to go")
        # The host's side was closed under it too. libziti 0.29.3 sometimes segfaults while shutting
        # down after such an abrupt close (seen in 2 of 12 runs, with and without our changes), so only
        # require that the host process ended rather than hanging on a half-open connection.
        assert not host_result.timed_out, host_result.describe()


async def test_host_that_vanishes_closes_dialer_and_removes_terminator(tmp_path):
    size = 256 * MIB
    async with open_network(tmp_path) as net:
        service_id, host, client = await setup(net, encrypted=True)
        host_result, dialer_result = await echo(net, service_id, host, client, size=size, count=1,
                                                host_env={"VANISH_AFTER": str(4 * MIB)})
        assert host_result.returncode == 3, host_result.describe()
        assert dialer_result.ok, dialer_result.describe()
        [cut] = dialer_result.reports
        assert cut["bytes"] < size, cut
        await wait_until(lambda: _no_terminators(net, service_id), WAIT_S, what="the terminator to go")
        await wait_until(lambda: _no_circuits(net), WAIT_S, what="the circuit to go")


async def _has_circuit(net: RunningNetwork) -> bool:
    return bool(await net.get("circuits"))


async def _no_circuits(net: RunningNetwork) -> bool:
    return not await net.get("circuits")


async def _no_terminators(net: RunningNetwork, service_id: str) -> bool:
    return not await terminators(net, service_id)
