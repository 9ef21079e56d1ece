"""A lock for the write paths: taking it when it is free does not yield to the scheduler."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from types import TracebackType


class WriteLock:
    """Serialises writers in FIFO order, like a :class:`trio.StrictFIFOLock`.

    Every write it guards checkpoints on its own (the socket write yields once), so taking the
    lock when it is free skips trio's extra checkpoint: one trip through the scheduler per send
    instead of three (channel lock, TLS write lock, the write). It is a flag and a parking lot
    rather than a trio lock, whose every acquire also records its owner for the case of a task
    exiting with the lock held (an ``inspect`` call per send on the data path). Release hands the
    lock straight to the first waiter, so a newcomer cannot overtake it.
    """

    def __init__(self) -> None:
        self._held = False
        self._waiters = trio.lowlevel.ParkingLot()

    def locked(self) -> bool:
        return self._held

    async def __aenter__(self) -> None:
        if self._held:
            await self._waiters.park()  # woken by __aexit__ as the new holder
        else:
            self._held = True

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if not self._waiters.unpark():
            self._held = False
