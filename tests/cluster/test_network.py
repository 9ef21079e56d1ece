"""``open_network(controllers=3)``: a network whose controller is a three-member cluster."""

from __future__ import annotations

import trio

from ziti_aio.sdk import open_context
from ziti_aio.testing import open_network, wait_until
from ziti_aio.testing.controller import MANAGEMENT


async def test_a_network_of_three_controllers_carries_traffic(tmp_path):
    async with open_network(tmp_path, controllers=3, routers=1) as net:
        assert len(net.controllers) == 3 and net.controller in net.controllers
        await net.create_service("echo-ha")
        host, dialer = await net.create_identity("host"), await net.create_identity("dialer")
        await net.allow("host", "echo-ha", "Bind")
        await net.allow("dialer", "echo-ha", "Dial")
        token = net.admin.headers["zt-session"]
        for member in net.controllers:
            async with member.client(token=token) as http:
                async def has_service(http=http) -> bool:
                    answer = await http.get(f"{MANAGEMENT}/services", params={"filter": 'name="echo-ha"'})
                    return answer.status_code == 200 and len(answer.json()["data"]) == 1

                await wait_until(has_service, 10, what="the service on every controller")
        async with open_context(host.path) as hosting, open_context(dialer.path) as dialing:
            listener = await hosting.bind("echo-ha")
            async with trio.open_nursery() as nursery:
                async def serve() -> None:
                    accepted = await listener.accept()
                    await accepted.send_all(await accepted.receive_some())

                nursery.start_soon(serve)
                with trio.fail_after(30):
                    async with await dialing.dial("echo-ha") as stream:
                        await stream.send_all(b"ping")
                        assert await stream.receive_some() == b"ping"
