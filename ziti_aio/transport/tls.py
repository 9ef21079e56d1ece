"""TLS contexts and connections for the roles' sockets: every listener is TLS, every peer verified."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

import trio
from cryptography import x509

from ziti_aio.common.errors import ChannelClosed, ChannelTimeout
from ziti_aio.pki.bundle import fingerprint_sha1
from ziti_aio.transport.tls_stream import TlsStream

if TYPE_CHECKING:
    from collections.abc import Sequence

TLS_HANDSHAKE_TIMEOUT_S = 15.0


def server_context(*, cert_chain: str, key: str, client_ca: str | None = None, require_client_cert: bool = True,
                   alpn: Sequence[str] = ()) -> ssl.SSLContext:
    """A TLS 1.2+ server context presenting ``cert_chain``/``key`` (files).

    With ``client_ca`` (file) client certificates are verified against it: required, or only requested
    when ``require_client_cert`` is false (an HTTPS API also serves clients without one). Without it no
    client certificate is asked for. ``alpn`` lists the protocols offered. TLS 1.2 stays enabled because
    libziti 0.29.3 negotiates nothing newer.
    """
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certfile=cert_chain, keyfile=key)
    if client_ca is not None:
        ctx.load_verify_locations(cafile=client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def client_context(*, ca: str | None = None, ca_data: str | None = None, cert_chain: str | None = None,
                   key: str | None = None, alpn: Sequence[str] = ()) -> ssl.SSLContext:
    """A TLS client context trusting ``ca`` (file) or ``ca_data`` (PEM), presenting a client cert if given,
    offering the protocols ``alpn`` (:mod:`ziti_aio.transport.alpn`)."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca, cadata=ca_data)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_chain is not None:
        ctx.load_cert_chain(certfile=cert_chain, keyfile=key)
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def peer_certificate(stream: TlsStream) -> x509.Certificate | None:
    """The verified peer certificate of a handshaken TLS stream."""
    der = stream.getpeercert(binary_form=True)
    return None if der is None else x509.load_der_x509_certificate(der)


def peer_fingerprint(stream: TlsStream) -> str | None:
    cert = peer_certificate(stream)
    return None if cert is None else fingerprint_sha1(cert)


async def handshake(stream: TlsStream, timeout_s: float = TLS_HANDSHAKE_TIMEOUT_S) -> None:
    """Complete the TLS handshake or raise :class:`ChannelClosed`/:class:`ChannelTimeout`."""
    try:
        with trio.fail_after(timeout_s):
            await stream.do_handshake()
    except trio.TooSlowError as exc:
        raise ChannelTimeout("TLS handshake timed out") from exc
    except trio.BrokenResourceError as exc:
        raise ChannelClosed(f"TLS handshake failed: {exc.__cause__ or exc}") from exc


async def open_tls(host: str, port: int, ctx: ssl.SSLContext, *, server_hostname: str | None = None,
                   timeout_s: float = TLS_HANDSHAKE_TIMEOUT_S) -> TlsStream:
    """Connect and complete a TLS handshake to ``host:port``."""
    try:
        with trio.fail_after(timeout_s):
            tcp = await trio.open_tcp_stream(host, port)
    except trio.TooSlowError as exc:
        raise ChannelTimeout(f"connecting to {host}:{port} timed out") from exc
    except OSError as exc:
        raise ChannelClosed(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from exc
    stream = TlsStream(tcp, ctx, server_hostname=server_hostname or host)
    try:
        await handshake(stream, timeout_s)
    except BaseException:
        await trio.aclose_forcefully(stream)
        raise
    return stream
