"""Header ids of the channel and edge protocols, their value enums, and typed value codecs.

Writers always produce full-width little-endian integers and ``00``/``01`` bools, which
both libziti (reads the first min(len, 4) bytes) and Go (demands exact widths) accept.
Readers demand exact widths, except :func:`get_low_uint`, the rule of docs/wire.md §4 for Cost and
Precedence, whose width differs between libziti and the Go SDK.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from enum import IntEnum, IntFlag
from typing import TypeVar

from ziti_aio.wire.errors import WireProtocolError

REFLECTED_MIN = 128
REFLECTED_MAX = 255

Headers = Mapping[int, bytes]
_T = TypeVar("_T")


class ChannelHeader(IntEnum):
    """Header ids 0-127 reserved by the channel layer, plus the reflected 128."""

    CONNECTION_ID = 0
    REPLY_FOR = 1
    RESULT_SUCCESS = 2
    HELLO_ROUTER_ADVERTISEMENTS = 3  # libziti: HelloListener
    HELLO_VERSION = 4
    HEARTBEAT = 5
    HEARTBEAT_RESPONSE = 6
    TYPE = 7
    ID = 8
    IS_GROUPED = 9
    GROUP_SECRET = 10
    IS_FIRST_GROUP_CONNECTION = 11
    UNDERLAY_TYPE = 12
    HELLO_REJECT_CLASS = 13
    LATENCY_PROBE_TIME = 128  # reflected: copied from request into reply


class EdgeHeader(IntEnum):
    """Edge header ids (sdk-golang ``edge_client.proto``; libziti knows 1000-1011)."""

    UUID = 128
    CONN_ID = 1000
    SEQ = 1001
    SESSION_TOKEN = 1002
    PUBLIC_KEY = 1003
    COST = 1004
    PRECEDENCE = 1005
    TERMINATOR_IDENTITY = 1006
    TERMINATOR_IDENTITY_SECRET = 1007
    CALLER_ID = 1008
    CRYPTO_METHOD = 1009
    FLAGS = 1010
    APP_DATA = 1011
    ROUTER_PROVIDED_CONN_ID = 1012
    HEALTH_STATUS = 1013
    ERROR_CODE = 1014
    TIMESTAMP = 1015
    TRACE_HOP_COUNT = 1016
    TRACE_HOP_TYPE = 1017
    TRACE_HOP_ID = 1018
    TRACE_SOURCE_REQUEST_ID = 1019
    TRACE_ERROR = 1020
    LISTENER_ID = 1021
    CONN_TYPE = 1022
    SUPPORTS_INSPECT = 1023
    SUPPORTS_BIND_SUCCESS = 1024
    CONNECTION_MARKER = 1025
    CIRCUIT_ID = 1026
    STICKINESS_TOKEN = 1027
    USE_XGRESS_TO_SDK = 1028
    XGRESS_CTRL_ID = 1029
    XGRESS_ADDRESS = 1030
    INSPECT_REQUESTED_VALUES = 1031
    SUPPORTS_POSTURE_CHECKS = 1032
    STRUCTURED_ERROR = 1033
    DIALER_IDENTITY_ID = 1034
    DIALER_IDENTITY_NAME = 1035
    ZITI_AIO_ROUTER_MODEL = 0x7A10  # ours: a router's hello reply says it authorizes from its router model


class EdgeFlag(IntFlag):
    """Bits of the uint32 Flags header (1010) on Data."""

    FIN = 1
    TRACE_UUID = 2
    MULTIPART = 4
    STREAM = 8
    MULTIPART_MSG = 16


class Precedence(IntEnum):
    """Terminator precedence, carried in the first byte of header 1005."""

    DEFAULT = 0
    REQUIRED = 1
    FAILED = 2


class CryptoMethod(IntEnum):
    """Header 1009; libziti never sends it (libsodium implied)."""

    LIBSODIUM = 0
    AES256_GCM = 1


class ConnType(IntEnum):
    """Header 1022."""

    INVALID = 0
    DIAL = 1
    BIND = 2
    UNKNOWN = 3


_FORMATS = {
    "int32": struct.Struct("<i"),
    "uint16": struct.Struct("<H"),
    "uint32": struct.Struct("<I"),
    "uint64": struct.Struct("<Q"),
}


def _put(kind: str, value: int) -> bytes:
    try:
        return _FORMATS[kind].pack(value)
    except struct.error as exc:
        raise WireProtocolError(f"{value} does not fit in a {kind}") from exc


def _get(kind: str, headers: Headers, key: int) -> int | None:
    value = headers.get(key)
    if value is None:
        return None
    fmt = _FORMATS[kind]
    if len(value) != fmt.size:
        raise WireProtocolError(f"header {key}: a {kind} needs {fmt.size} bytes, got {len(value)}")
    result: int = fmt.unpack(value)[0]
    return result


def put_int32(value: int) -> bytes:
    """Encode a signed int32, 4 bytes LE (ReplyFor and other sequences)."""
    return _put("int32", value)


def put_uint16(value: int) -> bytes:
    """Encode a uint16, 2 bytes LE."""
    return _put("uint16", value)


def put_uint32(value: int) -> bytes:
    """Encode a uint32, 4 bytes LE (ConnId, Seq, Flags, ErrorCode)."""
    return _put("uint32", value)


def put_uint64(value: int) -> bytes:
    """Encode a uint64, 8 bytes LE (Timestamp, latency probe time)."""
    return _put("uint64", value)


def put_bool(value: bool) -> bytes:
    """Encode a bool as ``01`` or ``00``."""
    return b"\x01" if value else b"\x00"


def put_str(value: str) -> bytes:
    """Encode a string as UTF-8 with no terminator."""
    return value.encode("utf-8")


def get_int32(headers: Headers, key: int) -> int | None:
    """Read a signed int32 of exactly 4 bytes; ``None`` if absent."""
    return _get("int32", headers, key)


def get_uint16(headers: Headers, key: int) -> int | None:
    """Read a uint16 of exactly 2 bytes; ``None`` if absent."""
    return _get("uint16", headers, key)


def get_uint32(headers: Headers, key: int) -> int | None:
    """Read a uint32 of exactly 4 bytes; ``None`` if absent."""
    return _get("uint32", headers, key)


def get_uint64(headers: Headers, key: int) -> int | None:
    """Read a uint64 of exactly 8 bytes; ``None`` if absent."""
    return _get("uint64", headers, key)


def get_low_uint(headers: Headers, key: int, width: int) -> int | None:
    """Read the low ``width`` bytes LE of an integer of any width >= ``width``.

    For Cost (width 2: libziti writes int32, the Go SDK uint16) and Precedence (width 1:
    libziti int32, Go SDK one byte), as the Go router reads them. ``None`` if absent.
    """
    value = headers.get(key)
    if value is None:
        return None
    if len(value) < width:
        raise WireProtocolError(f"header {key}: needs at least {width} bytes, got {len(value)}")
    return int.from_bytes(value[:width], "little")


def get_bool(headers: Headers, key: int) -> bool | None:
    """Read a bool that must be exactly ``00`` or ``01``; ``None`` if absent."""
    value = headers.get(key)
    if value is None:
        return None
    if value not in (b"\x00", b"\x01"):
        raise WireProtocolError(f"header {key}: a bool must be 00 or 01, got {value.hex()}")
    return value == b"\x01"


def get_str(headers: Headers, key: int) -> str | None:
    """Read a UTF-8 string; ``None`` if absent."""
    value = headers.get(key)
    if value is None:
        return None
    return decode_str(value, f"header {key}")


def decode_str(value: bytes, what: str) -> str:
    """Decode UTF-8 ``value``; invalid bytes raise :class:`WireProtocolError` naming ``what``."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WireProtocolError(f"{what} is not valid UTF-8") from exc


def required(value: _T | None, key: int) -> _T:
    """``value`` read from header ``key``; ``None`` (absent) raises :class:`WireProtocolError`."""
    if value is None:
        raise WireProtocolError(f"required header {key} is missing")
    return value


def reflected_headers(headers: Headers) -> dict[int, bytes]:
    """The headers (ids 128-255) a reply must copy from its request, as Go's ``ReplyTo`` does."""
    return {key: value for key, value in headers.items() if REFLECTED_MIN <= key <= REFLECTED_MAX}
