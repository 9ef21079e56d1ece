"""Host mode: bind every service the identity may Bind that has a host.v1/host.v2 config.

Each accepted overlay connection dials the real server named by the config: fixed
``protocol``/``address``/``port``, or (``forwardProtocol``/``forwardAddress``/``forwardPort``)
the destination the intercepting tunneler put in the dial's app data (``dst_protocol``,
``dst_hostname`` or ``dst_ip``, ``dst_port``), checked against ``allowedProtocols``,
``allowedAddresses`` and ``allowedPortRanges``. A host.v2 config binds once per terminator.
The set of hosted services follows the identity's service list as it changes.
"""

from __future__ import annotations

import json
import logging
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio

from ziti_aio.common.errors import ConfigError, ZitiError
from ziti_aio.tunnel.addresses import AddressPattern, PortRange, parse_patterns, parse_port_ranges
from ziti_aio.tunnel.relay import relay, relay_datagrams

if TYPE_CHECKING:
    from ziti_aio.sdk.client_api import Service
    from ziti_aio.sdk.conn import ZitiStream
    from ziti_aio.sdk.context import ZitiContext

log = logging.getLogger(__name__)

HOST_CONFIG_TYPES = ("host.v1", "host.v2")
PROTOCOLS = ("tcp", "udp")
DEFAULT_CONNECT_TIMEOUT_S = 5.0
MAX_APP_DATA_BYTES = 64 * 1024
REBIND_BACKOFF_MIN_S = 1.0
REBIND_BACKOFF_MAX_S = 60.0


class HostRefused(ZitiError):
    """A dial asked for a destination its host config does not allow (or named none)."""

    code = "HOST_REFUSED"
    http_status = 400


@dataclass(frozen=True)
class HostTerminator:
    """One host.v1 config (or one entry of a host.v2 ``terminators`` list), validated."""

    protocol: str | None
    address: str | None
    port: int | None
    allowed_protocols: tuple[str, ...] = ()
    allowed_addresses: tuple[AddressPattern, ...] = ()
    allowed_port_ranges: tuple[PortRange, ...] = ()
    forward_protocol: bool = False
    forward_address: bool = False
    forward_port: bool = False
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S

    @classmethod
    def parse(cls, data: Any) -> HostTerminator:
        if not isinstance(data, dict):
            raise ConfigError(f"a host config must be an object, not {data!r}")
        fwd_proto, fwd_addr, fwd_port = (data.get(k) is True for k in ("forwardProtocol", "forwardAddress",
                                                                         "forwardPort"))
        protocol = data.get("protocol")
        if not fwd_proto and protocol not in PROTOCOLS:
            raise ConfigError(f"host config protocol must be tcp or udp (or forwardProtocol), not {protocol!r}")
        allowed_protocols = tuple(data.get("allowedProtocols") or ())
        if any(p not in PROTOCOLS for p in allowed_protocols):
            raise ConfigError(f"allowedProtocols may hold only tcp and udp, not {allowed_protocols!r}")
        address = data.get("address")
        if not fwd_addr and (not isinstance(address, str) or not address):
            raise ConfigError("host config needs an address (or forwardAddress)")
        port = data.get("port")
        if not fwd_port and not (isinstance(port, int) and not isinstance(port, bool) and 0 < port <= 65535):
            raise ConfigError(f"host config port must be 1-65535 (or forwardPort), not {port!r}")
        options = data.get("listenOptions") or {}
        timeout = options.get("connectTimeoutSeconds", DEFAULT_CONNECT_TIMEOUT_S)
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
            raise ConfigError(f"listenOptions.connectTimeoutSeconds must be positive, not {timeout!r}")
        return cls(protocol=None if fwd_proto else protocol, address=None if fwd_addr else address,
                   port=None if fwd_port else port, allowed_protocols=allowed_protocols,
                   allowed_addresses=parse_patterns(data.get("allowedAddresses") or ()),
                   allowed_port_ranges=parse_port_ranges(data.get("allowedPortRanges") or ()),
                   forward_protocol=fwd_proto, forward_address=fwd_addr, forward_port=fwd_port,
                   connect_timeout_s=float(timeout))

    def target(self, app_data: bytes | None) -> tuple[str, str, int]:
        """``(protocol, address, port)`` to dial for a connection whose dial carried ``app_data``."""
        wanted = _app_data(app_data) if self.forward_protocol or self.forward_address or self.forward_port else {}
        protocol = self.protocol or str(wanted.get("dst_protocol", "")).lower()
        if self.forward_protocol and protocol not in self.allowed_protocols:
            raise HostRefused(f"protocol {protocol or '(none)'!r} is not in allowedProtocols")
        address = self.address or str(wanted.get("dst_hostname") or wanted.get("dst_ip") or "")
        if self.forward_address and not any(p.matches(address) for p in self.allowed_addresses):
            raise HostRefused(f"address {address or '(none)'!r} is not in allowedAddresses")
        port = self.port
        if port is None:
            try:
                port = int(wanted.get("dst_port", ""))
            except (TypeError, ValueError):
                raise HostRefused(f"the dial names no usable dst_port: {wanted.get('dst_port')!r}") from None
            if not any(port in r for r in self.allowed_port_ranges):
                raise HostRefused(f"port {port} is not in allowedPortRanges")
        return protocol, address, port


def _app_data(raw: bytes | None) -> dict[str, Any]:
    if not raw:
        raise HostRefused("the config forwards the destination, but the dial carried no app data")
    if len(raw) > MAX_APP_DATA_BYTES:
        raise HostRefused(f"the dial's app data is over {MAX_APP_DATA_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise HostRefused("the dial's app data is not JSON") from None
    if not isinstance(data, dict):
        raise HostRefused("the dial's app data is not a JSON object")
    return data


def host_terminators(service: Service) -> list[HostTerminator]:
    """The terminators ``service``'s host.v2 (preferred) or host.v1 config asks for."""
    if "host.v2" in service.config:
        entries = (service.config["host.v2"] or {}).get("terminators")
        if not isinstance(entries, list) or not entries:
            raise ConfigError("host.v2 config needs a non-empty terminators list")
        return [HostTerminator.parse(entry) for entry in entries]
    return [HostTerminator.parse(service.config["host.v1"])]


async def _serve(stream: ZitiStream, term: HostTerminator, what: str) -> None:
    try:
        protocol, address, port = term.target(stream.app_data)
        what = f"{what} -> {protocol}:{address}:{port}"
        with trio.fail_after(term.connect_timeout_s):
            if protocol == "tcp":
                server: trio.abc.Stream | trio.socket.SocketType = await trio.open_tcp_stream(address, port)
            else:
                info = await trio.socket.getaddrinfo(address, port, type=socket.SOCK_DGRAM)
                server = trio.socket.socket(info[0][0], socket.SOCK_DGRAM)
                await server.connect(info[0][4])
    except (HostRefused, OSError, trio.TooSlowError) as exc:
        reason = exc.message if isinstance(exc, ZitiError) else str(exc) or "connect timed out"
        log.warning("%s: refusing the connection: %s", what, reason)
        await stream.aclose()
        return
    if isinstance(server, trio.abc.Stream):
        await relay(stream, server, what=what)
    else:
        await relay_datagrams(stream, server, what=what)


async def host_service(ctx: ZitiContext, service: Service, term: HostTerminator, index: int, *,
                       task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Bind ``service`` for one terminator and serve it; binds again with backoff if binding fails."""
    what = f"host {service.name}[{index}]"
    backoff = REBIND_BACKOFF_MIN_S
    while True:
        try:
            listener = await ctx.bind(service.name)
        except ZitiError as exc:
            log.warning("%s: bind failed (retrying in %.0f s): %s", what, backoff, exc.message)
            task_status.started()
            task_status = trio.TASK_STATUS_IGNORED
            await trio.sleep(backoff)
            backoff = min(backoff * 2, REBIND_BACKOFF_MAX_S)
            continue
        log.info("%s: hosting", what)
        task_status.started()
        task_status = trio.TASK_STATUS_IGNORED
        try:
            async with trio.open_nursery() as nursery:
                while True:
                    stream = await listener.accept()
                    nursery.start_soon(_serve, stream, term, f"{what} from {stream.peer or '?'}")
        except trio.ClosedResourceError:
            log.info("%s: listener closed; binding again in %.0f s", what, REBIND_BACKOFF_MIN_S)
        finally:
            await listener.aclose()
        await trio.sleep(REBIND_BACKOFF_MIN_S)


def _wanted(ctx: ZitiContext) -> dict[tuple[str, int, str], tuple[Service, HostTerminator]]:
    """``(service id, index, config json)`` -> what to host, for every hostable service."""
    wanted = {}
    for service in ctx.services.values():
        if "Bind" not in service.permissions or not set(HOST_CONFIG_TYPES) & set(service.config):
            continue
        try:
            terms = host_terminators(service)
        except ConfigError as exc:
            log.error("not hosting service %r: invalid host config: %s", service.name, exc.message)
            continue
        raw = json.dumps({k: service.config.get(k) for k in HOST_CONFIG_TYPES}, sort_keys=True)
        for index, term in enumerate(terms):
            wanted[(service.id, index, raw)] = (service, term)
    return wanted


async def run_host(ctx: ZitiContext, *, task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED) -> None:
    """Host what the identity may host; started (with the service names) once each got a first bind try."""
    running: dict[tuple[str, int, str], trio.CancelScope] = {}

    async def one(key: tuple[str, int, str], service: Service, term: HostTerminator,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        with running[key]:
            await host_service(ctx, service, term, key[1], task_status=task_status)

    async with trio.open_nursery() as nursery:
        while True:
            wanted = _wanted(ctx)
            for key in set(running) - set(wanted):
                log.info("no longer hosting service id %s[%d]", key[0], key[1])
                running.pop(key).cancel()
            for key in sorted(set(wanted) - set(running)):
                running[key] = trio.CancelScope()
                await nursery.start(one, key, *wanted[key])
            if task_status is not trio.TASK_STATUS_IGNORED:
                task_status.started(sorted({service.name for service, _ in wanted.values()}))
                task_status = trio.TASK_STATUS_IGNORED
            await ctx.wait_services_changed()
