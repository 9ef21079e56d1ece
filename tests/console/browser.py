"""Helpers of the console's browser tests: a network running in a thread of its own (its trio loop keeps
serving while the test drives the browser synchronously), logging in, screenshots."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from ziti_aio.testing import open_network
from ziti_aio.testing.controller import ADMIN_PASSWORD, ADMIN_USERNAME

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
START_TIMEOUT_S = 60
# Set to write the screenshots docs/console/*.png (README, docs/console.md) while the tests run.
SCREENSHOTS = os.environ.get("ZITI_AIO_CONSOLE_SCREENSHOTS")
SHOTS_DIR = Path(__file__).resolve().parents[2] / "docs" / "console"


class NetworkThread:
    """``ziti_aio.testing.open_network`` in a thread running its own trio loop; :meth:`run` calls into it."""

    def __init__(self, home: Path, routers: int) -> None:
        self.home, self.routers = home, routers
        self.net: Any = None
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="console-test-network", daemon=True)

    def _main(self) -> None:
        try:
            trio.run(self._serve)
        except BaseException as exc:  # reported to the test thread
            self._failed = exc
            self._ready.set()

    async def _serve(self) -> None:
        async with open_network(self.home, routers=self.routers) as net:
            self.net, self._token, self._stop = net, trio.lowlevel.current_trio_token(), trio.Event()
            self._ready.set()
            await self._stop.wait()

    def start(self) -> NetworkThread:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S) or self._failed is not None:
            raise RuntimeError(f"the test network did not start: {self._failed!r}")
        return self

    def run(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Run ``await fn(*args)`` in the network's loop and return its result."""
        return trio.from_thread.run(fn, *args, trio_token=self._token)

    def start_soon(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        trio.from_thread.run_sync(self.net.nursery.start_soon, fn, *args, trio_token=self._token)

    def set_event(self, event: trio.Event) -> None:
        trio.from_thread.run_sync(event.set, trio_token=self._token)

    def stop(self) -> None:
        if self._stop is not None:
            trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
        self._thread.join(START_TIMEOUT_S)

    @property
    def url(self) -> str:
        return str(self.net.controller.url)

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """``data`` of a management API call as the admin (raises on an error status)."""
        async def call() -> Any:
            resp = await self.net.admin.request(method, f"/edge/management/v1/{path}", json=body)
            resp.raise_for_status()
            return resp.json().get("data")
        return self.run(call)


def log_in(page: Any, url: str, username: str = ADMIN_USERNAME, password: str = ADMIN_PASSWORD) -> None:
    page.goto(f"{url}/console/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"{url}/console/")


def screenshot(page: Any, name: str) -> None:
    """Writes docs/console/NAME.png when ZITI_AIO_CONSOLE_SCREENSHOTS is set."""
    if SCREENSHOTS:
        SHOTS_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS_DIR / f"{name}.png"), full_page=True)


async def echo(listener: Any) -> None:
    """Echo every stream ``listener`` accepts."""
    while True:
        stream = await listener.accept()
        async with stream:
            try:
                while data := await stream.receive_some():
                    await stream.send_all(data)
            except trio.BrokenResourceError:
                pass  # the dialer closed without a FIN
