"""One process at a time in a controller's home: a running controller holds ``controller.lock``.

The store, the Raft journal and the PKI of a controller are written by the process that runs it; a
second controller started on the same home, or ``ziti-aio cluster init`` run while it runs, would
rewrite them under it (docs/ha.md, "A cluster of one"). The lock is an ``flock`` on a file in the
home, so it is released by the kernel however the holder ends (``kill -9`` included) and never
needs cleaning up. The holder writes its pid into the file for the refusal's message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ziti_aio.common.errors import ConfigError

if TYPE_CHECKING:
    from types import TracebackType

LOCK_FILE = "controller.lock"


class HomeLock:
    """``with HomeLock(home, doing):`` holds the home's lock, or raises :class:`ConfigError` naming the
    running process when another holds it; ``doing`` says what was refused (e.g. "start a controller")."""

    def __init__(self, home: Path, doing: str) -> None:
        self.path = Path(home) / LOCK_FILE
        self.doing = doing
        self._fd: int | None = None

    def __enter__(self) -> HomeLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ConfigError(f"cannot {self.doing}: a controller is running with home {self.path.parent} "
                              f"(pid {holder}); stop it first") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None
