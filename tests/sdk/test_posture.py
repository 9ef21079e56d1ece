"""Posture end to end: the ziti-aio SDK reports this machine's posture as libziti does; a dialer whose
posture fails cannot dial, can once it passes, and loses its live connection when it stops passing."""

from __future__ import annotations

import hashlib
import platform
import shutil
import signal

import pytest
import trio

from ziti_aio.common.errors import ChannelError, InvalidPosture
from ziti_aio.sdk import open_context
from ziti_aio.sdk.posture import _mac_addresses
from ziti_aio.testing.controller import create

SLEEP = shutil.which("sleep")
pytestmark = pytest.mark.skipif(SLEEP is None or platform.system() != "Linux",
                                reason="checks Linux posture, running a copy of sleep as the checked process")


async def _guarded(net, service: str, check: dict) -> str:
    """``service`` hosted by ``host`` (no checks) and dialed by ``dialer`` through a policy needing ``check``."""
    await net.create_service(service)
    await net.create_identity("host")
    dialer = await net.create_identity("dialer")
    check_id = await create(net.admin, "posture-checks", {"name": f"{service}-check", **check})
    await net.allow("host", service, "Bind")
    await create(net.admin, "service-policies", {"name": f"{service}-dial", "type": "Dial",
                                                 "identityRoles": [f"@{dialer.id}"], "serviceRoles": [f"@{service}"],
                                                 "postureCheckRoles": [f"@{check_id}"]})
    return check_id


async def _echo(listener) -> None:
    async with trio.open_nursery() as nursery:
        while True:
            stream = await listener.accept()

            async def serve(stream=stream) -> None:
                async with stream:
                    try:
                        while data := await stream.receive_some():
                            await stream.send_all(data)
                    except (ChannelError, trio.BrokenResourceError):
                        pass  # the dialer's connection was cut

            nursery.start_soon(serve)


async def test_process_check_gates_dialing_and_cuts_the_live_connection(net, tmp_path):
    agent = tmp_path / "posture-agent"
    shutil.copy(SLEEP, agent)
    digest = hashlib.sha512(agent.read_bytes()).hexdigest()
    await _guarded(net, "guarded", {"typeId": "PROCESS", "process": {"osType": "Linux", "path": str(agent),
                                                                     "hashes": [digest.upper()]}})
    async with open_context(net.identities["host"].path) as host, \
            open_context(net.identities["dialer"].path, posture_interval_s=0.2) as dialer, \
            trio.open_nursery() as nursery:
        nursery.start_soon(_echo, await host.bind("guarded"))
        [query] = dialer.services["guarded"].posture_queries
        assert query.type == "PROCESS" and query.paths == (str(agent),) and query.is_passing is False

        # the agent is not running: the SDK says so and the controller refuses the session
        with pytest.raises(InvalidPosture):
            await dialer.dial("guarded")

        process = await trio.lowlevel.open_process([str(agent), "600"])
        try:
            # a dial sends the changed posture first
            stream = await dialer.dial("guarded")
            await stream.send_all(b"ping")
            assert await stream.receive_some() == b"ping"

            ended = trio.Event()

            async def transfer() -> None:
                """Keep data flowing until the connection is cut."""
                try:
                    while True:
                        await stream.send_all(b"x" * 4096)
                        if not await stream.receive_some():
                            break
                        await trio.sleep(0.01)
                except (ChannelError, trio.BrokenResourceError, trio.ClosedResourceError):
                    pass
                ended.set()

            nursery.start_soon(transfer)
            await trio.sleep(0.3)
            assert not ended.is_set(), "the transfer runs while the agent runs"
            process.send_signal(signal.SIGTERM)
            await process.wait()
            # the next periodic report says the agent stopped: the session ends and the router cuts the conn
            with trio.fail_after(30):
                await ended.wait()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        with pytest.raises(InvalidPosture):
            await dialer.dial("guarded")
        nursery.cancel_scope.cancel()


async def test_os_and_mac_of_this_machine_are_reported(net):
    macs = _mac_addresses()
    checks = [{"typeId": "OS", "operatingSystems": [{"type": "Linux", "versions": [">=2.6"]}]}]
    if macs:
        checks.append({"typeId": "MAC", "macAddresses": macs[:1]})
    await net.create_service("machine")
    host, dialer = await net.create_identity("host"), await net.create_identity("dialer")
    ids = [await create(net.admin, "posture-checks", {"name": f"machine-{i}", "roleAttributes": ["machine"], **c})
           for i, c in enumerate(checks)]
    await net.allow("host", "machine", "Bind")
    await create(net.admin, "service-policies", {"name": "machine-dial", "type": "Dial",
                                                 "identityRoles": [f"@{dialer.id}"], "serviceRoles": ["@machine"],
                                                 "postureCheckRoles": ["#machine"]})
    async with open_context(host.path) as hosting, open_context(dialer.path) as dialing, \
            trio.open_nursery() as nursery:
        nursery.start_soon(_echo, await hosting.bind("machine"))
        assert {q.id for q in dialing.services["machine"].posture_queries} == set(ids)
        async with await dialing.dial("machine") as stream:
            await stream.send_all(b"hello")
            assert await stream.receive_some() == b"hello"
        data = await net.get(f"identities/{dialer.id}/posture-data")
        assert data["os"]["type"] == "Linux" and data["os"]["version"]
        if macs:
            assert data["mac"]["addresses"]
        assert await dialing.submit_posture() == len(checks), "on demand, every answer is sent again"
        nursery.cancel_scope.cancel()
