"""Issuing enrollments: a pending enrollment record and its one-time JWT."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ziti_aio.common.ids import new_id, new_token
from ziti_aio.controller.model.fields import format_time, now_text

if TYPE_CHECKING:
    from ziti_aio.controller.model.model import Entity

DEFAULT_ENROLLMENT_DURATION_S = 180 * 60

# sign(subject, token, method, expires_at) -> compact JWT
JwtSigner = Callable[[str, str, str, datetime], str]


@dataclass(frozen=True)
class EnrollmentIssuer:
    """Creates enrollment records whose JWT is signed by the controller's API server key."""

    sign: JwtSigner
    duration_s: int = DEFAULT_ENROLLMENT_DURATION_S

    def new(
        self,
        method: str,
        *,
        identity_id: str | None = None,
        edge_router_id: str | None = None,
        username: str | None = None,
        ca_id: str | None = None,
        expires_at: datetime | None = None,
    ) -> Entity:
        """A fresh enrollment (not yet stored) for an identity or an edge router."""
        expires = expires_at or datetime.now(UTC) + timedelta(seconds=self.duration_s)
        token = new_token()
        subject = identity_id or edge_router_id
        if subject is None:
            raise ValueError("an enrollment is for an identity or an edge router")
        now = now_text()
        return {
            "id": new_id(),
            "createdAt": now,
            "updatedAt": now,
            "tags": {},
            "method": method,
            "identityId": identity_id,
            "edgeRouterId": edge_router_id,
            "username": username,
            "caId": ca_id,
            "token": token,
            "jwt": self.sign(subject, token, method, expires),
            "expiresAt": format_time(expires),
        }

    def renewed(self, enrollment: Entity, expires_at: datetime) -> Entity:
        """The same enrollment (id, creation time) with a new token, JWT and expiry."""
        fresh = self.new(enrollment["method"], identity_id=enrollment.get("identityId"),
                         edge_router_id=enrollment.get("edgeRouterId"), username=enrollment.get("username"),
                         ca_id=enrollment.get("caId"), expires_at=expires_at)
        fresh.update(id=enrollment["id"], createdAt=enrollment["createdAt"])
        return fresh
