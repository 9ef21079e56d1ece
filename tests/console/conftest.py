"""Fixtures of the console's browser tests: the network (in its own thread) and one headless Chromium per
test module, Debian's, launched from the system path (never downloaded)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .browser import CHROMIUM, CHROMIUM_ARGS, NetworkThread

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="module")
def network() -> Iterator[NetworkThread]:
    with tempfile.TemporaryDirectory(prefix="ziti-aio-console-") as home:
        running = NetworkThread(Path(home), routers=1).start()
        try:
            yield running
        finally:
            running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH (apt-get install chromium; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the test extra)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) and page; self-signed controller certificates accepted."""
    context = browser.new_context(ignore_https_errors=True, accept_downloads=True,
                                  viewport={"width": 1280, "height": 800})
    context.set_default_timeout(20_000)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


