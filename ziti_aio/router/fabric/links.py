"""Links between routers: accepting links (the router owns the port, shared with its edge listener
by default, docs/ports.md), dialing the routers the controller names, one link per router pair,
and reporting links to the controller.

Both sides authenticate with their enrollment certificates (network CA): the dialer presents
its client certificate, the listener its server certificate, and each checks that the other's
SPIFFE id is ``spiffe://<trust domain>/router/<the router id it claims>``. The listener also
checks the client certificate's fingerprint against the one the controller gave for that
router (``ROUTERS``); identities, other networks' routers and liars are refused at the hello.

Dialing policy (as OpenZiti): every router dials every router with a link listener it has no
link to; the router with the greater id waits :data:`DIAL_GRACE_S` first, so usually only one
dial happens. Should both links come up, both routers keep the one with the smaller id.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio
from cryptography import x509

from ziti_aio.common.errors import AuthError, ZitiError
from ziti_aio.common.ids import new_id
from ziti_aio.pki.names import spiffe_uris
from ziti_aio.router.ctrl import parse_address
from ziti_aio.router.fabric.link import RouterLink
from ziti_aio.transport import alpn
from ziti_aio.transport.channel import accept_channel, connect_channel
from ziti_aio.transport.tls import client_context, open_tls, peer_certificate, peer_fingerprint
from ziti_aio.wire import ctrl
from ziti_aio.wire import link as wire
from ziti_aio.wire.ctrl import CtrlType
from ziti_aio.wire.errors import WireProtocolError

if TYPE_CHECKING:
    from ziti_aio.router.ctrl import CtrlNotifier
    from ziti_aio.router.enroll import RouterHome
    from ziti_aio.router.fabric.link import LinkHandler
    from ziti_aio.transport.tls_stream import TlsStream
    from ziti_aio.wire.frame import Message

log = logging.getLogger(__name__)

HELLO_TIMEOUT_S = 10.0
DIAL_GRACE_S = 1.0
BACKOFF_MIN_S = 0.2
BACKOFF_MAX_S = 5.0
METRICS_INTERVAL_S = 2.0


@dataclass(frozen=True)
class Peer:
    """Another online router, as the controller describes it."""

    id: str
    name: str
    fingerprint: str
    link_address: str


def parse_peers(data: dict[str, Any]) -> list[Peer]:
    out = []
    for item in data.get("routers") or []:
        if not isinstance(item, dict):
            raise WireProtocolError("a router entry is not an object")
        out.append(Peer(ctrl.string(item, "id", max_length=64), ctrl.string(item, "name", max_length=1024, default=""),
                        ctrl.string(item, "fingerprint", max_length=128, default=""),
                        ctrl.string(item, "linkAddress", max_length=1024, default="")))
    return out


def router_spiffe_id(cert: x509.Certificate | None) -> str | None:
    uris = [] if cert is None else [u for u in spiffe_uris(cert) if "/router/" in u]
    return uris[0] if len(uris) == 1 else None


class LinkManager:
    """This router's links, by id and by peer."""

    def __init__(self, home: RouterHome, ctrl: CtrlNotifier) -> None:
        self.home = home
        self.ctrl = ctrl
        self.link_address = ""
        """Where this router accepts links (``tls:host:port``), set by the router once it listens; "" if
        it only dials."""
        self.peers: dict[str, Peer] = {}
        self.links: dict[str, RouterLink] = {}
        self.by_peer: dict[str, RouterLink] = {}
        self._handler: LinkHandler | None = None
        self._dialing: set[str] = set()
        self._nursery: trio.Nursery | None = None
        own = router_spiffe_id(x509.load_pem_x509_certificate(home.cert.read_bytes()))
        self._spiffe_prefix = own.rsplit("/", 1)[0] + "/" if own else None
        # the protocol name picks the link listener on a port shared with the edge listener
        self._client_ssl = client_context(ca=str(home.ca), cert_chain=str(home.cert), key=str(home.key),
                                          alpn=[alpn.LINK])
        self._client_ssl.check_hostname = False

    def get(self, link_id: str) -> RouterLink | None:
        return self.links.get(link_id)

    async def run(self, handler: LinkHandler, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Dial peers and report metrics; every link's payloads and acks go to ``handler``. Links can
        be accepted (:meth:`accept`) once started."""
        self._handler = handler
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._report_metrics)
                task_status.started()
        finally:
            # Accepted links outlive this nursery by a moment at shutdown: they must not redial into it.
            self._nursery = None

    # --- peers and dialing ------------------------------------------------------------------

    def update_peers(self, peers: list[Peer]) -> None:
        """The controller's current list of online routers: dial those not linked yet."""
        self.peers = {p.id: p for p in peers if p.id != self.home.id}
        for peer in self.peers.values():
            self._ensure_dial(peer.id)

    def _ensure_dial(self, peer_id: str) -> None:
        peer = self.peers.get(peer_id)
        if peer is None or not peer.link_address or peer_id in self.by_peer or peer_id in self._dialing \
                or self._nursery is None:
            return
        self._dialing.add(peer_id)
        self._nursery.start_soon(self._dial_loop, peer_id)

    async def _dial_loop(self, peer_id: str) -> None:
        try:
            if self.link_address and self.home.id > peer_id:
                await trio.sleep(DIAL_GRACE_S)
            backoff = BACKOFF_MIN_S
            while (peer := self.peers.get(peer_id)) is not None and peer.link_address and peer_id not in self.by_peer:
                try:
                    link = await self._dial(peer)
                except ZitiError as exc:
                    log.info("router %s: link to %s failed: %s; retrying in %.1f s", self.home.id, peer.name,
                             exc.message, backoff)
                    await trio.sleep(backoff * (0.5 + random.random() / 2))
                    backoff = min(backoff * 2, BACKOFF_MAX_S)
                    continue
                assert self._nursery is not None
                self._nursery.start_soon(self._serve_link, link)
                return
        finally:
            self._dialing.discard(peer_id)

    async def _dial(self, peer: Peer) -> RouterLink:
        host, port = parse_address(peer.link_address)
        stream = await open_tls(host, port, self._client_ssl)
        try:
            if router_spiffe_id(peer_certificate(stream)) != self._expected_spiffe(peer.id):
                raise AuthError(f"the link listener at {peer.link_address} is not router {peer.id}")
            link_id = new_id()
            channel, reply = await connect_channel(stream, wire.hello(self.home.id, link_id),
                                                   name=f"link:{link_id}", timeout_s=HELLO_TIMEOUT_S)
        except BaseException:
            await trio.aclose_forcefully(stream)
            raise
        if wire.parse_hello_reply(reply) != peer.id:
            await channel.aclose()
            raise AuthError(f"router {peer.id}'s link listener answered with another id")
        return RouterLink(link_id, peer.id, channel, dialed=True)

    def _expected_spiffe(self, router_id: str) -> str | None:
        return None if self._spiffe_prefix is None else self._spiffe_prefix + router_id

    # --- accepting --------------------------------------------------------------------------

    async def accept(self, stream: TlsStream) -> None:
        """Serve a link another router dialed, on a handshaken stream, until it closes."""
        fingerprint = peer_fingerprint(stream)
        spiffe = router_spiffe_id(peer_certificate(stream))
        claimed: dict[str, str] = {}

        async def check(msg: Message) -> Message:
            router_id, link_id = wire.parse_hello(msg)
            peer = self.peers.get(router_id)
            if peer is None or spiffe is None or spiffe != self._expected_spiffe(router_id) \
                    or fingerprint != peer.fingerprint:
                raise AuthError(f"link hello from a certificate that is not router {router_id}'s")
            if not link_id or link_id in self.links:
                raise AuthError(f"link id {link_id!r} is empty or in use")
            claimed.update(router=router_id, link=link_id)
            return wire.hello_reply(msg, self.home.id)

        channel = await accept_channel(stream, check, name="link:accepting", timeout_s=HELLO_TIMEOUT_S)
        channel.name = f"link:{claimed['link']}"
        await self._serve_link(RouterLink(claimed["link"], claimed["router"], channel, dialed=False))

    # --- life of a link ---------------------------------------------------------------------

    async def _serve_link(self, link: RouterLink) -> None:
        if not self._register(link):
            await link.aclose()
            return
        log.info("router %s: link %s to %s up (%s)", self.home.id, link.id, link.peer_id,
                 "dialed" if link.dialed else "accepted")
        await self.report_up(link)
        try:
            assert self._handler is not None
            await link.run(self._handler)
        finally:
            with trio.CancelScope(shield=True):
                await self._unregister(link)

    def _register(self, link: RouterLink) -> bool:
        """Add ``link``; of two links to one peer the one with the smaller id stays."""
        existing = self.by_peer.get(link.peer_id)
        if existing is not None and not existing.closed:
            if existing.id < link.id:
                log.info("router %s: duplicate link %s to %s dropped", self.home.id, link.id, link.peer_id)
                return False
            assert self._nursery is not None
            self._nursery.start_soon(existing.aclose)
        self.links[link.id] = link
        self.by_peer[link.peer_id] = link
        return True

    async def _unregister(self, link: RouterLink) -> None:
        self.links.pop(link.id, None)
        if self.by_peer.get(link.peer_id) is link:
            del self.by_peer[link.peer_id]
        log.info("router %s: link %s to %s down", self.home.id, link.id, link.peer_id)
        await self.ctrl.notify(CtrlType.LINK_DOWN, id=link.id, reason="the link closed")
        self._ensure_dial(link.peer_id)

    async def report_up(self, link: RouterLink, ctrl: CtrlNotifier | None = None) -> None:
        """Tell the controllers (or only ``ctrl``) that ``link`` is up."""
        src, dst = (self.home.id, link.peer_id) if link.dialed else (link.peer_id, self.home.id)
        await (ctrl or self.ctrl).send(CtrlType.LINK_UP, id=link.id, src=src, dst=dst)

    async def report_all(self, ctrl: CtrlNotifier) -> None:
        """After a control channel (re)connect: every live link, to that controller."""
        for link in list(self.links.values()):
            await self.report_up(link, ctrl)

    def take_latency_samples(self) -> dict[str, list[int]]:
        """Each link's heartbeat round trips (ns) since the last call, for the router's metrics report."""
        return {link.id: link.take_latency_samples() for link in list(self.links.values())}

    async def _report_metrics(self) -> None:
        while True:
            await trio.sleep(METRICS_INTERVAL_S)
            measured = [{"id": link.id, "latencyMs": round(link.latency_ms, 3)}
                        for link in list(self.links.values()) if link.latency_ms is not None]
            if measured:
                await self.ctrl.send(CtrlType.LINK_METRICS, links=measured)
