"""Making the Raft journal durable before a cluster of one acknowledges a write.

pysyncobj keeps its journal in a memory-mapped file and flushes it once a second. A cluster of more
members relies on a majority holding an entry; a cluster of one has no majority to rely on, so its
writers wait until the journal is on disk. One ``fsync`` (of a descriptor of our own on the same file:
on Linux it writes the mapping's dirty pages) covers every entry appended before it started, so many
writers share it (group commit, as the single controller's store did; docs/ha.md).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import trio

from ziti_aio.common.errors import ClusterUnavailable

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


class JournalSync:
    """fsyncs the journal at ``path`` for waiting writers; ``last_index()`` is the newest entry appended."""

    def __init__(self, path: Path, last_index: Callable[[], int]) -> None:
        self._fd = os.open(path, os.O_RDONLY)
        self._last_index = last_index
        self.synced = 0
        """Every entry up to this index is on disk."""
        self._syncing: trio.Event | None = None

    async def until(self, index: int) -> None:
        """Return once every entry up to ``index`` is on disk, syncing if no one else is."""
        while self.synced < index:
            if self._syncing is not None:
                await self._syncing.wait()
                continue
            target = self._last_index()
            syncing = self._syncing = trio.Event()
            try:
                await trio.to_thread.run_sync(os.fsync, self._fd)
            except OSError as exc:
                raise ClusterUnavailable(f"cannot write the Raft journal to disk: {exc}") from exc
            else:
                self.synced = max(self.synced, target)
            finally:
                self._syncing = None
                syncing.set()

    def close(self) -> None:
        os.close(self._fd)
