"""Snapshots for log compaction: the SQLite store itself, with a JSON header.

pysyncobj asks for a snapshot when its log grows (``serialize``) and loads one at start or when the
leader sends it to a member that is too far behind (``deserialize``). Our snapshot file is one line
of JSON (the last two applied entries, the voting and the non-voting members) followed by a
consistent copy of the store's SQLite file. Loading one replaces the store's entities only when
it is newer than what the store already holds; pysyncobj then re-applies the log after it, which
converges because every change is a whole-entity put or a delete (docs/ha.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ziti_aio.common.errors import ProtocolError
from ziti_aio.controller.cluster.codec import ClusterNode, entry_from_json, entry_to_json

if TYPE_CHECKING:
    from collections.abc import Callable

    from ziti_aio.controller.store.sqlite_store import SqliteStore

MAX_HEADER_BYTES = 1024 * 1024


def _entry(raw: Any) -> tuple[bytes, int, int]:
    if not (isinstance(raw, list) and len(raw) == 3 and isinstance(raw[1], int) and isinstance(raw[2], int)):
        raise ProtocolError("a snapshot entry is not [command, index, term]")
    return entry_from_json(raw[0]), raw[1], raw[2]


def snapshot_members(path: Path) -> list[str] | None:
    """The member ids a snapshot file lists: ``None`` without a file, empty when it cannot be read."""
    try:
        with open(path, "rb") as src:
            return [str(m[0]) for m in json.loads(src.readline(MAX_HEADER_BYTES))["members"]]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return []


class SqliteSnapshots:
    """pysyncobj's ``serializer``/``deserializer`` over a store. ``flush()`` writes every applied change
    to the store first; ``reload()`` rebuilds memory after a newer snapshot replaced the store."""

    def __init__(self, store: SqliteStore, *, flush: Callable[[], None], reload: Callable[[], None]) -> None:
        self.store = store
        self.flush = flush
        self.reload = reload
        self.non_voters: Callable[[], dict[str, str]] = dict
        """The non-voting members to save (id → address): set by the replica."""
        self.load_non_voters: Callable[[dict[str, str]], None] = lambda _members: None

    def serialize(self, filename: str, data: Any) -> None:
        last, previous, cluster = data
        self.flush()
        header = {"last": [entry_to_json(last[0]), last[1], last[2]],
                  "previous": [entry_to_json(previous[0]), previous[1], previous[2]],
                  "members": [[n.id, n.address] for n in sorted(cluster, key=lambda n: n.id)],
                  "nonVoters": sorted(self.non_voters().items())}
        copy = Path(filename + ".db")
        copy.unlink(missing_ok=True)
        self.store.backup(copy)
        try:
            with open(filename, "wb") as out:
                out.write(json.dumps(header, separators=(",", ":")).encode() + b"\n")
                out.write(copy.read_bytes())
                out.flush()
                os.fsync(out.fileno())
        finally:
            copy.unlink(missing_ok=True)

    def deserialize(self, filename: str) -> tuple[Any, ...]:
        self.flush()  # what memory applied before the snapshot must not land on top of it later
        with open(filename, "rb") as src:
            line = src.readline(MAX_HEADER_BYTES)
            try:
                header = json.loads(line)
                last, previous = _entry(header["last"]), _entry(header["previous"])
                non_voters = {str(i): str(a) for i, a in header.get("nonVoters", [])}
                members = [ClusterNode(str(i), str(a)) for i, a in header["members"] if str(i) not in non_voters]
            except (ValueError, KeyError, TypeError) as exc:
                raise ProtocolError(f"the snapshot {filename} is malformed: {exc}") from None
            if last[1] > self.store.applied_index():
                copy = Path(filename + ".db")
                copy.write_bytes(src.read())
                try:
                    self.store.restore(copy, last[1])
                finally:
                    copy.unlink(missing_ok=True)
                self.reload()
        self.load_non_voters(non_voters)
        return last, previous, members
