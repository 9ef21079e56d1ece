"""The session-token claim format shared by the controller (signs) and the routers (verify offline)."""

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from ziti_aio.pki import tokens

ISSUER = "https://ctrl:1280"


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def test_an_api_session_token_round_trips_with_its_fingerprint(key):
    now = int(time.time())
    token = tokens.encode(tokens.api_session_claims(ISSUER, "as1", "id1", issued=now, expires=now + 60,
                                                    fingerprint="ab12"), key)
    claims = tokens.decode(token, key.public_key(), issuer=ISSUER, typ=tokens.API_SESSION)
    assert (claims["jti"], claims["sub"], claims["fp"], claims["aud"]) == ("as1", "id1", "ab12", tokens.AUDIENCE)
    assert "fp" not in tokens.api_session_claims(ISSUER, "as1", "id1", issued=now, expires=now + 60)


def test_a_session_token_names_its_service_api_session_and_type(key):
    token = tokens.encode(tokens.session_claims(ISSUER, "s1", "svc1", api_session_id="as1", identity_id="id1",
                                                session_type="Bind", issued=int(time.time())), key)
    claims = tokens.decode(token, key.public_key(), issuer=ISSUER, typ=tokens.SESSION)
    assert (claims["jti"], claims["sub"], claims["apiSessionId"], claims["identityId"], claims["type"]) == \
        ("s1", "svc1", "as1", "id1", "Bind")


def test_a_token_of_the_other_type_another_issuer_or_another_key_is_refused(key):
    token = tokens.encode(tokens.session_claims(ISSUER, "s1", "svc1", api_session_id="as1", identity_id="id1",
                                                session_type="Dial", issued=int(time.time())), key)
    with pytest.raises(tokens.InvalidToken):
        tokens.decode(token, key.public_key(), issuer=ISSUER, typ=tokens.API_SESSION)
    with pytest.raises(tokens.InvalidToken):
        tokens.decode(token, key.public_key(), issuer="https://elsewhere", typ=tokens.SESSION)
    with pytest.raises(tokens.InvalidToken):
        tokens.decode(token, ec.generate_private_key(ec.SECP256R1()).public_key(), issuer=ISSUER, typ=tokens.SESSION)


@pytest.mark.parametrize("claims", [
    {"jti": 7, "sub": "svc"},  # jti not a string
    {"jti": "s1"},  # no sub
    {"jti": "s1", "sub": "svc", "aud": "someone-else"},
])
def test_malformed_claims_are_refused(key, claims):
    token = jwt.encode({"iss": ISSUER, "aud": tokens.AUDIENCE, "typ": tokens.SESSION, **claims}, key,
                       algorithm="ES256")
    with pytest.raises(tokens.InvalidToken):
        tokens.decode(token, key.public_key(), issuer=ISSUER, typ=tokens.SESSION)


@pytest.mark.parametrize("token", [None, b"bytes", "x" * (tokens.MAX_TOKEN_CHARS + 1), "not.a.jwt"])
def test_what_is_not_a_token_is_refused(key, token):
    with pytest.raises(tokens.InvalidToken):
        tokens.decode(token, key.public_key(), issuer=ISSUER, typ=tokens.SESSION)


def test_a_verified_token_is_remembered_but_its_expiry_still_counts(key, monkeypatch):
    verified = tokens.VerifiedTokens(key.public_key(), ISSUER)
    now = int(time.time())
    token = tokens.encode(tokens.api_session_claims(ISSUER, "as1", "id1", issued=now, expires=now + 60), key)
    calls = []
    real_decode = tokens.decode
    monkeypatch.setattr(tokens, "decode", lambda *a, **k: calls.append(1) or real_decode(*a, **k))
    assert verified.decode(token, tokens.API_SESSION)["jti"] == "as1"
    assert verified.decode(token, tokens.API_SESSION)["jti"] == "as1"
    assert calls == [1], "the second use verified the signature again"
    with pytest.raises(tokens.InvalidToken):  # remembered as an api-session token, not as a session token
        verified.decode(token, tokens.SESSION)
    monkeypatch.setattr(time, "time", lambda: now + 61)  # past exp: the memory must not answer for it
    verified.decode(token, tokens.API_SESSION)  # (PyJWT reads the real clock, so this verify passes)
    assert len(calls) == 3, "an expired token was answered from memory"


def test_the_memory_of_verified_tokens_is_bounded(key):
    verified = tokens.VerifiedTokens(key.public_key(), ISSUER, max_entries=3)
    now = int(time.time())
    for n in range(10):
        token = tokens.encode(tokens.api_session_claims(ISSUER, f"as{n}", "id", issued=now, expires=now + 60), key)
        verified.decode(token, tokens.API_SESSION)
    assert len(verified._verified) == 3
    with pytest.raises(tokens.InvalidToken):
        verified.decode("not.a.token", tokens.API_SESSION)
