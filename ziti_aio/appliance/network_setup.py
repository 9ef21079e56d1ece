"""What the quickstart creates through the management API, like OpenZiti's quickstart.

The appliance is an ordinary admin client here: it logs in over HTTPS, creates the
policies and edge routers that are missing, and enrolls each router with its one-time JWT
over the client API, exactly as a router on another host would.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from ziti_aio.common.errors import ZitiError
from ziti_aio.router.enroll import ROUTER_FILE, enroll_router

if TYPE_CHECKING:
    from pathlib import Path

MANAGEMENT = "/edge/management/v1"
ERP_NAME = "all-endpoints-public-routers"
SERP_NAME = "all-routers-all-services"
REQUEST_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class RouterPlan:
    """One router the quickstart runs: its name, its home, its edge and link ports."""

    name: str
    home: Path
    edge_port: int
    link_port: int | None = None


class AdminSession:
    """A logged-in management client."""

    def __init__(self, url: str, ca_bundle: Path, token: str) -> None:
        self.client = httpx.AsyncClient(base_url=url, verify=ssl.create_default_context(cafile=str(ca_bundle)),
                                        headers={"zt-session": token}, timeout=REQUEST_TIMEOUT_S)

    @classmethod
    async def login(cls, url: str, ca_bundle: Path, username: str, password: str) -> AdminSession:
        ctx = ssl.create_default_context(cafile=str(ca_bundle))
        async with httpx.AsyncClient(base_url=url, verify=ctx, timeout=REQUEST_TIMEOUT_S) as anon:
            resp = await anon.post(f"{MANAGEMENT}/authenticate?method=password",
                                   json={"username": username, "password": password})
        if resp.status_code != 200:
            raise ZitiError(f"the quickstart could not log in as {username!r}: {_error(resp)}")
        return cls(url, ca_bundle, resp.json()["data"]["token"])

    async def find(self, kind: str, name: str) -> dict[str, Any] | None:
        resp = await self.client.get(f"{MANAGEMENT}/{kind}", params={"filter": f'name = "{name}"'})
        self._check(resp, f"listing {kind}")
        data = resp.json()["data"]
        return data[0] if data else None

    async def ensure(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """The entity named ``body["name"]``, created with ``body`` if missing."""
        found = await self.find(kind, body["name"])
        if found is not None:
            return found
        resp = await self.client.post(f"{MANAGEMENT}/{kind}", json=body)
        self._check(resp, f"creating {kind} {body['name']}")
        resp = await self.client.get(f"{MANAGEMENT}/{kind}/{resp.json()['data']['id']}")
        self._check(resp, f"reading {kind} {body['name']}")
        return resp.json()["data"]

    async def patch(self, kind: str, entity_id: str, body: dict[str, Any]) -> None:
        resp = await self.client.patch(f"{MANAGEMENT}/{kind}/{entity_id}", json=body)
        self._check(resp, f"updating {kind} {entity_id}")

    async def fresh_router_jwt(self, router: dict[str, Any]) -> str:
        """The router's enrollment JWT, re-issued if it was used or expired."""
        if router.get("enrollmentJwt"):
            return router["enrollmentJwt"]
        resp = await self.client.post(f"{MANAGEMENT}/edge-routers/{router['id']}/re-enroll")
        self._check(resp, f"re-enrolling router {router['name']}")
        resp = await self.client.get(f"{MANAGEMENT}/edge-routers/{router['id']}")
        self._check(resp, f"reading router {router['name']}")
        return resp.json()["data"]["enrollmentJwt"]

    @staticmethod
    def _check(resp: httpx.Response, what: str) -> None:
        if resp.status_code >= 300:
            raise ZitiError(f"{what} failed: {_error(resp)}")

    async def aclose(self) -> None:
        await self.client.aclose()


def _error(resp: httpx.Response) -> str:
    try:
        err = resp.json()["error"]
        return f"{err['code']}: {err['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {resp.status_code}"


async def prepare_routers(admin: AdminSession, plans: list[RouterPlan], *, names: list[str]) -> None:
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
        await enroll_router(await admin.fresh_router_jwt(router), plan.home, names=names)
