"""Shared fixtures (a running controller on loopback and an admin client for it) and the ``needs_root`` marker."""

from __future__ import annotations

import os
import shutil

import pytest

from ziti_aio.testing.controller import open_controller


def pytest_runtest_setup(item: pytest.Item) -> None:
    """``@pytest.mark.needs_root(*tools, why=...)``: skip, saying what is missing, unless run as root with every
    named system tool on PATH (``.ci/run`` installs them; the ``-ra`` summary lists each skip and its reason)."""
    marks = list(item.iter_markers("needs_root"))
    if not marks:
        return
    if os.geteuid() != 0:
        why = "; ".join(m.kwargs["why"] for m in marks if "why" in m.kwargs)
        pytest.skip(f"needs root ({why})" if why else "needs root")
    tools = dict.fromkeys(tool for m in marks for tool in m.args)
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} on PATH")


@pytest.fixture
async def controller(tmp_path):
    async with open_controller(tmp_path / "ctrl") as running:
        yield running


@pytest.fixture
async def admin(controller):
    client = await controller.login()
    async with client:
        yield client
