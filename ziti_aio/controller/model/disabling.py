"""Disabling and enabling identities (docs/model.md).

A disabled identity cannot log in, and disabling it ends its API sessions and their service
sessions (routers learn of it through the revocations and close what those carried). A disable
with a duration ends by itself: :func:`is_disabled` compares ``disabledUntil`` with the time of
each use, so no timer is needed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ziti_aio.common.errors import ConflictError
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.fields import format_time, parse_time
from ziti_aio.controller.model.revocations import api_session_revocation
from ziti_aio.controller.store.commands import Change, Delete, Put

if TYPE_CHECKING:
    from ziti_aio.controller.model.model import Entity, Model

# The longest disable with an end (about 100 years); 0 minutes means until enabled.
MAX_DISABLE_MINUTES = 100 * 365 * 24 * 60


def is_disabled(identity: Entity, now: datetime | None = None) -> bool:
    """Whether ``identity`` is disabled at ``now``: a timed disable has ended once ``disabledUntil`` passed."""
    if not identity.get("disabled"):
        return False
    until = identity.get("disabledUntil")
    return until is None or parse_time(until) > (now or datetime.now(UTC))


def disabling(model: Model, identity_id: str, minutes: int) -> list[Change]:
    """The identity disabled for ``minutes`` (0: until enabled), its API sessions and their sessions ended."""
    identity = model.get(Kind.IDENTITIES, identity_id)
    if identity.get("isDefaultAdmin"):
        raise ConflictError("the default admin cannot be disabled")
    now = datetime.now(UTC)
    until = format_time(now + timedelta(minutes=minutes)) if minutes else None
    changes: list[Change] = [Put(Kind.IDENTITIES, {**identity, "disabled": True, "disabledAt": format_time(now),
                                                   "disabledUntil": until, "updatedAt": format_time(now)})]
    for api_session in model.owned_by(Kind.API_SESSIONS, identity_id):
        changes += [Delete(Kind.API_SESSIONS, api_session["id"]), *api_session_revocation(model, api_session["id"])]
    return changes


def enabling(model: Model, identity_id: str) -> Put:
    """The identity with its disable lifted."""
    identity = model.get(Kind.IDENTITIES, identity_id)
    return Put(Kind.IDENTITIES, {**identity, "disabled": False, "disabledAt": None, "disabledUntil": None,
                                 "updatedAt": format_time(datetime.now(UTC))})
