"""TOTP MFA on both APIs: ``/current-identity/mfa…``, ``/authenticate/mfa``, the client API's
``/current-api-session/totp-token`` and the management API's ``/identities/{id}/mfa`` (docs/mfa.md).

Enrolling, verifying, the QR code and ``/authenticate/mfa`` accept an API session that is still
waiting for its code (so an identity whose auth policy requires TOTP can enroll during its first
login); everything else needs a full one. Codes never appear in logs: errors carry no code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from quart import Blueprint, Response, request

from ziti_aio.controller.api.app import ApiContext, caller, read_json
from ziti_aio.controller.api.envelope import empty, ok
from ziti_aio.controller.api.permissions import require
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.mfa import code_of, provisioning_url, qr_png
from ziti_aio.controller.model.views import base, links

if TYPE_CHECKING:
    from ziti_aio.controller.model.access import Caller
    from ziti_aio.controller.model.model import Entity

CODE_HEADER = "mfa-validation-code"
MFA_PATH = "current-identity/mfa"
DEFAULT_ISSUER = "ziti-aio"


def mfa_blueprint(ctx: ApiContext, name: str, *, client: bool) -> Blueprint:
    """The MFA routes of the client API (``client``) or of the management API."""
    bp = Blueprint(name, __name__)
    mfa = ctx.access.mfa
    issuer = urlsplit(ctx.base_url).hostname or DEFAULT_ISSUER

    def detail(found: Caller, record: Entity) -> dict[str, Any]:
        """``detailMfa``: while enrollment waits for verification, the URI (with the secret) and recovery codes."""
        out = {**base(MFA_PATH, record), "_links": {"self": {"href": f"./{MFA_PATH}"}},
               "isVerified": bool(record.get("isVerified"))}
        if not record.get("isVerified"):
            out.update(provisioningUrl=provisioning_url(record, found.identity["name"], issuer),
                       recoveryCodes=list(record["recoveryCodes"]))
        return out

    async def body_code() -> str:
        return code_of(await read_json(), request.headers.get(CODE_HEADER))

    @bp.post("/current-identity/mfa")
    async def enroll() -> Response:
        found = caller(ctx, allow_partial=True)
        record = await mfa.enroll(found.identity["id"])
        # createEnvelope's id and link, and the enrollment itself (the one answer that carries the secret).
        return ok({**detail(found, record), "id": record["id"]}, status=201)

    @bp.get("/current-identity/mfa")
    async def show() -> Response:
        found = caller(ctx, allow_partial=True)
        return ok(detail(found, mfa.own(found.identity["id"])))

    @bp.get("/current-identity/mfa/qr-code")
    async def qr_code() -> Response:
        found = caller(ctx, allow_partial=True)
        record = mfa.own(found.identity["id"], verified=False)
        return Response(qr_png(provisioning_url(record, found.identity["name"], issuer)), content_type="image/png")

    @bp.post("/current-identity/mfa/verify")
    async def verify() -> Response:
        found = caller(ctx, allow_partial=True)
        await mfa.verify_enrollment(found, await body_code())
        return empty()

    @bp.delete("/current-identity/mfa")
    async def remove() -> Response:
        found = caller(ctx)
        await mfa.remove_own(found, await body_code())
        return empty()

    @bp.get("/current-identity/mfa/recovery-codes")
    async def recovery_codes() -> Response:
        found = caller(ctx)
        record = await mfa.recovery_codes(found, await body_code())
        return ok({**base(MFA_PATH, record), "_links": links(MFA_PATH, "recovery-codes"),
                   "recoveryCodes": list(record["recoveryCodes"])})

    @bp.post("/current-identity/mfa/recovery-codes")
    async def new_recovery_codes() -> Response:
        found = caller(ctx)
        await mfa.new_recovery_codes(found, await body_code())
        return empty()

    @bp.post("/authenticate/mfa")
    async def authenticate() -> Response:
        found = caller(ctx, allow_partial=True)
        await mfa.authenticate(found, await body_code())
        return empty()

    @bp.post("/current-api-session/totp-token")
    async def totp_token() -> Response:
        found = caller(ctx)
        return ok(await mfa.totp_token(found, await body_code()))

    if not client:
        @bp.delete("/identities/<ident>/mfa")
        async def remove_for_identity(ident: str) -> Response:
            found = caller(ctx)
            require(found, Kind.IDENTITIES, "update")
            await mfa.remove_for(ident, actor=found.identity["id"])
            return empty()

    return bp
