"""``tunnel proxy``: local TCP ports carried over services to a C SDK host and a ziti-aio SDK host."""

from __future__ import annotations

import contextlib
import logging

import pytest
import trio
from tunnel_helpers import CSDK_ECHO_HOST, MIB, WAIT_S, echo_through, sdk_echo_host

from ziti_aio.sdk import open_context
from ziti_aio.testing import wait_until
from ziti_aio.testing.csdk import csdk_run
from ziti_aio.testing.network import open_network
from ziti_aio.tunnel.proxy import ProxySpec
from ziti_aio.tunnel.tunneler import Tunneler, TunnelerConfig


async def _proxy(nursery: trio.Nursery, identity, *specs: str) -> dict[str, int]:
    config = TunnelerConfig(identity=identity, mode="proxy", proxy=tuple(ProxySpec.parse(s) for s in specs))
    info = await nursery.start(Tunneler(config).run)
    return info["proxy"]


@pytest.mark.interop
async def test_8_mib_through_proxy_to_a_csdk_host(tmp_path):
    async with open_network(tmp_path) as net:
        service_id = await net.create_service("echo")
        host = await net.create_identity("echo-host")
        tunneler = await net.create_identity("tunneler")
        await net.allow(host.name, "echo", "Bind")
        await net.allow(tunneler.name, "echo", "Dial")
        done = tmp_path / "done"
        async with trio.open_nursery() as nursery:
            results = {}
            host_done = trio.Event()

            async def run_host() -> None:
                results["host"] = await csdk_run(host.path, CSDK_ECHO_HOST, log_level=2, timeout_s=90,
                                                 env={"SERVICE": "echo", "DONE_FILE": str(done)})
                host_done.set()

            nursery.start_soon(run_host)
            try:
                await wait_until(lambda: _has_terminator(net, service_id), WAIT_S, what="the C SDK host's terminator")
                ports = await _proxy(nursery, tunneler.path, "echo:0")
                total, sent, got = await echo_through(ports["echo:0"], 8 * MIB)
                assert total == 8 * MIB and got == sent
            finally:
                done.touch()
            with trio.fail_after(60):
                await host_done.wait()
            assert results["host"].ok, results["host"].describe()
            nursery.cancel_scope.cancel()


async def _has_terminator(net, service_id: str) -> bool:
    return any(t["serviceId"] == service_id for t in await net.get("terminators"))


@pytest.mark.parametrize("encrypted", [True, False], ids=["e2e", "plain"])
async def test_proxy_to_a_ziti_aio_host_several_connections(tmp_path, encrypted):
    async with open_network(tmp_path) as net:
        await net.create_service("echo", encryption_required=encrypted)
        host = await net.create_identity("host")
        tunneler = await net.create_identity("tunneler")
        await net.allow("host", "echo", "Bind")
        await net.allow("tunneler", "echo", "Dial")
        async with open_context(host.path) as host_ctx, trio.open_nursery() as nursery:
            await nursery.start(sdk_echo_host, host_ctx, "echo")
            ports = await _proxy(nursery, tunneler.path, "echo:0")
            results = []

            async def one(seed: int) -> None:
                results.append(await echo_through(ports["echo:0"], 2 * MIB, seed=seed))

            async with trio.open_nursery() as clients:
                for seed in range(4):
                    clients.start_soon(one, seed)
            assert len(results) == 4
            assert all(total == 2 * MIB and got == sent for total, sent, got in results)
            nursery.cancel_scope.cancel()


async def test_service_without_dial_permission_is_closed_with_a_clear_log(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="ziti_aio.tunnel.proxy")
    async with open_network(tmp_path) as net:
        await net.create_service("echo")
        await net.create_service("secret")
        host = await net.create_identity("host")
        tunneler = await net.create_identity("tunneler")
        await net.allow("host", "echo", "Bind")
        await net.allow("host", "secret", "Bind")
        await net.allow("tunneler", "echo", "Dial")
        async with open_context(host.path) as host_ctx, trio.open_nursery() as nursery:
            await nursery.start(sdk_echo_host, host_ctx, "echo")
            await nursery.start(sdk_echo_host, host_ctx, "secret")
            ports = await _proxy(nursery, tunneler.path, "secret:0", "echo:0")
            for _ in range(2):  # refused every time, and the listener keeps serving
                stream = await trio.open_tcp_stream("127.0.0.1", ports["secret:0"])
                async with stream:
                    await stream.send_all(b"hello")
                    with trio.fail_after(20):
                        with contextlib.suppress(trio.BrokenResourceError):
                            assert await stream.receive_some(100) == b""
            refusals = [r.getMessage() for r in caplog.records if "dial refused" in r.getMessage()]
            assert len(refusals) == 2 and "secret" in refusals[0], refusals
            assert "tunneler" in refusals[0]
            total, sent, got = await echo_through(ports["echo:0"], 64 * 1024)
            assert total == 64 * 1024 and got == sent
            nursery.cancel_scope.cancel()
