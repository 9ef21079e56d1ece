"""A router's control channels to every controller of a cluster (docs/ha.md, "Routers and the cluster").

The router starts with the address it enrolled with and the endpoints file (``<home>/endpoints.json``);
every hello reply of a cluster member names the members' control channel addresses (``ctrlEndpoints``),
which are added, dropped and saved. Each controller keeps its own view of the data plane (routers,
links, terminators, circuits), so what describes that view goes to every connected controller; a
request that needs one answer (a circuit) goes to one connected controller. The router model and the
router roster follow one controller, the *source*; when it is lost another connected one takes over and
sends its whole model.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import trio

from ziti_aio.common.errors import ChannelClosed, ZitiError
from ziti_aio.pki.files import CERT_MODE, write_file
from ziti_aio.router.ctrl import REQUEST_TIMEOUT_S, CtrlChannel, parse_address
from ziti_aio.wire.ctrl import CtrlType
from ziti_aio.wire.frame import Message

if TYPE_CHECKING:
    from pathlib import Path

    from ziti_aio.router.enroll import RouterHome
    from ziti_aio.transport.channel import Channel

log = logging.getLogger(__name__)

ENDPOINTS_FILE = "endpoints.json"
MAX_ENDPOINTS = 32
TO_EVERY_CONTROLLER = frozenset({CtrlType.CREATE_TERMINATOR, CtrlType.REMOVE_TERMINATOR, CtrlType.LINK_UP,
                                 CtrlType.LINK_DOWN, CtrlType.LINK_METRICS, CtrlType.CIRCUIT_CLOSED})
"""What every controller's view of the data plane needs (a controller ignores a circuit it does not know)."""
FROM_SOURCE_ONLY = frozenset({CtrlType.MODEL_SNAPSHOT, CtrlType.MODEL_EVENT})
"""Numbered by each controller on its own: taken from the source only."""

OnChannelConnected = Callable[[CtrlChannel, dict[str, Any]], Awaitable[None]]
OnChannelMessage = Callable[[CtrlChannel, Message], Awaitable[None]]
OnNewSource = Callable[[CtrlChannel], Awaitable[None]]


def load_endpoints(home: RouterHome) -> list[str]:
    """The control channel addresses saved by an earlier run (none when there is no valid file)."""
    try:
        data = json.loads((home.home / ENDPOINTS_FILE).read_text())
    except (OSError, ValueError):
        return []
    return _valid(data.get("endpoints") if isinstance(data, dict) else None)


def _valid(addresses: object) -> list[str]:
    if not isinstance(addresses, list):
        return []
    out = []
    for address in addresses[:MAX_ENDPOINTS]:
        try:
            if isinstance(address, str):
                parse_address(address)
                out.append(address)
        except ZitiError:
            continue
    return out


class CtrlChannels:
    """One :class:`CtrlChannel` per controller endpoint; a :class:`~ziti_aio.router.ctrl.CtrlNotifier`."""

    def __init__(self, home: RouterHome, *, on_connected: OnChannelConnected, on_message: OnChannelMessage,
                 on_new_source: OnNewSource) -> None:
        self.home = home
        self.on_connected = on_connected
        self.on_message = on_message
        self.on_new_source = on_new_source
        self.channels: dict[str, CtrlChannel] = {}
        self.source: CtrlChannel | None = None
        self._scopes: dict[str, trio.CancelScope] = {}
        self._nursery: trio.Nursery | None = None
        self._hello: dict[str, Any] = {}
        self._first: trio.Event = trio.Event()
        self._first_fields: dict[str, Any] = {}

    @property
    def channel(self) -> Channel | None:
        """The source controller's channel (``None`` while no controller is connected)."""
        return self.source.channel if self.source is not None else None

    @property
    def endpoints(self) -> list[str]:
        return list(self.channels)

    async def run(self, hello_fields: dict[str, Any], *,
                  task_status: trio.TaskStatus[dict[str, Any]] = trio.TASK_STATUS_IGNORED) -> None:
        """Keep a channel to every endpoint; ``task_status`` gets the first hello reply of any of them."""
        self._hello = hello_fields
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for address in [self.home.ctrl_address, *load_endpoints(self.home)]:
                self._add(address)
            await self._first.wait()
            task_status.started(self._first_fields)

    def _add(self, address: str) -> None:
        if address in self.channels or self._nursery is None:
            return
        channel = CtrlChannel(replace(self.home, ctrl_address=address),
                              on_connected=lambda fields: self._connected(channel, fields),
                              on_message=lambda msg: self._message(channel, msg),
                              on_lost=lambda: self._lost(channel))
        self.channels[address] = channel
        scope = self._scopes[address] = trio.CancelScope()

        async def keep() -> None:
            with scope:
                await channel.run(self._hello)

        self._nursery.start_soon(keep)

    async def _connected(self, channel: CtrlChannel, fields: dict[str, Any]) -> None:
        new_source = self.source is None or self.source.channel is None
        if new_source:
            self.source = channel
        await self.on_connected(channel, fields)
        if "ctrlEndpoints" in fields:
            await self.update_endpoints(fields["ctrlEndpoints"])
        if not self._first.is_set():
            self._first_fields = fields
            self._first.set()

    async def update_endpoints(self, listed: object) -> None:
        """The cluster's current members' addresses: channels to new ones, none to those that left; saved
        for the next start. The enrolled address stays (it may be behind a name that moves)."""
        addresses = _valid(listed)
        if not addresses:
            return
        wanted = {*addresses, self.home.ctrl_address}
        for address in wanted:
            self._add(address)
        for address in set(self.channels) - wanted:
            log.info("router %s: controller %s left the cluster; closing its control channel", self.home.id,
                     address)
            self._scopes.pop(address).cancel()
            gone = self.channels.pop(address)
            if self.source is gone:
                await self._lost(gone)
        body = json.dumps({"endpoints": sorted(addresses)}, indent=2).encode()
        path: Path = self.home.home / ENDPOINTS_FILE
        await trio.to_thread.run_sync(write_file, path, body, CERT_MODE)

    async def _message(self, channel: CtrlChannel, msg: Message) -> None:
        if msg.content_type in FROM_SOURCE_ONLY and channel is not self.source:
            if self.source is not None and self.source.channel is not None:
                return
            self.source = channel  # the model a controller sends right after its hello may come first
        await self.on_message(channel, msg)

    async def _lost(self, channel: CtrlChannel) -> None:
        if channel is not self.source:
            return
        self.source = next((c for c in self.channels.values() if c.channel is not None and c is not channel), None)
        if self.source is not None:
            log.info("router %s: following controller %s now", self.home.id, self.source.home.ctrl_address)
            await self.on_new_source(self.source)

    def _connected_channels(self) -> list[CtrlChannel]:
        preferred = [self.source] if self.source is not None and self.source.channel is not None else []
        return preferred + [c for c in self.channels.values() if c.channel is not None and c is not self.source]

    async def request(self, ctype: CtrlType, *, timeout_s: float = REQUEST_TIMEOUT_S, **fields: Any) -> dict[str, Any]:
        """One controller's answer (the source's if it is connected, else the next one's). A
        :data:`TO_EVERY_CONTROLLER` request goes to all of them and the first success answers at once;
        the others are still asked in the background, so a member that hangs without closing its channel
        (``SIGSTOP``) holds nothing up (docs/ha.md, "Routers and the cluster")."""
        channels = self._connected_channels()
        if not channels:
            raise ChannelClosed("no control channel to any controller")
        if ctype not in TO_EVERY_CONTROLLER or self._nursery is None:
            return await channels[0].request(ctype, timeout_s=timeout_s, **fields)
        # room for every answer: an answer after the first success never blocks
        results, answers = trio.open_memory_channel[dict[str, Any] | ZitiError](len(channels))

        async def ask(channel: CtrlChannel) -> None:
            try:
                results.send_nowait(await channel.request(ctype, timeout_s=timeout_s, **fields))
            except ZitiError as exc:
                log.info("router %s: %s to %s failed: %s", self.home.id, ctype.name, channel.home.ctrl_address,
                         exc.message)
                results.send_nowait(exc)

        for channel in channels:
            self._nursery.start_soon(ask, channel)
        errors: list[ZitiError] = []
        for _ in channels:
            answer = await answers.receive()
            if not isinstance(answer, ZitiError):
                return answer
            errors.append(answer)
        raise errors[0]

    async def send(self, ctype: CtrlType, **fields: Any) -> None:
        """A notice to the source controller, or to every controller for :data:`TO_EVERY_CONTROLLER`."""
        channels = self._connected_channels()
        for channel in channels if ctype in TO_EVERY_CONTROLLER else channels[:1]:
            await channel.send(ctype, **fields)

    async def notify(self, ctype: CtrlType, **fields: Any) -> None:
        """:meth:`send`, each channel shielded and bounded as :meth:`CtrlChannel.notify`."""
        channels = self._connected_channels()
        for channel in channels if ctype in TO_EVERY_CONTROLLER else channels[:1]:
            await channel.notify(ctype, **fields)
