"""A throw-away controller for tests: real TLS on 127.0.0.1, a real SQLite file."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import trio

from ziti_aio.common.api_paths import CLIENT, MANAGEMENT
from ziti_aio.controller.controller import Controller, ControllerConfig, ControllerInfo
from ziti_aio.sdk.management import AsyncManagementClient
from ziti_aio.transport.tls import client_context

if TYPE_CHECKING:
    import ssl
    from collections.abc import AsyncIterator

__all__ = ["ADMIN_PASSWORD", "ADMIN_USERNAME", "CLIENT", "MANAGEMENT", "RunningController", "create",
           "open_controller"]

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "test-admin-password"


@dataclass
class RunningController:
    """A started controller and helpers to talk to it."""

    controller: Controller
    info: ControllerInfo
    home: Path
    scope: trio.CancelScope | None = None

    def stop(self) -> None:
        """Stop this controller now (its listeners, channels and cluster member go away at once)."""
        if self.scope is not None:
            self.scope.cancel(reason="test controller stopped")

    @property
    def url(self) -> str:
        return self.info.url

    def ssl_context(self, cert: str | None = None, key: str | None = None) -> ssl.SSLContext:
        """Trusts the controller's CA; presents ``cert``/``key`` files when given."""
        return client_context(ca=str(self.info.ca_bundle_path), cert_chain=cert, key=key)

    def client(self, *, cert: str | None = None, key: str | None = None, token: str | None = None,
               verify: ssl.SSLContext | bool | None = None) -> httpx.AsyncClient:
        """An HTTPS client for the controller (``zt-session`` set when ``token`` is given)."""
        headers = {"zt-session": token} if token else {}
        return httpx.AsyncClient(base_url=self.url, verify=self.ssl_context(cert, key) if verify is None else verify,
                                 headers=headers, timeout=30)

    async def login(self, username: str = ADMIN_USERNAME, password: str = ADMIN_PASSWORD) -> httpx.AsyncClient:
        """A management client logged in with a password."""
        async with self.client() as anon:
            token = await AsyncManagementClient(anon).authenticate(username, password)
        return self.client(token=token)


async def create(client: httpx.AsyncClient, kind: str, body: dict[str, Any]) -> str:
    """Create an entity through the management API with ``client``; returns its id (raises on failure)."""
    return await AsyncManagementClient(client).create(kind, body)


@asynccontextmanager
async def open_controller(home: Path, **config: Any) -> AsyncIterator[RunningController]:
    """Start a controller in ``home`` on 127.0.0.1 (API port 0 unless given, the control channel on it); stop it
    on exit."""
    settings: dict[str, Any] = {"advertised_address": "127.0.0.1", "bind_host": "127.0.0.1", "port": 0,
                                "admin_username": ADMIN_USERNAME, "admin_password": ADMIN_PASSWORD}
    settings.update(config)
    controller = Controller(ControllerConfig(home=Path(home), **settings))
    scope = trio.CancelScope()  # its own: stop() must not cancel the caller, which runs inside the nursery's

    async def run(task_status: trio.TaskStatus[ControllerInfo] = trio.TASK_STATUS_IGNORED) -> None:
        with scope:
            await controller.run(task_status=task_status)

    async with trio.open_nursery() as nursery:
        info = await nursery.start(run)
        try:
            yield RunningController(controller, info, Path(home), scope)
        finally:
            nursery.cancel_scope.cancel(reason="test controller closed")
