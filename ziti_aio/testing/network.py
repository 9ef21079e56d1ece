"""A throw-away network for tests: a controller and N edge routers in-process, real mTLS on 127.0.0.1.

Usage::

    async with open_network(tmp_path, routers=1) as net:
        alice = await net.create_identity("alice")          # enrolled; alice.path is an identity file
        bob = await net.create_identity("bob")
        await net.create_service("echo", encryption_required=True)
        await net.allow("bob", "echo", "Bind")
        await net.allow("alice", "echo", "Dial")
        async with net.context("alice") as ctx:            # a ziti_aio.sdk context of alice
            ...
        # alice.path / bob.path also work with the C SDK (openziti.load)

Routers are created through the management API (edge routers with attribute ``public``,
tunneler enabled), enrolled with their ``erott`` JWTs over HTTPS and started with edge
listeners on 127.0.0.1 port 0. The quickstart's policies exist: ``all-endpoints-public-routers``
(every identity may use ``#public`` routers) and ``all-routers-all-services``. Everything talks
over sockets only: each router reaches the controller through its control channel.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from ziti_aio.controller.cluster.replica import LOCAL_READS
from ziti_aio.router.enroll import enroll_router
from ziti_aio.router.router import EdgeRouter, RouterConfig, RouterInfo
from ziti_aio.sdk import ZitiContext, open_context
from ziti_aio.sdk.enroll import enroll_ext_jwt, enroll_identity
from ziti_aio.testing.cluster import leading, open_controller_cluster
from ziti_aio.testing.controller import MANAGEMENT, RunningController, create, open_controller
from ziti_aio.testing.waiting import wait_until
from ziti_aio.tunnel.tunneler import Tunneler, TunnelerConfig

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import httpx

    from ziti_aio.testing.idp import TestIdp

TUNNELER_SERVICE_POLL_S = 0.5
# The signer open_network(idp=...) creates: identities found by externalId (the token's sub), just-in-time
# enrollment to a token or a certificate, named by ``sub``, role attributes from a ``groups`` claim.
IDP_SIGNER: dict[str, Any] = {
    "name": "test-idp", "enabled": True, "useExternalId": True, "claimsProperty": "sub",
    "enrollToTokenEnabled": True, "enrollToCertEnabled": True, "enrollAuthPolicyId": "default",
    "enrollNameClaimsSelector": "/sub", "enrollAttributeClaimsSelector": "/groups",
}


@dataclass
class RunningRouter:
    """A started edge router."""

    id: str
    name: str
    router: EdgeRouter
    info: RouterInfo
    scope: trio.CancelScope

    def stop(self) -> None:
        """Stop this router (its SDK channels and control channel close)."""
        self.scope.cancel()


@dataclass
class RunningTunneler:
    """A started host-mode tunneler: its identity (attribute ``tunnelers``) and what it reported."""

    identity: Identity
    info: dict[str, Any]


@dataclass
class Identity:
    """An enrolled identity and its identity file (``{ztAPI, id: {cert, key, ca}}``)."""

    id: str
    name: str
    path: Path


@dataclass
class RunningNetwork:
    """A controller, its routers and an admin client, with helpers to populate it."""

    controller: RunningController
    admin: httpx.AsyncClient
    home: Path
    nursery: trio.Nursery
    routers: list[RunningRouter] = field(default_factory=list)
    identities: dict[str, Identity] = field(default_factory=dict)
    tunneler: RunningTunneler | None = None
    idp: TestIdp | None = None
    idp_signer_id: str | None = None
    controllers: list[RunningController] = field(default_factory=list)
    """Every controller of a cluster (``open_network(controllers=3)``); ``controller`` is the leader at start."""

    async def get(self, path: str) -> Any:
        """``data`` of a management GET (raises on failure)."""
        resp = await self.admin.get(f"{MANAGEMENT}/{path}")
        resp.raise_for_status()
        return resp.json()["data"]

    async def add_router(self, name: str, *, attributes: tuple[str, ...] = ("public",),
                         link: bool = True) -> RunningRouter:
        """Create, enroll and start an edge router (with a link listener unless ``link`` is false)."""
        router_id = await create(self.admin, "edge-routers", {"name": name, "roleAttributes": list(attributes),
                                                              "isTunnelerEnabled": True})
        jwt = (await self.get(f"edge-routers/{router_id}"))["enrollmentJwt"]
        return await self.start_router(name, jwt, link=link)

    async def start_router(self, name: str, jwt: str, *, edge: bool = True, link: bool = True) -> RunningRouter:
        """Enroll a created router with its JWT and start it; without ``edge`` it is transit-only."""
        home = self.home / "routers" / name
        await enroll_router(jwt, home, names=["127.0.0.1", "localhost"])
        # an edge router takes links on its edge port; a transit router has only a link port
        router = EdgeRouter(RouterConfig(home=home, edge_bind_host="127.0.0.1", edge_port=0 if edge else None,
                                         advertised_host="127.0.0.1", link_port=None if edge else 0,
                                         link_bind_host="127.0.0.1", listen_links=link))
        scope = trio.CancelScope()

        async def run(task_status: trio.TaskStatus[RouterInfo] = trio.TASK_STATUS_IGNORED) -> None:
            with scope:
                await router.run(task_status=task_status)

        info = await self.nursery.start(run)
        running = RunningRouter(info.id, name, router, info, scope)
        self.routers.append(running)
        return running

    async def create_identity(self, name: str, *, attributes: tuple[str, ...] = (), enroll: bool = True) -> Identity:
        """Create an OTT identity and (by default) enroll it in Python into ``<home>/<name>.json``."""
        identity_id = await create(self.admin, "identities", {"name": name, "type": "Device", "isAdmin": False,
                                                              "roleAttributes": list(attributes),
                                                              "enrollment": {"ott": True}})
        path = self.home / f"{name}.json"
        if enroll:
            jwt = (await self.get(f"identities/{identity_id}"))["enrollment"]["ott"]["jwt"]
            await enroll_identity(jwt, path)
        self.identities[name] = Identity(identity_id, name, path)
        return self.identities[name]

    async def enroll_ext_jwt(self, token: str, *, cert: bool = True) -> Identity:
        """Just-in-time enroll the subject of an external JWT (to a certificate and an identity file by default,
        else token-only); ``net.context(<its name>)`` then works for a certificate identity."""
        ca_pem = await trio.to_thread.run_sync(self.controller.info.ca_bundle_path.read_text)
        before = {i["id"] for i in await self.get("identities?limit=500")}
        path = self.home / f"jit-{len(self.identities)}.json"
        await enroll_ext_jwt(self.controller.url, token, ca_pem=ca_pem, out=path if cert else None)
        new = [i for i in await self.get("identities?limit=500") if i["id"] not in before]
        identity = Identity(new[0]["id"], new[0]["name"], path)
        self.identities[identity.name] = identity
        return identity

    def context(self, identity: str) -> AbstractAsyncContextManager[ZitiContext]:
        """An SDK context of the enrolled identity ``identity`` (name): ``async with net.context("alice") as ctx:``."""
        found = self.identities.get(identity)
        if found is None:
            raise KeyError(f"no identity {identity!r} was created on this network")
        return open_context(found.path)

    async def start_tunneler(self, name: str = "tunneler") -> RunningTunneler:
        """Create and enroll ``name`` (attribute ``tunnelers``) and run it as a host-mode tunneler: it
        binds every service it may Bind that has a host.v1/host.v2 config (polled every 0.5 s)."""
        identity = await self.create_identity(name, attributes=("tunnelers",))
        tunneler = Tunneler(TunnelerConfig(identity=identity.path, mode="host",
                                           service_poll_s=TUNNELER_SERVICE_POLL_S))
        self.tunneler = RunningTunneler(identity, await self.nursery.start(tunneler.run))
        return self.tunneler

    async def create_service(self, name: str, *, attributes: tuple[str, ...] = (), encryption_required: bool = True,
                             terminator_strategy: str = "smartrouting") -> str:
        return await create(self.admin, "services", {"name": name, "roleAttributes": list(attributes),
                                                     "encryptionRequired": encryption_required,
                                                     "terminatorStrategy": terminator_strategy})

    async def allow(self, identity: str, service: str, policy_type: str) -> str:
        """A service policy letting ``identity`` (name) ``Dial`` or ``Bind`` ``service`` (name)."""
        ident = (await self.get(f'identities?filter=name="{identity}"'))[0]["id"]
        svc = (await self.get(f'services?filter=name="{service}"'))[0]["id"]
        return await create(self.admin, "service-policies", {
            "name": f"{identity}-{policy_type.lower()}-{service}", "type": policy_type,
            "identityRoles": ["@" + ident], "serviceRoles": ["@" + svc]})


@asynccontextmanager
async def _controllers(home: Path, count: int, config: dict[str, Any]) -> AsyncIterator[list[RunningController]]:
    if count == 1:
        async with open_controller(home / "ctrl", **config) as controller:
            yield [controller]
        return
    reads = config.pop("reads", LOCAL_READS)
    if config:
        raise TypeError(f"controller settings ({', '.join(config)}) are for a single controller")
    async with open_controller_cluster(home / "ctrl", count, reads=reads) as running:
        yield running


@asynccontextmanager
async def open_network(home: Path, *, routers: int = 1, tunneler: bool = False, idp: TestIdp | None = None,
                       controllers: int = 1, **controller_config: Any) -> AsyncIterator[RunningNetwork]:
    """Start a controller in ``home`` (or ``controllers`` of them forming one cluster, docs/ha.md),
    ``routers`` routers (``er1``, ``er2``, ...) with the quickstart policies and, with ``tunneler``, a
    host-mode tunneler; stop everything on exit. Routers enroll with, and connect to, the leader. A cluster's
    members answer reads as ``reads=`` says (``"local"`` or ``"linearizable"``, docs/ha.md "Linearizable
    reads"). With ``idp`` (a :class:`~ziti_aio.testing.idp.TestIdp`) the controller trusts its CA and has a
    signer for it (:data:`IDP_SIGNER`)."""
    home = Path(home)
    if idp is not None:
        controller_config.setdefault("jwks_ca_file", str(idp.ca_path))
    async with _controllers(home, controllers, controller_config) as running:
        def leader() -> RunningController | None:
            return leading(running) if controllers > 1 else running[0]

        controller = await wait_until(leader, 30, what="a controller that leads")
        assert controller is not None  # wait_until returns only a truthy value
        admin = await controller.login()
        async with admin, trio.open_nursery() as nursery:
            net = RunningNetwork(controller, admin, home, nursery, controllers=running, idp=idp)
            if idp is not None:
                net.idp_signer_id = await create(admin, "external-jwt-signers", {
                    **IDP_SIGNER, "issuer": idp.issuer, "audience": idp.audience, "jwksEndpoint": idp.jwks_url})
            await create(admin, "edge-router-policies", {"name": "all-endpoints-public-routers",
                                                         "identityRoles": ["#all"], "edgeRouterRoles": ["#public"]})
            await create(admin, "service-edge-router-policies", {"name": "all-routers-all-services",
                                                                 "serviceRoles": ["#all"], "edgeRouterRoles": ["#all"]})
            for n in range(routers):
                await net.add_router(f"er{n + 1}")
            if tunneler:
                await net.start_tunneler()
            try:
                yield net
            finally:
                nursery.cancel_scope.cancel()
