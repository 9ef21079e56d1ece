"""Bench plumbing: budgets, metric records, JSON lines, the readable table, child servers."""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import traceback
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import trio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

REPO = Path(__file__).resolve().parents[1]
CHILD_START_TIMEOUT_S = 120.0
CHILD_STOP_TIMEOUT_S = 15.0
SIGNIFICANT_DIGITS = 4
CONCURRENCY = 16  # concurrent HTTPS connections of the load client


@dataclass(frozen=True)
class Budget:
    """How long and how often each measurement runs."""

    duration_s: float  # measured window of one load run
    warmup_s: float  # load before the window opens (connections, caches)
    rounds: int  # thing and baseline alternate this many times; the median is reported
    process_runs: int  # process start-up timings per median
    transfer_mib: int  # bytes pushed (and echoed back) through one data-plane transfer
    idle_circuits: int  # circuits held open for the per-circuit memory figure


QUICK = Budget(duration_s=2.0, warmup_s=0.5, rounds=1, process_runs=3, transfer_mib=64, idle_circuits=500)
FULL = Budget(duration_s=5.0, warmup_s=1.0, rounds=3, process_runs=10, transfer_mib=128, idle_circuits=1000)


@dataclass(frozen=True)
class Context:
    """What every suite gets: the budget and a scratch directory of its own."""

    budget: Budget
    workdir: Path


@dataclass(frozen=True)
class Goal:
    """A target for the ratio (``on="ratio"``) or for the value itself (``on="value"``)."""

    op: str  # ">=" or "<="
    target: float
    on: str = "ratio"
    unit: str = ""

    def text(self) -> str:
        if self.on == "ratio":
            return f"{self.op}{self.target:g}x"
        return f"{self.op}{self.target:g} {self.unit}"

    def met(self, metric: Metric) -> bool | None:
        have = metric.ratio if self.on == "ratio" else metric.value
        if have is None:
            return None
        return have >= self.target if self.op == ">=" else have <= self.target


def _round(value: float | None) -> float | None:
    if value is None or value == 0 or not math.isfinite(value):
        return value
    return round(value, SIGNIFICANT_DIGITS - 1 - math.floor(math.log10(abs(value))))


@dataclass(frozen=True)
class Metric:
    """One measured (or not yet measurable) figure with its same-run baseline."""

    metric: str
    value: float | None
    unit: str
    baseline: str
    baseline_value: float | None = None
    goal: Goal | None = None
    reason: str | None = None

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline_value:
            return None
        return self.value / self.baseline_value

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "metric": self.metric, "value": _round(self.value), "unit": self.unit, "baseline": self.baseline,
            "baseline_value": _round(self.baseline_value), "ratio": _round(self.ratio),
            "goal": self.goal.text() if self.goal else None,
        }
        if self.value is None:
            out["reason"] = self.reason or "not measured"
        return out

    def json_line(self) -> str:
        return json.dumps(self.record(), separators=(", ", ": "))


def unmeasured(spec: Metric, reason: str) -> Metric:
    """``spec`` (name, unit, baseline, goal) reported as null with ``reason``."""
    return Metric(spec.metric, None, spec.unit, spec.baseline, None, spec.goal, reason)


@dataclass(frozen=True)
class Suite:
    """Measures the metrics named by ``specs`` (name, unit, baseline, goal) in one go."""

    specs: tuple[Metric, ...]
    run: Callable[[Context], Awaitable[list[Metric]]]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.metric for s in self.specs)


async def run_suites(suites: Sequence[Suite], budget: Budget, *, json_only: bool) -> list[Metric]:
    """Run each suite in turn, printing every metric's JSON line as it comes, then the table.

    A suite that fails reports its metrics as null with the error as reason.
    """
    results: list[Metric] = []
    with tempfile.TemporaryDirectory(prefix="ziti-aio-bench-") as scratch:
        for n, suite in enumerate(suites):
            progress(f"measuring {', '.join(suite.names)}")
            workdir = Path(scratch) / f"suite-{n}"
            workdir.mkdir()
            try:
                measured = await suite.run(Context(budget, workdir))
            except Exception as exc:  # a broken suite must not hide the others' figures
                traceback.print_exc(file=sys.stderr)
                measured = [unmeasured(spec, f"failed: {type(exc).__name__}: {exc}") for spec in suite.specs]
            for metric in measured:
                print(metric.json_line(), flush=True)
            results += measured
    if not json_only:
        print()
        print_table(results)
    return results


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def _cell(value: float | None) -> str:
    return "—" if value is None else f"{_round(value):g}"


def print_table(metrics: Sequence[Metric], out: TextIO = sys.stdout) -> None:
    """The metrics as an aligned table; reasons for null values below it."""
    rows = [("metric", "value", "unit", "baseline", "baseline value", "ratio", "goal", "met")]
    for m in metrics:
        met = m.goal.met(m) if m.goal else None
        verdict = "" if met is None else ("ok" if met else "MISS")
        rows.append((m.metric, _cell(m.value), m.unit, m.baseline, _cell(m.baseline_value),
                     "—" if m.ratio is None else f"{m.ratio:.2f}x", m.goal.text() if m.goal else "—", verdict))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip(), file=out)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)
    notes = [m for m in metrics if m.value is None]
    if notes:
        print(file=out)
        for m in notes:
            print(f"{m.metric}: {m.reason}", file=out)


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- child servers -----------------------------------------------------------------------------

def process_cpu_s(pid: int) -> float:
    """User plus system CPU seconds a (Linux) process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of ``pid`` and of every live descendant (sshd forks one process per connection)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
    tree, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    total = 0.0
    for member in tree:
        try:
            total += process_cpu_s(member)
        except OSError:
            continue
    return total


def rss_kib(pid: int) -> int:
    """Resident set size of a (Linux) process, KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def announce_and_wait(info: dict[str, Any]) -> None:
    """In a child server: print ``info`` and its pid as one JSON line, then return when stdin closes."""
    print(json.dumps({**info, "pid": os.getpid()}), flush=True)
    stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
    async with stdin:
        while await stdin.receive_some(4096):
            pass


@asynccontextmanager
async def open_child(argv: Sequence[str], log_path: Path, *, start_timeout_s: float = CHILD_START_TIMEOUT_S,
                     stop_timeout_s: float = CHILD_STOP_TIMEOUT_S) -> AsyncIterator[dict[str, Any]]:
    """Run a child server (see :func:`announce_and_wait`); yields its announced JSON.

    The child's stderr goes to ``log_path`` and is shown when it fails to start. Closing
    its stdin stops it; it is killed if it does not exit in time (longer timeouts: a child under valgrind).
    """
    with open(log_path, "wb") as log:
        proc = await trio.lowlevel.open_process(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                stderr=log, cwd=REPO)
    try:
        line = b""
        with trio.move_on_after(start_timeout_s):
            while not line.endswith(b"\n"):
                chunk = await proc.stdout.receive_some(65536)
                if not chunk:
                    break
                line += chunk
        if not line.endswith(b"\n"):
            raise RuntimeError(f"{' '.join(argv[1:3])} did not start: {log_path.read_text()[-2000:]}")
        yield json.loads(line)
    finally:
        with trio.CancelScope(shield=True):
            await proc.stdin.aclose()
            with trio.move_on_after(stop_timeout_s):
                await proc.wait()
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            await proc.stdout.aclose()
