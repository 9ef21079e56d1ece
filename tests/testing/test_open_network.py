"""The public harness: open_network starts and stops cleanly; the fixture works for other projects."""

import pytest
import trio

import ziti_aio.testing
from ziti_aio.appliance.demo import run_echo_server
from ziti_aio.common.errors import ZitiError
from ziti_aio.sdk import open_context
from ziti_aio.testing import wait_until
from ziti_aio.testing.controller import create

pytest_plugins = ["ziti_aio.testing.pytest_plugin"]


async def test_open_network_without_a_home_cleans_up():
    async with ziti_aio.testing.open_network(routers=1) as net:
        home = net.home
        routers = await net.get("edge-routers")
        assert [r["isOnline"] for r in routers] == [True]
        assert home.exists()
    assert not home.exists()


async def test_tunneler_hosts_a_service_with_a_host_config():
    async with ziti_aio.testing.open_network(routers=1, tunneler=True) as net, trio.open_nursery() as nursery:
        assert net.tunneler is not None and net.tunneler.info["mode"] == "host"
        port = await nursery.start(run_echo_server)
        await create(net.admin, "configs", {"name": "echo-host", "configTypeId": "host.v1",
                                            "data": {"protocol": "tcp", "address": "127.0.0.1", "port": port}})
        await create(net.admin, "services", {"name": "echo", "encryptionRequired": True, "configs": ["echo-host"]})
        await net.allow(net.tunneler.identity.name, "echo", "Bind")
        client = await net.create_identity("client")
        await net.allow("client", "echo", "Dial")
        async with open_context(client.path) as ctx:

            async def dialed():
                try:
                    return await ctx.dial("echo")
                except ZitiError:
                    return None  # the tunneler's terminator is not there yet

            async with await wait_until(dialed, 20, what="a dial of echo to succeed") as conn:
                await conn.send_all(b"through the tunneler")
                assert await conn.receive_some(100) == b"through the tunneler"
        nursery.cancel_scope.cancel()


async def test_fixture_gives_a_working_network(ziti_network):
    ident = await ziti_network.create_identity("fixture-user")
    assert ident.path.exists()
    services = await ziti_network.get("services")
    assert services == []


async def test_context_helper_gives_working_sdk_contexts():
    async with ziti_aio.testing.open_network(routers=1) as net:
        await net.create_identity("server")
        await net.create_identity("client")
        await net.create_service("svc")
        await net.allow("server", "svc", "Bind")
        await net.allow("client", "svc", "Dial")
        async with net.context("server") as server, net.context("client") as client, trio.open_nursery() as nursery:
            listener = await server.bind("svc")

            async def answer() -> None:
                async with await listener.accept() as stream:
                    await stream.send_all(b"hello " + await stream.receive_some(100))

            nursery.start_soon(answer)
            with trio.fail_after(20):
                async with await client.dial("svc") as stream:
                    await stream.send_all(b"client")
                    assert await stream.receive_some(100) == b"hello client"
        with pytest.raises(KeyError, match="nobody"):
            net.context("nobody")
