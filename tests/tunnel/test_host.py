"""``tunnel host``: host.v1/host.v2 services served by dialing the real server, C SDK and ziti-aio dialers."""

from __future__ import annotations

import json
import logging

import pytest
import trio
from tunnel_helpers import MIB, WAIT_S, configured_service, tcp_echo_server, udp_echo_server

from ziti_aio.common.errors import ConfigError
from ziti_aio.sdk import open_context
from ziti_aio.sdk.client_api import Service
from ziti_aio.testing import wait_until
from ziti_aio.testing.csdk import csdk_run
from ziti_aio.testing.network import open_network
from ziti_aio.tunnel.host import HostRefused, HostTerminator, host_terminators
from ziti_aio.tunnel.tunneler import Tunneler, TunnelerConfig

CSDK_DIAL = """
    import hashlib, random
    ctx = load()
    data = random.Random(7).randbytes(int(os.environ["SIZE"]))
    sock = dial(ctx, os.environ["SERVICE"])
    sender = threading.Thread(target=sock.sendall, args=(data,))
    sender.start()
    got = bytearray()
    while len(got) < len(data):
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        got += chunk
    sender.join()
    sock.close()
    report(bytes=len(got), same=bytes(got) == data)
"""


def test_fixed_target():
    term = HostTerminator.parse({"protocol": "tcp", "address": "localhost", "port": 8080})
    assert term.target(None) == ("tcp", "localhost", 8080)
    assert term.target(b"not even json") == ("tcp", "localhost", 8080)


def test_forwarded_target_checked_against_allowed_lists():
    term = HostTerminator.parse({
        "forwardProtocol": True, "allowedProtocols": ["tcp", "udp"],
        "forwardAddress": True, "allowedAddresses": ["10.0.0.0/8", "*.example.com", "db.internal"],
        "forwardPort": True, "allowedPortRanges": [{"low": 80, "high": 90}, {"low": 443, "high": 443}]})
    app = {"dst_protocol": "udp", "dst_hostname": "www.example.com", "dst_ip": "100.64.0.3", "dst_port": "85"}
    assert term.target(json.dumps(app).encode()) == ("udp", "www.example.com", 85)
    app = {"dst_protocol": "tcp", "dst_ip": "10.1.2.3", "dst_port": "443"}
    assert term.target(json.dumps(app).encode()) == ("tcp", "10.1.2.3", 443)
    for bad, why in [({**app, "dst_port": "444"}, "allowedPortRanges"), ({**app, "dst_ip": "11.0.0.1"}, "allowedAddr"),
                     ({**app, "dst_protocol": "sctp"}, "allowedProtocols"), ({**app, "dst_port": "x"}, "dst_port"),
                     ({**app, "dst_hostname": "example.com"}, "allowedAddresses")]:
        with pytest.raises(HostRefused, match=why):
            term.target(json.dumps(bad).encode())
    for raw in (None, b"", b"[1]", b"\xff"):
        with pytest.raises(HostRefused):
            term.target(raw)


@pytest.mark.parametrize("data, why", [
    ({"address": "x", "port": 1}, "protocol"), ({"protocol": "icmp", "address": "x", "port": 1}, "protocol"),
    ({"protocol": "tcp", "port": 1}, "address"), ({"protocol": "tcp", "address": "x", "port": 0}, "port"),
    ({"protocol": "tcp", "address": "x", "forwardPort": True, "allowedPortRanges": [{"low": 9, "high": 1}]}, "low"),
    ({"protocol": "tcp", "address": "x", "port": 1, "listenOptions": {"connectTimeoutSeconds": -1}}, "Timeout"),
])
def test_invalid_host_configs_are_refused_with_the_reason(data, why):
    with pytest.raises(ConfigError, match=why):
        HostTerminator.parse(data)


def test_host_v2_lists_its_terminators():
    service = Service("id", "s", frozenset({"Bind"}), True, {"host.v2": {"terminators": [
        {"protocol": "tcp", "address": "a", "port": 1}, {"protocol": "udp", "address": "b", "port": 2}]}})
    assert [t.target(None) for t in host_terminators(service)] == [("tcp", "a", 1), ("udp", "b", 2)]


async def _host(nursery, identity):
    return await nursery.start(Tunneler(TunnelerConfig(identity=identity, mode="host", service_poll_s=0.2)).run)


@pytest.mark.interop
async def test_csdk_dialer_reaches_a_tcp_server_through_a_host_v1_service(tmp_path):
    async with open_network(tmp_path) as net, trio.open_nursery() as nursery:
        port = await nursery.start(tcp_echo_server)
        await configured_service(net, "web", {"host.v1": {"protocol": "tcp", "address": "127.0.0.1", "port": port}})
        tunneler = await net.create_identity("tunneler")
        client = await net.create_identity("client")
        await net.allow("tunneler", "web", "Bind")
        await net.allow("client", "web", "Dial")
        await _host(nursery, tunneler.path)
        result = await csdk_run(client.path, CSDK_DIAL, log_level=2, timeout_s=90,
                                env={"SERVICE": "web", "SIZE": str(4 * MIB)})
        assert result.ok, result.describe()
        assert result.reports == [{"bytes": 4 * MIB, "same": True}], result.describe()
        nursery.cancel_scope.cancel()


async def _echo(ctx, service: str, payload: bytes, *, app_data: dict | None = None) -> bytes:
    raw = None if app_data is None else json.dumps(app_data).encode()
    stream = await ctx.dial(service, app_data=raw)
    async with stream:
        await stream.send_all(payload)
        await stream.send_eof()
        got = bytearray()
        with trio.fail_after(20):
            try:
                while data := await stream.receive_some(1 << 16):
                    got += data
            except trio.BrokenResourceError:
                pass
        return bytes(got)


async def test_host_v2_forwarding_udp_and_service_changes(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="ziti_aio.tunnel.host")
    async with open_network(tmp_path) as net, trio.open_nursery() as nursery:
        tcp_port = await nursery.start(tcp_echo_server)
        udp_port = await nursery.start(udp_echo_server)
        await configured_service(net, "fwd", {"host.v2": {"terminators": [{
            "protocol": "tcp", "forwardAddress": True, "allowedAddresses": ["127.0.0.0/8"],
            "forwardPort": True, "allowedPortRanges": [{"low": tcp_port, "high": tcp_port}]}]}})
        await configured_service(net, "dns", {"host.v1": {"protocol": "udp", "address": "127.0.0.1",
                                                          "port": udp_port}})
        tunneler = await net.create_identity("tunneler")
        client = await net.create_identity("client")
        for service in ("fwd", "dns"):
            await net.allow("tunneler", service, "Bind")
            await net.allow("client", service, "Dial")
        await _host(nursery, tunneler.path)
        async with open_context(client.path) as ctx:
            dst = {"dst_protocol": "tcp", "dst_ip": "127.0.0.1", "dst_port": str(tcp_port)}
            assert await _echo(ctx, "fwd", b"forwarded" * 1000, app_data=dst) == b"forwarded" * 1000
            assert await _echo(ctx, "fwd", b"nope", app_data={**dst, "dst_port": "1"}) == b""
            assert any("port 1 is not in allowedPortRanges" in r.getMessage() for r in caplog.records)
            stream = await ctx.dial("dns")
            async with stream:
                for datagram in (b"one", b"two" * 100):
                    await stream.send_all(datagram)
                    with trio.fail_after(10):
                        assert await stream.receive_some(65535) == datagram
            # a service that becomes hostable later is picked up
            await configured_service(net, "late", {"host.v1": {"protocol": "tcp", "address": "127.0.0.1",
                                                               "port": tcp_port}})
            await net.allow("tunneler", "late", "Bind")
            await net.allow("client", "late", "Dial")
            late_id = (await net.get('services?filter=name="late"'))[0]["id"]
            await wait_until(lambda: _has_terminator(net, late_id), WAIT_S, what="the late service's terminator")
            assert await _echo(ctx, "late", b"late") == b"late"
        nursery.cancel_scope.cancel()


async def _has_terminator(net, service_id: str) -> bool:
    return any(t["serviceId"] == service_id for t in await net.get("terminators"))
