"""End-to-end encryption between a dialer and a hoster, as libziti 0.29.3 does it.

libsodium ``crypto_kx`` derives the session keys and ``crypto_secretstream_xchacha20poly1305``
protects the stream (docs/wire.md §6; libziti ``library/connect.c`` ``establish_crypto``):

- the **hoster** is the kx *server*: ``crypto_kx_server_session_keys(pk_host, sk_host,
  pk_dialer)``, with the key pair of its Bind, shared by every connection accepted from it;
- the **dialer** is the kx *client*: ``crypto_kx_client_session_keys(pk_dialer, sk_dialer,
  pk_host)``, with a fresh key pair per Connect;

so the dialer's tx key is the hoster's rx key and vice versa. Each side's first Data is its
24-byte stream header; every later Data is one push, tag 0, no additional data (plaintext + 17
bytes on the wire). FIN and StateClosed stay in clear.

Sizes: libziti pushes at most 32 KiB per Data, the Go SDK one push per ``Write`` of any size,
and libziti 0.29.3 opens larger ones (verified: 64 KiB and 1 MiB pushes echoed intact). We push
at most :data:`MAX_PLAINTEXT_CHUNK_BYTES` (64 KiB: half the per-message work of 32 KiB) and
open anything a frame can carry.

Error handling: bad keys, a bad header and forged, truncated or reordered ciphertext raise
:class:`WireProtocolError`; after a failed pull the receiver is broken for good, as libziti
fails the connection (ZITI_CRYPTO_FAIL).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nacl import bindings, exceptions

from ziti_aio.wire.errors import WireProtocolError
from ziti_aio.wire.frame import MAX_BODY_BYTES

if TYPE_CHECKING:
    from collections.abc import Iterator

KEY_BYTES = bindings.crypto_kx_PUBLIC_KEY_BYTES
HEADER_BYTES = bindings.crypto_secretstream_xchacha20poly1305_HEADERBYTES
ABYTES = bindings.crypto_secretstream_xchacha20poly1305_ABYTES
MAX_PLAINTEXT_CHUNK_BYTES = 64 * 1024
MAX_CIPHERTEXT_BYTES = MAX_BODY_BYTES
TAG_MESSAGE = bindings.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
TAG_FINAL = bindings.crypto_secretstream_xchacha20poly1305_TAG_FINAL


@dataclass(frozen=True, slots=True)
class KeyPair:
    """An X25519 ``crypto_kx`` key pair; only ``public`` goes on the wire (header 1003)."""

    public: bytes
    secret: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """Directional secretstream keys: ``rx`` opens what the peer sends, ``tx`` seals ours."""

    rx: bytes = field(repr=False)
    tx: bytes = field(repr=False)


def generate_key_pair() -> KeyPair:
    """A new random ``crypto_kx`` key pair."""
    public, secret = bindings.crypto_kx_keypair()
    return KeyPair(public=public, secret=secret)


def _check_peer_key(peer_public: bytes) -> bytes:
    if len(peer_public) != KEY_BYTES:
        raise WireProtocolError(f"peer public key must be {KEY_BYTES} bytes, got {len(peer_public)}")
    return bytes(peer_public)


def dialer_session_keys(own: KeyPair, host_public: bytes) -> SessionKeys:
    """Session keys of the dialing side (kx client), from the hoster's Bind key."""
    try:
        rx, tx = bindings.crypto_kx_client_session_keys(own.public, own.secret, _check_peer_key(host_public))
    except exceptions.CryptoError as exc:
        raise WireProtocolError("key exchange with the hoster's public key failed") from exc
    return SessionKeys(rx=rx, tx=tx)


def host_session_keys(own: KeyPair, dialer_public: bytes) -> SessionKeys:
    """Session keys of the hosting side (kx server), from the dialer's Connect key."""
    try:
        rx, tx = bindings.crypto_kx_server_session_keys(own.public, own.secret, _check_peer_key(dialer_public))
    except exceptions.CryptoError as exc:
        raise WireProtocolError("key exchange with the dialer's public key failed") from exc
    return SessionKeys(rx=rx, tx=tx)


def split_plaintext(data: bytes, chunk_bytes: int = MAX_PLAINTEXT_CHUNK_BYTES) -> Iterator[bytes]:
    """Cut ``data`` into pieces of at most ``chunk_bytes``, one per Data message, as libziti
    writes; an empty ``data`` yields nothing."""
    for start in range(0, len(data), chunk_bytes):
        yield data[start : start + chunk_bytes]


class SecretStreamSender:
    """Sealing half of a secretstream, keyed with our ``tx`` key.

    Send :meth:`header` as the first Data of the connection, then one :meth:`push` per Data.
    """

    def __init__(self, tx_key: bytes) -> None:
        self._state = bindings.crypto_secretstream_xchacha20poly1305_state()
        self._header = bindings.crypto_secretstream_xchacha20poly1305_init_push(self._state, tx_key)
        self._finished = False

    def header(self) -> bytes:
        """The 24-byte stream header the peer needs before any ciphertext."""
        return self._header

    def push(self, plaintext: bytes, final: bool = False) -> bytes:
        """Seal one message of at most 64 KiB; returns ``len(plaintext) + 17`` bytes.

        ``final`` tags it TAG_FINAL (libziti never does); nothing may be pushed after it.
        """
        if self._finished:
            raise WireProtocolError("push after the final message of the stream")
        if len(plaintext) > MAX_PLAINTEXT_CHUNK_BYTES:
            raise WireProtocolError(f"{len(plaintext)} bytes exceed one {MAX_PLAINTEXT_CHUNK_BYTES}-byte chunk")
        self._finished = final
        tag = TAG_FINAL if final else TAG_MESSAGE
        return bindings.crypto_secretstream_xchacha20poly1305_push(self._state, bytes(plaintext), None, tag)

    def push_all(self, data: bytes) -> list[bytes]:
        """Seal ``data`` as consecutive 64 KiB pushes, one ciphertext per Data message."""
        return [self.push(chunk) for chunk in split_plaintext(data)]


class SecretStreamReceiver:
    """Opening half of a secretstream, keyed with our ``rx`` key and the peer's first Data.

    Error handling: raises :class:`WireProtocolError` if ``header`` is not 24 bytes; see
    :meth:`pull`.
    """

    def __init__(self, rx_key: bytes, header: bytes) -> None:
        if len(header) != HEADER_BYTES:
            raise WireProtocolError(f"stream header must be {HEADER_BYTES} bytes, got {len(header)}")
        self._state = bindings.crypto_secretstream_xchacha20poly1305_state()
        bindings.crypto_secretstream_xchacha20poly1305_init_pull(self._state, bytes(header), rx_key)
        self._failed = False
        self._finished = False

    def pull(self, ciphertext: bytes) -> tuple[bytes, int]:
        """Open one Data body; returns ``(plaintext, tag)``.

        Error handling: a body shorter than 17 bytes or longer than a frame body, a forged,
        reordered or replayed one, or anything after TAG_FINAL raises
        :class:`WireProtocolError` and breaks the receiver.
        """
        if self._failed or self._finished:
            raise WireProtocolError("secretstream receiver is closed")
        if not ABYTES <= len(ciphertext) <= MAX_CIPHERTEXT_BYTES:
            self._failed = True
            raise WireProtocolError(f"ciphertext of {len(ciphertext)} bytes is out of range")
        try:
            plaintext, tag = bindings.crypto_secretstream_xchacha20poly1305_pull(self._state, bytes(ciphertext), None)
        except exceptions.RuntimeError as exc:
            self._failed = True
            raise WireProtocolError("ciphertext failed authentication") from exc
        self._finished = tag == TAG_FINAL
        return plaintext, tag
