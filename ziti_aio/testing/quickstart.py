"""Run ``ziti-aio quickstart`` as a real process and wait for its ``ready in`` line."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

READY_TIMEOUT_S = 60.0


@dataclass
class QuickstartProcess:
    """A running quickstart: the process, what it printed until ready, and its controller URL."""

    process: subprocess.Popen[str]
    output: str
    url: str

    @property
    def ready_seconds(self) -> float:
        return float(re.search(r"^ready in ([0-9.]+) s", self.output, re.M).group(1))  # type: ignore[union-attr]

    def stop(self, timeout_s: float = 20.0) -> int:
        """SIGTERM, then wait; returns the exit code."""
        self.process.terminate()
        return self.process.wait(timeout=timeout_s)


async def start_quickstart(home: Path, *args: str, timeout_s: float = READY_TIMEOUT_S,
                           command: Sequence[str] = (sys.executable, "-m", "ziti_aio")) -> QuickstartProcess:
    """Start ``COMMAND quickstart --home HOME ARGS…``; returns once it printed ``ready in``.

    ``command`` is how ``ziti-aio`` is run: by default this interpreter, or e.g. a frozen binary.
    """
    # Popen only forks; the output is read on a thread below.
    proc = subprocess.Popen([*command, "quickstart", "--home", str(home), *args],  # noqa: ASYNC220
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []

    def read_until_ready() -> str:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("ready in"):
                return "".join(lines)
        raise RuntimeError("quickstart exited before it was ready:\n" + "".join(lines))

    try:
        with trio.fail_after(timeout_s):
            output = await trio.to_thread.run_sync(read_until_ready, abandon_on_cancel=True)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    url = re.search(r"controller\s+(https://\S+)", output).group(1)  # type: ignore[union-attr]
    return QuickstartProcess(proc, output, url)
