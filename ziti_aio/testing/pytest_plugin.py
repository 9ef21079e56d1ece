"""pytest plugin: a ``ziti_network`` fixture with a fresh in-process network per test, and ``ziti_idp``, a
loopback OIDC issuer (:mod:`ziti_aio.testing.idp`) for ``open_network(idp=ziti_idp)``.

Enable it with ``-p ziti_aio.testing.pytest_plugin`` or ``pytest_plugins =
["ziti_aio.testing.pytest_plugin"]`` in a conftest; it needs pytest-trio (trio_mode).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ziti_aio.testing import RunningNetwork, open_network
from ziti_aio.testing.idp import TestIdp, open_idp

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


@pytest.fixture
async def ziti_network(tmp_path: Path) -> AsyncIterator[RunningNetwork]:
    """A controller and one edge router on 127.0.0.1, torn down after the test."""
    async with open_network(tmp_path / "ziti-network", routers=1) as net:
        yield net


@pytest.fixture
async def ziti_idp(tmp_path: Path) -> AsyncIterator[TestIdp]:
    """An OIDC issuer on 127.0.0.1 over HTTPS with its own CA, stopped after the test."""
    async with open_idp(tmp_path / "ziti-idp") as idp:
        yield idp
