"""Hosting a service: :class:`ZitiListener`, a trio :class:`~trio.abc.Listener` of :class:`ZitiStream`.

The listener binds on every router its Bind session allows, under one bind conn id, with a
fresh key pair per Bind when the service requires encryption. It keeps each binding alive:
a lost router channel or a StateClosed from the router (which libziti also reads as
"rebind") starts a new Bind with a new session, with backoff. Dials are queued (bounded,
:data:`ACCEPT_BACKLOG`; beyond it they are refused with DialFailed) and answered only when
the application calls :meth:`ZitiListener.accept`, as zitilib does.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from ziti_aio.common.errors import ChannelClosed, ChannelError, ZitiError
from ziti_aio.sdk.conn import ZitiStream
from ziti_aio.sdk.router_channel import RouterChannel, wait_any
from ziti_aio.wire import edge
from ziti_aio.wire.content import EdgeContentType
from ziti_aio.wire.e2e import KeyPair, generate_key_pair, host_session_keys
from ziti_aio.wire.errors import WireProtocolError
from ziti_aio.wire.frame import Message
from ziti_aio.wire.headers import Precedence

if TYPE_CHECKING:
    from ziti_aio.sdk.client_api import Service, Session
    from ziti_aio.sdk.context import ZitiContext

log = logging.getLogger(__name__)

ACCEPT_BACKLOG = 64
BIND_TIMEOUT_S = 10.0
DIAL_SUCCESS_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 5.0
REBIND_BACKOFF_MIN_S = 0.5
REBIND_BACKOFF_MAX_S = 30.0

_PRECEDENCES = {"default": Precedence.DEFAULT, "required": Precedence.REQUIRED, "failed": Precedence.FAILED}

PendingDial = tuple[RouterChannel, Message, KeyPair | None]


def hosting_terms(identity: dict[str, Any], service_id: str) -> tuple[int, Precedence]:
    """Cost and precedence for hosting ``service_id``: per-service values, else the identity's defaults."""
    cost = (identity.get("serviceHostingCosts") or {}).get(service_id, identity.get("defaultHostingCost") or 0)
    name = (identity.get("serviceHostingPrecedences") or {}).get(service_id,
                                                                 identity.get("defaultHostingPrecedence"))
    return int(cost), _PRECEDENCES.get(str(name).lower(), Precedence.DEFAULT)


@dataclass
class _FirstRound:
    """Outcome of each router's first Bind attempt; ``done`` once one succeeded or all failed."""

    routers: int
    errors: list[str] = field(default_factory=list)
    done: trio.Event = field(default_factory=trio.Event)
    succeeded: bool = False

    def report(self, error: str | None) -> None:
        if self.done.is_set():
            return
        if error is None:
            self.succeeded = True
        else:
            self.errors.append(error)
        if self.succeeded or len(self.errors) == self.routers:
            self.done.set()


class ZitiListener(trio.abc.Listener[ZitiStream]):
    """Accepts connections to ``service``; create with ``ctx.bind(name)``."""

    def __init__(self, ctx: ZitiContext, service: Service, *, cost: int, precedence: Precedence,
                 by_model: bool = False) -> None:
        self.service = service
        self._by_model = by_model  # binding with router-model tokens; dropped after a router refused one
        self._ctx = ctx
        self._conn_id = ctx.next_conn_id()
        self._cost = cost
        self._precedence = precedence
        self._queue_send, self._queue = trio.open_memory_channel[PendingDial](ACCEPT_BACKLOG)
        self._bound: dict[RouterChannel, None] = {}
        self._maintained: set[str] = set()
        self._nursery: trio.Nursery | None = None
        self._scope = trio.CancelScope()
        self._closed = False

    def __repr__(self) -> str:
        return f"<ZitiListener {self.service.name} bind conn {self._conn_id}>"

    @property
    def routers(self) -> list[str]:
        """URLs of the routers this listener is bound on right now."""
        return [router.url for router in self._bound]

    async def run(self, first_session: Session, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        """Bind everywhere and keep the bindings; started once at least one router accepted the Bind."""
        first = _FirstRound(len(first_session.router_urls))
        with self._scope:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                self._follow(first_session, first)
                await first.done.wait()
                if first.succeeded:
                    task_status.started()
                else:
                    nursery.cancel_scope.cancel()
        if not first.succeeded:
            raise ChannelClosed(f"binding service {self.service.name!r} failed on every router: "
                                + "; ".join(first.errors))

    def _follow(self, session: Session, first: _FirstRound | None = None) -> None:
        """Keep a binding on every router ``session`` lists that has none yet."""
        assert self._nursery is not None
        for url in session.router_urls:
            if url not in self._maintained:
                self._maintained.add(url)
                self._nursery.start_soon(self._keep_bound, url, session.token, first)

    async def _keep_bound(self, url: str, token: str, first: _FirstRound | None) -> None:
        """Bind on ``url``, and bind again (new session, backoff) whenever the binding is lost."""
        attempt = 0
        while True:
            try:
                router = await self._ctx.router(url)
                if edge.model_service(token) is not None and not router.router_model:
                    token = (await self._ctx.session(self.service, "Bind", by_model=False)).token
                unbound = await self._bind(router, token)
            except ZitiError as exc:
                log.info("%s: bind on %s failed: %s", self, url, exc.message)
                if edge.model_service(token) is not None:
                    self._by_model = False
                if first is not None:
                    first.report(f"{url}: {exc.message}")
                    first = None
            else:
                if first is not None:
                    first.report(None)
                    first = None
                attempt = 0
                await wait_any((unbound, router.closed))
                self._bound.pop(router, None)
                router.unregister_bind(self._conn_id)
                log.info("%s: binding on %s lost; binding again", self, url)
            await trio.sleep(min(REBIND_BACKOFF_MAX_S, REBIND_BACKOFF_MIN_S * 2**attempt))
            attempt += 1
            try:
                session = await self._ctx.session(self.service, "Bind", by_model=self._by_model)
            except ZitiError as exc:
                log.info("%s: no new Bind session: %s", self, exc.message)
                continue
            token = session.token
            self._follow(session)
            if url not in session.router_urls:
                self._maintained.discard(url)
                return

    async def _bind(self, router: RouterChannel, token: str) -> trio.Event:
        """One Bind on ``router``; returns the event the router's StateClosed (unbind) sets."""
        keys = generate_key_pair() if self.service.encryption_required else None
        unbound = trio.Event()

        async def on_message(router: RouterChannel, msg: Message) -> None:
            if msg.content_type == EdgeContentType.DIAL:
                await self._on_dial(router, msg, keys)
            elif msg.content_type == EdgeContentType.STATE_CLOSED:
                unbound.set()

        router.register_bind(self._conn_id, on_message)
        msg = edge.bind(self._conn_id, token, self._ctx.identity_name, public_key=None if keys is None else keys.public,
                        cost=self._cost, precedence=self._precedence)
        try:
            reply = await router.request(msg, timeout_s=BIND_TIMEOUT_S)
            if reply.content_type == EdgeContentType.STATE_CLOSED:
                reason = edge.parse_state_closed(reply).reason
                raise ChannelClosed(f"router {router.url} refused to bind {self.service.name!r}: {reason}")
            edge.parse_state_connected(reply)
        except BaseException:
            router.unregister_bind(self._conn_id)
            raise
        self._bound[router] = None
        return unbound

    async def _on_dial(self, router: RouterChannel, msg: Message, keys: KeyPair | None) -> None:
        """In the router's reader: queue the Dial for accept(), or refuse it at once."""
        try:
            self._queue_send.send_nowait((router, msg, keys))
        except trio.WouldBlock:
            await router.send(edge.dial_failed(self._conn_id, msg.sequence, "accept backlog is full"))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            await router.send(edge.dial_failed(self._conn_id, msg.sequence, "listener closed"))

    async def accept(self) -> ZitiStream:
        """The next connection: answers a queued Dial with DialSuccess, waits for the router's
        StateConnected, then (encrypted) sends our stream header. Failed Dials are skipped."""
        while True:
            try:
                router, msg, keys = await self._queue.receive()
            except trio.EndOfChannel as exc:
                raise trio.ClosedResourceError(f"{self} is closed") from exc
            try:
                return await self._accept(router, msg, keys)
            except (ZitiError, trio.BrokenResourceError) as exc:
                log.info("%s: dial via %s not accepted: %s", self, router.url, exc)

    async def _accept(self, router: RouterChannel, msg: Message, keys: KeyPair | None) -> ZitiStream:
        try:
            dial = edge.parse_dial(msg)
            if keys is not None and dial.public_key is None:
                raise WireProtocolError("the service requires encryption and the dial carries no public key")
            session_keys = None if keys is None else host_session_keys(keys, dial.public_key)  # type: ignore[arg-type]
        except WireProtocolError as exc:
            await router.send(edge.dial_failed(self._conn_id, msg.sequence, exc.message))
            raise
        conn_id = self._ctx.next_conn_id()
        inbound = router.register_conn(conn_id)
        try:
            reply = await router.request(edge.dial_success(self._conn_id, msg.sequence, conn_id),
                                         timeout_s=DIAL_SUCCESS_TIMEOUT_S)
            if reply.content_type != EdgeContentType.STATE_CONNECTED:
                raise ChannelClosed(f"router {router.url} dropped the dial: {reply.body.decode(errors='replace')}")
            stream = ZitiStream(router, conn_id, inbound, service=self.service.name, peer=dial.caller_id or "",
                                keys=session_keys, app_data=dial.app_data)
            await stream.start()
        except BaseException:
            router.unregister_conn(conn_id)
            raise
        return stream

    async def aclose(self) -> None:
        """Unbind (StateClosed on the bind conn id, as libziti), refuse queued Dials, stop rebinding."""
        if self._closed:
            await trio.lowlevel.checkpoint()
            return
        self._closed = True
        self._scope.cancel()
        self._queue_send.close()
        with trio.CancelScope(shield=True), trio.move_on_after(CLOSE_TIMEOUT_S):
            for router in list(self._bound):
                router.unregister_bind(self._conn_id)
                await _try_send(router, edge.state_closed(self._conn_id))
            self._bound.clear()
            while True:
                try:
                    router, msg, _ = self._queue.receive_nowait()
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
                await _try_send(router, edge.dial_failed(self._conn_id, msg.sequence, "listener closed"))
        self._queue.close()
        self._ctx.forget_listener(self)


async def _try_send(router: RouterChannel, msg: Message) -> None:
    with contextlib.suppress(ChannelError):
        await router.send(msg)
