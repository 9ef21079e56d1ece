"""Just-in-time enrollment on the client API: ``POST /enroll/token`` (docs/external-jwt.md).

The external JWT comes in ``Authorization: Bearer``, an optional ``ziti-token-issuer-id`` names the
signer, and an optional ``{"clientCsr": "<PEM>"}`` body asks for a certificate in the same exchange.
"""

from __future__ import annotations

from quart import Blueprint, Response, request

from ziti_aio.common.errors import ValidationError
from ziti_aio.controller.api.app import ApiContext, bearer_token, read_json
from ziti_aio.controller.api.envelope import ok
from ziti_aio.controller.model.external_jwt_enrollment import JitEnrollment

MAX_CSR_CHARS = 64 * 1024


def ext_jwt_blueprint(ctx: ApiContext) -> Blueprint:
    bp = Blueprint("ext_jwt", __name__)
    exchange = ctx.enrollment_exchange
    jit = JitEnrollment(ctx.model, ctx.access.ext_jwt, exchange.signer_ca, exchange.trust_domain, exchange.ca_bundle)

    @bp.post("/enroll/token")
    async def enroll_token() -> Response:
        body = await read_json()
        if body is not None and not isinstance(body, dict):
            raise ValidationError("the request body must be a JSON object", field="body")
        csr = (body or {}).get("clientCsr") or None
        if csr is not None and (not isinstance(csr, str) or len(csr) > MAX_CSR_CHARS):
            raise ValidationError("must be a PEM CSR of at most 64 KiB", field="clientCsr")
        result = await jit.enroll(bearer_token(request.headers), csr,
                                  signer_id=request.headers.get("ziti-token-issuer-id") or None)
        return ok(result)

    return bp
