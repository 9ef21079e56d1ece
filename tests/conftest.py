"""Shared fixtures: a running controller on loopback and an admin client for it."""

from __future__ import annotations

import pytest

from ziti_aio.testing.controller import open_controller


@pytest.fixture
async def controller(tmp_path):
    async with open_controller(tmp_path / "ctrl") as running:
        yield running


@pytest.fixture
async def admin(controller):
    client = await controller.login()
    async with client:
        yield client
