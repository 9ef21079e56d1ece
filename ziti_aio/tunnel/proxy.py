"""Proxy mode: ``SERVICE:PORT`` listens on a local TCP port and carries each connection over the service.

Every accepted TCP connection dials the service through the SDK (one overlay connection per
TCP connection) and is relayed both ways with half-close. A dial that fails (no Dial
permission, no terminator, no router) closes that one TCP connection with a log line saying
why; the listener keeps serving. A service the identity cannot see or dial at start is
reported then (:func:`dial_problems`), not only when something connects.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from ziti_aio.common.errors import ConfigError, ZitiError, listen_failed
from ziti_aio.tunnel.relay import relay

if TYPE_CHECKING:
    from ziti_aio.sdk.context import ZitiContext

log = logging.getLogger(__name__)

DIAL_DEADLINE_S = 30.0
MAX_CONNECTIONS = 1024
"""Concurrent proxied connections per listener; beyond it new TCP connections wait in the backlog."""


@dataclass(frozen=True)
class ProxySpec:
    """One ``SERVICE:PORT`` argument."""

    service: str
    port: int

    @classmethod
    def parse(cls, text: str) -> ProxySpec:
        service, sep, port = text.rpartition(":")
        if not sep or not service or not (port.isascii() and port.isdigit()) or not 0 <= int(port) <= 65535:
            raise ConfigError(f"proxy argument must be SERVICE:PORT (port 0-65535), not {text!r}")
        return cls(service, int(port))


class ServiceProxy:
    """Listens on ``host:spec.port`` and forwards each connection to ``spec.service``."""

    def __init__(self, ctx: ZitiContext, spec: ProxySpec, *, host: str = "127.0.0.1") -> None:
        self.ctx = ctx
        self.spec = spec
        self.host = host
        self._limit = trio.CapacityLimiter(MAX_CONNECTIONS)

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen; ``task_status.started(port)`` with the bound port (useful with port 0)."""
        try:
            listeners = await trio.open_tcp_listeners(self.spec.port, host=self.host)
        except OSError as exc:
            raise listen_failed(self.host, self.spec.port, exc) from exc
        port = listeners[0].socket.getsockname()[1]
        log.info("proxy for service %r listening on %s:%d", self.spec.service, self.host, port)
        async with trio.open_nursery() as nursery:
            task_status.started(port)
            try:
                while True:
                    slot = object()
                    await self._limit.acquire_on_behalf_of(slot)
                    stream = await listeners[0].accept()
                    nursery.start_soon(self._serve, stream, slot)
            finally:
                for listener in listeners:
                    await trio.aclose_forcefully(listener)

    async def _serve(self, stream: trio.SocketStream, slot: object) -> None:
        try:
            host, port = stream.socket.getpeername()[:2]
            peer = f"{host}:{port}"
            what = f"proxy {peer} -> {self.spec.service}"
            try:
                with trio.fail_after(DIAL_DEADLINE_S):
                    remote = await self.ctx.dial(self.spec.service)
            except (ZitiError, trio.TooSlowError) as exc:
                reason = exc.message if isinstance(exc, ZitiError) else f"no answer in {DIAL_DEADLINE_S:g} s"
                log.warning("%s: dial refused, closing the connection: %s", what, reason)
                await trio.aclose_forcefully(stream)
                return
            await relay(stream, remote, what=what)
        finally:
            self._limit.release_on_behalf_of(slot)


async def run_proxies(ctx: ZitiContext, specs: list[ProxySpec], *, host: str = "127.0.0.1",
                      task_status: trio.TaskStatus[dict[str, int]] = trio.TASK_STATUS_IGNORED) -> None:
    """Run one :class:`ServiceProxy` per spec; started with ``{"service:port": bound port}``."""
    if not specs:
        raise ConfigError("proxy mode needs at least one SERVICE:PORT")
    async with trio.open_nursery() as nursery:
        ports = {}
        for spec in specs:
            ports[f"{spec.service}:{spec.port}"] = await nursery.start(ServiceProxy(ctx, spec, host=host).run)
        task_status.started(ports)


async def dial_problems(ctx: ZitiContext, specs: list[ProxySpec]) -> dict[str, str]:
    """Why each proxied service this identity cannot see or dial now cannot be dialed, by service name.

    Its listener still serves: a policy created later makes it work without a restart.
    """
    problems = {}
    for spec in specs:
        try:
            await ctx.service(spec.service, "Dial")
        except ZitiError as exc:
            problems[spec.service] = exc.message
            log.warning("proxy for service %r: %s; connections are closed until it can dial", spec.service,
                        exc.message)
    return problems
