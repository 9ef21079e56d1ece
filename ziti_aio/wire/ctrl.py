"""Control channel messages between a controller and its routers (ours, not OpenZiti's).

Framing, hello and Result are the channel's (``wire.frame``, ``wire.channel``); bodies here are
small JSON objects carrying ``"v": CTRL_VERSION``, with content types in :class:`CtrlType`
(20000+, clear of the channel's 0-6 and the edge's 60783+). A request is answered by a
:data:`CtrlType.REPLY` with ReplyFor = the request's sequence and ``{"ok": true, ...}`` or
``{"ok": false, "code": ..., "message": ...}``.

Messages:

- hello (router -> controller), body ``{v, version, edgeAddress, hostname}``; the successful
  Result's body is ``{v, routerId, issuer, signingKey (PEM), revocations}``.
- ``REVOCATIONS`` (controller -> router): ``{v, apiSessions: [ids], sessions: [ids], certs: [SHA-1
  fingerprints of deleted session certificates]}``, the full list in the hello reply, deltas afterwards.
- ``CREATE_TERMINATOR`` (router -> controller, request): ``{v, id, serviceId, sessionId,
  identityId, apiSessionId, identity, cost, precedence, address}``; ``sessionId`` is "" for a bind the
  router model authorized (docs/router-model.md), and the ids name the grant instead.
- ``REMOVE_TERMINATOR`` (router -> controller): ``{v, id}``.
- ``CREATE_CIRCUIT`` (router -> controller, request): ``{v, sessionId, serviceId, apiSessionId,
  identityId, identity (terminator identity or ""), encrypted, callerId, publicKey, appData}``
  (``sessionId`` "" for a dial the router model authorized);
  reply ``{circuitId, terminator: {id, routerId, address}, path: {nodes, links}}``, plus
  ``terminatorLink`` and ``hostKey`` when the terminator is on another router.
- ``CIRCUIT_CLOSED`` (router -> controller): ``{v, id, reason}``.
- ``CLOSE_CIRCUIT`` (controller -> router): ``{v, id, reason}``; a router that only forwards
  for the circuit drops its route.
- ``ROUTERS`` (controller -> router, also ``routers`` in the hello reply): the online routers,
  ``{v, routers: [{id, name, fingerprint, linkAddress}]}``, whom to link with and whom to accept.
- ``LINK_UP`` / ``LINK_DOWN`` (router -> controller): ``{v, id, src, dst}`` / ``{v, id, reason}``.
- ``LINK_METRICS`` (router -> controller): ``{v, links: [{id, latencyMs}]}``.
- ``METRICS`` (router -> controller), once per interval (``metricsIntervalS`` in the hello reply) when
  anything moved or was measured: ``{v, intervalStartUtc, intervalLength, circuits: [{id, usage:
  {"ingress.rx": n, ...}}], links: [{id, rxBytes, txBytes}], linkLatency: [{id, count, min, max, mean,
  std_dev, variance, p50, p75, p95, p99, p999, p9999}]}``, the bytes of the interval (OpenZiti's usage
  counters) and each link's heartbeat round trips in it in ns (OpenZiti's ``link.<id>.latency``
  histogram; ``linkLatency`` absent when nothing was measured).
- ``FAULT_LINK`` (controller -> router): ``{v, id}``, an administrator deleted the link: the router
  closes it (reporting ``LINK_DOWN``) and dials its peer again.
- ``ROUTE`` (controller -> router, request): ``{v, circuitId, initiatorLink, terminatorLink}``,
  where to forward the circuit's payloads from each end ("" = the end is on this router); the
  egress router's first one carries ``dial: {terminatorId, callerId, publicKey, appData}``
  (base64) and its reply ``hostKey`` (base64 or null).
- ``MODEL_SNAPSHOT`` (controller -> router): the router model (docs/router-model.md) at ``index``, in
  ``parts`` messages ``{v, index, part, parts, identities: {id: {name, disabled, dial: [service ids],
  bind: [service ids], dialChecks: {service id: [[check ids]]}, bindChecks}}, postures: {API session id:
  {identityId, passing: [check ids]}}}``; pushed after every (re)connect and on request. The router swaps
  its model when the last part arrived.
- ``MODEL_EVENT`` (controller -> router): ``{v, index, identities: {id: entry or null}, postures: {id:
  entry or null}}``, the entries one change altered (null: gone), numbered one after the other.
- ``MODEL_SNAPSHOT_REQUEST`` (router -> controller): ``{v, index}``, a router that saw a gap in the
  numbering asks for a snapshot.

Error handling: :func:`parse` raises :class:`WireProtocolError` on bad or too deeply nested JSON,
a non-object, a wrong version or a body over :data:`MAX_CTRL_BODY_BYTES`.
"""

from __future__ import annotations

import json
from enum import IntEnum
from typing import Any

from ziti_aio.wire.channel import result
from ziti_aio.wire.content import ChannelContentType
from ziti_aio.wire.errors import WireProtocolError
from ziti_aio.wire.frame import Message
from ziti_aio.wire.headers import ChannelHeader, put_int32

CTRL_VERSION = 1
MAX_CTRL_BODY_BYTES = 4 * 1024 * 1024


class CtrlType(IntEnum):
    """Content types of the control channel."""

    REPLY = 20000
    REVOCATIONS = 20001
    CREATE_TERMINATOR = 20002
    REMOVE_TERMINATOR = 20003
    CREATE_CIRCUIT = 20004
    CIRCUIT_CLOSED = 20005
    CLOSE_CIRCUIT = 20006
    ROUTERS = 20007
    LINK_UP = 20008
    LINK_DOWN = 20009
    LINK_METRICS = 20010
    ROUTE = 20011
    FAULT_LINK = 20012
    METRICS = 20013
    MODEL_SNAPSHOT = 20014
    MODEL_EVENT = 20015
    MODEL_SNAPSHOT_REQUEST = 20016
    CTRL_ENDPOINTS = 20017


def _body(fields: dict[str, Any]) -> bytes:
    return json.dumps({"v": CTRL_VERSION, **fields}, separators=(",", ":")).encode()


def message(ctype: CtrlType, **fields: Any) -> Message:
    """A control message of type ``ctype`` with a JSON body of ``fields``."""
    return Message(int(ctype), body=_body(fields))


def parse(msg: Message) -> dict[str, Any]:
    """The JSON body of a control message (or of a hello or its Result)."""
    if len(msg.body) > MAX_CTRL_BODY_BYTES:
        raise WireProtocolError(f"control body of {len(msg.body)} bytes is too long")
    try:
        data = json.loads(msg.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireProtocolError("control body is not JSON") from exc
    except RecursionError:
        raise WireProtocolError("control body is nested too deeply") from None
    if not isinstance(data, dict) or data.get("v") != CTRL_VERSION:
        raise WireProtocolError(f"control body is not a version {CTRL_VERSION} object")
    return data


def hello(**fields: Any) -> Message:
    """Router -> controller hello."""
    return Message(ChannelContentType.HELLO, body=_body(fields))


def hello_reply(request: Message, **fields: Any) -> Message:
    """Controller -> router acceptance: a successful Result whose body is JSON."""
    reply = result(request)
    reply.body = _body(fields)
    return reply


def reply(request: Message, **fields: Any) -> Message:
    """A successful answer to ``request``."""
    return Message(CtrlType.REPLY, headers={ChannelHeader.REPLY_FOR.value: put_int32(request.sequence)},
                   body=_body({"ok": True, **fields}))


def error_reply(request: Message, code: str, text: str) -> Message:
    """A refusal of ``request`` with an error ``code`` (e.g. ``INVALID_SESSION``) and prose."""
    return Message(CtrlType.REPLY, headers={ChannelHeader.REPLY_FOR.value: put_int32(request.sequence)},
                   body=_body({"ok": False, "code": code, "message": text}))


def string(data: dict[str, Any], key: str, *, max_length: int = 4096, default: str | None = None) -> str:
    """``data[key]`` as a bounded string; absent gives ``default`` (if not ``None``)."""
    value = data.get(key, default)
    if not isinstance(value, str) or len(value) > max_length:
        raise WireProtocolError(f"control field {key!r} must be a string of at most {max_length} characters")
    return value


def integer(data: dict[str, Any], key: str, *, low: int, high: int, default: int | None = None) -> int:
    """``data[key]`` as an int in [low, high]; absent gives ``default`` (if not ``None``)."""
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise WireProtocolError(f"control field {key!r} must be an integer in [{low}, {high}]")
    return value


def string_list(data: dict[str, Any], key: str, *, max_items: int = 1_000_000) -> list[str]:
    """``data[key]`` as a list of strings (absent: empty)."""
    value = data.get(key, [])
    if not isinstance(value, list) or len(value) > max_items or not all(isinstance(v, str) for v in value):
        raise WireProtocolError(f"control field {key!r} must be a list of strings")
    return value
