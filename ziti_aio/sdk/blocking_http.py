"""The blocking HTTPS transport of :class:`~ziti_aio.sdk.management.ManagementClient`, on ``http.client``.

The CLI makes one to a few requests per run, so what its start costs matters more than features:
importing httpx loads httpcore, h2, trio, rich and click (about half of a ``ziti-aio list`` run), the
standard library's client nothing. One keep-alive connection (a command's calls follow each other within
the server's idle timeout, so a connection it closed is an error, not retried), JSON bodies, query
parameters, a timeout.
"""

from __future__ import annotations

import http.client
import json as jsonlib
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode, urlsplit

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable

# Observers of the exchanges (the CLI's --output-request-json / -j): (method, path, JSON body or None).

class HttpFailure(Exception):
    """A request that got no answer: connection, TLS, protocol or timeout failure, or a bad URL."""


class Response:
    """What :class:`~ziti_aio.sdk.management.ManagementCalls` reads of an answer (httpx's names)."""

    def __init__(self, status_code: int, reason_phrase: str, content: bytes) -> None:
        self.status_code = status_code
        self.reason_phrase = reason_phrase
        self.content = content

    @property
    def is_error(self) -> bool:
        return self.status_code >= 400

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class Http(Protocol):
    """What the blocking management client needs of its transport: :class:`BlockingHttp`, or
    :class:`~ziti_aio.sdk.overlay_http.OverlayHttp` over the overlay."""

    base_url: str
    on_request: Callable[[str, str, bytes | None], None] | None
    on_response: Callable[[str, str, Response], None] | None

    def request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                content: bytes | None = None, headers: dict[str, str] | None = None) -> Response: ...

    def close(self) -> None: ...


class BlockingHttp:
    """Requests to the HTTPS server at ``base_url``, each with ``headers``, over one kept-alive connection."""

    def __init__(self, base_url: str, *, verify: ssl.SSLContext, headers: dict[str, str], timeout_s: float) -> None:
        try:
            parts = urlsplit(base_url)
            port = parts.port
        except ValueError as exc:
            raise HttpFailure(f"invalid URL {base_url!r}: {exc}") from None
        if parts.scheme != "https" or not parts.hostname:
            raise HttpFailure(f"invalid URL {base_url!r}: expected https://HOST[:PORT]")
        self.base_url = base_url.rstrip("/")
        self._prefix = parts.path.rstrip("/")
        self._host, self._port = parts.hostname, port
        self._verify, self._headers, self._timeout_s = verify, headers, timeout_s
        self._conn: http.client.HTTPSConnection | None = None
        # Observers (the CLI's --output-request-json and -j): called with the method, the path and
        # the JSON body before a request is sent, and with the method, the path and the answer after.
        self.on_request: Callable[[str, str, bytes | None], None] | None = None
        self.on_response: Callable[[str, str, Response], None] | None = None

    def request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                content: bytes | None = None, headers: dict[str, str] | None = None) -> Response:
        """``method`` ``path`` (under the base URL) with an optional body (JSON, or ``content`` as is, its type
        in ``headers``) and query parameters."""
        target = self._prefix + path + (f"?{urlencode(params)}" if params else "")
        body = content if json is None else jsonlib.dumps(json).encode()
        headers = {**self._headers, **({"Content-Type": "application/json"} if json is not None else {}),
                   **(headers or {})}
        if self.on_request is not None:
            self.on_request(method, path, body)
        try:
            answer = self._exchange(method, target, body, headers)
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise HttpFailure(str(exc) or type(exc).__name__) from exc
        if self.on_response is not None:
            self.on_response(method, path, answer)
        return answer

    def _exchange(self, method: str, target: str, body: bytes | None, headers: dict[str, str]) -> Response:
        if self._conn is None:
            self._conn = http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout_s,
                                                     context=self._verify)
        self._conn.request(method, target, body=body, headers=headers)
        answer = self._conn.getresponse()
        content = answer.read()
        if answer.will_close:
            self.close()
        return Response(answer.status, answer.reason, content)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
