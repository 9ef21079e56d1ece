"""Replicated models in one process over real mTLS sockets: the Raft layer without the HTTP APIs.

:func:`member_pki` makes one CA and a certificate per member; :class:`LocalMember` runs one member's
store, model and replica and can be stopped and started again on the same data (a restart) or on
empty data (a member that lost its disk).
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

import trio

from ziti_aio.appliance.ports import free_port
from ziti_aio.controller.cluster.member import ClusterSettings, issue_member_certificate, open_replica, run_member
from ziti_aio.controller.cluster.replica import LOCAL_READS, Replica, ReplicaConfig, Timing
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.model import Model
from ziti_aio.controller.pki_home import ensure_controller_pki, share_cluster_pki
from ziti_aio.controller.store.sqlite_store import SqliteStore
from ziti_aio.pki.bundle import certs_to_pem
from ziti_aio.pki.ca import CertAuthority
from ziti_aio.pki.keys import key_to_pem
from ziti_aio.testing.controller import RunningController, open_controller
from ziti_aio.testing.waiting import wait_until
from ziti_aio.transport import alpn
from ziti_aio.transport.tls import client_context, server_context

if TYPE_CHECKING:
    import ssl
    from collections.abc import AsyncIterator
    from pathlib import Path

# Controllers block their trio thread now and then (password hashing): the product's timings.
DEFAULT_TIMING = Timing()
# Short timeouts for bare replicas (nothing blocks them): a test waits for elections.
FAST = Timing(election_min=0.3, election_max=0.6, append_period=0.02, leader_fallback=0.7)


@dataclass(frozen=True)
class MemberTls:
    """One member's TLS contexts for Raft (server side and dialing side)."""

    server: ssl.SSLContext
    client: ssl.SSLContext


def member_pki(directory: Path, ids: list[str], *, trust_domain: str = "ziti-aio") -> dict[str, MemberTls]:
    """A root CA, an intermediate and a certificate per member id (files under ``directory``)."""
    root = CertAuthority.create_root("cluster root CA", trust_domain=trust_domain)
    signer = root.create_intermediate("cluster intermediate CA")
    directory.mkdir(parents=True, exist_ok=True)
    bundle = directory / "ca-bundle.pem"
    bundle.write_bytes(certs_to_pem([root.cert, signer.cert]))
    out = {}
    for node_id in ids:
        cert, key = issue_member_certificate(signer, node_id, dns=["localhost"], ips=["127.0.0.1"])
        chain, key_file = directory / f"{node_id}.chain.pem", directory / f"{node_id}.key.pem"
        chain.write_bytes(certs_to_pem([cert, *signer.certs]))
        key_file.write_bytes(key_to_pem(key))
        out[node_id] = MemberTls(
            server_context(cert_chain=str(chain), key=str(key_file), client_ca=str(bundle), alpn=[alpn.RAFT]),
            client_context(ca=str(bundle), cert_chain=str(chain), key=str(key_file), alpn=[alpn.RAFT]))
    return out


@dataclass
class LocalMember:
    """One member; :meth:`start` and :meth:`stop` as often as a test likes."""

    node_id: str
    home: Path
    port: int
    tls: MemberTls
    peers: tuple[tuple[str, str], ...]
    trust_domain: str = "ziti-aio"
    timing: Timing = FAST
    model: Model | None = None
    replica: Replica | None = None
    _scope: trio.CancelScope | None = None
    _stopped: trio.Event = field(default_factory=trio.Event)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self, nursery: trio.Nursery) -> None:
        store = await trio.to_thread.run_sync(SqliteStore, self.home / "ctrl.db")
        model = await Model.open(store)
        config = ReplicaConfig(self.node_id, self.address, self.peers, self.home / "raft", self.trust_domain,
                               self.timing)
        self.replica = open_replica(model, config, client_ssl=self.tls.client)
        self.model = model
        self._stopped = trio.Event()
        await nursery.start(self._run, store)

    async def _run(self, store: SqliteStore, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        assert self.model is not None and self.replica is not None
        try:
            with trio.CancelScope() as self._scope:
                await run_member(self.model, self.replica, server_ssl=self.tls.server, port=self.port,
                                 task_status=task_status)
        finally:
            store.close()
            self._stopped.set()

    async def stop(self, *, wipe: bool = False) -> None:
        """Stop (its sockets close, its files stay unless ``wipe``)."""
        if self._scope is not None:
            self._scope.cancel()
            await self._stopped.wait()
            self._scope = None
        if wipe:
            shutil.rmtree(self.home)

    @property
    def running(self) -> bool:
        return self._scope is not None


def local_members(directory: Path, count: int, *, timing: Timing = FAST) -> list[LocalMember]:
    """``count`` members ``ctrl-1`` … that know each other (not started)."""
    ids = [f"ctrl-{i + 1}" for i in range(count)]
    tls = member_pki(directory / "pki", ids)
    ports = {i: free_port() for i in ids}
    everyone = tuple((i, f"127.0.0.1:{ports[i]}") for i in ids)
    return [LocalMember(i, directory / i, ports[i], tls[i], tuple(p for p in everyone if p[0] != i), timing=timing)
            for i in ids]



def writable_leader(members: list[LocalMember]) -> LocalMember | None:
    """The running member that accepts writes now, if exactly one does (``None`` otherwise)."""
    leaders = [m for m in members if m.running and m.replica is not None and m.replica.writable]
    return leaders[0] if len(leaders) == 1 else None


@contextlib.asynccontextmanager
async def open_controller_cluster(directory: Path, count: int = 3, *,
                                  timing: Timing = DEFAULT_TIMING,
                                  reads: str = LOCAL_READS) -> AsyncIterator[list[RunningController]]:
    """``count`` controllers (``ctrl-1`` …) forming one cluster in this process, each on its own loopback
    API port (Raft shares it), answering reads as ``reads`` says (docs/ha.md "Linearizable reads");
    yields them once one leads and the first content is written."""
    ids = [f"ctrl-{i + 1}" for i in range(count)]
    ports = {i: free_port() for i in ids}
    first_pki = directory / ids[0] / "pki"
    await trio.to_thread.run_sync(partial(ensure_controller_pki, first_pki, names=["127.0.0.1"],
                                          trust_domain="ziti-aio", member_id=ids[0]))
    for ident in ids[1:]:
        share_cluster_pki(first_pki, directory / ident / "pki")
    async with contextlib.AsyncExitStack() as stack:
        running = []
        for ident in ids:
            others = tuple((i, f"127.0.0.1:{ports[i]}") for i in ids if i != ident)
            running.append(await stack.enter_async_context(open_controller(
                directory / ident, port=ports[ident], cluster=ClusterSettings(ident, others, timing, reads))))

        def bootstrapped() -> bool:
            lead = leading(running)
            model = lead.controller.model if lead is not None else None
            return model is not None and any(i.get("isDefaultAdmin") for i in model.all(Kind.IDENTITIES))

        await wait_until(bootstrapped, 30, what="a leader with the first content written")
        yield running


def leading(running: list[RunningController]) -> RunningController | None:
    """The controller that accepts writes now, if exactly one does."""
    leaders = [r for r in running if r.controller.api is not None and r.controller.api.cluster is not None
               and r.controller.api.cluster.writable]
    return leaders[0] if len(leaders) == 1 else None


@contextlib.asynccontextmanager
async def open_joining_controller(running: list[RunningController], ident: str, *,
                                  timing: Timing = DEFAULT_TIMING) -> AsyncIterator[RunningController]:
    """Controller ``ident`` next to the cluster ``running`` (its PKI shared, the members in its configuration),
    not yet a member: ``cluster add`` it (docs/ha.md)."""
    home = running[0].home.parent / ident
    share_cluster_pki(running[0].home / "pki", home / "pki")
    members = tuple((r.controller.api.cluster.node_id, r.controller.api.cluster.config.address)
                    for r in running if r.controller.api is not None and r.controller.api.cluster is not None)
    async with open_controller(home, port=free_port(), cluster=ClusterSettings(ident, members, timing)) as joining:
        yield joining
