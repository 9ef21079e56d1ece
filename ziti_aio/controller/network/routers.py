"""Routers connected over the control channel, and what the REST layer shows of them."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from ziti_aio.common.errors import ChannelClosed
from ziti_aio.controller.model.fields import now_text
from ziti_aio.wire.frame import Message

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ziti_aio.transport.channel import Channel

log = logging.getLogger(__name__)

PUSH_QUEUE_MESSAGES = 1024


@dataclass
class ConnectedRouter:
    """One router's live control channel.

    Messages the controller pushes (revocations, circuit closes) go through a bounded queue
    drained by one task; a router that cannot keep up is disconnected (it reconnects and gets
    the full state again) rather than buffered without bound.
    """

    id: str
    name: str
    channel: Channel
    edge_address: str
    hostname: str
    version: str
    link_address: str = ""
    connected_at: str = field(default_factory=now_text)

    def __post_init__(self) -> None:
        self._push_send, self._push_recv = trio.open_memory_channel[Message](PUSH_QUEUE_MESSAGES)

    def push(self, msg: Message) -> None:
        """Queue ``msg`` for the router without waiting."""
        try:
            self._push_send.send_nowait(msg)
        except trio.WouldBlock:
            log.warning("router %s: push queue full, disconnecting it", self.name)
            self._push_send.close()
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass

    def disconnect(self) -> None:
        """Ask the connection's handler to close the channel (the router entity went away)."""
        self._push_send.close()

    async def run_pusher(self) -> None:
        """Send queued messages; returns when the channel closes or the queue overflowed."""
        async with self._push_recv:
            try:
                async for msg in self._push_recv:
                    await self.channel.send(msg)
            except ChannelClosed:
                return

    def state(self) -> dict[str, Any]:
        """``ApiContext.router_state`` for an online router."""
        return {"isOnline": True, "supportedProtocols": {"tls": self.edge_address} if self.edge_address else {},
                "hostname": self.hostname, "syncStatus": "SYNC_DONE",
                "versionInfo": {"version": self.version, "revision": "", "buildDate": "", "os": "", "arch": ""}}


class Routers:
    """Connected routers by id."""

    def __init__(self) -> None:
        self._by_id: dict[str, ConnectedRouter] = {}

    def __iter__(self) -> Iterator[ConnectedRouter]:
        return iter(list(self._by_id.values()))

    def get(self, router_id: str) -> ConnectedRouter | None:
        return self._by_id.get(router_id)

    def online_ids(self) -> set[str]:
        return set(self._by_id)

    def add(self, router: ConnectedRouter) -> ConnectedRouter | None:
        """Register ``router``; returns the connection it replaces, if any."""
        old = self._by_id.get(router.id)
        self._by_id[router.id] = router
        return old

    def remove(self, router: ConnectedRouter) -> bool:
        """Unregister ``router`` unless a newer connection already replaced it."""
        if self._by_id.get(router.id) is router:
            del self._by_id[router.id]
            return True
        return False

    def state(self, router_id: str) -> dict[str, Any]:
        router = self._by_id.get(router_id)
        if router is None:
            return {"isOnline": False, "supportedProtocols": {}, "syncStatus": "SYNC_UNKNOWN", "versionInfo": None}
        return router.state()
