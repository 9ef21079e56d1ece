"""The test OIDC issuer itself (``ziti_aio.testing.idp`` through the plugin's ``ziti_idp`` fixture): discovery and
JWKS over TLS verified against its own CA, tokens that verify with the published keys, rotation, down mode."""

from __future__ import annotations

import ssl

import httpx
import jwt

pytest_plugins = ["ziti_aio.testing.pytest_plugin"]


async def test_discovery_jwks_tokens_rotation_and_down(ziti_idp):
    idp = ziti_idp
    verify = ssl.create_default_context(cafile=str(idp.ca_path))
    async with httpx.AsyncClient(verify=verify) as http:
        discovery = (await http.get(f"{idp.issuer}/.well-known/openid-configuration")).json()
        assert (discovery["issuer"], discovery["jwks_uri"]) == (idp.issuer, idp.jwks_url)
        keys = jwt.PyJWKSet.from_dict((await http.get(idp.jwks_url)).json())
        token = idp.token("alice", extra={"groups": ["eng"]}, not_before_in=-1)
        claims = jwt.decode(token, keys[idp.current.kid].key, algorithms=["RS256"], audience=idp.audience,
                            issuer=idp.issuer)
        assert (claims["sub"], claims["groups"]) == ("alice", ["eng"])

        old = idp.rotate("ES256")
        kids = [k["kid"] for k in (await http.get(idp.jwks_url)).json()["keys"]]
        assert kids == [idp.current.kid] and old.kid not in kids
        assert jwt.get_unverified_header(idp.token("bob"))["alg"] == "ES256"

        idp.mode = "down"
        assert (await http.get(idp.jwks_url)).status_code == 503
    async with httpx.AsyncClient() as untrusting:  # the system's roots do not know the throw-away CA
        try:
            await untrusting.get(idp.jwks_url)
        except httpx.ConnectError as exc:
            causes = []
            cause: BaseException | None = exc
            while cause is not None:
                causes.append(cause)
                cause = cause.__cause__ or cause.__context__
            assert any(isinstance(c, ssl.SSLCertVerificationError) for c in causes), causes
        else:
            raise AssertionError("the issuer's certificate verified without its CA")
