"""Tproxy mode: intercept the intercept.v1 addresses of every dialable service, and host as host mode does.

Hostnames (wildcards included) resolve through our DNS server to addresses from the service
range; IPs and CIDRs are intercepted as they are. TPROXY rules (:mod:`.intercept`) bring
matching TCP connections and UDP datagrams to transparent sockets on 127.0.0.1; each TCP
connection, and each UDP flow (source, destination), dials its service with the original
destination in the app data (``dst_protocol``, ``dst_ip``, ``dst_port``, ``dst_hostname``)
for hosts that forward it. Rules follow service changes and are removed on exit.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import trio

from ziti_aio.common.errors import ConfigError, ZitiError
from ziti_aio.tunnel.addresses import (
    AddressPattern,
    IPAddress,
    PortRange,
    parse_ip,
    parse_patterns,
    parse_port_ranges,
)
from ziti_aio.tunnel.dns_server import DnsServer, NamePool
from ziti_aio.tunnel.host import run_host
from ziti_aio.tunnel.intercept import Intercept, InterceptRule
from ziti_aio.tunnel.relay import relay

if TYPE_CHECKING:
    from ziti_aio.sdk.context import ZitiContext

Address = tuple[str, int]
"""An IPv4 socket address, ``(ip, port)``."""

log = logging.getLogger(__name__)

DIAL_DEADLINE_S = 30.0
IP_RECVORIGDSTADDR = 20  # also IP_ORIGDSTADDR, the ancillary message type (linux/in.h)
MAX_UDP_FLOWS = 1024
UDP_FLOW_QUEUE = 64
UDP_IDLE_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class InterceptSpec:
    """One service's validated intercept.v1 config."""

    service: str
    protocols: tuple[str, ...]
    addresses: tuple[AddressPattern, ...]
    ports: tuple[PortRange, ...]

    @classmethod
    def parse(cls, service: str, data: object) -> InterceptSpec:
        if not isinstance(data, dict):
            raise ConfigError("intercept.v1 config must be an object")
        protocols = tuple(data.get("protocols") or ())
        if not protocols or any(p not in ("tcp", "udp") for p in protocols):
            raise ConfigError(f"intercept.v1 protocols must be tcp and/or udp, not {protocols!r}")
        addresses = parse_patterns(data.get("addresses") or ())
        ports = parse_port_ranges(data.get("portRanges") or ())
        if not addresses or not ports:
            raise ConfigError("intercept.v1 needs addresses and portRanges")
        return cls(service, protocols, addresses, ports)

    def matches(self, protocol: str, ip: IPAddress, port: int, name: str | None) -> bool:
        return (protocol in self.protocols and any(port in r for r in self.ports)
                and any(p.matches_ip(ip) or (name is not None and p.matches_name(name)) for p in self.addresses))


def intercept_specs(ctx: ZitiContext) -> list[InterceptSpec]:
    specs = []
    for service in ctx.services.values():
        if "Dial" in service.permissions and "intercept.v1" in service.config:
            try:
                specs.append(InterceptSpec.parse(service.name, service.config["intercept.v1"]))
            except ConfigError as exc:
                log.error("not intercepting service %r: invalid intercept.v1 config: %s", service.name, exc.message)
    return specs


def rules_for(specs: list[InterceptSpec], pool: NamePool) -> list[InterceptRule]:
    rules: dict[InterceptRule, None] = {}
    for spec in specs:
        networks = {pool.network if p.is_name else p.network for p in spec.addresses}
        for protocol in spec.protocols:
            for network in sorted(networks, key=str):
                for ports in spec.ports:
                    rules[InterceptRule(protocol, network, ports)] = None  # type: ignore[arg-type]
    return list(rules)


def _transparent(kind: int) -> trio.socket.SocketType:
    sock = trio.socket.socket(socket.AF_INET, kind)
    sock.setsockopt(socket.SOL_IP, socket.IP_TRANSPARENT, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock


class Tproxy:
    """The tproxy mode of one SDK context."""

    def __init__(self, ctx: ZitiContext, *, dns_range: str, resolver: str, dns_upstreams: tuple[str, ...],
                 intercept: Intercept | None = None) -> None:
        self.ctx = ctx
        self.pool = NamePool(dns_range)
        self.dns = DnsServer(self.pool, resolver, dns_upstreams)
        self.intercept = intercept or Intercept()
        self.specs: list[InterceptSpec] = []
        self._flows: dict[tuple[Address, Address], trio.MemorySendChannel[bytes]] = {}

    def service_for(self, protocol: str, ip_text: str, port: int) -> tuple[str, str | None] | None:
        """``(service, hostname)`` intercepting ``protocol`` to ``ip:port``, if any."""
        ip = parse_ip(ip_text)
        if ip is None:
            return None
        name = self.pool.name_of(ip)
        for spec in self.specs:
            if spec.matches(protocol, ip, port, name):
                return spec.service, name
        return None

    async def run(self, *, task_status: trio.TaskStatus[dict[str, object]] = trio.TASK_STATUS_IGNORED) -> None:
        await self.intercept.clear()  # whatever a crashed run left behind
        tcp, udp = _transparent(socket.SOCK_STREAM), _transparent(socket.SOCK_DGRAM)
        udp.setsockopt(socket.SOL_IP, IP_RECVORIGDSTADDR, 1)
        try:
            await tcp.bind(("127.0.0.1", 0))
            tcp.listen(256)
            await udp.bind(("127.0.0.1", 0))
            async with trio.open_nursery() as nursery:
                dns_host, dns_port = await nursery.start(self.dns.run)
                nursery.start_soon(self._accept_tcp, tcp)
                nursery.start_soon(self._receive_udp, udp)
                hosting = await nursery.start(run_host, self.ctx)
                ports = (tcp.getsockname()[1], udp.getsockname()[1])
                await self._apply(*ports)
                task_status.started({"dns": f"{dns_host}:{dns_port}", "hosting": hosting,
                                     "intercepting": sorted(s.service for s in self.specs)})
                while True:
                    await self.ctx.wait_services_changed()
                    await self._apply(*ports)
        finally:
            tcp.close()
            udp.close()
            with trio.CancelScope(shield=True):
                await self.intercept.clear()
                log.info("intercept rules removed")

    async def _apply(self, tcp_port: int, udp_port: int) -> None:
        self.specs = intercept_specs(self.ctx)
        self.pool.set_patterns({s.service: s.addresses for s in self.specs})
        await self.intercept.install(rules_for(self.specs, self.pool), tcp_port=tcp_port, udp_port=udp_port,
                                     local_networks=(self.pool.network,))
        log.info("intercepting %s", ", ".join(s.service for s in self.specs) or "nothing")

    def _app_data(self, protocol: str, src: Address, dst: Address, name: str | None) -> bytes:
        data = {"dst_protocol": protocol, "dst_ip": dst[0], "dst_port": str(dst[1]),
                "src_protocol": protocol, "src_ip": src[0], "src_port": str(src[1])}
        if name is not None:
            data["dst_hostname"] = name
        return json.dumps(data).encode()

    async def _dial(self, protocol: str, src: Address, dst: Address) -> trio.abc.Stream | None:
        found = self.service_for(protocol, dst[0], dst[1])
        what = f"{protocol} {src[0]}:{src[1]} -> {dst[0]}:{dst[1]}"
        if found is None:
            log.warning("%s: no intercepted service matches; dropping", what)
            return None
        service, name = found
        try:
            with trio.fail_after(DIAL_DEADLINE_S):
                return await self.ctx.dial(service, app_data=self._app_data(protocol, src, dst, name))
        except (ZitiError, trio.TooSlowError) as exc:
            reason = exc.message if isinstance(exc, ZitiError) else "no answer in time"
            log.warning("%s: dial of %r refused, closing: %s", what, service, reason)
            return None

    async def _accept_tcp(self, listener: trio.socket.SocketType) -> None:
        async with trio.open_nursery() as nursery:
            while True:
                conn, src = await listener.accept()
                nursery.start_soon(self._serve_tcp, trio.SocketStream(conn), src, conn.getsockname())

    async def _serve_tcp(self, stream: trio.SocketStream, src: Address, dst: Address) -> None:
        remote = await self._dial("tcp", src, dst)
        if remote is None:
            await trio.aclose_forcefully(stream)
            return
        await relay(stream, remote, what=f"tproxy {src[0]}:{src[1]} -> {dst[0]}:{dst[1]}")

    async def _receive_udp(self, sock: trio.socket.SocketType) -> None:
        async with trio.open_nursery() as nursery:
            while True:
                data, ancdata, _, peer = await sock.recvmsg(65535, socket.CMSG_SPACE(16))
                src = cast("Address", peer)  # an AF_INET socket: (ip, port)
                dst = next((_sockaddr_in(d) for level, kind, d in ancdata
                            if level == socket.SOL_IP and kind == IP_RECVORIGDSTADDR), None)
                if dst is None:
                    continue
                flow = self._flows.get((src, dst))
                if flow is None:
                    if len(self._flows) >= MAX_UDP_FLOWS:
                        log.warning("udp %s:%d -> %s:%d: over %d flows; dropped", *src, *dst, MAX_UDP_FLOWS)
                        continue
                    flow, queue = trio.open_memory_channel[bytes](UDP_FLOW_QUEUE)
                    self._flows[(src, dst)] = flow
                    nursery.start_soon(self._serve_udp, src, dst, queue)
                try:
                    flow.send_nowait(data)
                except (trio.WouldBlock, trio.BrokenResourceError):
                    log.debug("udp %s:%d -> %s:%d: queue full, datagram dropped", *src, *dst)

    async def _serve_udp(self, src: Address, dst: Address, queue: trio.MemoryReceiveChannel[bytes]) -> None:
        """One UDP flow: datagrams to the service, replies sent back from the original destination."""
        try:
            remote = await self._dial("udp", src, dst)
            if remote is None:
                return
            reply = _transparent(socket.SOCK_DGRAM)
            idle = trio.CancelScope(deadline=trio.current_time() + UDP_IDLE_TIMEOUT_S)
            with reply, idle:
                await reply.bind(dst)
                async with remote, trio.open_nursery() as nursery:
                    nursery.start_soon(_replies, remote, reply, src, idle)
                    async for datagram in queue:
                        idle.deadline = trio.current_time() + UDP_IDLE_TIMEOUT_S
                        await remote.send_all(datagram)
        except (trio.BrokenResourceError, OSError) as exc:
            log.info("udp %s:%d -> %s:%d ended: %s", *src, *dst, exc)
        finally:
            self._flows.pop((src, dst), None)
            queue.close()


async def _replies(remote: trio.abc.Stream, reply: trio.socket.SocketType, src: Address,
                   idle: trio.CancelScope) -> None:
    while data := await remote.receive_some(65535):
        idle.deadline = trio.current_time() + UDP_IDLE_TIMEOUT_S
        await reply.sendto(data, src)
    idle.cancel()


def _sockaddr_in(raw: bytes) -> Address:
    port, = struct.unpack_from("!H", raw, 2)
    return socket.inet_ntoa(raw[4:8]), port
