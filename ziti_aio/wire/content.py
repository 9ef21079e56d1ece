"""Content types (the int32 at offset 4 of a frame) of the channel and edge protocols."""

from __future__ import annotations

from enum import IntEnum


class ChannelContentType(IntEnum):
    """Types 0-6, reserved by the channel layer (Go ``messages.go``); libziti uses 0, 2 and 3."""

    HELLO = 0
    PING = 1
    RESULT = 2
    LATENCY = 3
    LATENCY_RESPONSE = 4
    HEARTBEAT = 5
    RAW = 6


class EdgeContentType(IntEnum):
    """Edge message types (sdk-golang ``edge_client.proto``).

    libziti 0.29.3 handles only :data:`LIBZITI_EDGE_TYPES` (60783-60791) and drops the rest.
    """

    CONNECT = 60783
    STATE_CONNECTED = 60784
    STATE_CLOSED = 60785
    DATA = 60786
    DIAL = 60787
    DIAL_SUCCESS = 60788
    DIAL_FAILED = 60789
    BIND = 60790
    UNBIND = 60791
    STATE_SESSION_ENDED = 60792
    PROBE = 60793
    UPDATE_BIND = 60794
    HEALTH_EVENT = 60795
    TRACE_ROUTE = 60796
    TRACE_ROUTE_RESPONSE = 60797
    CONN_INSPECT_REQUEST = 60798
    CONN_INSPECT_RESPONSE = 60799
    BIND_SUCCESS = 60800
    UPDATE_TOKEN_SUCCESS = 60801
    UPDATE_TOKEN_FAILURE = 60802
    UPDATE_TOKEN = 60803
    INSPECT_REQUEST = 60804
    INSPECT_RESPONSE = 60805
    XG_PAYLOAD = 1100
    XG_ACKNOWLEDGEMENT = 1101
    XG_CONTROL = 1102
    XG_CLOSE = 1103
    POSTURE_RESPONSE = 10800
    SERVICE_POSTURE_STATE_REQUEST = 108001
    SERVICE_POSTURE_STATE_RESPONSE = 108002


LIBZITI_EDGE_TYPES = frozenset(EdgeContentType(n) for n in range(EdgeContentType.CONNECT, EdgeContentType.UNBIND + 1))
