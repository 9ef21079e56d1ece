"""HTTP over the overlay: an httpx transport whose connections are ziti connections to a service
(docs/operations.md, "Dark management plane").

httpcore, which does HTTP/1.1 for httpx, takes a *network backend* that opens its connections;
:class:`ZitiBackend` opens each one by dialing the service with a :class:`~ziti_aio.sdk.context.ZitiContext`
(the URL's host and port are ignored: the service is the address). Plain ``http://`` inside: the ziti
connection is already end-to-end encrypted and authenticated. :class:`OverlayHttp` puts the same
behind the blocking interface the CLI's management client uses, running trio in a thread of its own.
"""

from __future__ import annotations

import json as jsonlib
import math
import threading
from functools import partial
from typing import TYPE_CHECKING, Any

import httpcore
import httpx
import trio

from ziti_aio.sdk.blocking_http import HttpFailure, Response
from ziti_aio.sdk.context import open_context

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

    from ziti_aio.sdk.conn import ZitiStream
    from ziti_aio.sdk.context import ZitiContext

START_TIMEOUT_S = 60.0


class _ZitiNetworkStream(httpcore.AsyncNetworkStream):
    def __init__(self, stream: ZitiStream) -> None:
        self._stream = stream

    # httpcore's interface names the parameter ``timeout``
    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        try:
            with trio.fail_after(math.inf if timeout is None else timeout):
                return bytes(await self._stream.receive_some(max_bytes))
        except trio.TooSlowError as exc:
            raise httpcore.ReadTimeout(str(exc)) from exc
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise httpcore.ReadError(str(exc)) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if not buffer:
            return
        try:
            with trio.fail_after(math.inf if timeout is None else timeout):
                await self._stream.send_all(buffer)
        except trio.TooSlowError as exc:
            raise httpcore.WriteTimeout(str(exc)) from exc
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise httpcore.WriteError(str(exc)) from exc

    async def aclose(self) -> None:
        await self._stream.aclose()

    def get_extra_info(self, info: str) -> Any:
        return None


class ZitiBackend(httpcore.AsyncNetworkBackend):
    """Opens httpcore's connections as dials of ``service`` through ``ctx``."""

    def __init__(self, ctx: ZitiContext, service: str) -> None:
        self.ctx, self.service = ctx, service

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109
                          local_address: str | None = None, socket_options: Iterable[Any] | None = None
                          ) -> httpcore.AsyncNetworkStream:
        try:
            with trio.fail_after(math.inf if timeout is None else timeout):
                return _ZitiNetworkStream(await self.ctx.dial(self.service))
        except trio.TooSlowError as exc:
            raise httpcore.ConnectTimeout(f"dialing {self.service} timed out") from exc
        except Exception as exc:  # a refused dial (no such service, no permission, no terminator): no connection
            raise httpcore.ConnectError(f"cannot dial {self.service}: {exc}") from exc

    async def sleep(self, seconds: float) -> None:
        await trio.sleep(seconds)


class ZitiTransport(httpx.AsyncBaseTransport):
    """An httpx transport over :class:`ZitiBackend` (kept-alive connections, HTTP/1.1)."""

    def __init__(self, ctx: ZitiContext, service: str) -> None:
        self._pool = httpcore.AsyncConnectionPool(network_backend=ZitiBackend(ctx, service), http1=True, http2=False)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        core = httpcore.Request(method=request.method, url=httpcore.URL(
            scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw, content=request.stream,
            extensions=request.extensions)
        try:
            answer = await self._pool.handle_async_request(core)
            content = await answer.aread()
            await answer.aclose()
        except httpcore.TimeoutException as exc:
            raise httpx.TimeoutException(str(exc), request=request) from exc
        except httpcore.NetworkError as exc:
            raise httpx.NetworkError(str(exc), request=request) from exc
        return httpx.Response(answer.status, headers=answer.headers, content=content, extensions=answer.extensions,
                              request=request)

    async def aclose(self) -> None:
        await self._pool.aclose()


def overlay_client(ctx: ZitiContext, service: str, *, timeout_s: float, headers: dict[str, str] | None = None
                   ) -> httpx.AsyncClient:
    """An httpx client whose requests go to ``service`` over the overlay (``http://SERVICE/...``)."""
    return httpx.AsyncClient(transport=ZitiTransport(ctx, service), base_url=f"http://{service}",
                             headers=headers, timeout=timeout_s)


class OverlayHttp:
    """:class:`~ziti_aio.sdk.blocking_http.BlockingHttp`'s interface over the overlay: the identity in
    ``identity_file`` logs in (by certificate, on the controller's client API), and its API session
    token is sent with every request (``zt-session``), to ``service``."""

    def __init__(self, identity_file: Path, service: str, *, headers: dict[str, str], timeout_s: float) -> None:
        self.base_url = f"ziti://{service}"
        self.token = ""
        self.on_request: Callable[[str, str, bytes | None], None] | None = None
        self.on_response: Callable[[str, str, Response], None] | None = None
        self._identity_file, self._service, self._headers, self._timeout_s = identity_file, service, headers, timeout_s
        self._client: httpx.AsyncClient | None = None
        self._trio_token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self._error: BaseException | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=trio.run, args=(self._main,), name="overlay-http", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise HttpFailure(f"{self.base_url}: the overlay did not come up within {START_TIMEOUT_S:g} s")
        if self._error is not None:
            raise HttpFailure(f"{self.base_url}: {getattr(self._error, 'message', None) or self._error}")

    async def _main(self) -> None:
        try:
            async with open_context(self._identity_file) as ctx:
                self.token = ctx.client_api.token
                headers = {**self._headers, "zt-session": self.token}
                async with overlay_client(ctx, self._service, timeout_s=self._timeout_s, headers=headers) as client:
                    self._client, self._stop = client, trio.Event()
                    self._trio_token = trio.lowlevel.current_trio_token()
                    self._ready.set()
                    await self._stop.wait()
        except Exception as exc:
            self._error = exc
        finally:
            self._ready.set()

    def request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                content: bytes | None = None, headers: dict[str, str] | None = None) -> Response:
        """As :meth:`BlockingHttp.request`."""
        client, token = self._client, self._trio_token
        if client is None or token is None:
            raise HttpFailure(f"{self.base_url}: the overlay connection is closed")
        body = content if json is None else jsonlib.dumps(json).encode()
        all_headers = {**({"Content-Type": "application/json"} if json is not None else {}), **(headers or {})}
        if self.on_request is not None:
            self.on_request(method, path, body)
        try:
            answer = trio.from_thread.run(partial(client.request, method, path, params=params, content=body,
                                                  headers=all_headers), trio_token=token)
        except httpx.HTTPError as exc:
            raise HttpFailure(str(exc) or type(exc).__name__) from exc
        response = Response(answer.status_code, answer.reason_phrase, answer.content)
        if self.on_response is not None:
            self.on_response(method, path, response)
        return response

    def close(self) -> None:
        stop, token = self._stop, self._trio_token
        if stop is not None and token is not None and self._thread.is_alive():
            trio.from_thread.run_sync(stop.set, trio_token=token)
        self._thread.join(START_TIMEOUT_S)
        self._client = None

