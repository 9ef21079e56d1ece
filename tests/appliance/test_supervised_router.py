"""A real router role that crashes is restarted by the supervisor, and the network works again."""

import trio

from ziti_aio.appliance.supervisor import RoleStatus, supervise
from ziti_aio.common.errors import ZitiError
from ziti_aio.router.enroll import enroll_router
from ziti_aio.router.router import EdgeRouter, RouterConfig
from ziti_aio.sdk import open_context
from ziti_aio.testing import wait_until
from ziti_aio.testing.network import open_network


async def _echo_once(listener):
    stream = await listener.accept()
    async with stream:
        while data := await stream.receive_some():
            await stream.send_all(data)
        await stream.send_eof()


async def _round_trip(client_ctx, payload: bytes) -> bytes:
    stream = await client_ctx.dial("svc")
    await stream.send_all(payload)
    await stream.send_eof()
    got = b""
    while data := await stream.receive_some():
        got += data
    await stream.aclose()
    return got


async def test_crashed_router_role_restarts_and_carries_traffic_again(tmp_path):
    async with open_network(tmp_path, routers=0) as net:
        router_id = (await net.admin.post("/edge/management/v1/edge-routers",
                                          json={"name": "sup", "roleAttributes": ["public"]})).json()["data"]["id"]
        jwt = (await net.get(f"edge-routers/{router_id}"))["enrollmentJwt"]
        home = tmp_path / "sup-router"
        await enroll_router(jwt, home, names=["127.0.0.1"])
        # A fixed edge port, so the restarted router is reachable at the same address.
        probe = trio.socket.socket()
        await probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        router = EdgeRouter(RouterConfig(home=home, edge_bind_host="127.0.0.1", edge_port=port,
                                         advertised_host="127.0.0.1"))
        status = RoleStatus("router sup")
        await net.nursery.start(lambda task_status: supervise("router sup", router.run, status=status,
                                                              initial_backoff_s=0.1, task_status=task_status))
        server = await net.create_identity("server")
        client = await net.create_identity("client")
        await net.create_service("svc")
        await net.allow("server", "svc", "Bind")
        await net.allow("client", "svc", "Dial")
        async with open_context(server.path) as sctx, open_context(client.path) as cctx:
            listener = await sctx.bind("svc")
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_echo_once, listener)
                assert await _round_trip(cctx, b"before the crash") == b"before the crash"

            async def boom():
                raise RuntimeError("router made to crash")

            router.parts.nursery.start_soon(boom)
            await wait_until(lambda: status.restarts >= 1 and status.running, 20, what="the router's restart")
            await wait_until(lambda: _online(net, router_id), 20, what="the restarted router online")
            assert "router made to crash" in status.last_error
            with trio.fail_after(30):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(_echo_once, listener)
                    while True:
                        try:  # the listener rebinds to the restarted router first
                            echoed = await _round_trip(cctx, b"after the restart")
                            break
                        except (trio.BrokenResourceError, ZitiError):
                            await trio.sleep(0.1)
                    assert echoed == b"after the restart"


async def _online(net, router_id: str) -> bool:
    return (await net.get(f"edge-routers/{router_id}"))["isOnline"]
