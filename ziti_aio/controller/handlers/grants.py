"""Who a router's CREATE_CIRCUIT or CREATE_TERMINATOR is for: the service session it names, or — for a
dial or bind the router authorized from its router model (docs/router-model.md), with no session —
the identity, service and API session it names, checked against current policy and that API session's
posture all the same."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ziti_aio.common.errors import InvalidSession
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.disabling import is_disabled
from ziti_aio.wire import ctrl

if TYPE_CHECKING:
    from ziti_aio.controller.model.model import Entity, Model
    from ziti_aio.controller.model.posture import Posture

MAX_ID_CHARS = 64


@dataclass(frozen=True)
class Grant:
    """A permitted dial or bind: its identity and service, and the session ids ("" for none)."""

    identity: Entity
    service: Entity
    session_id: str
    api_session_id: str


def grant(model: Model, data: dict[str, Any], session_type: str, posture: Posture | None = None) -> Grant:
    """The grant a control request carries, or :class:`InvalidSession`. A session-less one must also pass
    ``posture`` (a service session passed it when it was made, and ends when it stops passing)."""
    session_id = ctrl.string(data, "sessionId", max_length=MAX_ID_CHARS)
    if session_id:
        session = model.maybe(Kind.SESSIONS, session_id)
        if session is None or session["type"] != session_type:
            raise InvalidSession()
        identity_id, service_id, api_session_id = session["identityId"], session["serviceId"], session["apiSessionId"]
    else:
        identity_id = ctrl.string(data, "identityId", max_length=MAX_ID_CHARS)
        service_id = ctrl.string(data, "serviceId", max_length=MAX_ID_CHARS)
        api_session_id = ctrl.string(data, "apiSessionId", max_length=MAX_ID_CHARS)
    identity = model.maybe(Kind.IDENTITIES, identity_id)
    service = model.maybe(Kind.SERVICES, service_id)
    if identity is None or is_disabled(identity) or service is None \
            or session_type not in model.policy.permissions_for(identity["id"], service["id"]):
        raise InvalidSession()
    if not session_id and posture is not None and posture.any_checks():
        api_session = model.maybe(Kind.API_SESSIONS, api_session_id)
        if api_session is None or api_session["identityId"] != identity["id"] \
                or not posture.verdict(api_session, service["id"], session_type).passed:
            raise InvalidSession()
    return Grant(identity, service, session_id, api_session_id)
