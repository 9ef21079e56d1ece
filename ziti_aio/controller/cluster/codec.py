"""Raft messages on the wire: length-prefixed JSON, checked field by field, never pickle.

pysyncobj hands its transport plain dicts whose log entries hold bytes: a type byte and, for its
own membership commands, a pickle it made itself. Outgoing, those local pickles are opened here and
written as JSON; incoming, JSON of the expected shape is turned back into the bytes pysyncobj
expects, re-pickled locally from checked strings. Nothing that arrives is ever unpickled
(docs/ha.md). Anything else — an unknown type, a missing or mistyped field, a frame over
:data:`MAX_FRAME_BYTES` — is a :class:`ProtocolError`, and the transport closes that peer.
"""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

from pysyncobj import pickle as sync_pickle
from pysyncobj.node import Node

from ziti_aio.common.errors import ProtocolError

# Largest frame either way; commands are bounded well below it (MAX_COMMAND_BYTES).
MAX_FRAME_BYTES = 8 * 1024 * 1024
# Largest replicated command; pysyncobj's batch size is set above it so it never splits one entry
# into its pickled "transmission" form (which we refuse).
MAX_COMMAND_BYTES = 2 * 1024 * 1024
HEADER = struct.Struct(">I")

# Entry type bytes: pysyncobj's no-op and membership change, and ours (a JSON command, a change of
# the non-voting members: docs/ha.md "Non-voting members").
NO_OP = 1
MEMBERSHIP = 2
COMMAND = 10
NON_VOTER = 11
NON_VOTER_OPS = ("add", "rem")


class ClusterNode(Node):  # type: ignore[misc]
    """A member: its id (the controller id of its certificate's SPIFFE id) and peer address ``host:port``."""

    def __init__(self, id: str, address: str) -> None:
        super().__init__(id, address=address)

    def __reduce__(self) -> tuple[Any, ...]:
        # pysyncobj pickles nodes into membership entries locally; rebuild from plain strings.
        return (ClusterNode, (self.id, self.address))


def command_entry(payload: str) -> bytes:
    """A log entry carrying one of our JSON commands."""
    return bytes([COMMAND]) + payload.encode()


def entry_payload(entry: bytes) -> str | None:
    """The JSON command of an entry of ours, or ``None`` for pysyncobj's own entries."""
    return entry[1:].decode() if entry[:1] == bytes([COMMAND]) else None


def non_voter_entry(op: str, ident: str, address: str) -> bytes:
    """A log entry adding (``"add"``) or removing (``"rem"``) the non-voting member ``ident``."""
    return bytes([NON_VOTER]) + json.dumps([op, ident, address]).encode()


def non_voter_change(entry: bytes) -> tuple[str, str, str] | None:
    """``(op, id, address)`` of a non-voting member change, ``None`` for any other entry."""
    if entry[:1] != bytes([NON_VOTER]):
        return None
    op, ident, address = json.loads(entry[1:])
    return op, ident, address


def membership_change(entry: bytes) -> tuple[str, str] | None:
    """``(op, id)`` of one of pysyncobj's membership entries (a pickle this process made), else ``None``."""
    if entry[:1] != bytes([MEMBERSHIP]):
        return None
    op, ident, _node = sync_pickle.loads(entry[1:])
    return op, ident


# --- entries -------------------------------------------------------------------------------

def entry_to_json(entry: bytes) -> list[Any]:
    """A log entry as JSON: ``[type]``, ``[COMMAND, text]`` or ``[MEMBERSHIP, op, id, address]``."""
    kind = entry[0]
    if kind == NO_OP:
        return [NO_OP]
    if kind == COMMAND:
        return [COMMAND, entry[1:].decode()]
    if kind == MEMBERSHIP:
        op, ident, node = sync_pickle.loads(entry[1:])  # made by this process (or by entry_from_json)
        return [MEMBERSHIP, op, ident, node.address]
    if kind == NON_VOTER:
        return [NON_VOTER, *json.loads(entry[1:])]
    raise ProtocolError(f"cannot send a log entry of type {kind}")


def entry_from_json(raw: Any) -> bytes:
    """Inverse of :func:`entry_to_json`, checking every field."""
    if not isinstance(raw, list) or not raw or not isinstance(raw[0], int):
        raise ProtocolError("a log entry is not a typed list")
    kind = raw[0]
    if kind == NO_OP and len(raw) == 1:
        return bytes([NO_OP])
    if kind == COMMAND and len(raw) == 2 and isinstance(raw[1], str) and len(raw[1]) <= MAX_COMMAND_BYTES:
        return command_entry(raw[1])
    if (kind == MEMBERSHIP and len(raw) == 4 and raw[1] in ("add", "rem")
            and isinstance(raw[2], str) and isinstance(raw[3], str)):
        return bytes([MEMBERSHIP]) + bytes(sync_pickle.dumps([raw[1], raw[2], ClusterNode(raw[2], raw[3])]))
    if (kind == NON_VOTER and len(raw) == 4 and raw[1] in NON_VOTER_OPS
            and isinstance(raw[2], str) and isinstance(raw[3], str)):
        return non_voter_entry(raw[1], raw[2], raw[3])
    raise ProtocolError("a log entry has an unknown type or shape")


def _log_entry_from_json(raw: Any) -> tuple[bytes, int, int]:
    if not (isinstance(raw, list) and len(raw) == 3 and _is_int(raw[1]) and _is_int(raw[2])):
        raise ProtocolError("a log entry is not [command, index, term]")
    return entry_from_json(raw[0]), raw[1], raw[2]


# --- messages ------------------------------------------------------------------------------

def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


NON_VOTER_HELLO = "non_voter"
# ours, linearizable reads (Raft's read-index, docs/ha.md "Linearizable reads"): a member asks the
# leader for a read index, the leader answers (-1: not now); the leader confirms its leadership with a
# round of its own that every voter acknowledges in the same term.
READ_INDEX = "read_index"
READ_INDEX_REPLY = "read_index_reply"
READ_ROUND = "read_round"
READ_ROUND_ACK = "read_round_ack"

# Per message type: its fields and their checks (pysyncobj's own message set, nothing more).
_INT, _BOOL = "int", "bool"
_FIELDS: dict[str, dict[str, str]] = {
    "request_vote": {"term": _INT, "last_log_index": _INT, "last_log_term": _INT},
    "response_vote": {"term": _INT},
    "timeout_now": {"term": _INT},
    "append_entries": {"term": _INT, "commit_index": _INT},
    "next_node_idx": {"next_node_idx": _INT, "reset": _BOOL, "success": _BOOL},
    # ours: the first frame a voter sends on a connection to a non-voting member (docs/ha.md)
    NON_VOTER_HELLO: {},
    READ_INDEX: {"request": _INT},
    READ_INDEX_REPLY: {"request": _INT, "index": _INT},
    READ_ROUND: {"term": _INT, "round": _INT},
    READ_ROUND_ACK: {"term": _INT, "round": _INT},
}
# pysyncobj's apply_command (a follower handing a command to the leader) is not among them: our
# commands are built and appended by the leader only (docs/ha.md); a member sending one is cut.
_OPTIONAL_INTS = ("prevLogIdx", "prevLogTerm")


def encode_message(message: dict[str, Any]) -> bytes:
    """One frame (length and JSON) for a message pysyncobj sends."""
    if "transmission" in message:
        raise ProtocolError("split log entries are not sent (commands are bounded)")
    out = dict(message)
    if "entries" in out:
        out["entries"] = [[entry_to_json(c), i, t] for c, i, t in out["entries"]]
    if out.get("serialized") is not None:
        data, first, last = out["serialized"]
        out["serialized"] = [base64.b64encode(data).decode(), first, last]
    body = json.dumps(out, separators=(",", ":")).encode()
    if len(body) > MAX_FRAME_BYTES:
        raise ProtocolError(f"a {message.get('type')} message of {len(body)} bytes is over the frame limit")
    return HEADER.pack(len(body)) + body


def non_voter_hello() -> bytes:
    """The frame telling a member that it does not vote."""
    return encode_message({"type": NON_VOTER_HELLO})


def frame_length(header: bytes) -> int:
    """The body length a frame header announces; over the limit is a :class:`ProtocolError`."""
    (length,) = HEADER.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise ProtocolError(f"a frame of {length} bytes is over the limit of {MAX_FRAME_BYTES}")
    return int(length)


def decode_message(body: bytes) -> dict[str, Any]:
    """A received frame's body as the dict pysyncobj expects; any deviation is a :class:`ProtocolError`."""
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"a frame is not JSON: {exc}") from None
    if not isinstance(raw, dict) or raw.get("type") not in _FIELDS:
        raise ProtocolError("a frame is not a known raft message")
    for name, check in _FIELDS[raw["type"]].items():
        value = raw.get(name)
        if not (_is_int(value) if check == _INT else isinstance(value, bool)):
            raise ProtocolError(f"{raw['type']}.{name} is missing or not an {check}")
    for name in _OPTIONAL_INTS:
        if name in raw and not _is_int(raw[name]):
            raise ProtocolError(f"{raw['type']}.{name} is not an int")
    if "transmission" in raw or "data" in raw:
        raise ProtocolError("split log entries are refused")
    if raw["type"] == "append_entries":
        _check_append_entries(raw)
    return raw


def _check_append_entries(raw: dict[str, Any]) -> None:
    if "prevLogIdx" in raw:
        if not _is_int(raw.get("prevLogTerm")) or not isinstance(raw.get("entries"), list):
            raise ProtocolError("append_entries without prevLogTerm or entries")
        raw["entries"] = [_log_entry_from_json(e) for e in raw["entries"]]
        return
    serialized = raw.get("serialized")
    if serialized is None:
        raw["serialized"] = None
        return
    if not (isinstance(serialized, list) and len(serialized) == 3 and isinstance(serialized[0], str)
            and isinstance(serialized[1], bool) and isinstance(serialized[2], bool)):
        raise ProtocolError("append_entries.serialized is not [data, first, last]")
    try:
        data = base64.b64decode(serialized[0], validate=True)
    except ValueError:
        raise ProtocolError("append_entries.serialized data is not base64") from None
    raw["serialized"] = (data, serialized[1], serialized[2])
