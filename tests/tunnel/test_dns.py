"""The tunneler's DNS: sans-I/O parsing/building, the name pool, and the server's failover and bounds."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import random
import socket
import struct

import pytest
import trio

from ziti_aio.common.errors import ConfigError
from ziti_aio.tunnel import dns
from ziti_aio.tunnel.addresses import parse_patterns
from ziti_aio.tunnel.dns_server import DnsServer, NamePool, parse_host_port


def test_query_round_trip_and_answers():
    query = dns.parse_query(dns.build_query(0x1234, "Echo.Ziti."))
    assert (query.id, query.question.name, query.question.qtype) == (0x1234, "echo.ziti", dns.TYPE_A)
    assert query.recursion_desired
    reply = dns.build_answer(query, [ipaddress.ip_address("100.64.0.1"), ipaddress.ip_address("::1")])
    assert dns.parse_answer_addresses(reply) == (dns.RCODE_OK, ["100.64.0.1"])
    assert dns.parse_answer_addresses(dns.build_answer(query, [])) == (dns.RCODE_OK, [])
    assert dns.parse_answer_addresses(dns.build_error(7, dns.RCODE_NXDOMAIN, query=query))[0] == dns.RCODE_NXDOMAIN


def _header(qdcount=1, flags=0x0100):
    return struct.pack("!HHHHHH", 9, flags, qdcount, 0, 0, 0)


@pytest.mark.parametrize("packet, why", [
    (b"", "shorter"), (b"\x00\x09", "shorter"), (_header(flags=0x8100) + b"\x00\x00\x01\x00\x01", "response"),
    (_header(flags=0x2800) + b"\x00\x00\x01\x00\x01", "opcode"), (_header(qdcount=2), "2 questions"),
    (_header(qdcount=0), "0 questions"), (_header() + b"\x03ab", "past the end"),
    (_header() + b"\xc0\x0c\x00\x01\x00\x01", "outside"), (_header() + b"\xc0\x20", "outside"),
    (_header() + b"\xc0\x02", "outside"),
    (_header() + b"\x80abc", "label type"), (_header() + (b"\x3f" + b"a" * 63) * 5 + b"\x00", "longer than 255"),
    (_header() + b"\x01a\x00\x00", "truncated"), (b"\x00" * (dns.MAX_MESSAGE_BYTES + 1), "larger"),
])
def test_malformed_queries_are_refused_with_the_reason(packet, why):
    with pytest.raises(dns.DnsFormatError, match=why) as info:
        dns.parse_query(packet)
    assert info.value.query_id == (dns.query_id(packet) if len(packet) >= 2 else None)


def test_random_bytes_only_ever_raise_the_format_error():
    rng = random.Random(6)
    valid = dns.build_query(1, "a.b.example.com")
    for n in range(5000):
        if n % 2:
            packet = bytearray(valid)
            for _ in range(rng.randint(1, 6)):
                packet[rng.randrange(len(packet))] = rng.randrange(256)
            packet = bytes(packet[:rng.randint(0, len(packet))])
        else:
            packet = rng.randbytes(rng.randint(0, 64))
        with contextlib.suppress(dns.DnsFormatError):
            dns.parse_query(packet)


def test_name_pool_wildcards_and_recycling():
    pool = NamePool("100.64.0.1/10", max_names=3)
    pool.set_patterns({"web": parse_patterns(["*.ziti", "echo.example", "10.0.0.0/8"])})
    assert pool.intercepted("a.b.ziti") and pool.intercepted("ECHO.example.") and not pool.intercepted("ziti")
    assert not pool.intercepted("10.1.2.3")
    first = pool.address("a.ziti")
    assert str(first) == "100.64.0.1" and pool.address("A.ziti.") == first and pool.name_of(first) == "a.ziti"
    second, third = pool.address("b.ziti"), pool.address("c.ziti")
    pool.address("a.ziti")  # most recently used now: b is the oldest
    fourth = pool.address("d.ziti")
    assert fourth == second and pool.name_of(second) == "d.ziti" and pool.address("a.ziti") == first
    assert third != first
    with pytest.raises(ConfigError, match="not a CIDR"):
        NamePool("100.64.0.1/99")


def test_dns_addresses():
    assert parse_host_port("udp://127.0.0.1:53") == ("127.0.0.1", 53)
    assert parse_host_port("1.1.1.1") == ("1.1.1.1", 53)
    assert parse_host_port("[::1]:5353") == ("::1", 5353)
    assert parse_host_port("::1") == ("::1", 53)
    with pytest.raises(ConfigError):
        parse_host_port("udp://host:port")


async def _upstream(answer: str | None, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """A fake upstream on 127.0.0.1: answers every A query with ``answer``, or never answers (None)."""
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with sock:
        await sock.bind(("127.0.0.1", 0))
        task_status.started(f"127.0.0.1:{sock.getsockname()[1]}")
        while True:
            packet, peer = await sock.recvfrom(4096)
            if answer is not None:
                await sock.sendto(dns.build_answer(dns.parse_query(packet), [ipaddress.ip_address(answer)]), peer)


async def _ask(port: int, packet: bytes, timeout_s: float = 10.0) -> bytes:
    with trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        await sock.connect(("127.0.0.1", port))
        await sock.send(packet)
        with trio.fail_after(timeout_s):
            return await sock.recv(4096)


async def _server(nursery, upstreams, **kwargs):
    pool = NamePool("100.64.0.1/10")
    pool.set_patterns({"echo": parse_patterns(["echo.ziti", "*.svc.ziti"])})
    server = DnsServer(pool, "udp://127.0.0.1:0", tuple(upstreams), **kwargs)
    return server, (await nursery.start(server.run))[1]


async def test_intercepted_names_answered_others_fail_over_to_the_second_upstream():
    async with trio.open_nursery() as nursery:
        silent = await nursery.start(_upstream, None)
        good = await nursery.start(_upstream, "192.0.2.7")
        _, port = await _server(nursery, [silent, good], upstream_timeout_s=0.3)
        assert dns.parse_answer_addresses(await _ask(port, dns.build_query(1, "echo.ziti"))) == (0, ["100.64.0.1"])
        assert dns.parse_answer_addresses(await _ask(port, dns.build_query(2, "x.svc.ziti"))) == (0, ["100.64.0.2"])
        assert dns.parse_answer_addresses(await _ask(port, dns.build_query(3, "x.svc.ziti", dns.TYPE_AAAA))) == (0, [])
        assert dns.parse_answer_addresses(await _ask(port, dns.build_query(4, "example.org"))) == (0, ["192.0.2.7"])
        # the working upstream is now preferred: no more waiting for the silent one
        with trio.fail_after(0.25):
            assert dns.parse_answer_addresses(await _ask(port, dns.build_query(5, "b.org")))[1] == ["192.0.2.7"]
        nursery.cancel_scope.cancel()


async def test_flood_and_malformed_packets_get_bounded_work_and_a_clear_log(caplog):
    caplog.set_level(logging.WARNING, logger="ziti_aio.tunnel.dns_server")
    async with trio.open_nursery() as nursery:
        silent = await nursery.start(_upstream, None)
        _, port = await _server(nursery, [silent], upstream_timeout_s=5.0, max_in_flight=8)
        rcodes: dict[int, int] = {}
        with trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            await sock.connect(("127.0.0.1", port))
            for batch in range(10):  # bursts small enough for the socket buffers: no packet is lost
                for n in range(batch * 20, batch * 20 + 20):
                    await sock.send(dns.build_query(n, f"n{n}.example.org"))
                    await sock.send(b"\x00\x01garbage")  # FORMERR
                    await sock.send(b"\x01")  # no header: dropped, no reply
                expected = 40 if batch else 32
                with trio.fail_after(5):
                    for _ in range(expected):
                        rcode = dns.parse_answer_addresses(await sock.recv(4096))[0]
                        rcodes[rcode] = rcodes.get(rcode, 0) + 1
        assert rcodes == {dns.RCODE_REFUSED: 192, dns.RCODE_FORMERR: 200}
        assert dns.parse_answer_addresses(await _ask(port, dns.build_query(1, "echo.ziti"), 1.0))[1] == ["100.64.0.1"]
        messages = [r.getMessage() for r in caplog.records]
        assert any("malformed" in m for m in messages), messages
        nursery.cancel_scope.cancel()
