"""Fingerprints, PEM bundles and the PKCS#7 served at /.well-known/est/cacerts."""

import base64
import contextlib
import hashlib

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from hypothesis import given, settings
from hypothesis import strategies as st

from ziti_aio.common.errors import ValidationError
from ziti_aio.pki.bundle import (
    cacerts_body,
    certs_to_pem,
    fingerprint_sha1,
    load_certs_pem,
    parse_pkcs7_certs,
    pkcs7_certs_der,
)

# What libziti 0.29.3's hand-written parser expects after the version: an empty digestAlgorithms SET and
# encapContentInfo = SEQUENCE { OID pkcs7-data } with no content.
EMPTY_DIGESTS_THEN_DATA_OID = bytes.fromhex("3100300b06092a864886f70d010701")
SIGNED_DATA_OID = bytes.fromhex("06092a864886f70d010702")


def test_fingerprint_is_lowercase_sha1_hex_of_der(root_ca):
    fp = fingerprint_sha1(root_ca.cert)
    assert fp == hashlib.sha1(root_ca.cert.public_bytes(Encoding.DER)).hexdigest()
    assert len(fp) == 40 and fp == fp.lower() and ":" not in fp


def test_pkcs7_is_degenerate_certs_only_signed_data(root_ca, intermediate):
    der = pkcs7_certs_der([intermediate.cert, root_ca.cert])
    assert der[0] == 0x30 and SIGNED_DATA_OID in der[:20]
    assert EMPTY_DIGESTS_THEN_DATA_OID in der
    # certificates is a DER SET OF, so its members come back sorted, not in the order given
    assert set(parse_pkcs7_certs(der)) == {intermediate.cert, root_ca.cert}


def test_cacerts_body_is_base64_in_64_char_lines_and_round_trips(root_ca, intermediate, server):
    certs = [intermediate.cert, root_ca.cert, server[0]]
    body = cacerts_body(certs)
    lines = body.split(b"\n")
    assert len(lines) > 2 and all(len(line) == 64 for line in lines[:-1]) and 0 < len(lines[-1]) <= 64
    assert not body.endswith(b"\n")
    assert base64.b64decode(body) == pkcs7_certs_der(certs)
    assert set(parse_pkcs7_certs(body)) == set(certs)
    assert set(parse_pkcs7_certs(body.decode() + "\n")) == set(certs)
    assert set(parse_pkcs7_certs(pkcs7.serialize_certificates(certs, Encoding.PEM))) == set(certs)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not base64 at all!",
        b"AAAA",
        b"\x30\x03\x02\x01\x01",
        b"-----BEGIN PKCS7-----\nAAAA\n-----END PKCS7-----\n",
    ],
)
def test_bad_pkcs7_raises_validation_error(data):
    with pytest.raises(ValidationError):
        parse_pkcs7_certs(data)


def test_empty_bundle_is_refused():
    with pytest.raises(ValidationError):
        pkcs7_certs_der([])


def test_pem_round_trip(root_ca, intermediate):
    pem = certs_to_pem([intermediate.cert, root_ca.cert])
    assert pem.count(b"-----BEGIN CERTIFICATE-----") == 2
    assert load_certs_pem(pem) == [intermediate.cert, root_ca.cert]
    assert load_certs_pem(pem.decode()) == [intermediate.cert, root_ca.cert]


@pytest.mark.parametrize("data", [b"", b"garbage", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"])
def test_bad_pem_raises_validation_error(data):
    with pytest.raises(ValidationError):
        load_certs_pem(data)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=1024), st.text(max_size=1024)))
def test_random_input_only_raises_validation_error(data):
    for parse in (parse_pkcs7_certs, load_certs_pem):
        with contextlib.suppress(ValidationError):
            parse(data)
