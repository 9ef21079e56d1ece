"""Long fuzz runs of the targets the test suite runs briefly (tests/fuzz): same strategies, same checks.

    python bench/fuzz.py [--seconds N] [--target NAME ...] [--list]

Each target generates cases for N seconds (default 60) and runs its check on every one. A check that
raises (the checks already let the parser's own errors pass, so anything escaping is a bug or a
broken property) or is still running after ``HANG_S`` is a failure; the first case of each distinct
failure (exception type and the line that raised it) is saved with its traceback under
``bench/fuzz-findings/``. Printed per target: examples run, failures, distinct findings, the peak
memory one check allocated (tracemalloc) and the slowest check (traced, so slower than untraced).
Exit status 1 when anything was found.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import signal
import sys
import time
import traceback
import tracemalloc
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import contextlib  # noqa: E402

from hypothesis import HealthCheck, Phase, Verbosity, given, settings  # noqa: E402

from tests.fuzz.pki_targets import EXPECTED_WARNINGS  # noqa: E402
from tests.fuzz.targets import TARGETS, Target  # noqa: E402

if TYPE_CHECKING:
    from types import FrameType

FINDINGS = Path(__file__).resolve().parent / "fuzz-findings"
DEFAULT_SECONDS = 60.0
HANG_S = 10.0
MIB = 1024 * 1024


class Hang(Exception):
    """A check ran longer than :data:`HANG_S`."""


class _TimeUp(BaseException):
    """The target's time is spent; a BaseException, so hypothesis stops at once instead of shrinking."""


@dataclass
class Report:
    name: str
    examples: int = 0
    failures: int = 0
    findings: dict[str, Path] = field(default_factory=dict)
    peak_bytes: int = 0
    slowest_s: float = 0.0


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise Hang(f"the check was still running after {HANG_S:g} s")


def _signature(exc: BaseException) -> str:
    """Two failures are one finding when the same exception type comes from the same line (for a
    hang: the line the check was on when the alarm went off)."""
    frames = traceback.extract_tb(exc.__traceback__)[: -1 if isinstance(exc, Hang) else None]
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    return f"{type(exc).__name__} at {where}"


def _save(report: Report, case: Any, exc: BaseException) -> None:
    key = _signature(exc)
    if key in report.findings:
        return
    FINDINGS.mkdir(exist_ok=True)
    path = FINDINGS / f"{report.name}-{hashlib.sha1(key.encode()).hexdigest()[:12]}.txt"
    trace = "".join(traceback.format_exception(exc))
    path.write_text(f"target: {report.name}\nfinding: {key}\n\ncase:\n{case!r}\n\n{trace}")
    report.findings[key] = path


def run_target(name: str, target: Target, seconds: float) -> Report:
    """Fuzz one target for ``seconds``; tracemalloc traces each check (only the check: tracing the case
    generation too would cost hypothesis most of its speed)."""
    report = Report(name)
    deadline = time.monotonic() + seconds

    @settings(
        max_examples=10**9,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    @given(target.strategy)
    def fuzz(case: Any) -> None:
        if time.monotonic() >= deadline:
            raise _TimeUp
        report.examples += 1
        start = time.perf_counter()
        tracemalloc.start()
        try:
            signal.setitimer(signal.ITIMER_REAL, HANG_S)
            try:
                target.check(case)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                report.peak_bytes = max(report.peak_bytes, tracemalloc.get_traced_memory()[1])
                tracemalloc.stop()
        except Exception as exc:
            report.failures += 1
            _save(report, case, exc)
        report.slowest_s = max(report.slowest_s, time.perf_counter() - start)

    with contextlib.suppress(_TimeUp):
        fuzz()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="time per target (default 60)")
    parser.add_argument("--target", action="append", choices=sorted(TARGETS), help="run only this target (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(TARGETS))
        return 0
    signal.signal(signal.SIGALRM, _on_alarm)
    for warning in EXPECTED_WARNINGS:
        warnings.filterwarnings("ignore", re.escape(warning), UserWarning)
    print(f"{'target':<14} {'examples':>9} {'failures':>9} {'findings':>9} {'peak MiB':>9} {'slowest s':>10}")
    reports = []
    for name in args.target or TARGETS:
        report = run_target(name, TARGETS[name], args.seconds)
        reports.append(report)
        print(f"{name:<14} {report.examples:>9} {report.failures:>9} {len(report.findings):>9} "
              f"{report.peak_bytes / MIB:>9.2f} {report.slowest_s:>10.3f}", flush=True)
    for report in reports:
        for key, path in report.findings.items():
            print(f"{report.name}: {key} -> {path.relative_to(REPO)}")
    return 1 if any(r.failures for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
