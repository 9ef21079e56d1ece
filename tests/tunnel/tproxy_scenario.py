"""Run as root inside a fresh network namespace by test_tproxy.py; prints one JSON line of findings.

A whole network on the namespace's loopback: a host-mode tunneler serving an HTTP server
and a UDP echo server, a tproxy tunneler intercepting ``web.ziti:80`` (TCP) and
``echo.ziti:7000`` (UDP), with DNS upstreams (a silent one first, a working one second).
The namespace's resolv.conf points at the tproxy tunneler's DNS server.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import sys
from pathlib import Path

import trio
import trio.lowlevel
from tunnel_helpers import configured_service, udp_echo_server

from ziti_aio.testing.network import open_network
from ziti_aio.tunnel import dns
from ziti_aio.tunnel.addresses import PortRange
from ziti_aio.tunnel.intercept import Intercept, InterceptRule
from ziti_aio.tunnel.tunneler import Tunneler, TunnelerConfig

BODY = b"hello through the overlay\n"


async def http_server(*, task_status=trio.TASK_STATUS_IGNORED) -> None:
    async def handle(stream: trio.SocketStream) -> None:
        async with stream:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = await stream.receive_some(4096)
                if not chunk:
                    return
                request += chunk
            await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                                  % (len(BODY), BODY))

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    task_status.started(listeners[0].socket.getsockname()[1])
    await trio.serve_listeners(handle, listeners)


async def upstream(answer: str | None, port: int, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with sock:
        await sock.bind(("127.0.0.1", port))
        task_status.started()
        while True:
            packet, peer = await sock.recvfrom(4096)
            if answer is not None:
                await sock.sendto(dns.build_answer(dns.parse_query(packet), [ipaddress.ip_address(answer)]), peer)


async def udp_ask(host: str, port: int, payload: bytes) -> bytes:
    with trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        await sock.connect((host, port))
        await sock.send(payload)
        with trio.fail_after(10):
            return await sock.recv(4096)


async def nft_table() -> str:
    result = await trio.run_process(["nft", "list", "ruleset"], capture_stdout=True)
    return result.stdout.decode()


async def main(home: Path, backend: str) -> dict:
    found: dict = {}
    # a crashed earlier run left rules behind: the tunneler must clear them on start
    stale = Intercept(backend)
    await stale.install([InterceptRule("tcp", ipaddress.ip_network("10.77.0.0/16"), PortRange(1, 2))],
                        tcp_port=1, udp_port=1)
    async with open_network(home) as net, trio.open_nursery() as nursery:
        http_port = await nursery.start(http_server)
        udp_port = await nursery.start(udp_echo_server)
        await nursery.start(upstream, None, 5301)
        await nursery.start(upstream, "192.0.2.7", 5302)
        await configured_service(net, "web", {
            "intercept.v1": {"protocols": ["tcp"], "addresses": ["web.ziti"], "portRanges": [{"low": 80, "high": 80}]},
            "host.v1": {"protocol": "tcp", "address": "127.0.0.1", "port": http_port}})
        await configured_service(net, "echo", {
            "intercept.v1": {"protocols": ["udp"], "addresses": ["*.echo.ziti"],
                             "portRanges": [{"low": 7000, "high": 7000}]},
            "host.v1": {"protocol": "udp", "address": "127.0.0.1", "port": udp_port}})
        hoster, client = await net.create_identity("hoster"), await net.create_identity("client")
        for service in ("web", "echo"):
            await net.allow("hoster", service, "Bind")
            await net.allow("client", service, "Dial")
        await nursery.start(Tunneler(TunnelerConfig(identity=hoster.path, mode="host")).run)
        scope = trio.CancelScope()

        async def tproxy(task_status=trio.TASK_STATUS_IGNORED) -> None:
            with scope:
                await Tunneler(TunnelerConfig(
                    identity=client.path, mode="tproxy", resolver="udp://127.0.0.1:53",
                    dns_upstreams=("127.0.0.1:5301", "127.0.0.1:5302"))).run(task_status=task_status)

        found["started"] = await nursery.start(tproxy)
        found["ruleset"] = await nft_table() if backend == "nft" else ""
        curl = await trio.run_process(["curl", "-sS", "--max-time", "20", "http://web.ziti/"],
                                      capture_stdout=True, capture_stderr=True, check=False)
        found["curl"] = [curl.returncode, curl.stdout.decode(), curl.stderr.decode()]
        found["udp"] = (await udp_ask(str(await resolve("a.echo.ziti")), 7000, b"ping")).decode()
        found["other"] = str(await resolve("www.example.org"))
        scope.cancel()
        await trio.lowlevel.checkpoint()
        nursery.cancel_scope.cancel()
    found["after"] = await nft_table() if backend == "nft" else ""
    found["rules_after"] = (await trio.run_process(["ip", "rule"], capture_stdout=True)).stdout.decode()
    return found


async def resolve(name: str) -> str:
    info = await trio.socket.getaddrinfo(name, 80, family=socket.AF_INET, type=socket.SOCK_STREAM)
    return info[0][4][0]


if __name__ == "__main__":
    print(json.dumps(trio.run(main, Path(sys.argv[1]), sys.argv[2])), flush=True)
