"""``ziti-aio tunnel proxy|host`` standalone, and the tunneler as a role of ``ziti-aio run --config``."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys

import trio
from tunnel_helpers import configured_service, echo_through, sdk_echo_host, tcp_echo_server

from ziti_aio.sdk import open_context
from ziti_aio.testing.network import open_network

START_TIMEOUT_S = 60.0


async def _start(args: list[str], marker: str) -> tuple[trio.Process, str]:
    """Start ``python -m ziti_aio ARGS`` and return once a line starts with ``marker``."""
    proc = await trio.lowlevel.open_process([sys.executable, "-m", "ziti_aio", *args],
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = b""
    with trio.fail_after(START_TIMEOUT_S):
        while not re.search(rb"^" + re.escape(marker.encode()), out, re.M):
            chunk = await proc.stdout.receive_some(65536)
            if not chunk:
                raise AssertionError("exited early:\n" + out.decode(errors="replace"))
            out += chunk
    return proc, out.decode()


async def _stop(proc: trio.Process) -> int:
    proc.send_signal(signal.SIGTERM)
    with trio.fail_after(20):
        return await proc.wait()


async def test_tunnel_proxy_command(tmp_path):
    async with open_network(tmp_path) as net:
        await net.create_service("echo")
        host, tunneler = await net.create_identity("host"), await net.create_identity("tunneler")
        await net.allow("host", "echo", "Bind")
        await net.allow("tunneler", "echo", "Dial")
        async with open_context(host.path) as ctx, trio.open_nursery() as nursery:
            await nursery.start(sdk_echo_host, ctx, "echo")
            proc, out = await _start(["tunnel", "proxy", "echo:0", "-i", str(tunneler.path)], "ready")
            try:
                assert "HTTP Request" not in out, "each controller request logged at INFO"
                port = int(re.search(r"proxy\s+echo on 127\.0\.0\.1:(\d+)", out).group(1))
                total, sent, got = await echo_through(port, 1 << 20)
                assert total == 1 << 20 and got == sent
            finally:
                assert await _stop(proc) == 0
            nursery.cancel_scope.cancel()


async def test_tunnel_proxy_reports_at_start_a_service_it_cannot_dial(tmp_path):
    async with open_network(tmp_path) as net:
        await net.create_service("echo")
        await net.create_service("hosted-only")
        tunneler = await net.create_identity("tunneler")
        await net.allow("tunneler", "echo", "Dial")
        await net.allow("tunneler", "hosted-only", "Bind")
        proc, out = await _start(["tunnel", "proxy", "nosuch:0", "echo:0", "hosted-only:0", "-i", str(tunneler.path)],
                                 "ready")
        try:
            warnings = [line.strip() for line in out.splitlines() if line.startswith("  warning")]
            assert warnings == [
                "warning    service 'nosuch' does not exist or 'tunneler' may not use it: connections to port "
                f"{_port(out, 'nosuch')} are closed until it can (check the service name and a Dial service policy "
                "for this identity)",
                "warning    identity 'tunneler' has no Dial permission on service 'hosted-only': connections to port "
                f"{_port(out, 'hosted-only')} are closed until it can (check the service name and a Dial service "
                "policy for this identity)"], out
        finally:
            assert await _stop(proc) == 0


def _port(out: str, service: str) -> int:
    return int(re.search(rf"proxy\s+{service} on 127\.0\.0\.1:(\d+)", out).group(1))


async def test_run_config_with_a_host_mode_tunneler(tmp_path):
    async with open_network(tmp_path) as net, trio.open_nursery() as nursery:
        port = await nursery.start(tcp_echo_server)
        await configured_service(net, "web", {"host.v1": {"protocol": "tcp", "address": "127.0.0.1", "port": port}})
        tunneler, client = await net.create_identity("tunneler"), await net.create_identity("client")
        await net.allow("tunneler", "web", "Bind")
        await net.allow("client", "web", "Dial")
        node = tmp_path / "node"
        node.mkdir()
        (node / "node.toml").write_text(f'home = "{node}"\n[tunneler]\nidentity = "{tunneler.path}"\nmode = "host"\n')
        proc, out = await _start(["run", "--config", str(node / "node.toml")], "ready in")
        try:
            assert re.search(r"tunneler\s+tunneler \(host mode\)", out), out
            assert re.search(r"hosting\s+web", out), out
            async with open_context(client.path) as ctx:
                stream = await ctx.dial("web")
                async with stream:
                    await stream.send_all(b"through the node")
                    await stream.send_eof()
                    with trio.fail_after(20):
                        assert await stream.receive_some(100) == b"through the node"
        finally:
            assert await _stop(proc) == 0
        nursery.cancel_scope.cancel()


async def test_bad_arguments_exit_with_a_clear_message(tmp_path):
    for args, expected in [(["proxy", "echo", "-i", "x.json"], b"SERVICE:PORT"),
                           (["host", "-i", str(tmp_path / "missing.json")], b"missing.json")]:
        result = await trio.run_process([sys.executable, "-m", "ziti_aio", "tunnel", *args],
                                        capture_stdout=True, capture_stderr=True, check=False)
        assert result.returncode in (1, 2), result
        assert expected in result.stderr, result.stderr
        assert b"Traceback" not in result.stderr


async def test_tunnel_proxy_on_a_port_in_use_says_so(tmp_path):
    async with open_network(tmp_path) as net:
        await net.create_service("echo")
        tunneler = await net.create_identity("tunneler")
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            with trio.fail_after(START_TIMEOUT_S):
                done = await trio.run_process(
                    [sys.executable, "-m", "ziti_aio", "tunnel", "proxy", f"echo:{port}", "-i", str(tunneler.path)],
                    capture_stdout=True, capture_stderr=True, check=False)
        assert done.returncode == 2
        assert f"error: cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr.decode()
