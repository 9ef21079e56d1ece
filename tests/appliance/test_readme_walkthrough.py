"""The README's quickstart walk-through, as a new user types it, against a running quickstart.

The CLI commands of the "Then, in another terminal" block run one by one (``ziti-aio`` as
``python -m ziti_aio``; the controller address and password are the test quickstart's), then the
README's ``echo.py`` runs as written and must print the echo.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import trio

from ziti_aio.testing.quickstart import start_quickstart

README = Path(__file__).resolve().parents[2] / "README.md"
ARGS = ("--ctrl-port", "0", "--router-port", "0", "--ctrl-address", "127.0.0.1", "-p", "qs-password")
COMMAND_TIMEOUT_S = 60


def walkthrough() -> tuple[list[list[str]], str]:
    """The CLI commands (split, comments dropped) and the Python script of the README's walk-through."""
    text = README.read_text()
    after = text[text.index("Then, in another terminal"):]
    commands = re.search(r"```bash\n(.*?)```", after, re.S).group(1)  # type: ignore[union-attr]
    script = re.search(r"```python\n(.*?)```", after, re.S).group(1)  # type: ignore[union-attr]
    return [shlex.split(line, comments=True) for line in commands.splitlines() if line.strip()], script


async def test_the_readme_walkthrough_moves_bytes(tmp_path):
    commands, script = walkthrough()
    assert commands and all(cmd[0] == "ziti-aio" for cmd in commands)
    qs = await start_quickstart(tmp_path / "qs", *ARGS)
    try:
        address = qs.url.removeprefix("https://")
        env = {"ZITI_AIO_CONFIG_DIR": str(tmp_path / "cli"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
        for cmd in commands:
            argv = [sys.executable, "-m", "ziti_aio",
                    *[address if a == "localhost:1280" else "qs-password" if a == "<password>" else a
                      for a in cmd[1:]]]
            done = await trio.run_process(argv, cwd=tmp_path, env=env, capture_stdout=True, capture_stderr=True,
                                          check=False)
            assert done.returncode == 0, f"{shlex.join(cmd)}:\n{done.stdout.decode()}{done.stderr.decode()}"
        (tmp_path / "echo.py").write_text(script)
        with trio.fail_after(COMMAND_TIMEOUT_S):
            done = await trio.run_process([sys.executable, "echo.py"], cwd=tmp_path, capture_stdout=True,
                                          capture_stderr=True, check=False)
        assert done.returncode == 0, done.stderr.decode()
        assert done.stdout.decode().strip() == "b'hello, zero trust'"
    finally:
        assert qs.stop() == 0
