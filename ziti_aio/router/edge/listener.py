"""The edge listener: SDKs connect over TLS with their identity certificate and say hello with
their API-session token, which is checked here, offline, before the hello is answered. The router
owns the port (shared with its link listener by default, docs/ports.md) and hands SDK connections to
:meth:`EdgeListener.serve_sdk`.

A refused hello is answered by closing the connection (as the Go router does), which makes
libziti refresh its API session and reconnect.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ziti_aio import __version__
from ziti_aio.common.errors import AuthError
from ziti_aio.pki.bundle import fingerprint_sha1
from ziti_aio.router.edge.auth import ApiSessionClaims
from ziti_aio.router.edge.session import SdkSession
from ziti_aio.transport.channel import accept_channel
from ziti_aio.transport.tls import peer_certificate
from ziti_aio.wire.channel import hello_reply, parse_hello
from ziti_aio.wire.content import EdgeContentType

if TYPE_CHECKING:
    from ziti_aio.router.edge.auth import Tokens
    from ziti_aio.router.edge.sdks import SdkSessions
    from ziti_aio.transport.tls_stream import TlsStream
    from ziti_aio.wire.frame import Message

log = logging.getLogger(__name__)

HELLO_TIMEOUT_S = 20.0
VERSION_HEADER = f"v{__version__}|ziti-aio|unknown|linux|amd64"
RELAYED_BODIES = frozenset({EdgeContentType.DATA.value})


class EdgeListener:
    """Accepts SDK channels for router ``router_id``, checking their hellos with ``tokens``."""

    def __init__(self, router_id: str, tokens: Tokens, sdks: SdkSessions) -> None:
        self.router_id = router_id
        self.tokens = tokens
        self.sdks = sdks

    async def serve_sdk(self, stream: TlsStream) -> None:
        """Serve one SDK's channel on a handshaken stream until it closes."""
        cert = peer_certificate(stream)
        fingerprint = fingerprint_sha1(cert) if cert is not None else None
        proven: dict[str, ApiSessionClaims | str] = {}

        async def check(msg: Message) -> Message:
            hello = parse_hello(msg)
            verifier = self.tokens.verifier
            if verifier is None:
                raise AuthError("the router has not reached its controller yet")
            proven["claims"] = verifier.api_session(hello.token, fingerprint, cert)
            proven["name"] = hello.name
            return hello_reply(msg, version=VERSION_HEADER, router_model=True)

        # Data bodies are relayed as they came (views of the read, one copy less): docs/router.md.
        channel = await accept_channel(stream, check, name=f"edge:{fingerprint}", timeout_s=HELLO_TIMEOUT_S,
                                       view_bodies_of=RELAYED_BODIES)
        claims = proven["claims"]
        assert isinstance(claims, ApiSessionClaims)
        name = f"{proven['name']}/{claims.identity_id}"
        channel.name = name
        log.info("router %s: SDK %s connected", self.router_id, name)
        await self.sdks.serve(SdkSession(channel, claims, name, fingerprint))
