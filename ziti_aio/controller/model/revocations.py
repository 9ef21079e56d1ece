"""Ending sessions and API sessions, and the revocation records routers learn that from.

A router checks tokens offline (signature and claims), so a session or API session that ends
before its token expires is also recorded as a revocation, which the controller pushes to
every connected router.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ziti_aio.common.errors import ValidationError
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.fields import format_time
from ziti_aio.controller.model.session_certs import api_session_certificates_end
from ziti_aio.controller.store.commands import Change, Delete, Put

if TYPE_CHECKING:
    from ziti_aio.controller.model.model import Entity, Model

# How long a revocation is kept: longer than any token it revokes stays usable.
REVOCATION_KEEP_S = 7 * 24 * 3600


def revocation(ident: str, rtype: str) -> Put:
    """A record that token ``ident`` (an API session or session id) is no longer valid."""
    now = datetime.now(UTC)
    return Put(Kind.REVOCATIONS, {
        "id": ident, "type": rtype, "createdAt": format_time(now), "updatedAt": format_time(now),
        "expiresAt": format_time(now + timedelta(seconds=REVOCATION_KEEP_S)),
    })


def session_revocation(session: Entity) -> list[Change]:
    """Delete a session and record its revocation for routers."""
    return [Delete(Kind.SESSIONS, session["id"]), revocation(session["id"], "SESSION")]


def api_session_revocation(model: Model, api_session_id: str) -> list[Change]:
    """An API session's revocation, and the deletion and revocation of its sessions (a logout;
    deleting the API session itself is the caller's change)."""
    changes: list[Change] = [revocation(api_session_id, "API_SESSION"),
                             *api_session_certificates_end(model, api_session_id)]
    for session in model.where(Kind.SESSIONS, apiSessionId=api_session_id):
        changes += session_revocation(session)
    return changes


# POST /revocations types (OpenZiti's revocationTypeEnum); a revoked session token is a "JTI".
REQUEST_TYPES = ("JTI", "IDENTITY", "API_SESSION")


def revocation_request(model: Model, body: object) -> tuple[list[Change], str]:
    """The changes of an administrator's revocation: a JTI ends that session, an API_SESSION that API
    session, an IDENTITY every API session of the identity (with their sessions). Returns them and the id."""
    if not isinstance(body, dict):
        raise ValidationError("the request body must be a JSON object", field="body")
    ident, rtype = body.get("id"), body.get("type")
    if not isinstance(ident, str) or not ident or len(ident) > 256:
        raise ValidationError("is required (at most 256 characters)", field="id", value=ident)
    if rtype not in REQUEST_TYPES:
        raise ValidationError(f"must be one of {', '.join(REQUEST_TYPES)}", field="type", value=rtype)
    changes: list[Change] = []
    if rtype == "JTI":
        session = model.maybe(Kind.SESSIONS, ident)
        changes += session_revocation(session) if session else [revocation(ident, "SESSION")]
        return changes, ident
    if rtype == "IDENTITY":
        model.get(Kind.IDENTITIES, ident)
        ended = [a["id"] for a in model.where(Kind.API_SESSIONS, identityId=ident)]
        changes.append(revocation(ident, "IDENTITY"))
    else:
        ended = [ident]
    for api_session_id in ended:
        if model.maybe(Kind.API_SESSIONS, api_session_id) is not None:
            changes.append(Delete(Kind.API_SESSIONS, api_session_id))
        changes += api_session_revocation(model, api_session_id)
    return changes, ident
