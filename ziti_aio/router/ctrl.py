"""The router's control channel to the controller: mTLS, hello, requests, reconnect with backoff.

The router's parts see the controller only as a :class:`CtrlNotifier` (requests and notices);
what the controller sends goes to the ``on_message`` callback (the table in
:mod:`ziti_aio.router.handlers`).
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

import trio

from ziti_aio.common.errors import ChannelClosed, ChannelError, ConfigError, ZitiError
from ziti_aio.transport import alpn
from ziti_aio.transport.channel import Channel, connect_channel
from ziti_aio.transport.tls import client_context, open_tls
from ziti_aio.wire import ctrl
from ziti_aio.wire.frame import Message

if TYPE_CHECKING:
    from ziti_aio.router.enroll import RouterHome
    from ziti_aio.wire.ctrl import CtrlType

log = logging.getLogger(__name__)

HELLO_TIMEOUT_S = 10.0
REQUEST_TIMEOUT_S = 10.0
BACKOFF_MIN_S = 0.2
BACKOFF_MAX_S = 10.0
CTRL_NOTICE_TIMEOUT_S = 2.0
"""How long a notice (circuit closed, terminator removed, link down) may wait for the channel."""

OnConnected = Callable[[dict[str, Any]], Awaitable[None]]
OnMessage = Callable[[Message], Awaitable[None]]
OnLost = Callable[[], Awaitable[None]]


class CtrlNotifier(Protocol):
    """What the router's parts need of the controller: requests with replies, and notices."""

    async def request(self, ctype: CtrlType, *, timeout_s: float = REQUEST_TIMEOUT_S,
                      **fields: Any) -> dict[str, Any]: ...

    async def send(self, ctype: CtrlType, **fields: Any) -> None: ...

    async def notify(self, ctype: CtrlType, **fields: Any) -> None: ...


class CtrlRefused(ZitiError):
    """The controller answered a request with an error; ``remote_code`` is its code."""

    code = "CTRL_REFUSED"
    http_status = 503

    def __init__(self, remote_code: str, message: str) -> None:
        super().__init__(message)
        self.remote_code = remote_code


def parse_address(address: str) -> tuple[str, int]:
    """``tls:host:port`` (host may be ``[v6]``) as ``(host, port)``."""
    scheme, _, rest = address.partition(":")
    host, _, port = rest.rpartition(":")
    if scheme != "tls" or not host or not port.isdigit():
        raise ConfigError(f"control channel address {address!r} is not tls:host:port")
    return host.strip("[]"), int(port)


class CtrlChannel:
    """Keeps one control channel open; :meth:`request`, :meth:`send`, :meth:`notify` and
    :meth:`answer` use the current one."""

    def __init__(self, home: RouterHome, *, on_connected: OnConnected, on_message: OnMessage,
                 on_lost: OnLost | None = None) -> None:
        self.home = home
        self.on_connected = on_connected
        self.on_message = on_message
        self.on_lost = on_lost
        self.channel: Channel | None = None
        # the protocol name lets the controller serve its API and the control channel on one port
        self._ssl = client_context(ca=str(home.ca), cert_chain=str(home.cert), key=str(home.key), alpn=[alpn.CTRL])

    async def run(self, hello_fields: dict[str, Any], *,
                  task_status: trio.TaskStatus[dict[str, Any]] = trio.TASK_STATUS_IGNORED) -> None:
        """Connect with a hello of ``hello_fields``, and reconnect after every loss; ``task_status``
        gets the first hello reply."""
        host, port = parse_address(self.home.ctrl_address)
        backoff = BACKOFF_MIN_S
        while True:
            try:
                stream = await open_tls(host, port, self._ssl)
                channel, reply = await connect_channel(stream, ctrl.hello(**hello_fields),
                                                       name=f"ctrl:{self.home.id}", timeout_s=HELLO_TIMEOUT_S)
                fields = ctrl.parse(reply)
            except ZitiError as exc:
                log.warning("router %s: control channel to %s:%d failed: %s; retrying in %.1f s",
                            self.home.id, host, port, exc.message, backoff)
                await trio.sleep(backoff * (0.5 + random.random() / 2))
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            backoff = BACKOFF_MIN_S
            await self._serve(channel, fields, task_status)
            task_status = trio.TASK_STATUS_IGNORED

    async def _serve(self, channel: Channel, fields: dict[str, Any],
                     task_status: trio.TaskStatus[dict[str, Any]]) -> None:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(channel.run, self.on_message)
                self.channel = channel
                await self.on_connected(fields)
                log.info("router %s: control channel up", self.home.id)
                task_status.started(fields)
                await channel.closed.wait()
        finally:
            self.channel = None
            await channel.aclose()
        log.warning("router %s: control channel to %s lost", self.home.id, self.home.ctrl_address)
        if self.on_lost is not None:
            await self.on_lost()

    async def request(self, ctype: CtrlType, *, timeout_s: float = REQUEST_TIMEOUT_S, **fields: Any) -> dict[str, Any]:
        """Send a request and return the reply's fields; :class:`CtrlRefused` on an error reply,
        :class:`ChannelError` when there is no control channel or no reply in time."""
        channel = self.channel
        if channel is None:
            raise ChannelClosed("no control channel to the controller")
        answer = ctrl.parse(await channel.request(ctrl.message(ctype, **fields), timeout_s=timeout_s))
        if not answer.get("ok"):
            raise CtrlRefused(str(answer.get("code", "")), str(answer.get("message", "refused")))
        return answer

    async def send(self, ctype: CtrlType, **fields: Any) -> None:
        """Send a notice; lost if the control channel is down (the controller then cleans up itself)."""
        channel = self.channel
        if channel is None:
            return
        with contextlib.suppress(ChannelError):
            await channel.send(ctrl.message(ctype, **fields))

    async def notify(self, ctype: CtrlType, **fields: Any) -> None:
        """:meth:`send`, shielded from cancellation and bounded by :data:`CTRL_NOTICE_TIMEOUT_S`: a
        notice that something closed still goes out while its sender is torn down."""
        with trio.CancelScope(shield=True), trio.move_on_after(CTRL_NOTICE_TIMEOUT_S):
            await self.send(ctype, **fields)

    async def answer(self, reply: Message) -> None:
        """Send the reply to a request of the controller's (lost if the channel is down)."""
        channel = self.channel
        if channel is not None:
            with contextlib.suppress(ChannelError):
                await channel.send(reply)
