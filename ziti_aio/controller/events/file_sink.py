"""A JSON-lines file sink with size-based rotation: ``events.log`` grows to ``max_bytes``, then becomes
``events.log.1`` (older ones shift up) and at most ``keep`` rotated files stay (docs/events.md).
Disk use is bounded by ``(keep + 1) * max_bytes``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from ziti_aio.controller.events.types import json_lines

if TYPE_CHECKING:
    from pathlib import Path

    from ziti_aio.controller.events.bus import Subscription
    from ziti_aio.controller.events.types import Event

log = logging.getLogger(__name__)

MAX_BATCH = 4096
FLUSH_DELAY_S = 0.2
"""After an event arrives, what else arrives within this long is written with it: one hand-off to a worker
thread and one file open per batch rather than per event (the file sink's cost per event is then mostly
its JSON encoding; docs/events.md)."""


class JsonLinesFile:
    """Appends events as JSON lines to ``path``, rotating by size."""

    def __init__(self, path: Path, *, max_bytes: int, keep: int) -> None:
        self.path, self.max_bytes, self.keep = path, max_bytes, keep

    def write(self, events: list[Event]) -> None:
        """Append ``events`` (blocking file I/O: run it in a thread): in one write when they fit before the
        next rotation, else line by line."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        size = self.path.stat().st_size if self.path.exists() else 0
        data = json_lines(events) + b"\n"
        if size + len(data) <= self.max_bytes:
            with self.path.open("ab") as out:
                out.write(data)
            return
        out = self.path.open("ab")
        try:
            for line in data.splitlines(keepends=True):
                if size and size + len(line) > self.max_bytes:
                    out.close()
                    self._rotate()
                    out = self.path.open("ab")
                    size = 0
                out.write(line)
                size += len(line)
        finally:
            out.close()

    def _rotate(self) -> None:
        oldest = self.path.with_name(f"{self.path.name}.{self.keep}")
        oldest.unlink(missing_ok=True)
        for n in range(self.keep - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{n + 1}"))
        if self.keep:
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)


async def run_file_sink(sub: Subscription, sink: JsonLinesFile) -> None:
    """Write ``sub``'s events to ``sink`` until cancelled, in batches of what arrives within
    :data:`FLUSH_DELAY_S` of a first event."""
    while await sub.wait():
        await trio.sleep(FLUSH_DELAY_S)
        batch = sub.take(MAX_BATCH)
        try:
            await trio.to_thread.run_sync(sink.write, batch)
        except OSError as exc:
            log.error("event file %s: cannot write %d event(s): %s", sink.path, len(batch), exc)
