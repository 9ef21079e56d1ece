"""A controller that trusts the test OIDC issuer's CA for JWKS fetches, the issuer, and a signer for it."""

from __future__ import annotations

import pytest

from ziti_aio.testing.controller import open_controller
from ziti_aio.testing.idp import open_idp

# Short, so the "JWKS slow" test waits little; long enough for a loaded machine to fetch a JWKS.
JWKS_TIMEOUT_S = 2.0


@pytest.fixture
async def idp(tmp_path):
    async with open_idp(tmp_path / "idp") as running:
        yield running


@pytest.fixture
async def controller(tmp_path, idp):
    # jwks_refetch_s=0: a rotated key is fetched at once (the rate limit has its own test).
    async with open_controller(tmp_path / "ctrl", jwks_ca_file=str(idp.ca_path), jwks_timeout_s=JWKS_TIMEOUT_S,
                               jwks_refetch_s=0) as running:
        yield running


@pytest.fixture
async def admin(controller):
    client = await controller.login()
    async with client:
        yield client

