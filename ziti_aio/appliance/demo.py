"""The quickstart's demo: an echo server on loopback, hosted by the quickstart tunneler as ``demo-echo``.

Created once through the management API, like everything else the quickstart makes:
identities ``quickstart-tunneler`` (``#tunnelers``) and ``demo-client`` (``#demo-clients``),
enrolled into the home; configs ``demo-echo-host`` (host.v1) and ``demo-echo-intercept``
(intercept.v1, ``echo.ziti:7``); service ``demo-echo`` (``#demo``); a Bind and a Dial policy.
The echo server's port is new on every start, so ``demo-echo-host`` is updated each time, and
so is the identity files' ``ztAPI`` when the controller's port changed (``--ctrl-port 0``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from ziti_aio.common.errors import ZitiError
from ziti_aio.sdk.enroll import enroll_identity

if TYPE_CHECKING:
    from pathlib import Path

    from ziti_aio.sdk.management import AsyncManagementClient

log = logging.getLogger(__name__)

SERVICE = "demo-echo"
TUNNELER = "quickstart-tunneler"
CLIENT = "demo-client"
HOST_CONFIG = "demo-echo-host"
INTERCEPT_CONFIG = "demo-echo-intercept"
INTERCEPT_ADDRESS = "echo.ziti"
INTERCEPT_PORT = 7
PROXY_PORT = 7007
ECHO_CHUNK = 1 << 16


@dataclass(frozen=True)
class DemoFiles:
    """The enrolled identity files the demo uses."""

    tunneler: Path
    client: Path


async def _echo(stream: trio.SocketStream) -> None:
    async with stream:
        try:
            while data := await stream.receive_some(ECHO_CHUNK):
                await stream.send_all(data)
            await stream.send_eof()
        except trio.BrokenResourceError:
            pass


async def run_echo_server(*, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
    """A TCP echo server on 127.0.0.1 (any free port); started with its port."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, _echo, listeners)
        task_status.started(listeners[0].socket.getsockname()[1])


def _point_at(path: Path, url: str) -> None:
    """Make the identity file's ``ztAPI`` ``url`` (the file keeps its mode)."""
    data = json.loads(path.read_text())
    if data.get("ztAPI") != url:
        data["ztAPI"] = url
        path.write_text(json.dumps(data, indent=2))


async def enrolled(admin: AsyncManagementClient, name: str, attribute: str, path: Path, *,
                   is_admin: bool = False) -> Path:
    """Identity ``name`` with ``attribute``, enrolled into ``path`` unless that file exists."""
    identity = await admin.ensure("identities", {"name": name, "type": "Device", "isAdmin": is_admin,
                                                 "roleAttributes": [attribute], "enrollment": {"ott": True}})
    if await trio.Path(path).exists():
        await trio.to_thread.run_sync(_point_at, path, admin.url)
        return path
    jwt = ((identity.get("enrollment") or {}).get("ott") or {}).get("jwt")
    if not jwt:
        raise ZitiError(f"identity {name} is enrolled but {path} is missing; delete the identity to recreate it")
    await enroll_identity(jwt, path)
    log.info("identity %s enrolled into %s", name, path)
    return path


async def prepare_demo(admin: AsyncManagementClient, home: Path, echo_port: int) -> DemoFiles:
    """Create what the demo needs (once) and point ``demo-echo-host`` at ``echo_port``."""
    host_data = {"protocol": "tcp", "address": "127.0.0.1", "port": echo_port}
    host = await admin.ensure("configs", {"name": HOST_CONFIG, "configTypeId": "host.v1", "data": host_data})
    if host.get("data") != host_data:
        await admin.patch("configs", host["id"], {"data": host_data})
    await admin.ensure("configs", {"name": INTERCEPT_CONFIG, "configTypeId": "intercept.v1",
                                   "data": {"protocols": ["tcp"], "addresses": [INTERCEPT_ADDRESS],
                                            "portRanges": [{"low": INTERCEPT_PORT, "high": INTERCEPT_PORT}]}})
    await admin.ensure("services", {"name": SERVICE, "roleAttributes": ["demo"], "encryptionRequired": True,
                                    "configs": [HOST_CONFIG, INTERCEPT_CONFIG]})
    await admin.ensure("service-policies", {"name": "demo-echo-bind", "type": "Bind", "semantic": "AnyOf",
                                            "identityRoles": ["#tunnelers"], "serviceRoles": ["#demo"]})
    await admin.ensure("service-policies", {"name": "demo-echo-dial", "type": "Dial", "semantic": "AnyOf",
                                            "identityRoles": ["#demo-clients"], "serviceRoles": ["#demo"]})
    return DemoFiles(tunneler=await enrolled(admin, TUNNELER, "tunnelers", home / "tunneler.json"),
                     client=await enrolled(admin, CLIENT, "demo-clients", home / "demo-client.json"))


def try_it(files: DemoFiles) -> list[str]:
    """Three lines telling a user how to reach the demo service."""
    return [
        f"  try it:      ziti-aio tunnel proxy {SERVICE}:{PROXY_PORT} -i {files.client}",
        f"               then: nc 127.0.0.1 {PROXY_PORT}   (each line comes back from the echo server)",
        f"               or in Python: ziti_aio.sdk.open_context('{files.client}') then ctx.dial('{SERVICE}')",
    ]
