"""A quickstart whose lifetime another program controls: ``--detach`` and ``--exit-with-parent``.

``--detach`` starts the same command again, without ``--detach``, as a child in a session of its own
(no terminal, so closing one does not stop it), its output going to a log file; it returns once that
output holds the ``ready in`` line, or fails with the log when the child exits first. The network then
runs until its process is signalled (SIGTERM or SIGINT stop it cleanly).

``--exit-with-parent`` asks the Linux kernel to send SIGTERM to the quickstart when the process that
started it exits (``prctl(PR_SET_PDEATHSIG)``), so a CI job that dies cannot leave a network behind.
The kernel watches the thread that started it: a multi-threaded parent should start it from a thread
that lives as long as the network should.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ziti_aio.common.errors import ConfigError, ZitiError

DETACH_FLAG = "--detach"
READY_LINE = re.compile(r"^ready in [0-9.]+ s$", re.M)
DETACH_READY_TIMEOUT_S = 120.0
DETACH_POLL_S = 0.05
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class DetachFailed(ZitiError):
    """The background quickstart exited, or was not ready in time."""

    code = "DETACH_FAILED"


@dataclass(frozen=True)
class Detached:
    """A quickstart running in the background: its pid, what it printed until ready, and its log file."""

    pid: int
    output: str
    log: Path


def own_command() -> list[str]:
    """How to run this program again: the one-file binary, or this interpreter with ``-m ziti_aio``."""
    return [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "ziti_aio"]


def detach(args: list[str], *, timeout_s: float = DETACH_READY_TIMEOUT_S) -> Detached:
    """Run ``ziti-aio ARGS`` (``--detach`` dropped) in the background; return once it is ready."""
    fd, name = tempfile.mkstemp(prefix="ziti-aio-quickstart-", suffix=".log")
    log = Path(name)
    with os.fdopen(fd, "wb") as out:
        child = subprocess.Popen([*own_command(), *(a for a in args if a != DETACH_FLAG)],
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            code = child.wait(timeout=DETACH_POLL_S)
        except subprocess.TimeoutExpired:
            text = log.read_text(errors="replace")
            if (ready := READY_LINE.search(text)) is not None:
                return Detached(child.pid, text[:ready.end()], log)
            if time.monotonic() > deadline:
                child.terminate()
                raise DetachFailed(f"the quickstart (pid {child.pid}) was not ready after {timeout_s:g} s; "
                                   f"stopped it; its log: {log}") from None
        else:
            raise DetachFailed(f"the quickstart exited with code {code} before it was ready; its log ({log}):\n"
                               + log.read_text(errors="replace").rstrip())


def exit_with_parent() -> None:
    """SIGTERM this process when its parent exits (Linux only); an error if the parent is already gone."""
    if not sys.platform.startswith("linux"):
        raise ConfigError("--exit-with-parent needs Linux (prctl PR_SET_PDEATHSIG)")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise ConfigError(f"--exit-with-parent: prctl failed: {os.strerror(errno)}")
    if os.getppid() == 1:  # orphaned before the call: no parent death will ever be signalled
        raise ConfigError("--exit-with-parent: the parent process has already exited")
