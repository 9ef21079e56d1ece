"""Health checks on a real store file, without a network: an expired server certificate is unhealthy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ziti_aio.controller.health import HealthChecks
from ziti_aio.controller.model.model import Model
from ziti_aio.controller.store.sqlite_store import SqliteStore


async def test_an_expired_server_certificate_is_unhealthy(tmp_path):
    store = SqliteStore(tmp_path / "ctrl.db")
    try:
        model = await Model.open(store)
        expired = datetime.now(UTC) - timedelta(days=2, hours=1)
        result = await HealthChecks(model, None, expired).run()
        valid = await HealthChecks(model, None, datetime.now(UTC) + timedelta(days=30, hours=1)).run()
    finally:
        store.close()
    checks = {c["id"]: c for c in result["checks"]}
    assert result["healthy"] is False and set(checks) == {"store.read", "controller.certificate"}
    assert checks["controller.certificate"]["err"] == "the controller's server certificate has expired"
    assert checks["controller.certificate"]["details"]["daysLeft"] == -2
    assert checks["store.read"] == {**checks["store.read"], "healthy": True, "details": {"entities": 0}}
    assert valid["healthy"] is True and valid["checks"][1]["details"]["daysLeft"] == 30
