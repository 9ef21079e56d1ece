"""A throw-away ziti-aio network for tests, ours and other projects'.

``async with ziti_aio.testing.open_network(routers=1) as net:`` starts a controller and edge
routers in-process over real mTLS on 127.0.0.1 (port 0 everywhere) in a temporary home;
``net.create_identity``/``create_service``/``allow`` set things up, and identity files work
with ``ziti_aio.sdk.open_context`` and the OpenZiti SDKs. ``tunneler=True`` adds a host-mode
tunneler (``net.tunneler``) serving the services with a host.v1 config it may Bind. ``idp=`` (an issuer from
``ziti_aio.testing.idp.open_idp``) adds an external JWT signer for it (``net.enroll_ext_jwt(token)``).
The ``ziti_network`` pytest fixture (plugin ``ziti_aio.testing.pytest_plugin``) gives one per test.
``wait_until(predicate, timeout)`` waits for a state seen only from outside (the management API, another process).
"""

from __future__ import annotations

import tempfile
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ziti_aio.testing import network as _network
from ziti_aio.testing.network import RunningNetwork, RunningTunneler
from ziti_aio.testing.waiting import WaitTimeout, wait_until

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from ziti_aio.testing.idp import TestIdp


@asynccontextmanager
async def open_network(home: Path | str | None = None, *, routers: int = 1, tunneler: bool = False,
                       idp: TestIdp | None = None, controllers: int = 1,
                       **controller_config: Any) -> AsyncIterator[RunningNetwork]:
    """Start a whole network; ``home`` defaults to a temporary directory removed afterwards.
    ``controllers=3`` runs three controllers forming one cluster (docs/ha.md)."""
    if home is not None:
        async with _network.open_network(Path(home), routers=routers, tunneler=tunneler, idp=idp,
                                         controllers=controllers,
                                         **controller_config) as net:
            yield net
        return
    with tempfile.TemporaryDirectory(prefix="ziti-aio-net-") as tmp:
        async with _network.open_network(Path(tmp), routers=routers, tunneler=tunneler, idp=idp,
                                         controllers=controllers,
                                         **controller_config) as net:
            yield net


__all__ = ["RunningNetwork", "RunningTunneler", "WaitTimeout", "open_network", "wait_until"]
