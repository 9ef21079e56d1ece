"""The controller role: store, model, PKI and the HTTPS APIs, as one supervised task."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from ziti_aio.common.errors import ChannelClosed, ClusterUnavailable
from ziti_aio.controller.api.app import ApiContext, create_app
from ziti_aio.controller.api.server import serve_https
from ziti_aio.controller.bootstrap import bootstrap
from ziti_aio.controller.cluster.member import ClusterSettings, open_replica, run_member
from ziti_aio.controller.cluster.replica import TICK_S, Replica, ReplicaConfig
from ziti_aio.controller.dark import DEFAULT_SERVICE, HideManagement, run_dark_plane
from ziti_aio.controller.events.alerts import CERT_WARN_DAYS, Alerts
from ziti_aio.controller.events.bus import EventBus
from ziti_aio.controller.events.cluster_watch import ClusterWatch
from ziti_aio.controller.events.entity_changes import watch_model
from ziti_aio.controller.events.file_sink import JsonLinesFile, run_file_sink
from ziti_aio.controller.home_lock import HomeLock
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.metrics import ControllerMetrics
from ziti_aio.controller.model.access import DEFAULT_SESSION_TIMEOUT_S, Access
from ziti_aio.controller.model.crud import Crud
from ziti_aio.controller.model.enrollment_exchange import EnrollmentExchange
from ziti_aio.controller.model.enrollment_issuer import DEFAULT_ENROLLMENT_DURATION_S, EnrollmentIssuer
from ziti_aio.controller.model.external_jwt import JWKS_REFETCH_S, JWKS_TIMEOUT_S, JwksCache, jwks_ssl_context
from ziti_aio.controller.model.fields import now_text
from ziti_aio.controller.model.hooks import RuleDeps
from ziti_aio.controller.model.model import Model
from ziti_aio.controller.model.passwords import hash_password
from ziti_aio.controller.model.tokens import TokenSigner
from ziti_aio.controller.network.ctrl_listener import CtrlListener
from ziti_aio.controller.network.endpoints import push_endpoints
from ziti_aio.controller.network.network import REPORT_INTERVAL_S, Network
from ziti_aio.controller.pki_home import ControllerPki, ensure_controller_pki
from ziti_aio.controller.store.commands import Command, Delete
from ziti_aio.controller.store.sqlite_store import SqliteStore
from ziti_aio.pki.bundle import cacerts_body
from ziti_aio.pki.enrollment_jwt import sign_ca_jwt, sign_enrollment_jwt, sign_network_jwt
from ziti_aio.transport import alpn
from ziti_aio.transport.tls import client_context, server_context

if TYPE_CHECKING:
    from datetime import datetime

    from ziti_aio.common.events_config import EventFileConfig
    from ziti_aio.common.spa_config import SpaSite
    from ziti_aio.transport.serve import TlsHandler
    from ziti_aio.transport.tls_stream import TlsStream

log = logging.getLogger(__name__)

REAP_INTERVAL_S = 60.0
STORE_FILE = "ctrl.db"
RAFT_DIR = "raft"
BOOTSTRAP_POLL_S = 0.1


@dataclass(frozen=True)
class ControllerConfig:
    """Settings of the controller role."""

    home: Path
    advertised_address: str = "localhost"
    port: int = 1280
    bind_host: str = "0.0.0.0"
    trust_domain: str = "ziti-aio"
    admin_username: str = "admin"
    admin_password: str | None = None
    session_timeout_s: int = DEFAULT_SESSION_TIMEOUT_S
    enrollment_duration_s: int = DEFAULT_ENROLLMENT_DURATION_S
    extra_names: tuple[str, ...] = field(default_factory=tuple)
    ctrl_port: int | None = None
    """A port of its own for the router control channel (0: any free one); ``None`` or ``port``: the
    control channel shares the API port (docs/ports.md)."""
    events: tuple[EventFileConfig, ...] = ()
    """Event file sinks (docs/events.md)."""
    jwks_ca_file: str | None = None
    """A CA bundle trusted besides the system's when fetching external JWT signers' JWKS (docs/external-jwt.md)."""
    jwks_timeout_s: float = JWKS_TIMEOUT_S
    jwks_refetch_s: float = JWKS_REFETCH_S
    """How often at most a token with an unknown kid makes the controller fetch a signer's JWKS again."""
    report_interval_s: float = REPORT_INTERVAL_S
    """How often routers report usage and service events are published (docs/events.md)."""
    alert_cert_days: int = CERT_WARN_DAYS
    """Alert when a router's certificate expires within this many days."""
    management: str = "tcp"
    """``overlay``: the management API is dark, served only as a ziti service (docs/operations.md)."""
    management_service: str = DEFAULT_SERVICE
    """The ziti service of the dark management API."""
    console: bool = True
    """Serve the web console at ``/console/`` (docs/console.md)."""
    spa: tuple[SpaSite, ...] = ()
    """Single-page applications served from directories (docs/console.md)."""
    cluster: ClusterSettings | None = None
    """Membership of a Raft cluster of controllers (docs/ha.md); ``None``: a cluster of one named by the
    controller's instance id."""

    @property
    def dark(self) -> bool:
        return self.management == "overlay"

    @property
    def ctrl_shares_api_port(self) -> bool:
        return self.ctrl_port is None or self.ctrl_port == self.port != 0


@dataclass(frozen=True)
class ControllerInfo:
    """What a started controller tells its starter."""

    url: str
    port: int
    ca_bundle_path: Path
    instance_id: str
    ctrl_port: int = 0

    @property
    def ctrl_address(self) -> str:
        """The control channel address routers dial, as in enrollment JWTs (``tls:host:port``)."""
        host = self.url.split("//", 1)[1].rsplit(":", 1)[0]
        return f"tls:{host}:{self.ctrl_port}"


class Controller:
    """Runs the controller until cancelled."""

    def __init__(self, config: ControllerConfig) -> None:
        self.config = config
        self.model: Model | None = None
        self.pki: ControllerPki | None = None
        self.api: ApiContext | None = None
        self.network: Network | None = None
        self.events: EventBus | None = None
        self.app: Any = None
        """The ASGI app of both APIs, management included even when dark (in-process callers: quickstart)."""

    def base_url(self, port: int) -> str:
        host = self.config.advertised_address
        return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"

    async def run(self, *, task_status: trio.TaskStatus[ControllerInfo] = trio.TASK_STATUS_IGNORED) -> None:
        cfg = self.config
        home = Path(cfg.home)
        names = [cfg.advertised_address, *cfg.extra_names]
        with HomeLock(home, "start a controller"):
            await self._run_locked(home, names, task_status)

    async def _run_locked(self, home: Path, names: list[str],
                          task_status: trio.TaskStatus[ControllerInfo]) -> None:
        cfg = self.config
        store = await trio.to_thread.run_sync(SqliteStore, home / STORE_FILE)
        try:
            instance_id = store.get_meta("instance_id")
            if instance_id is None:
                instance_id = secrets.token_hex(8)
                store.set_meta("instance_id", instance_id)
            # Every controller is a Raft member, alone unless configured otherwise, named by its instance
            # id: the id /controllers shows (docs/ha.md "A cluster of one").
            cluster = cfg.cluster if cfg.cluster is not None else ClusterSettings(instance_id)
            pki = await trio.to_thread.run_sync(
                partial(ensure_controller_pki, home / "pki", names=names, trust_domain=cfg.trust_domain,
                        member_id=cluster.member_id))
            self.pki = pki
            await self._run(store, pki, instance_id, cluster, task_status)
        finally:
            store.close()

    async def _run(self, store: SqliteStore, pki: ControllerPki, instance_id: str, cluster: ClusterSettings,
                   task_status: trio.TaskStatus[ControllerInfo]) -> None:
        cfg = self.config
        model = await Model.open(store)
        self.model = model
        state = {"base_url": self.base_url(cfg.port), "ctrl": ""}

        def sign(subject: str, token: str, method: str, expires: datetime) -> str:
            return sign_enrollment_jwt(key=pki.server_key, cert=pki.server_cert, issuer=state["base_url"],
                                       subject=subject, token=token, method=method, expires_at=expires,
                                       controllers=[state["ctrl"]] if state["ctrl"] else None)

        @cache
        def network_jwt() -> str:
            return sign_network_jwt(key=pki.server_key, cert=pki.server_cert, issuer=state["base_url"])

        def ca_jwt(ca_id: str) -> str:
            return sign_ca_jwt(key=pki.server_key, cert=pki.server_cert, issuer=state["base_url"], ca_id=ca_id)

        crud = Crud(model, RuleDeps(EnrollmentIssuer(sign, cfg.enrollment_duration_s), hash_password))
        signer = TokenSigner(pki.session_key, "ziti-aio-controller")
        jwks = JwksCache(verify=jwks_ssl_context(cfg.jwks_ca_file), timeout_s=cfg.jwks_timeout_s,
                         refetch_s=cfg.jwks_refetch_s)
        access = Access(model, signer, session_timeout_s=cfg.session_timeout_s, jwks=jwks)
        metrics = ControllerMetrics()
        events = self.events = EventBus(instance_id)
        watch_model(model, events)
        # subscribed before bootstrap, so a file sink also records the first run's entities
        file_sinks = [(events.subscribe(f"file {sink.file}", sink.types),
                       JsonLinesFile(sink.file, max_bytes=sink.max_mib * 1024 * 1024, keep=sink.keep))
                      for sink in cfg.events]
        network = self.network = Network(model, signer, metrics, events, report_interval_s=cfg.report_interval_s,
                                         alerts=Alerts(events, cert_warn_days=cfg.alert_cert_days))
        metrics.watch(model, network)
        network.router_model.watch_posture(access.posture)
        exchange = EnrollmentExchange(model, pki.signer, cfg.trust_domain, pki.ca_bundle)
        # Client certificates are only requested: browsers and SDKs log in without one. The control
        # channel, when it shares this port, refuses a router without one (CtrlListener.serve_router).
        listener = CtrlListener(network)
        alpn_handlers: dict[str, TlsHandler] = {alpn.CTRL: listener.serve_router} if cfg.ctrl_shares_api_port else {}
        replicas: list[Replica] = []  # set once the API port is known: the member's address

        async def serve_raft(stream: TlsStream) -> None:
            if not replicas:
                raise ChannelClosed("this controller's replica is not running yet")
            await replicas[0].serve_peer(stream)

        alpn_handlers[alpn.RAFT] = serve_raft
        ssl_ctx = server_context(cert_chain=str(pki.server_chain_path), key=str(pki.server_key_path),
                                 client_ca=str(pki.ca_bundle_path), require_client_cert=False,
                                 alpn=[alpn.HTTP, *alpn_handlers])

        def trust_ca(pem: str) -> None:
            ssl_ctx.load_verify_locations(cadata=pem)

        for ca in model.all(Kind.CAS):
            if ca.get("isVerified"):
                trust_ca(ca["certPem"])
        ctx = ApiContext(model=model, crud=crud, access=access, enrollment_exchange=exchange,
                         cacerts_body=cacerts_body(pki.ca_bundle), instance_id=instance_id,
                         base_url=state["base_url"], router_state=network.router_state, network=network,
                         trust_ca=trust_ca, metrics=metrics, events=events, server_cert=pki.server_cert,
                         network_jwt=network_jwt, ca_jwt=ca_jwt,
                         # A dark management API is served only over the overlay; so is everything built on it.
                         console=cfg.console and not cfg.dark, spa=cfg.spa)
        self.api = ctx
        app = self.app = create_app(ctx)
        async with trio.open_nursery() as nursery:
            for sub, sink in file_sinks:
                nursery.start_soon(run_file_sink, sub, sink, name=sub.name)
            await nursery.start(network.run)
            if cfg.ctrl_port is not None and not cfg.ctrl_shares_api_port:
                ctrl_ssl = server_context(cert_chain=str(pki.server_chain_path), key=str(pki.server_key_path),
                                          client_ca=str(pki.ca_bundle_path), alpn=[alpn.CTRL])
                _, ctrl_port = await nursery.start(
                    partial(listener.run, ctrl_ssl, host=cfg.bind_host, port=cfg.ctrl_port))
            binds = await nursery.start(partial(serve_https, HideManagement(app) if cfg.dark else app, ssl_ctx,
                                                host=cfg.bind_host, port=cfg.port, alpn_handlers=alpn_handlers))
            port = int(binds[0].rsplit(":", 1)[1])
            if cfg.ctrl_shares_api_port:
                ctrl_port = port
            state["base_url"] = ctx.base_url = self.base_url(port)
            info = ControllerInfo(ctx.base_url, port, pki.ca_bundle_path, instance_id, ctrl_port)
            state["ctrl"] = info.ctrl_address
            ctx.cluster_ssl = client_context(ca=str(pki.ca_bundle_path), cert_chain=str(pki.server_chain_path),
                                             key=str(pki.server_key_path), alpn=[alpn.HTTP])
            replica = ctx.cluster = self._replica(cluster, model, pki, port)
            replicas.append(replica)
            if cfg.ctrl_shares_api_port:  # a member's control channel is then at its cluster address
                network.ctrl_endpoints = lambda: [f"tls:{m['address']}" for m in replica.members()]
                nursery.start_soon(push_endpoints, network)
            await nursery.start(run_member, model, replica)
            if replica.alone:  # it leads on its first tick: first content before callers log in
                await self._bootstrap_when_leader(model, replica)
            else:
                nursery.start_soon(self._bootstrap_when_leader, model, replica)
            nursery.start_soon(ClusterWatch(replica, events).run)
            metrics.watch_cluster(replica)
            nursery.start_soon(self._reap, access, model)
            nursery.start_soon(access.posture.run)
            if cfg.dark:
                nursery.start_soon(run_dark_plane, ctx, app, Path(cfg.home), cfg.management_service)
            log.info("controller %s listening at %s, control channel at %s", instance_id, ctx.base_url,
                     info.ctrl_address)
            task_status.started(info)

    def _replica(self, cluster: ClusterSettings, model: Model, pki: ControllerPki, port: int) -> Replica:
        cfg = self.config
        client_ssl = client_context(ca=str(pki.ca_bundle_path), cert_chain=str(pki.server_chain_path),
                                    key=str(pki.server_key_path), alpn=[alpn.RAFT])
        host = f"[{cfg.advertised_address}]" if ":" in cfg.advertised_address else cfg.advertised_address
        config = ReplicaConfig(cluster.member_id, f"{host}:{port}", cluster.members, Path(cfg.home) / RAFT_DIR,
                               cfg.trust_domain, cluster.timing, cluster.reads)
        return open_replica(model, config, client_ssl=client_ssl)

    async def _bootstrap_when_leader(self, model: Model, replica: Replica) -> None:
        """In a cluster the first content is written once, by whichever member leads first (a later
        leader finds it there and writes nothing)."""
        while True:
            if replica.writable:
                try:
                    await bootstrap(model, admin_username=self.config.admin_username,
                                    admin_password=self.config.admin_password)
                    return
                except ClusterUnavailable:
                    pass
            await trio.sleep(TICK_S if replica.alone else BOOTSTRAP_POLL_S)

    async def _reap(self, access: Access, model: Model) -> None:
        while True:
            await trio.sleep(REAP_INTERVAL_S)
            if self.api is not None and self.api.cluster is not None and not self.api.cluster.writable:
                continue  # the leader reaps for everyone
            reaped = await access.reap_expired()
            await model.transact(partial(_expired_revocations, model))
            if reaped:
                log.info("expired %d API session(s)", reaped)


def _expired_revocations(model: Model) -> Command | None:
    """Deletes the revocations kept long enough (:data:`~ziti_aio.controller.model.revocations.REVOCATION_KEEP_S`)."""
    now = now_text()
    stale = [r["id"] for r in model.all(Kind.REVOCATIONS) if (r.get("expiresAt") or now) < now]
    if not stale:
        return None
    return Command("controller", "prune revocations", tuple(Delete(Kind.REVOCATIONS, i) for i in stale))
