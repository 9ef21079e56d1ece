"""Private keys: kinds, PEM round trip, refusal of what we do not issue for."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ziti_aio.common.errors import ValidationError
from ziti_aio.pki.keys import generate_key, key_to_pem, load_key


@pytest.mark.parametrize(
    ("kind", "cls", "size"),
    [("ec256", ec.EllipticCurvePrivateKey, 256), ("ec384", ec.EllipticCurvePrivateKey, 384),
     ("rsa2048", rsa.RSAPrivateKey, 2048)],
)
def test_generate_and_round_trip(kind, cls, size):
    key = generate_key(kind)
    assert isinstance(key, cls) and key.key_size == size
    pem = key_to_pem(key)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert load_key(pem).private_numbers() == key.private_numbers()


def test_default_kind_is_p256():
    assert generate_key().curve.name == "secp256r1"


def test_sec1_keys_load_too():
    key = generate_key("ec256")
    sec1 = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    assert load_key(sec1).private_numbers() == key.private_numbers()


def test_unknown_kind_and_bad_keys_are_refused():
    with pytest.raises(ValidationError):
        generate_key("dsa1024")
    with pytest.raises(ValidationError):
        load_key(b"not a key")
    encrypted = generate_key().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")
    )
    with pytest.raises(ValidationError):
        load_key(encrypted)
    with pytest.raises(ValidationError, match="unsupported key type"):
        load_key(key_to_pem(ed25519.Ed25519PrivateKey.generate()))
