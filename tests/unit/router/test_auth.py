"""The router's offline token checks: a verified token is remembered, but revocation and expiry still bite."""

import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from ziti_aio.common.errors import AuthError, InvalidSession
from ziti_aio.controller.model.tokens import API_SESSION_TOKEN_LIFETIME_S, TokenSigner
from ziti_aio.router.edge.auth import TokenVerifier


@pytest.fixture
def signer():
    return TokenSigner(ec.generate_private_key(ec.SECP256R1()), "https://ctrl:1280")


def verifier_for(signer):
    return TokenVerifier(signer.public_key_pem(), signer.issuer)


def dial_token(signer, session_id="s1", api_session_id="a1"):
    return signer.session_token({"id": session_id, "serviceId": "svc", "apiSessionId": api_session_id,
                                 "identityId": "i1", "type": "Dial"})


def test_a_remembered_session_token_is_still_refused_once_revoked(signer):
    verifier = verifier_for(signer)
    token = dial_token(signer)
    assert verifier.session(token, "a1", "Dial").session_id == "s1"
    assert verifier.session(token, "a1", "Dial").service_id == "svc"  # from the cache
    with pytest.raises(InvalidSession):
        verifier.session(token, "other-api-session", "Dial")
    with pytest.raises(InvalidSession, match="Bind session is required"):
        verifier.session(token, "a1", "Bind")
    verifier.revoke([], ["s1"])
    with pytest.raises(InvalidSession):
        verifier.session(token, "a1", "Dial")
    verifier.revoke(["a1"], [])
    with pytest.raises(InvalidSession):
        verifier.session(dial_token(signer, "s2"), "a1", "Dial")


def test_a_remembered_api_session_token_expires(signer):
    verifier = verifier_for(signer)
    token = signer.api_session_token("a1", "i1", fingerprint="ab", now=time.time() - API_SESSION_TOKEN_LIFETIME_S + 1)
    assert verifier.api_session(token, "ab").api_session_id == "a1"
    with pytest.raises(AuthError, match="certificate"):
        verifier.api_session(token, "cd")
    time.sleep(1.5)
    with pytest.raises(AuthError):
        verifier.api_session(token, "ab")


def test_forged_and_foreign_tokens_are_refused_and_not_remembered(signer):
    verifier = verifier_for(signer)
    good = dial_token(signer)
    forged = good[:-6] + ("AAAAAA" if not good.endswith("AAAAAA") else "BBBBBB")
    foreign = dial_token(TokenSigner(ec.generate_private_key(ec.SECP256R1()), signer.issuer))
    for token in (forged, foreign, "not-a-jwt", "x" * 10_000):
        for _ in range(2):
            with pytest.raises(InvalidSession):
                verifier.session(token, "a1", "Dial")
    # a token of the wrong kind is refused even when the same string was verified as another kind
    api = signer.api_session_token("a1", "i1", fingerprint="ab")
    verifier.api_session(api, "ab")
    with pytest.raises(InvalidSession):
        verifier.session(api, "a1", "Dial")
