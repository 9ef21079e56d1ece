"""The tunneler's DNS server: intercepted hostnames get addresses from a range, the rest go upstream.

:class:`NamePool` hands out one address per intercepted hostname (wildcards included) from
the configured CIDR and remembers the reverse mapping the intercept needs; it holds at most
:data:`MAX_NAMES` names, forgetting the least recently used. :class:`DnsServer` answers on
UDP; every other name is forwarded to the upstreams in order, failing over to the next one
when an upstream does not answer in :data:`UPSTREAM_TIMEOUT_S`. Work is bounded: malformed
packets get FORMERR (or are dropped), at most :data:`MAX_FORWARDS_IN_FLIGHT` forwards run at
once and queries beyond that are answered REFUSED, with one summary log line per interval.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections import OrderedDict
from typing import TYPE_CHECKING

import trio

from ziti_aio.common.errors import ConfigError
from ziti_aio.tunnel import dns
from ziti_aio.tunnel.addresses import AddressPattern, IPAddress, normalize_hostname

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)

MAX_NAMES = 65536
MAX_FORWARDS_IN_FLIGHT = 256
UPSTREAM_TIMEOUT_S = 2.0
TTL_S = 60
DROP_LOG_INTERVAL_S = 10.0


def parse_host_port(text: str, default_port: int = 53) -> tuple[str, int]:
    """``udp://host:port``, ``host:port``, ``[v6]:port`` or ``host`` -> ``(host, port)``."""
    value = text.removeprefix("udp://")
    host, sep, port = value.rpartition(":")
    if not sep or "]" in port or (host.count(":") and not host.startswith("[")):
        host, port = value, str(default_port)
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"DNS address must be [udp://]host[:port], not {text!r}")
    return host, int(port)


class NamePool:
    """Intercepted hostname patterns, and the addresses handed out for names that match them."""

    def __init__(self, cidr: str, *, max_names: int = MAX_NAMES) -> None:
        try:
            first = ipaddress.ip_interface(cidr)
        except ValueError as exc:
            raise ConfigError(f"DNS address range {cidr!r} is not a CIDR: {exc}") from exc
        self.network = first.network
        self._next = max(int(first.ip), int(self.network.network_address) + 1)
        self._last = int(self.network.broadcast_address) - 1
        self._max = min(max_names, self._last - self._next + 1)
        self._by_name: OrderedDict[str, IPAddress] = OrderedDict()
        self._by_ip: dict[IPAddress, str] = {}
        self.patterns: dict[str, tuple[AddressPattern, ...]] = {}

    def set_patterns(self, patterns: dict[str, tuple[AddressPattern, ...]]) -> None:
        """Replace the intercepted hostname patterns (service name -> patterns)."""
        self.patterns = {svc: tuple(p for p in pats if p.is_name) for svc, pats in patterns.items()}

    def intercepted(self, name: str) -> bool:
        return any(p.matches_name(name) for pats in self.patterns.values() for p in pats)

    def address(self, name: str) -> IPAddress:
        """The address for ``name`` (allocated on first use; the least recently used is recycled)."""
        name = normalize_hostname(name)
        ip = self._by_name.get(name)
        if ip is not None:
            self._by_name.move_to_end(name)
            return ip
        if len(self._by_name) < self._max:
            ip = ipaddress.ip_address(self._next)
            self._next += 1
        else:
            _, ip = self._by_name.popitem(last=False)
            del self._by_ip[ip]
        self._by_name[name] = ip
        self._by_ip[ip] = name
        return ip

    def name_of(self, ip: IPAddress) -> str | None:
        return self._by_ip.get(ip)


class DnsServer:
    """Answers queries on ``address``; ``upstreams`` are tried in order for names not intercepted."""

    def __init__(self, pool: NamePool, address: str, upstreams: tuple[str, ...], *,
                 upstream_timeout_s: float = UPSTREAM_TIMEOUT_S,
                 max_in_flight: int = MAX_FORWARDS_IN_FLIGHT) -> None:
        self.pool = pool
        self.host, self.port = parse_host_port(address)
        self.upstreams = [parse_host_port(u) for u in upstreams]
        self.upstream_timeout_s = upstream_timeout_s
        self._limit = trio.CapacityLimiter(max_in_flight)
        self._preferred = 0
        self._drops: dict[str, int] = {}
        self._last_drop_log = -DROP_LOG_INTERVAL_S

    async def run(self, *, task_status: trio.TaskStatus[tuple[str, int]] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled; started with the bound ``(host, port)``."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = trio.socket.socket(family, socket.SOCK_DGRAM)
        with sock:
            await sock.bind((self.host, self.port))
            bound = sock.getsockname()[:2]
            log.info("DNS server on %s:%d, upstreams %s", bound[0], bound[1],
                     ", ".join(f"{h}:{p}" for h, p in self.upstreams) or "(none)")
            async with trio.open_nursery() as nursery:
                task_status.started(bound)
                while True:
                    packet, peer = await sock.recvfrom(dns.MAX_MESSAGE_BYTES + 1)
                    handled, reply = self.answer_locally(packet)
                    if handled:
                        if reply is not None:
                            await _send(sock, reply, peer)
                        continue
                    slot = object()
                    try:
                        self._limit.acquire_on_behalf_of_nowait(slot)
                    except trio.WouldBlock:
                        self._dropped("over the in-flight forward limit")
                        await _send(sock, dns.build_error(dns.query_id(packet) or 0, dns.RCODE_REFUSED), peer)
                        continue
                    nursery.start_soon(self._forward, sock, packet, peer, slot)

    def answer_locally(self, packet: bytes) -> tuple[bool, bytes | None]:
        """``(True, reply or None to drop)`` for intercepted names and bad packets; ``(False, None)`` to forward."""
        try:
            query = dns.parse_query(packet)
        except dns.DnsFormatError as exc:
            self._dropped(f"malformed ({exc})")
            return True, None if exc.query_id is None else dns.build_error(exc.query_id, dns.RCODE_FORMERR)
        q = query.question
        if q.qclass == dns.CLASS_IN and self.pool.intercepted(q.name):
            if q.qtype in (dns.TYPE_A, dns.TYPE_AAAA):
                return True, dns.build_answer(query, [self.pool.address(q.name)], ttl_s=TTL_S)
            return True, dns.build_answer(query, [])
        if not self.upstreams:
            return True, dns.build_error(query.id, dns.RCODE_REFUSED, query=query)
        return False, None

    async def _forward(self, sock: trio.socket.SocketType, packet: bytes, peer: tuple[object, ...],
                       slot: object) -> None:
        try:
            reply = await self.forward(packet)
            if reply is None:
                self._dropped("no upstream answered")
                reply = dns.build_error(dns.query_id(packet) or 0, dns.RCODE_SERVFAIL)
            await _send(sock, reply, peer)
        finally:
            self._limit.release_on_behalf_of(slot)

    async def forward(self, packet: bytes) -> bytes | None:
        """Ask the upstreams, starting with the last one that answered; ``None`` if none did."""
        count = len(self.upstreams)
        for step in range(count):
            index = (self._preferred + step) % count
            host, port = self.upstreams[index]
            reply = await self._ask(host, port, packet)
            if reply is not None:
                if index != self._preferred:
                    log.warning("DNS upstream %s:%d did not answer; using %s:%d",
                                *self.upstreams[self._preferred], host, port)
                    self._preferred = index
                return reply
        return None

    async def _ask(self, host: str, port: int, packet: bytes) -> bytes | None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with trio.socket.socket(family, socket.SOCK_DGRAM) as up, trio.move_on_after(self.upstream_timeout_s):
            try:
                await up.connect((host, port))
                await up.send(packet)
                while True:
                    reply = await up.recv(dns.MAX_MESSAGE_BYTES)
                    if reply[:2] == packet[:2]:
                        return reply
            except OSError as exc:
                log.debug("DNS upstream %s:%d: %s", host, port, exc)
        return None

    def _dropped(self, why: str, clock: Callable[[], float] = trio.current_time) -> None:
        """Count a refused or malformed query; log a summary at most once per interval."""
        self._drops[why] = self._drops.get(why, 0) + 1
        now = clock()
        if now - self._last_drop_log >= DROP_LOG_INTERVAL_S:
            summary = ", ".join(f"{n} {reason}" for reason, n in self._drops.items())
            log.warning("DNS server: queries not answered normally in the last %.0f s: %s",
                        DROP_LOG_INTERVAL_S, summary)
            self._drops.clear()
            self._last_drop_log = now


async def _send(sock: trio.socket.SocketType, data: bytes, peer: tuple[object, ...]) -> None:
    try:
        await sock.sendto(data, peer)
    except OSError as exc:
        log.debug("DNS reply to %s not sent: %s", peer, exc)
