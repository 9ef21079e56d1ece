"""What the quickstart creates through the management API, like OpenZiti's quickstart.

The appliance is an ordinary admin client here: it logs in over HTTPS, creates the
policies and edge routers that are missing, and enrolls each router with its one-time JWT
over the client API, exactly as a router on another host would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ziti_aio.common.errors import ZitiError
from ziti_aio.router.enroll import ROUTER_FILE, enroll_router
from ziti_aio.sdk.management import AsyncManagementClient, ManagementError
from ziti_aio.transport.tls import client_context

if TYPE_CHECKING:
    from pathlib import Path

ERP_NAME = "all-endpoints-public-routers"
SERP_NAME = "all-routers-all-services"


@dataclass(frozen=True)
class RouterPlan:
    """One router the quickstart runs: its name, its home, its port (SDKs and links)."""

    name: str
    home: Path
    edge_port: int


async def admin_login(url: str, ca_bundle: Path, username: str, password: str) -> AsyncManagementClient:
    """A management client logged in as ``username``, trusting the controller's ``ca_bundle`` file."""
    try:
        return await AsyncManagementClient.login(url, verify=client_context(ca=str(ca_bundle)),
                                                 username=username, password=password)
    except ManagementError as exc:
        raise ZitiError(f"the quickstart could not log in as {username!r}: {exc.message}") from exc


async def local_admin_login(app: Any, url: str, username: str, password: str) -> AsyncManagementClient:
    """A management client of a dark controller's ``app`` in this process (no listener serves its management
    API; docs/operations.md), logged in as ``username``."""
    import httpx

    admin = AsyncManagementClient(httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=url))
    try:
        admin.http.headers["zt-session"] = await admin.authenticate(username, password)
    except ManagementError as exc:
        await admin.aclose()
        raise ZitiError(f"the quickstart could not log in as {username!r}: {exc.message}") from exc
    return admin


async def fresh_router_jwt(admin: AsyncManagementClient, router: dict[str, Any]) -> str:
    """The router's enrollment JWT, re-issued if it was used or expired."""
    if router.get("enrollmentJwt"):
        return str(router["enrollmentJwt"])
    await admin.call("POST", f"/edge-routers/{router['id']}/re-enroll")
    return str((await admin.get("edge-routers", router["id"]))["enrollmentJwt"])


async def prepare_routers(admin: AsyncManagementClient, plans: list[RouterPlan], *, names: list[str]) -> None:
    """Create the quickstart policies and every planned router; enroll those not enrolled yet.

    ``names`` are the hosts and addresses the routers' edge listeners are reached at.
    """
    await admin.ensure("edge-router-policies", {"name": ERP_NAME, "semantic": "AnyOf",
                                                "identityRoles": ["#all"], "edgeRouterRoles": ["#public"]})
    await admin.ensure("service-edge-router-policies", {"name": SERP_NAME, "semantic": "AnyOf",
                                                        "serviceRoles": ["#all"], "edgeRouterRoles": ["#all"]})
    for plan in plans:
        router = await admin.ensure("edge-routers", {"name": plan.name, "roleAttributes": ["public"],
                                                     "isTunnelerEnabled": True})
        if (plan.home / ROUTER_FILE).exists() and router.get("isVerified"):
            continue
        await enroll_router(await fresh_router_jwt(admin, router), plan.home, names=names)
