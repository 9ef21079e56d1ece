"""Private keys: generate, serialise and load the key kinds ziti-aio issues certificates for."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ziti_aio.common.errors import ValidationError

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey

KEY_KINDS = ("ec256", "ec384", "rsa2048", "rsa4096")
MIN_RSA_BITS = 2048
RSA_PUBLIC_EXPONENT = 65537
_CURVES: dict[str, ec.EllipticCurve] = {"ec256": ec.SECP256R1(), "ec384": ec.SECP384R1()}
_CURVE_NAMES = {"secp256r1", "secp384r1", "secp521r1"}


def generate_key(kind: str = "ec256") -> PrivateKey:
    """Generate a new private key; ``kind`` is one of :data:`KEY_KINDS`."""
    if kind in _CURVES:
        return ec.generate_private_key(_CURVES[kind])
    if kind in ("rsa2048", "rsa4096"):
        return rsa.generate_private_key(public_exponent=RSA_PUBLIC_EXPONENT, key_size=int(kind[3:]))
    raise ValidationError(
        f"unknown key kind {kind!r}; expected one of {', '.join(KEY_KINDS)}", field="kind", value=kind
    )


def key_to_pem(key: PrivateKey) -> bytes:
    """Serialise ``key`` as unencrypted PKCS#8 PEM."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_key(pem: bytes) -> PrivateKey:
    """Load an unencrypted PEM private key (PKCS#8, SEC1 or PKCS#1); only RSA and EC keys are accepted.

    Error handling: anything else raises :class:`ValidationError`.
    """
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"not an unencrypted PEM private key: {exc}") from exc
    check_key_type(key)
    return key  # type: ignore[return-value]


def check_key_type(key: object) -> None:
    """Raise :class:`ValidationError` unless ``key`` is an RSA (>= 2048 bit) or NIST P-256/384/521 key."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise ValidationError(f"RSA keys must have at least {MIN_RSA_BITS} bits, not {key.key_size}")
        return
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if key.curve.name not in _CURVE_NAMES:
            raise ValidationError(f"unsupported elliptic curve {key.curve.name}")
        return
    raise ValidationError(f"unsupported key type {type(key).__name__}; use RSA or EC keys")


def signature_hash(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384 | hashes.SHA512:
    """The digest used when ``key`` signs a certificate or CSR: SHA-384/512 for big curves, else SHA-256."""
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size > 256:
        return hashes.SHA384() if key.curve.key_size == 384 else hashes.SHA512()
    return hashes.SHA256()
