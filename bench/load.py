"""A light HTTPS load client: trio TLS streams and h11, keep-alive, one request in flight per connection.

Cheaper per request than httpx, so the client is not what limits a fast server on a small machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import h11
import trio

from bench.common import process_cpu_s

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable

MAX_RESPONSE_BYTES = 4 * 1024 * 1024
READ_CHUNK_BYTES = 65536
REQUEST_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Request:
    """One request and the status that counts as success."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    expect: int = 200


@dataclass(frozen=True)
class Worker:
    """One connection: its TLS context (client certificate) and its request for each sequence number."""

    ssl_context: ssl.SSLContext
    request: Callable[[int], Request]


@dataclass
class LoadResult:
    """Requests completed inside the measured window."""

    seconds: float
    latencies_s: list[float] = field(default_factory=list)
    server_cpu_s: float = 0.0  # CPU the server process used in the window (when its pid was given)

    @property
    def ops(self) -> int:
        return len(self.latencies_s)

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.seconds

    @property
    def cpu_ms_per_op(self) -> float:
        return 1000.0 * self.server_cpu_s / self.ops


class LoadError(Exception):
    """The server answered a request with an unexpected status."""


class _Connection:
    def __init__(self, host: str, port: int, ssl_context: ssl.SSLContext) -> None:
        self.host, self.port, self.ssl_context = host, port, ssl_context
        self.stream: trio.SSLStream | None = None
        self.h11 = h11.Connection(h11.CLIENT)

    async def roundtrip(self, req: Request) -> tuple[int, bytes]:
        if self.stream is None:
            self.stream = await trio.open_ssl_over_tcp_stream(self.host, self.port, ssl_context=self.ssl_context,
                                                              https_compatible=True)
            self.h11 = h11.Connection(h11.CLIENT)
        headers = [("host", self.host), ("content-length", str(len(req.body))), *req.headers]
        data = self.h11.send(h11.Request(method=req.method, target=req.target, headers=headers)) or b""
        if req.body:
            data += self.h11.send(h11.Data(data=req.body)) or b""
        data += self.h11.send(h11.EndOfMessage()) or b""
        await self.stream.send_all(data)
        status, body = 0, bytearray()
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA:
                self.h11.receive_data(await self.stream.receive_some(READ_CHUNK_BYTES))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                if len(body) < MAX_RESPONSE_BYTES:
                    body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise LoadError("the server closed the connection mid-response")
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.h11.start_next_cycle()
        else:
            await self.close()
        return status, bytes(body)

    async def close(self) -> None:
        if self.stream is not None:
            await trio.aclose_forcefully(self.stream)
            self.stream = None


async def hammer(host: str, port: int, workers: list[Worker], *, duration_s: float, warmup_s: float,
                 server_pid: int | None = None) -> LoadResult:
    """Run every worker in a loop for ``warmup_s + duration_s``; count what completes in the window.

    A request counts when it completes inside the window, whenever it began, so slow operations
    are not under-counted. With ``server_pid``, the server's CPU time in the window is recorded.
    Raises :class:`LoadError` on the first unexpected status.
    """
    window = {"start": float("inf"), "end": float("inf")}
    result = LoadResult(seconds=duration_s)

    async def run(worker: Worker) -> None:
        conn = _Connection(host, port, worker.ssl_context)
        seq = 0
        try:
            while time.perf_counter() < window["end"]:
                req = worker.request(seq)
                seq += 1
                began = time.perf_counter()
                with trio.fail_after(REQUEST_TIMEOUT_S):
                    status, body = await conn.roundtrip(req)
                done = time.perf_counter()
                if status != req.expect:
                    raise LoadError(f"{req.method} {req.target}: {status} {body[:300]!r}")
                if window["start"] <= done <= window["end"]:
                    result.latencies_s.append(done - began)
        finally:
            await conn.close()

    async with trio.open_nursery() as nursery:
        for worker in workers:
            nursery.start_soon(run, worker)
        window["end"] = time.perf_counter() + warmup_s + duration_s
        await trio.sleep(warmup_s)
        cpu_before = process_cpu_s(server_pid) if server_pid else 0.0
        window["start"] = time.perf_counter()
        window["end"] = window["start"] + duration_s
        await trio.sleep_until(trio.current_time() + duration_s)
        result.server_cpu_s = process_cpu_s(server_pid) - cpu_before if server_pid else 0.0
    return result
