"""Typed builders and parsers for the channel-level messages: hello, Result, latency probe.

Builders return a :class:`Message` with sequence 0; the channel assigns the real sequence when
it sends. Shapes follow docs/wire.md §2-§3 as libziti 0.29.3 sends and checks them.

Error handling: parsers raise :class:`WireProtocolError` on a wrong content type, a missing
required header or a malformed value.
"""

from __future__ import annotations

from dataclasses import dataclass

from ziti_aio.wire.content import ChannelContentType
from ziti_aio.wire.frame import Message, expect_content_type
from ziti_aio.wire.headers import (
    ChannelHeader,
    EdgeHeader,
    Headers,
    decode_str,
    get_bool,
    get_int32,
    get_str,
    put_bool,
    put_int32,
    put_str,
    put_uint64,
    reflected_headers,
    required,
)


@dataclass(frozen=True, slots=True)
class Hello:
    """An SDK's hello: its API session token and channel name (``ziti-sdk-c[0]@host``)."""

    token: str
    name: str


@dataclass(frozen=True, slots=True)
class Result:
    """A Result: the request it answers, success, the body text, and HelloVersion if any."""

    reply_for: int
    success: bool
    message: str
    version: str | None


def hello(token: str, name: str) -> Message:
    """SDK -> router hello: only header 1002 = API session token; body = channel name."""
    return Message(ChannelContentType.HELLO, headers={EdgeHeader.SESSION_TOKEN: put_str(token)}, body=put_str(name))


def parse_hello(msg: Message) -> Hello:
    """Parse an SDK hello; 1002 is required."""
    expect_content_type(msg, ChannelContentType.HELLO)
    token = required(get_str(msg.headers, EdgeHeader.SESSION_TOKEN), EdgeHeader.SESSION_TOKEN)
    return Hello(token=token, name=decode_str(msg.body, "hello body"))


def result(request: Message, *, success: bool = True, message: str = "", extra: Headers | None = None) -> Message:
    """A Result replying to ``request``: ReplyFor, ResultSuccess, the request's reflected
    headers (128-255, as Go's ``ReplyTo``), then ``extra``; body = ``message``."""
    headers = {
        ChannelHeader.REPLY_FOR.value: put_int32(request.sequence),
        ChannelHeader.RESULT_SUCCESS: put_bool(success),
    }
    headers.update(reflected_headers(request.headers))
    headers.update(extra or {})
    return Message(ChannelContentType.RESULT, headers=headers, body=put_str(message))


def hello_reply(request: Message, *, version: str | None = None, router_model: bool = False) -> Message:
    """Router -> SDK hello acceptance: a successful Result, with HelloVersion if given and, with
    ``router_model``, our header saying the router authorizes from its router model."""
    extra = {} if version is None else {ChannelHeader.HELLO_VERSION.value: put_str(version)}
    if router_model:
        extra[EdgeHeader.ZITI_AIO_ROUTER_MODEL.value] = put_bool(True)
    return result(request, extra=extra)


def offers_router_model(reply: Message) -> bool:
    """Does a router's hello reply say it authorizes dials and binds from its router model?"""
    return bool(get_bool(reply.headers, EdgeHeader.ZITI_AIO_ROUTER_MODEL))


def parse_result(msg: Message) -> Result:
    """Parse a Result; ReplyFor is required, an absent ResultSuccess means failure (as libziti)."""
    expect_content_type(msg, ChannelContentType.RESULT)
    return Result(
        reply_for=required(get_int32(msg.headers, ChannelHeader.REPLY_FOR), ChannelHeader.REPLY_FOR),
        success=bool(get_bool(msg.headers, ChannelHeader.RESULT_SUCCESS)),
        message=msg.body.decode("utf-8", errors="replace"),
        version=get_str(msg.headers, ChannelHeader.HELLO_VERSION),
    )


def latency_probe(time_ms: int) -> Message:
    """SDK -> router latency probe: header 128 = uint64 LE clock in ms, empty body."""
    return Message(ChannelContentType.LATENCY, headers={ChannelHeader.LATENCY_PROBE_TIME: put_uint64(time_ms)})


def latency_reply(probe: Message) -> Message:
    """Router -> SDK answer to a probe: a successful Result with 128 copied byte for byte."""
    expect_content_type(probe, ChannelContentType.LATENCY)
    return result(probe)
