"""The controller's token key and revocations: the hello reply carries the key and the full
lists, ``REVOCATIONS`` the later deltas; whatever a revocation takes away is closed at once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ziti_aio.router.edge.auth import TokenVerifier
from ziti_aio.wire import ctrl

if TYPE_CHECKING:
    from ziti_aio.router.ctrl import CtrlChannel
    from ziti_aio.router.handlers.parts import RouterParts
    from ziti_aio.wire.frame import Message


def take_key(parts: RouterParts, fields: dict[str, Any]) -> None:
    """A hello reply's key, issuer and revocations: a new verifier, and the revoked closed."""
    revoked = fields.get("revocations") or {}
    verifier = parts.tokens.verifier = TokenVerifier(
        ctrl.string(fields, "signingKey", max_length=16384), ctrl.string(fields, "issuer", max_length=1024),
        ctrl.string_list(revoked, "apiSessions"), ctrl.string_list(revoked, "sessions"),
        ctrl.string_list(revoked, "certs"))
    parts.nursery.start_soon(parts.sdks.enforce, set(verifier.revoked_api_sessions), set(verifier.revoked_sessions))


async def revocations(parts: RouterParts, channel: CtrlChannel, msg: Message) -> None:
    data = ctrl.parse(msg)
    api_sessions, sessions = ctrl.string_list(data, "apiSessions"), ctrl.string_list(data, "sessions")
    if parts.tokens.verifier is not None:
        parts.tokens.verifier.revoke(api_sessions, sessions, ctrl.string_list(data, "certs"))
    parts.nursery.start_soon(parts.sdks.enforce, set(api_sessions), set(sessions))
