"""The controller's health checks, as OpenZiti's ``/health-checks`` answers them (docs/operations.md).

Each check runs when asked (they are cheap) and reports ``id``, ``healthy``, when it ran and how
long it took, a ``details`` object of counts and, when it failed, ``err``. Details never name
identities or routers: the endpoint answers anyone, as OpenZiti's does.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import trio

from ziti_aio.controller.kinds import Kind

if TYPE_CHECKING:
    from collections.abc import Callable

    from ziti_aio.controller.cluster.replica import Replica
    from ziti_aio.controller.model.model import Model
    from ziti_aio.controller.network.network import Network

STORE_READ_TIMEOUT_S = 5.0
"""A store read slower than this counts as a failure: a blocked disk must show, not hang the check."""


class HealthChecks:
    """Runs the checks of one controller."""

    def __init__(self, model: Model, network: Network | None, server_cert_expires: datetime | None = None,
                 cluster: Callable[[], Replica | None] = lambda: None) -> None:
        self.model = model
        self.network = network
        self.server_cert_expires = server_cert_expires
        self.cluster = cluster

    async def run(self, *, short: bool = False) -> dict[str, Any]:
        """``{"healthy": bool, "checks": [...]}``: healthy when every check is; ``short`` keeps only
        each check's ``id`` and ``healthy``."""
        checks = [await _timed("store.read", self._store)]
        if self.network is not None:
            checks.append(await _timed("routers.connected", self._routers))
        if self.server_cert_expires is not None:
            checks.append(await _timed("controller.certificate", self._certificate))
        replica = self.cluster()
        if replica is not None:
            checks.append(await _timed("raft.leader", lambda: self._leader(replica)))
        if short:
            checks = [{"id": c["id"], "healthy": c["healthy"]} for c in checks]
        return {"healthy": all(c["healthy"] for c in checks), "checks": checks}

    async def _store(self) -> tuple[dict[str, Any], str | None]:
        """A real read of the store's file, and no earlier write failure."""
        failed = self.model.store_error
        try:
            with trio.fail_after(STORE_READ_TIMEOUT_S):
                entities = await trio.to_thread.run_sync(self.model.store.count_entities, abandon_on_cancel=True)
        except trio.TooSlowError:
            return {}, f"reading the store took more than {STORE_READ_TIMEOUT_S:g} s"
        except Exception as exc:
            return {}, f"reading the store failed: {exc}"
        if failed is not None:
            return {"entities": entities}, f"a write to the store failed: {failed}"
        return {"entities": entities}, None

    async def _routers(self) -> tuple[dict[str, Any], str | None]:
        """Healthy while the network can carry traffic: some enabled router is online, or none exists yet."""
        assert self.network is not None
        enabled = {r["id"] for r in self.model.all(Kind.EDGE_ROUTERS) if not r.get("disabled")}
        online = len(enabled & self.network.routers.online_ids())
        details = {"online": online, "enabled": len(enabled)}
        return details, None if online > 0 or not enabled else "no enabled edge router is online"


    async def _leader(self, replica: Replica) -> tuple[dict[str, Any], str | None]:
        """A cluster member: whether it leads (v2.0's "is leader" check) and whether anyone does."""
        members = replica.members()
        details = {"isLeader": replica.is_leader, "leaderId": replica.leader_id or "", "members": len(members),
                   "connected": sum(m["connected"] for m in members)}
        return details, None if replica.leader_id is not None else "the cluster has no leader"

    async def _certificate(self) -> tuple[dict[str, Any], str | None]:
        """The HTTPS server certificate every client and router checks is still valid."""
        assert self.server_cert_expires is not None
        left_s = (self.server_cert_expires - datetime.now(UTC)).total_seconds()
        details = {"notAfter": self.server_cert_expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                   "daysLeft": int(left_s / 86400)}
        return details, None if left_s > 0 else "the controller's server certificate has expired"


async def _timed(check_id: str, check: Any) -> dict[str, Any]:
    at = datetime.now(UTC)
    started = time.perf_counter()
    details, err = await check()
    took = time.perf_counter() - started
    out = {"id": check_id, "healthy": err is None, "lastCheckTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
           "lastCheckDuration": f"{took * 1000:.3f}ms", "details": details}
    if err is not None:
        out["err"] = err
    return out
