"""The fabric API's ``database`` operations: snapshots of the store and its integrity check (docs/fabric.md)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import trio

from ziti_aio.common.errors import ValidationError
from ziti_aio.controller.model.fields import now_text

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from ziti_aio.controller.store.sqlite_store import SqliteStore

SNAPSHOT_DIR = "snapshots"
# A snapshot's name: one plain file name, never a path (snapshots stay in the controller's home).
SNAPSHOT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class DatabaseOps:
    """Snapshots and integrity checks of one controller's store; blocking work runs in a worker thread."""

    def __init__(self, store: SqliteStore, flush: Callable[[], None] = lambda: None) -> None:
        self.store = store
        self.flush = flush
        """Writes every acknowledged change still queued to the store (a Raft member writes it behind)."""
        self._lock = trio.Lock()
        self._last: dict[str, Any] = {"inProgress": False, "fixingErrors": False, "tooManyErrors": False,
                                      "startTime": now_text(), "endTime": now_text(), "error": "", "results": []}

    @property
    def folder(self) -> Path:
        """Where snapshots go: ``snapshots/`` beside the store file, in the controller's home."""
        return self.store.path.parent / SNAPSHOT_DIR

    async def snapshot(self, name: str | None) -> Path:
        """Copy the store into ``snapshots/<name>`` (default: the store's name and the time); returns its path."""
        if name is None or name == "":
            name = f"{self.store.path.name}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
        elif not isinstance(name, str) or not SNAPSHOT_NAME.fullmatch(name) or ".." in name:
            raise ValidationError("a snapshot path is one file name (letters, digits, '.', '_', '-'); "
                                  "snapshots are written to the controller's snapshots folder",
                                  field="path", value=name)
        target = self.folder / name
        async with self._lock:
            if target.exists():
                raise ValidationError(f"a snapshot named {name} already exists", field="path", value=name)
            await trio.to_thread.run_sync(self._write, target)
        return target

    def _write(self, target: Path) -> None:
        self.folder.mkdir(mode=0o700, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        try:
            self.flush()
            self.store.backup(partial)
            partial.rename(target)
        finally:
            partial.unlink(missing_ok=True)

    async def check(self, *, fix: bool) -> None:
        """Run SQLite's integrity check of the store now; the result is kept for :meth:`results`.

        Nothing can be repaired in place: a damaged file is restored from a snapshot, so ``fix``
        reports every problem as not fixed.
        """
        async with self._lock:
            started = now_text()
            problems = await trio.to_thread.run_sync(self.store.integrity_problems)
            self._last = {"inProgress": False, "fixingErrors": fix, "tooManyErrors": False,
                          "startTime": started, "endTime": now_text(), "error": "",
                          "results": [{"description": p, "fixed": False} for p in problems]}

    def results(self) -> dict[str, Any]:
        """The last check's outcome in OpenZiti's ``dataIntegrityCheckDetails`` shape."""
        return dict(self._last)
