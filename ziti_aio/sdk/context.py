"""The SDK entry point: ``async with open_context("id.json") as ctx`` then ``ctx.dial`` / ``ctx.bind``.

A :class:`ZitiContext` logs in with the identity's certificate, keeps its API session fresh,
follows service changes, opens (and reuses) one channel per edge router and hands out
trio streams and listeners. Its background tasks live in the nursery of
:func:`open_context`; leaving the block unbinds, closes every router channel and logs out.
"""

from __future__ import annotations

import itertools
import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from ziti_aio.common.errors import ChannelClosed, ChannelError, ConfigError, NotFoundError, ZitiError
from ziti_aio.sdk.client_api import EdgeClientApi, Service, Session
from ziti_aio.sdk.conn import ZitiStream
from ziti_aio.sdk.identity_file import Identity, load_identity
from ziti_aio.sdk.listener import ZitiListener, hosting_terms
from ziti_aio.sdk.posture import POSTURE_INTERVAL_S, PostureReporter
from ziti_aio.sdk.router_channel import RouterChannel, channel_name, connect_router, wait_any
from ziti_aio.wire import edge
from ziti_aio.wire.content import EdgeContentType
from ziti_aio.wire.e2e import dialer_session_keys, generate_key_pair
from ziti_aio.wire.errors import WireProtocolError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Sequence

    from ziti_aio.sdk.client_api import TotpProvider

log = logging.getLogger(__name__)

DIAL_TIMEOUT_S = 15.0
SHUTDOWN_TIMEOUT_S = 10.0
SERVICE_POLL_INTERVAL_S = 60.0
REFRESH_MARGIN_S = 60.0
RETRY_AFTER_ERROR_S = 5.0


class _InvalidSession(Exception):
    """The router refused the Dial session token: fetch a new session and retry once."""


class ZitiContext:
    """One logged-in identity. Use :func:`open_context`."""

    def __init__(self, identity: Identity, client_api: EdgeClientApi, nursery: trio.Nursery, *,
                 service_poll_s: float = SERVICE_POLL_INTERVAL_S,
                 posture_interval_s: float = POSTURE_INTERVAL_S) -> None:
        self.identity = identity
        self.client_api = client_api
        self.services: dict[str, Service] = {}
        self.service_poll_s = service_poll_s
        self.posture_interval_s = posture_interval_s
        self.posture = PostureReporter(client_api, lambda: [q for s in self.services.values()
                                                            for q in s.posture_queries])
        self._services_changed = trio.Event()
        self._nursery = nursery
        self._ssl = identity.ssl_context()
        self._identity_doc: dict[str, Any] = {}
        self._conn_ids = itertools.count()
        self._channel_names = itertools.count()
        self._routers: dict[str, RouterChannel] = {}
        self._connecting: dict[str, trio.Event] = {}
        self._router_errors: dict[str, str] = {}
        self._dial_sessions: dict[str, Session] = {}
        self._service_routers: dict[str, tuple[str, ...]] = {}
        self.use_router_model = True  # dial and bind without service sessions where routers offer it
        self._listeners: set[ZitiListener] = set()

    @property
    def identity_name(self) -> str:
        assert self.client_api.api_session is not None
        return self.client_api.api_session.identity_name

    def next_conn_id(self) -> int:
        """Conn ids come from one counter per context, as in libziti."""
        return next(self._conn_ids)

    async def start(self) -> None:
        """Log in, read the identity and the services, start the refresh and polling tasks."""
        await self.client_api.authenticate()
        self._identity_doc = await self.client_api.current_identity()
        last_change = await self.client_api.last_service_change()
        self.services = await self.client_api.services()
        await self.posture.submit()
        self._nursery.start_soon(self._keep_api_session)
        self._nursery.start_soon(self._follow_services, last_change)
        self._nursery.start_soon(self.posture.run, self.posture_interval_s)

    async def submit_posture(self) -> int:
        """Collect and send this device's posture now (every answer, changed or not); returns how many
        answers were sent. The context also sends changes every ``posture_interval_s`` and before a
        session for a service whose policies need posture."""
        return await self.posture.submit(force=True)

    # -- dialing -----------------------------------------------------------------------------

    async def dial(self, service_name: str, *, app_data: bytes | None = None) -> ZitiStream:
        """Connect to ``service_name``; returns a half-closeable trio stream. Logged in by OIDC, the
        router decides from its router model (no service session, docs/router-model.md); refused there,
        the dial is tried once more with a service session, which the controller decides."""
        service = await self.service(service_name, "Dial")
        try:
            return await self._dial_once(service, app_data, by_model=self._by_model(service))
        except _InvalidSession as exc:
            log.info("%s; retrying with a new dial session", exc)
        try:
            return await self._dial_once(service, app_data, by_model=False)
        except _InvalidSession as exc:
            raise ChannelClosed(str(exc)) from None

    async def _dial_once(self, service: Service, app_data: bytes | None, *, by_model: bool) -> ZitiStream:
        session = (None if by_model else self._dial_sessions.get(service.id)) \
            or await self.session(service, "Dial", by_model=by_model)
        router = await self._best_router(session.router_urls)
        if not session.id and not router.router_model:
            session = await self.session(service, "Dial", by_model=False)
        if session.id:
            self._dial_sessions[service.id] = session
        try:
            return await self._connect(router, service, session, app_data)
        except _InvalidSession:
            self._dial_sessions.pop(service.id, None)
            raise

    async def _connect(self, router: RouterChannel, service: Service, session: Session,
                       app_data: bytes | None) -> ZitiStream:
        conn_id = self.next_conn_id()
        inbound = router.register_conn(conn_id)
        keys = generate_key_pair() if service.encryption_required else None
        msg = edge.connect(conn_id, session.token, self.identity_name, public_key=None if keys is None else keys.public,
                           app_data=app_data)
        try:
            reply = await router.request(msg, timeout_s=DIAL_TIMEOUT_S)
            if reply.content_type == EdgeContentType.STATE_CLOSED:
                reason = edge.parse_state_closed(reply).reason
                if reason == edge.INVALID_SESSION:
                    raise _InvalidSession(f"router {router.url} refused the dial of {service.name!r}: {reason}")
                raise ChannelClosed(f"router {router.url} refused the dial of {service.name!r}: {reason}")
            connected = edge.parse_state_connected(reply)
            session_keys = None
            if keys is not None:
                if connected.public_key is None:
                    raise WireProtocolError(f"router {router.url} sent no host key for encrypted {service.name!r}")
                session_keys = dialer_session_keys(keys, connected.public_key)
            stream = ZitiStream(router, conn_id, inbound, service=service.name, peer=service.name,
                                keys=session_keys)
            await stream.start()
            return stream
        except BaseException:
            router.unregister_conn(conn_id)
            raise

    # -- hosting -----------------------------------------------------------------------------

    async def bind(self, service_name: str) -> ZitiListener:
        """Host ``service_name``; returns once at least one router accepted the Bind (by the router model
        when logged in by OIDC, else — or if that was refused everywhere — with a Bind session)."""
        service = await self.service(service_name, "Bind")
        try:
            return await self._bind_with(service, await self.session(service, "Bind"))
        except ChannelClosed as exc:
            if not self._by_model(service):
                raise
            log.info("%s; binding with a Bind session", exc)
        return await self._bind_with(service, await self.session(service, "Bind", by_model=False))

    async def _bind_with(self, service: Service, session: Session) -> ZitiListener:
        cost, precedence = hosting_terms(self._identity_doc, service.id)
        listener = ZitiListener(self, service, cost=cost, precedence=precedence, by_model=not session.id)
        self._listeners.add(listener)
        try:
            await self._nursery.start(listener.run, session)
        except BaseException:
            self._listeners.discard(listener)
            raise
        return listener

    def forget_listener(self, listener: ZitiListener) -> None:
        self._listeners.discard(listener)

    # -- controller --------------------------------------------------------------------------

    async def service(self, name: str, permission: str) -> Service:
        """The visible service ``name`` (asking the controller if not yet known) with ``permission``."""
        service = self.services.get(name)
        if service is None:
            service = (await self.client_api.services(name=name)).get(name)
            if service is None:
                raise NotFoundError("service", name,
                                    f"service {name!r} does not exist or {self.identity_name!r} may not use it")
            self.services[name] = service
        if permission not in service.permissions:
            raise NotFoundError("service", name, f"identity {self.identity_name!r} has no {permission} "
                                                 f"permission on service {name!r}")
        return service

    def _by_model(self, service: Service) -> bool:
        """Dial and bind ``service`` with no service session? Only logged in by OIDC (routers verify the
        access token and judge posture from their model, docs/router-model.md §7)."""
        return self.use_router_model and self.client_api.oidc is not None

    async def session(self, service: Service, session_type: str, *, by_model: bool = True) -> Session:
        """A Dial or Bind session for ``service``: with ``by_model`` and :meth:`_by_model`, one made here
        (id "", a router-model token, the routers the identity may use for it), else ``POST /sessions``.
        Either way a service with posture queries gets this device's changed posture sent first."""
        if service.posture_queries:
            await self.posture.submit()
        if by_model and self._by_model(service):
            urls = self._service_routers.get(service.id) or await self.client_api.service_routers(service)
            self._service_routers[service.id] = urls
            return Session(id="", token=edge.model_token(service.id), type=session_type, router_urls=urls)
        return await self.client_api.create_session(service, session_type)

    def _refresh_delay(self) -> float:
        """Seconds until the next refresh: a minute before expiry, or half the lifetime if that is short."""
        assert self.client_api.api_session is not None
        seconds = self.client_api.api_session.expiration_seconds
        return max(1.0, seconds - REFRESH_MARGIN_S if seconds > 2 * REFRESH_MARGIN_S else seconds / 2)

    async def _keep_api_session(self) -> None:
        delay = self._refresh_delay()
        while True:
            await trio.sleep(delay)
            try:
                await self.client_api.refresh()  # logs in again if the controller refused the session
            except ZitiError as exc:
                log.warning("refreshing the API session of %s failed: %s", self.identity_name, exc.message)
                delay = RETRY_AFTER_ERROR_S
            else:
                delay = self._refresh_delay()
                if self.client_api.oidc is not None:
                    await self._update_router_tokens()

    async def _update_router_tokens(self) -> None:
        """Hand every router channel the refreshed access token (UpdateToken, docs/oidc.md §5); a
        channel that refuses it is closed, and reconnects with the new token in its hello."""
        for router in list(self._routers.values()):
            try:
                reply = await router.request(edge.update_token(self.client_api.token), timeout_s=DIAL_TIMEOUT_S)
            except ChannelError:
                continue  # a broken channel reconnects with the current token anyway
            if reply.content_type != EdgeContentType.UPDATE_TOKEN_SUCCESS:
                log.info("router %s refused the refreshed token; reconnecting", router.url)
                await router.aclose()

    async def wait_services_changed(self) -> None:
        """Return once :attr:`services` has been replaced by a new listing from the controller."""
        await self._services_changed.wait()

    async def _follow_services(self, last_change: str | None) -> None:
        while True:
            await trio.sleep(self.service_poll_s)
            try:
                change = await self.client_api.last_service_change()
                if change is None or change != last_change:
                    self._service_routers.clear()  # policies may have moved the routers too
                    services = await self.client_api.services()
                    last_change = change
                    if services != self.services:
                        self.services = services
                        self._services_changed.set()
                        self._services_changed = trio.Event()
                        await self.posture.submit()
            except ZitiError as exc:
                log.warning("listing services for %s failed: %s", self.identity_name, exc.message)

    # -- router channels ---------------------------------------------------------------------

    async def router(self, url: str) -> RouterChannel:
        """The open channel to ``url``, connecting it if needed."""
        self._connect_router_soon(url)
        event = self._connecting.get(url)
        if event is not None:
            await event.wait()
        router = self._routers.get(url)
        if router is None or not router.usable:
            raise ChannelClosed(f"router {url}: {self._router_errors.get(url, 'channel closed')}")
        return router

    async def _best_router(self, urls: Sequence[str]) -> RouterChannel:
        """The lowest-latency open channel among ``urls``; else the first to connect."""
        for url in urls:
            self._connect_router_soon(url)
        while True:
            live = [r for url in urls if (r := self._routers.get(url)) is not None and r.usable]
            if live:
                measured = [r for r in live if r.latency_s is not None]
                return min(measured, key=lambda r: r.latency_s or 0.0) if measured else live[0]
            pending = [event for url in urls if (event := self._connecting.get(url)) is not None]
            if not pending:
                errors = "; ".join(f"{url}: {self._router_errors.get(url, 'closed')}" for url in urls)
                raise ChannelClosed(f"no edge router reachable ({errors})")
            await wait_any(pending)

    def _connect_router_soon(self, url: str) -> None:
        router = self._routers.get(url)
        if url in self._connecting or (router is not None and router.usable):
            return
        self._connecting[url] = trio.Event()
        self._nursery.start_soon(self._run_router, url)

    async def _run_router(self, url: str) -> None:
        router = None
        try:
            router = await connect_router(url, self._ssl, self.client_api.token,
                                          channel_name(next(self._channel_names)))
            self._routers[url] = router
        except (ChannelError, ConfigError) as exc:
            self._router_errors[url] = exc.message
            log.warning("%s cannot open a channel to router %s: %s", self.identity_name, url, exc.message)
        finally:
            self._connecting.pop(url).set()
        if router is None:
            return
        try:
            await router.run()
        finally:
            if self._routers.get(url) is router:
                del self._routers[url]
            self._router_errors[url] = "channel closed"

    async def aclose(self) -> None:
        """Unbind every listener, close every router channel, log out."""
        with trio.CancelScope(shield=True), trio.move_on_after(SHUTDOWN_TIMEOUT_S):
            for listener in list(self._listeners):
                await listener.aclose()
            for router in list(self._routers.values()):
                await router.aclose()
            await self.client_api.logout()
            await self.client_api.aclose()


@asynccontextmanager
async def open_context(identity_file: str | Path, *, config_types: Sequence[str] = (),
                       service_poll_s: float = SERVICE_POLL_INTERVAL_S,
                       totp_provider: TotpProvider | None = None, legacy: bool = False,
                       posture_interval_s: float = POSTURE_INTERVAL_S) -> AsyncIterator[ZitiContext]:
    """Load ``identity_file``, log in and yield a :class:`ZitiContext`; clean up on exit.

    ``config_types`` names the service config types to receive (e.g. ``intercept.v1``);
    ``service_poll_s`` is how often the service list is checked for changes, ``posture_interval_s``
    how often changed posture is sent (when services ask for posture); ``totp_provider``
    gives a TOTP code when the identity's login needs one (MFA), else such a login fails; ``legacy``
    logs in with ``POST /authenticate`` even if the controller offers OIDC.
    """
    identity = load_identity(identity_file)
    async with _running(identity, EdgeClientApi(identity, config_types=tuple(config_types),
                                                  totp_provider=totp_provider, legacy=legacy,
                                                  identity_path=Path(identity_file)),
                        service_poll_s, posture_interval_s) as ctx:
        yield ctx


@asynccontextmanager
async def open_ext_jwt_context(controller_url: str, token: str | Callable[[], str], *, ca_pem: str,
                               config_types: Sequence[str] = (),
                               service_poll_s: float = SERVICE_POLL_INTERVAL_S) -> AsyncIterator[ZitiContext]:
    """A context that logs in with an external JWT (``ext-jwt``, docs/external-jwt.md) instead of an identity
    file: ``token``, or a function giving a fresh one for each login (a re-login after the API session
    expired needs an unexpired token). ``ca_pem`` is the controller's CA bundle. It reads services and their
    configs; connecting to routers needs a certificate (enroll to cert: :func:`ziti_aio.sdk.enroll.enroll_ext_jwt`)."""
    identity = Identity(ztapi=controller_url.rstrip("/"), cert_pem="", key_pem="", ca_pem=ca_pem)
    client_api = EdgeClientApi(identity, config_types=tuple(config_types), ext_jwt=token)
    async with _running(identity, client_api, service_poll_s) as ctx:
        yield ctx


@asynccontextmanager
async def _running(identity: Identity, client_api: EdgeClientApi, service_poll_s: float,
                   posture_interval_s: float = POSTURE_INTERVAL_S) -> AsyncIterator[ZitiContext]:
    try:
        async with trio.open_nursery() as nursery:
            ctx = ZitiContext(identity, client_api, nursery, service_poll_s=service_poll_s,
                              posture_interval_s=posture_interval_s)
            try:
                await ctx.start()
                yield ctx
            finally:
                await ctx.aclose()
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # The background tasks never raise: a group here holds the caller's own error (or start()'s).
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
