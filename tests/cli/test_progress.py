"""The quickstart's start-up progress as a terminal shows it (rich, on stderr)."""

from __future__ import annotations

import io
import re

from rich.console import Console

from ziti_aio.cli.progress import RichProgress

CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


def test_each_finished_step_stays_as_a_ticked_line():
    out = io.StringIO()
    progress = RichProgress(Console(file=out, force_terminal=True, color_system=None, width=100))
    progress.step("generating [the] PKI")
    progress.step("starting router-1")
    progress.done()
    progress.done()  # at shutdown too: nothing more
    lines = [line.strip() for line in CONTROL.sub("\n", out.getvalue()).splitlines()]
    ticked = [line for line in lines if line.startswith("✓")]
    assert [re.sub(r" \(\d+\.\d\d s\)$", "", line) for line in ticked] == [
        "✓ generating [the] PKI", "✓ starting router-1"]


def test_the_step_that_failed_is_crossed_out():
    out = io.StringIO()
    progress = RichProgress(Console(file=out, force_terminal=True, color_system=None, width=100))
    progress.step("enrolling 1 edge router")
    progress.step("starting router-instance-1")
    progress.done(ok=False)
    lines = [line.strip() for line in CONTROL.sub("\n", out.getvalue()).splitlines()
             if line.strip().startswith(("✓", "✗"))]
    assert [line.split(" (")[0] for line in lines] == ["✓ enrolling 1 edge router", "✗ starting router-instance-1"]
