"""Ending sessions and API sessions, and the revocation records routers learn that from.

A router checks tokens offline (signature and claims), so a session or API session that ends
before its token expires is also recorded as a revocation, which the controller pushes to
every connected router.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.fields import format_time
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
    changes: list[Change] = [revocation(api_session_id, "API_SESSION")]
    for session in model.where(Kind.SESSIONS, apiSessionId=api_session_id):
        changes += session_revocation(session)
    return changes
