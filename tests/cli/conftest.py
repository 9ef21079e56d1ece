"""CLI tests: each ``ziti-aio`` call runs through typer's CliRunner off the trio thread, against a real controller."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from cli_helpers import Cli

from ziti_aio.testing.controller import ADMIN_PASSWORD, ADMIN_USERNAME

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "cli-config")


@pytest.fixture
async def logged_in(cli: Cli, controller: Any) -> Cli:
    await cli("login", controller.url, "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD, "-y")
    return cli
