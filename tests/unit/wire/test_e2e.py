"""End-to-end crypto: libziti's kx roles and secretstream framing, cross-checked against
libsodium primitives computed independently here."""

from __future__ import annotations

import hashlib
import random

import pytest
from nacl import bindings

from ziti_aio.wire.e2e import (
    MAX_CIPHERTEXT_BYTES,
    MAX_PLAINTEXT_CHUNK_BYTES,
    TAG_FINAL,
    TAG_MESSAGE,
    SecretStreamReceiver,
    SecretStreamSender,
    dialer_session_keys,
    generate_key_pair,
    host_session_keys,
    split_plaintext,
)
from ziti_aio.wire.errors import WireProtocolError


def pair():
    """A hoster (Bind key) and a dialer (Connect key) after the key exchange."""
    host, dialer = generate_key_pair(), generate_key_pair()
    return host_session_keys(host, dialer.public), dialer_session_keys(dialer, host.public), host, dialer


def test_dialer_and_host_derive_crossed_keys():
    host_keys, dialer_keys, _, _ = pair()
    assert dialer_keys.tx == host_keys.rx and dialer_keys.rx == host_keys.tx
    assert dialer_keys.tx != dialer_keys.rx and len(dialer_keys.tx) == 32


def test_dialer_is_kx_client_and_host_is_kx_server_per_libsodium_definition():
    host_keys, dialer_keys, host, dialer = pair()
    shared = bindings.crypto_scalarmult(dialer.secret, host.public)
    digest = hashlib.blake2b(shared + dialer.public + host.public, digest_size=64).digest()
    # crypto_kx: client rx = first half, client tx = second half; the server's are swapped.
    assert (dialer_keys.rx, dialer_keys.tx) == (digest[:32], digest[32:])
    assert (host_keys.tx, host_keys.rx) == (digest[:32], digest[32:])


def test_200_kib_goes_through_in_64_kib_chunks():
    host_keys, dialer_keys, _, _ = pair()
    data = random.Random(7).randbytes(200 * 1024)
    sender = SecretStreamSender(dialer_keys.tx)
    bodies = [sender.header(), *sender.push_all(data)]
    assert [len(b) for b in bodies] == [24, 65536 + 17, 65536 + 17, 65536 + 17, 8192 + 17]
    assert MAX_PLAINTEXT_CHUNK_BYTES == 65536
    receiver = SecretStreamReceiver(host_keys.rx, bodies[0])
    pulled = [receiver.pull(body) for body in bodies[1:]]
    assert all(tag == TAG_MESSAGE for _, tag in pulled)
    assert b"".join(p for p, _ in pulled) == data


def test_a_push_larger_than_ours_opens_as_one_message():
    # The Go SDK pushes a whole Write, whatever its size: a receiver must not cap it at our chunk.
    host_keys, dialer_keys, _, _ = pair()
    data = random.Random(8).randbytes(1024 * 1024)
    state = bindings.crypto_secretstream_xchacha20poly1305_state()
    header = bindings.crypto_secretstream_xchacha20poly1305_init_push(state, dialer_keys.tx)
    body = bindings.crypto_secretstream_xchacha20poly1305_push(state, data, None, TAG_MESSAGE)
    assert SecretStreamReceiver(host_keys.rx, header).pull(body) == (data, TAG_MESSAGE)


def test_raw_libsodium_opens_what_the_sender_sealed():
    _, dialer_keys, host, dialer = pair()
    shared = bindings.crypto_scalarmult(host.secret, dialer.public)
    rx = hashlib.blake2b(shared + dialer.public + host.public, digest_size=64).digest()[32:]  # server rx
    sender = SecretStreamSender(dialer_keys.tx)
    state = bindings.crypto_secretstream_xchacha20poly1305_state()
    bindings.crypto_secretstream_xchacha20poly1305_init_pull(state, sender.header(), rx)
    assert bindings.crypto_secretstream_xchacha20poly1305_pull(state, sender.push(b"hello"), None) == (b"hello", 0)


def test_both_directions_work_at_once():
    host_keys, dialer_keys, _, _ = pair()
    to_host, to_dialer = SecretStreamSender(dialer_keys.tx), SecretStreamSender(host_keys.tx)
    host_rx = SecretStreamReceiver(host_keys.rx, to_host.header())
    dialer_rx = SecretStreamReceiver(dialer_keys.rx, to_dialer.header())
    assert host_rx.pull(to_host.push(b"ping")) == (b"ping", TAG_MESSAGE)
    assert dialer_rx.pull(to_dialer.push(b"pong")) == (b"pong", TAG_MESSAGE)


def streams():
    host_keys, dialer_keys, _, _ = pair()
    sender = SecretStreamSender(dialer_keys.tx)
    return sender, SecretStreamReceiver(host_keys.rx, sender.header())


def test_a_flipped_bit_is_detected_and_breaks_the_receiver():
    sender, receiver = streams()
    forged = bytearray(sender.push(b"transfer 100"))
    forged[5] ^= 1
    with pytest.raises(WireProtocolError, match="authentication"):
        receiver.pull(bytes(forged))
    with pytest.raises(WireProtocolError):
        receiver.pull(sender.push(b"anything"))


def test_dropped_replayed_or_foreign_messages_are_detected():
    sender, receiver = streams()
    sender.push(b"1")
    with pytest.raises(WireProtocolError):
        receiver.pull(sender.push(b"2"))
    sender, receiver = streams()
    first = sender.push(b"1")
    receiver.pull(first)
    with pytest.raises(WireProtocolError):
        receiver.pull(first)
    other_sender, _ = streams()
    _, receiver = streams()
    with pytest.raises(WireProtocolError):
        receiver.pull(other_sender.push(b"x"))


@pytest.mark.parametrize("size", [0, 16, MAX_CIPHERTEXT_BYTES + 1])
def test_bodies_of_impossible_length_are_rejected(size):
    _, receiver = streams()
    with pytest.raises(WireProtocolError, match="out of range"):
        receiver.pull(bytes(size))


@pytest.mark.parametrize("size", [0, 23, 25])
def test_a_first_data_that_is_not_24_bytes_is_not_a_header(size):
    with pytest.raises(WireProtocolError, match="24"):
        SecretStreamReceiver(bytes(32), bytes(size))


def test_push_refuses_more_than_one_chunk():
    sender, _ = streams()
    with pytest.raises(WireProtocolError):
        sender.push(bytes(MAX_PLAINTEXT_CHUNK_BYTES + 1))


def test_final_tag_ends_both_halves():
    sender, receiver = streams()
    assert receiver.pull(sender.push(b"bye", final=True)) == (b"bye", TAG_FINAL)
    with pytest.raises(WireProtocolError):
        sender.push(b"more")
    with pytest.raises(WireProtocolError):
        receiver.pull(bytes(20))


@pytest.mark.parametrize("bad", [bytes(32), bytes(31)], ids=["low-order point", "short key"])
def test_bad_peer_keys_fail_the_exchange(bad):
    own = generate_key_pair()
    with pytest.raises(WireProtocolError):
        dialer_session_keys(own, bad)
    with pytest.raises(WireProtocolError):
        host_session_keys(own, bad)


def test_split_plaintext_cuts_at_64_kib():
    assert [len(c) for c in split_plaintext(bytes(131073))] == [65536, 65536, 1]
    assert list(split_plaintext(b"")) == []


def test_secrets_stay_out_of_reprs():
    keys = generate_key_pair()
    host_keys, _, _, _ = pair()
    assert keys.secret.hex() not in repr(keys) and host_keys.rx.hex() not in repr(host_keys)
