"""One entity of each kind the management API stores, for tests that must hit existing ids."""

from __future__ import annotations

from typing import Any

from ziti_aio.testing.controller import MANAGEMENT, create

SEED_PASSWORD = "sweep-user-password"


async def seed(admin: Any) -> dict[str, str]:
    """One entity of each kind, keyed by collection (``identities``, ``edge-routers``, ...)."""
    ids = {
        "identities": await create(admin, "identities", {"name": "sweep-device", "type": "Device",
                                                         "enrollment": {"ott": True}}),
        "services": await create(admin, "services", {"name": "sweep-service"}),
        "config-types": await create(admin, "config-types", {"name": "sweep-config-type", "schema": {}}),
        "edge-routers": await create(admin, "edge-routers", {"name": "sweep-router"}),
        "service-policies": await create(admin, "service-policies", {"name": "sweep-dial", "type": "Dial",
                                                                     "identityRoles": ["#all"],
                                                                     "serviceRoles": ["#all"]}),
        "edge-router-policies": await create(admin, "edge-router-policies", {
            "name": "sweep-erp", "identityRoles": ["#all"], "edgeRouterRoles": ["#all"]}),
        "service-edge-router-policies": await create(admin, "service-edge-router-policies", {
            "name": "sweep-serp", "serviceRoles": ["#all"], "edgeRouterRoles": ["#all"]}),
    }
    ids["configs"] = await create(admin, "configs", {"name": "sweep-config", "configTypeId": ids["config-types"],
                                                     "data": {}})
    ids["terminators"] = await create(admin, "terminators", {
        "service": ids["services"], "router": ids["edge-routers"], "binding": "transport",
        "address": "tcp:127.0.0.1:1"})
    user = await create(admin, "identities", {"name": "sweep-user", "type": "User"})
    ids["authenticators"] = await create(admin, "authenticators", {
        "method": "updb", "identityId": user, "username": "sweep-user", "password": SEED_PASSWORD})
    resp = await admin.get(f"{MANAGEMENT}/enrollments", params={"filter": f'identityId="{ids["identities"]}"'})
    ids["enrollments"] = resp.json()["data"][0]["id"]
    return ids
