"""Baselines started by the bench itself: a bare trio + h11 TLS server, and a bare interpreter start.

The h11 server is the floor for the controller's API: the same TLS settings, the same request
shape (token header checked, JSON body parsed) answered with canned bodies captured from the
real controller. Run as a child: ``python -m bench.baselines --cert ... --responses FILE``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import h11
import trio

from bench.common import announce_and_wait
from ziti_aio.transport.tls import server_context

READ_CHUNK_BYTES = 65536
MAX_BODY_BYTES = 1024 * 1024
UNAUTHORIZED = json.dumps({"error": {"code": "UNAUTHORIZED", "message": "no zt-session"}, "meta": {}}).encode()
NOT_FOUND = json.dumps({"error": {"code": "NOT_FOUND", "message": "not found"}, "meta": {}}).encode()


class CannedApi:
    """Answers ``METHOD /path`` with a stored status and body, for callers with a ``zt-session``."""

    def __init__(self, responses: dict[str, dict[str, Any]]) -> None:
        self.responses = {key: (r["status"], r["body"].encode()) for key, r in responses.items()}

    def answer(self, request: h11.Request, body: bytes) -> tuple[int, bytes]:
        if not any(name == b"zt-session" and value for name, value in request.headers):
            return 401, UNAUTHORIZED
        if body:
            json.loads(body)
        path = request.target.split(b"?", 1)[0].decode()
        return self.responses.get(f"{request.method.decode()} {path}", (404, NOT_FOUND))

    async def handle(self, stream: trio.SSLStream) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                request, body = None, bytearray()
                while True:
                    event = conn.next_event()
                    if event is h11.NEED_DATA:
                        conn.receive_data(await stream.receive_some(READ_CHUNK_BYTES))
                    elif isinstance(event, h11.Request):
                        request = event
                    elif isinstance(event, h11.Data) and len(body) < MAX_BODY_BYTES:
                        body += event.data
                    elif isinstance(event, h11.EndOfMessage):
                        break
                    elif isinstance(event, h11.ConnectionClosed):
                        return
                assert request is not None
                status, payload = self.answer(request, bytes(body))
                headers = [("content-type", "application/json"), ("content-length", str(len(payload)))]
                await stream.send_all(conn.send(h11.Response(status_code=status, headers=headers))
                                      + conn.send(h11.Data(data=payload)) + conn.send(h11.EndOfMessage()))
                conn.start_next_cycle()
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.RemoteProtocolError):
            return
        finally:
            await trio.aclose_forcefully(stream)


async def serve_canned(args: argparse.Namespace) -> None:
    api = CannedApi(json.loads(Path(args.responses).read_text()))
    ssl_ctx = server_context(cert_chain=args.cert, key=args.key, client_ca=args.client_ca, require_client_cert=False,
                             alpn=["http/1.1"])
    listeners = await trio.open_ssl_over_tcp_listeners(0, ssl_ctx, host="127.0.0.1", https_compatible=True)
    port = listeners[0].transport_listener.socket.getsockname()[1]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, api.handle, listeners)
        await announce_and_wait({"host": "127.0.0.1", "port": port})
        nursery.cancel_scope.cancel()


def canned_server_argv(*, cert: Path, key: Path, client_ca: Path, responses: Path) -> list[str]:
    """The command line of the canned-API child server."""
    return [sys.executable, "-m", "bench.baselines", "--cert", str(cert), "--key", str(key),
            "--client-ca", str(client_ca), "--responses", str(responses)]


async def interpreter_import_s() -> float:
    """Wall time of a fresh interpreter that imports ``ziti_aio`` and exits."""
    began = time.perf_counter()
    await trio.run_process([sys.executable, "-c", "import ziti_aio"])
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--client-ca", required=True)
    parser.add_argument("--responses", required=True)
    trio.run(serve_canned, parser.parse_args())


if __name__ == "__main__":
    main()
