"""The one error the sans-I/O wire layer raises."""

from __future__ import annotations

from ziti_aio.common.errors import ProtocolError


class WireProtocolError(ProtocolError):
    """Bytes or a message break the channel/edge wire protocol.

    Raised by the frame decoder, the header readers, the edge parsers and the end-to-end
    crypto. For bytes from a peer it means that peer is broken or hostile: close that one
    connection. Raised while building a message, it means the caller passed a value the wire
    cannot carry (out of range, wrong length).
    """

    code = "WIRE_PROTOCOL_ERROR"
    default_message = "channel wire protocol violation"
