"""The embedded SQLite store: one file, WAL, fsync on every commit.

Entities are JSON documents keyed by (kind, id). Every mutation is a :class:`Command`;
:meth:`SqliteStore.write` commits a batch of them in one transaction (one fsync), so
an acknowledged change survives ``kill -9``. The store knows nothing of entity semantics;
the model validates first and batches (group commit, docs/model.md).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ziti_aio.common.errors import ConfigError
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.store.commands import Command, Put

if TYPE_CHECKING:
    from collections.abc import Sequence

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
APPLIED_INDEX = "raft_applied_index"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entities (
    kind TEXT NOT NULL,
    id   TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
"""


# A command as the store writes it: (kind, id, JSON text) per change, ``None`` for a delete.
Rows = tuple[tuple[str, str, str | None], ...]


def encode(command: Command) -> Rows:
    """``command``'s changes as rows; raises (``TypeError``, ``ValueError``) on data JSON cannot hold."""
    return tuple((c.kind, c.id, json.dumps(c.data, separators=(",", ":")) if isinstance(c, Put) else None)
                 for c in command.changes)


class SqliteStore:
    """A durable entity store in one SQLite file.

    Blocking: call :meth:`apply` and :meth:`load_all` from a worker thread
    (``trio.to_thread.run_sync``); a lock serialises writers.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"cannot open the store at {self.path}: {exc}") from exc
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) != SCHEMA_VERSION:
            raise ConfigError(f"{self.path} has schema version {row[0]}, expected {SCHEMA_VERSION}")

    def load_all(self) -> dict[Kind, dict[str, dict[str, Any]]]:
        """Every stored entity, grouped by kind then id; a kind this version does not know is a
        :class:`ConfigError` (the file was written by another program)."""
        out: dict[Kind, dict[str, dict[str, Any]]] = {}
        with self._lock:
            for kind, ident, data in self._db.execute("SELECT kind, id, data FROM entities"):
                try:
                    known = Kind(kind)
                except ValueError:
                    raise ConfigError(f"{self.path} holds entities of an unknown kind {kind!r}") from None
                out.setdefault(known, {})[ident] = json.loads(data)
        return out

    def apply(self, command: Command) -> None:
        """Apply every change of ``command`` in one durable transaction."""
        self.write((encode(command),))

    def write(self, batch: Sequence[Rows], *, applied_index: int | None = None) -> None:
        """Write encoded commands, in order, in one durable transaction; a clustered controller also
        records the index of the last Raft entry the batch holds (docs/ha.md)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if applied_index is not None:
                    self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (APPLIED_INDEX, str(applied_index)))
                for rows in batch:
                    for kind, ident, data in rows:
                        if data is not None:
                            self._db.execute("INSERT OR REPLACE INTO entities (kind, id, data) VALUES (?, ?, ?)",
                                             (kind, ident, data))
                        else:
                            self._db.execute("DELETE FROM entities WHERE kind = ? AND id = ?", (kind, ident))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        log.debug("wrote %d command(s) in one transaction", len(batch))

    def applied_index(self) -> int:
        """The last Raft entry applied to this file (0 before any)."""
        return int(self.get_meta(APPLIED_INDEX) or 0)

    def restore(self, source: Path, applied_index: int) -> None:
        """Replace every entity with those of the SQLite file ``source`` (a snapshot from the leader); this
        file's own meta values (its instance id) stay."""
        copy = sqlite3.connect(source)
        try:
            with self._lock:
                own = self._db.execute("SELECT key, value FROM meta").fetchall()
                copy.backup(self._db)
                self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", own)
                self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (APPLIED_INDEX, str(applied_index)))
        finally:
            copy.close()

    def get_meta(self, key: str) -> str | None:
        """A value from the store's small key/value table."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        """Durably set a key/value pair (instance id, bootstrap flags)."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def count_entities(self) -> int:
        """How many entities the file holds: a real read, for the health check."""
        with self._lock:
            row = self._db.execute("SELECT count(*) FROM entities").fetchone()
        return int(row[0])

    def backup(self, target: Path) -> None:
        """Copy the whole store, consistently, into a new SQLite file ``target`` (SQLite's backup API)."""
        copy = sqlite3.connect(target)
        try:
            with self._lock:
                self._db.backup(copy)
        finally:
            copy.close()

    def integrity_problems(self) -> list[str]:
        """What SQLite's ``integrity_check`` finds wrong with the file (empty when it is sound)."""
        with self._lock:
            rows = [str(row[0]) for row in self._db.execute("PRAGMA integrity_check")]
        return [] if rows == ["ok"] else rows

    def close(self) -> None:
        with self._lock:
            self._db.close()
