"""Helpers for the CLI tests: run ``ziti-aio`` off the trio thread, read entities back through the API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio
from typer.testing import CliRunner, Result

from ziti_aio.cli.config_file import CONFIG_DIR_ENV
from ziti_aio.cli.main import app
from ziti_aio.testing.controller import MANAGEMENT

if TYPE_CHECKING:
    from pathlib import Path


class Cli:
    """Runs ``ziti-aio`` with its own config directory and checks the exit code."""

    def __init__(self, config_dir: Path) -> None:
        self.config_dir = config_dir

    async def __call__(self, *args: str, code: int | None = 0, input: str | None = None) -> Result:
        """Run ``ziti-aio *args``; its exit code must be ``code`` (``None``: any, for polling)."""
        runner = CliRunner()
        env = {CONFIG_DIR_ENV: str(self.config_dir)}
        result = await trio.to_thread.run_sync(lambda: runner.invoke(app, list(args), input=input, env=env))
        if code is None:
            return result
        assert result.exit_code == code, f"exit {result.exit_code} for {args}: {result.output}{result.exception!r}"
        if code:
            assert isinstance(result.exception, SystemExit), result.exception
            assert "Traceback" not in result.output
        return result


async def find(admin: Any, collection: str, name: str) -> dict[str, Any] | None:
    """The entity named ``name`` as the management API renders it, or ``None``."""
    resp = await admin.get(f"{MANAGEMENT}/{collection}", params={"filter": f'name="{name}"'})
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    return data[0] if data else None


def created_id(result: Result, label: str, name: str) -> str:
    """The id in ``New <label> <name> created with id: <id>``."""
    prefix = f"New {label} {name} created with id: "
    line = next(line for line in result.output.splitlines() if line.startswith(prefix))
    return line[len(prefix):]
