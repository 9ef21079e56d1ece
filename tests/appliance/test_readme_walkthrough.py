"""The README's first screen and quickstart walk-through, run as a newcomer types them on a fresh machine.

A fresh directory holds the ``.venv`` the README's install line makes (the one these tests run from,
linked in) and nothing else; ``HOME`` is a fresh directory and ``PATH`` has only the system's
directories, so a command that works only with the venv already on ``PATH`` fails here as it would for
a newcomer. The README's blocks run through bash exactly as written; the only changes are the
quickstart's ports and password (any free port, a known password: tests share the machine), and the
controller address and password they imply in the walk-through.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio
import typer

from ziti_aio.cli.main import app

README = Path(__file__).resolve().parents[2] / "README.md"
QUICKSTART_ARGS = "--ctrl-port 0 --router-port 0 --ctrl-address 127.0.0.1 -p qs-password"
START_TIMEOUT_S = 60
WALKTHROUGH_TIMEOUT_S = 120


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


def _section(text: str, heading: str) -> str:
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_the_first_screen_installs_into_a_venv_and_runs_from_it():
    first_screen = _blocks(README.read_text()[:README.read_text().index("\n## ")], "bash")[0].strip()
    venv, install, run = first_screen.split(" && ")
    assert venv == "python3 -m venv .venv"
    assert install.startswith(".venv/bin/pip install ") and install.endswith(" -e .")
    assert run.startswith(".venv/bin/ziti-aio quickstart ")


def test_every_quickstart_option_is_in_the_readme():
    group = typer.main.get_command(app)
    command = group.get_command(group.make_context("ziti-aio", [], resilient_parsing=True), "quickstart")
    section = _section(README.read_text(), "Quickstart")
    missing = [opt for param in command.params for opt in param.opts if opt.startswith("--")
               and f"`{opt}" not in section and f"/{opt}`" not in section]
    assert not missing, f"quickstart options not in the README's Quickstart section: {missing}"


@pytest.fixture
def fresh(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A fresh directory with the README's ``.venv`` in it, and an environment with a fresh ``HOME``."""
    if sys.prefix == sys.base_prefix:
        pytest.skip("the fresh-machine walk-through links the venv the tests run from, and this is none")
    clone, home = tmp_path / "clone", tmp_path / "home"
    clone.mkdir()
    home.mkdir()
    (clone / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    return clone, {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


async def _start_quickstart(block: str, cwd: Path, env: dict[str, str]) -> tuple[trio.Process, str]:
    """The Quickstart block through bash (its quickstart line with our ports and password), until ready."""
    *setup, line = [ln for ln in block.splitlines() if ln.strip()]
    script = "\n".join([*setup, "exec " + line.split("#")[0].strip() + " " + QUICKSTART_ARGS])
    proc = await trio.lowlevel.open_process(["bash", "-e", "-c", script], cwd=cwd, env=env,
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = b""
    with trio.fail_after(START_TIMEOUT_S):
        while b"\nready in " not in out:
            chunk = await proc.stdout.receive_some()  # type: ignore[union-attr]
            if not chunk:
                await proc.wait()
                raise AssertionError(f"the quickstart exited ({proc.returncode}):\n{out.decode()}")
            out += chunk
    return proc, out.decode()


async def test_the_walkthrough_works_as_written_on_a_fresh_machine(fresh):
    cwd, env = fresh
    section = _section(README.read_text(), "Quickstart")
    start, commands, run_script = _blocks(section, "bash")
    (script,) = _blocks(section, "python")
    proc, out = await _start_quickstart(start, cwd, env)
    try:
        assert (Path(env["HOME"]) / ".ziti-aio" / "admin-password").read_text() == "qs-password\n"
        address = re.search(r"controller\s+https://(\S+)", out).group(1)  # type: ignore[union-attr]
        assert "localhost:1280" in commands and "'<password>'" in commands
        walkthrough = "\n".join([
            commands.replace("localhost:1280", address).replace("'<password>'", "'qs-password'"),
            f"cat > echo.py <<'END_OF_ECHO_PY'\n{script}END_OF_ECHO_PY",
            run_script])
        with trio.fail_after(WALKTHROUGH_TIMEOUT_S):
            done = await trio.run_process(["bash", "-e", "-c", walkthrough], cwd=cwd, env=env, capture_stdout=True,
                                          capture_stderr=True, check=False)
        assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
        assert done.stdout.decode().splitlines()[-1] == "b'hello, zero trust'"
    finally:
        proc.send_signal(signal.SIGTERM)
        with trio.fail_after(20):
            assert await proc.wait() == 0
