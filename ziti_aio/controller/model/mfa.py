"""TOTP multi-factor authentication (RFC 6238): enrollment, verification, recovery codes, and the
partial API sessions that wait for a code (docs/mfa.md).

One MFA record per identity holds the TOTP secret, whether enrollment was verified, the recovery
codes and the last time step a code was accepted for (so a code works once). The record's kind
shows nothing through the API or events; only the enrollment answer carries the secret (inside
the ``otpauth://`` URI). Wrong codes are counted per identity and, past a limit, refused with
``RATE_LIMITED`` for a while, before any code is checked.
"""

from __future__ import annotations

import base64
import hmac
import io
import secrets
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import pyotp
import segno

from ziti_aio.common.errors import MfaExists, MfaInvalidToken, MfaNotEnrolled, NotFoundError, RateLimited, ZitiError
from ziti_aio.common.ids import new_id
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.auth_policies import policy_of
from ziti_aio.controller.model.fields import now_text
from ziti_aio.controller.store.commands import Change, Command, Delete, Put

if TYPE_CHECKING:
    from collections.abc import Callable

    from ziti_aio.controller.model.access import Caller
    from ziti_aio.controller.model.model import Entity, Model

# OpenZiti accepts the codes of the two time steps either side of now (a window of five).
WINDOW_STEPS = 2
RECOVERY_CODES = 20
RECOVERY_CODE_CHARS = 6
# Codes as OpenZiti's auth query describes them: 6-digit TOTP, or a 6-character recovery code.
MIN_CODE_LENGTH = 4
MAX_CODE_LENGTH = 6
MAX_CODE_INPUT = 64
# Wrong codes an identity may give in a window before every code is refused until the window passes.
MAX_FAILURES = 5
FAILURE_WINDOW_S = 60.0
QR_SCALE = 4


def new_recovery_codes() -> list[str]:
    """Fresh recovery codes: random, base32, as OpenZiti makes them."""
    return [base64.b32encode(secrets.token_bytes(8)).decode()[:RECOVERY_CODE_CHARS] for _ in range(RECOVERY_CODES)]


def provisioning_url(mfa: Entity, account: str, issuer: str) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app reads (it holds the secret)."""
    return pyotp.TOTP(mfa["secret"]).provisioning_uri(name=account, issuer_name=issuer)


def qr_png(url: str) -> bytes:
    """A PNG QR code of ``url``."""
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="png", scale=QR_SCALE)
    return out.getvalue()


def mfa_record(model: Model, identity_id: str) -> Entity | None:
    found = model.owned_by(Kind.MFAS, identity_id)
    return found[0] if found else None


def is_mfa_enabled(model: Model, identity_id: str) -> bool:
    """Whether the identity completed TOTP enrollment."""
    mfa = mfa_record(model, identity_id)
    return bool(mfa and mfa.get("isVerified"))


def mfa_required(model: Model, identity: Entity) -> bool:
    """Whether a new API session of ``identity`` must pass TOTP: it enrolled, or its auth policy says so."""
    return is_mfa_enabled(model, identity["id"]) or bool(policy_of(model, identity)["secondary"].get("requireTotp"))


def is_partial(api_session: Entity) -> bool:
    """An API session still waiting for its TOTP code."""
    return bool(api_session.get("isMfaRequired")) and not api_session.get("isMfaComplete")


def auth_queries(model: Model, api_session: Entity) -> list[dict[str, Any]]:
    """OpenZiti's ``authQueries`` of an API session: what it must still answer (docs/mfa.md §2)."""
    if not is_partial(api_session):
        return []
    return [{"typeId": "MFA", "provider": "ziti", "format": "alphaNumeric", "httpMethod": "POST",
             "httpUrl": "./authenticate/mfa", "minLength": MIN_CODE_LENGTH, "maxLength": MAX_CODE_LENGTH,
             "isTotpEnrolled": is_mfa_enabled(model, api_session["identityId"])}]


def code_of(body: Any, header: str | None = None) -> str:
    """The ``code`` of an ``mfaCode`` body, else of the ``mfa-validation-code`` header ('' if neither)."""
    code = body.get("code") if isinstance(body, dict) else None
    if not isinstance(code, str):
        code = header or ""
    code = code.strip()[:MAX_CODE_INPUT]
    # Codes are ASCII; anything else is simply wrong (and constant-time comparison takes ASCII only).
    return code if code.isascii() else ""


class MfaManager:
    """The MFA operations of :class:`~ziti_aio.controller.model.access.Access` (see the module docstring)."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self._failures: dict[str, deque[float]] = {}

    # --- rate limit ---------------------------------------------------------------------------

    def _check_rate(self, identity_id: str) -> None:
        failures = self._failures.get(identity_id)
        if failures is None:
            return
        cutoff = time.monotonic() - FAILURE_WINDOW_S
        while failures and failures[0] < cutoff:
            failures.popleft()
        if not failures:
            del self._failures[identity_id]
        elif len(failures) >= MAX_FAILURES:
            raise RateLimited()

    def _failed(self, identity_id: str) -> None:
        self._failures.setdefault(identity_id, deque(maxlen=MAX_FAILURES)).append(time.monotonic())

    # --- codes --------------------------------------------------------------------------------

    @staticmethod
    def _totp_step(mfa: Entity, code: str) -> int | None:
        """The time step ``code`` is the TOTP of, within the window and after the last one used."""
        totp = pyotp.TOTP(mfa["secret"])
        now = totp.timecode(time.time())
        last = mfa.get("lastTotpStep")
        for step in range(now - WINDOW_STEPS, now + WINDOW_STEPS + 1):
            if (last is None or step > last) and hmac.compare_digest(totp.generate_otp(step), code):
                return step
        return None

    async def _consume(self, identity_id: str, code: str, *, verified: bool, recovery: bool,
                       missing: Callable[[], ZitiError], reason: str,
                       then: Callable[[Entity], Entity | None] = lambda mfa: mfa,
                       session: Callable[[], list[Change]] = lambda: []) -> None:
        """Accept ``code`` once for the identity's MFA record (whose ``isVerified`` must be ``verified``) and
        store the used record as ``then`` changes it (``None``: deleted), with ``session``'s changes; wrong
        codes count toward the limit."""
        self._check_rate(identity_id)

        def build() -> Command:
            mfa = mfa_record(self.model, identity_id)
            if mfa is None or bool(mfa.get("isVerified")) != verified:
                raise missing()
            step = self._totp_step(mfa, code) if code else None
            if step is not None:
                used = {**mfa, "lastTotpStep": step, "updatedAt": now_text()}
            elif recovery and code and any(hmac.compare_digest(c, code.upper()) for c in mfa["recoveryCodes"]):
                used = {**mfa, "recoveryCodes": [c for c in mfa["recoveryCodes"] if c != code.upper()],
                        "updatedAt": now_text()}
            else:
                raise MfaInvalidToken()
            after = then(used)
            change: Change = Put(Kind.MFAS, after) if after is not None else Delete(Kind.MFAS, mfa["id"])
            return Command(identity_id, reason, (change, *session()))

        try:
            await self.model.transact(build)
        except MfaInvalidToken:
            self._failed(identity_id)
            raise
        self._failures.pop(identity_id, None)

    def _passed(self, api_session_id: str, **extra: Any) -> list[Change]:
        """The API session marked as having passed TOTP now (``mfaPassedAt``: the MFA posture check reads it)."""
        current = self.model.maybe(Kind.API_SESSIONS, api_session_id)
        if current is None:
            return []
        now = now_text()
        return [Put(Kind.API_SESSIONS, {**current, **extra, "isMfaComplete": True, "mfaPassedAt": now,
                                        "updatedAt": now})]

    # --- operations ---------------------------------------------------------------------------

    async def enroll(self, identity_id: str) -> Entity:
        """Start enrollment: a new secret and recovery codes; MFA_EXISTS if there is a record already."""
        created: list[Entity] = []

        def build() -> Command:
            if mfa_record(self.model, identity_id) is not None:
                raise MfaExists()
            now = now_text()
            mfa = {"id": new_id(), "createdAt": now, "updatedAt": now, "tags": {}, "identityId": identity_id,
                   "isVerified": False, "secret": pyotp.random_base32(), "recoveryCodes": new_recovery_codes(),
                   "lastTotpStep": None}
            created.append(mfa)
            return Command(identity_id, "enroll in MFA", (Put(Kind.MFAS, mfa),))

        await self.model.transact(build)
        return created[0]

    def own(self, identity_id: str, *, verified: bool | None = None) -> Entity:
        """The identity's MFA record (in the given state); 404 otherwise."""
        mfa = mfa_record(self.model, identity_id)
        if mfa is None or (verified is not None and bool(mfa.get("isVerified")) != verified):
            raise NotFoundError(message="no MFA enrollment" if mfa is None else "not an MFA enrollment in that state")
        return mfa

    async def verify_enrollment(self, caller: Caller, code: str) -> None:
        """Complete enrollment with a TOTP code; the calling API session counts as having passed MFA."""
        await self._consume(
            caller.identity["id"], code, verified=False, recovery=False, reason="verify MFA enrollment",
            missing=lambda: NotFoundError(message="no MFA enrollment waiting for verification"),
            then=lambda mfa: {**mfa, "isVerified": True},
            session=lambda: self._passed(caller.api_session["id"], isMfaRequired=True))

    async def authenticate(self, caller: Caller, code: str) -> None:
        """``POST /authenticate/mfa``: a TOTP or recovery code completes the API session."""
        await self._consume(caller.identity["id"], code, verified=True, recovery=True, reason="MFA authentication",
                            missing=MfaNotEnrolled, session=lambda: self._passed(caller.api_session["id"]))

    async def totp_token(self, caller: Caller, code: str) -> dict[str, str]:
        """``POST /current-api-session/totp-token``: proof that a TOTP code was given now."""
        await self._consume(caller.identity["id"], code, verified=True, recovery=False, reason="TOTP token",
                            missing=MfaNotEnrolled, session=lambda: self._passed(caller.api_session["id"]))
        return {"token": secrets.token_urlsafe(32), "issuedAt": now_text()}

    async def recovery_codes(self, caller: Caller, code: str) -> Entity:
        """The record, after a TOTP code (its recovery codes are shown)."""
        identity_id = caller.identity["id"]
        self.own(identity_id, verified=True)
        await self._consume(identity_id, code, verified=True, recovery=False, reason="show MFA recovery codes",
                            missing=NotFoundError)
        return self.own(identity_id, verified=True)

    async def new_recovery_codes(self, caller: Caller, code: str) -> None:
        """Replace the recovery codes, after a TOTP or recovery code."""
        identity_id = caller.identity["id"]
        self.own(identity_id, verified=True)
        await self._consume(identity_id, code, verified=True, recovery=True, reason="new MFA recovery codes",
                            missing=NotFoundError,
                            then=lambda mfa: {**mfa, "recoveryCodes": new_recovery_codes()})

    async def remove_own(self, caller: Caller, code: str) -> None:
        """``DELETE /current-identity/mfa``: a verified enrollment needs a code, an unverified one does not."""
        identity_id = caller.identity["id"]
        mfa = self.own(identity_id)
        if not mfa.get("isVerified"):
            await self.model.transact(lambda: Command(identity_id, "remove unverified MFA",
                                                      (Delete(Kind.MFAS, mfa["id"]),)))
            return
        await self._consume(identity_id, code, verified=True, recovery=True, reason="remove MFA",
                            missing=NotFoundError, then=lambda used: None)

    async def remove_for(self, identity_id: str, *, actor: str) -> None:
        """An admin's ``DELETE /identities/{id}/mfa``: the identity's MFA record goes, enrolled or not."""

        def build() -> Command:
            self.model.get(Kind.IDENTITIES, identity_id)
            changes = [Delete(Kind.MFAS, m["id"]) for m in self.model.owned_by(Kind.MFAS, identity_id)]
            return Command(actor, f"remove MFA of identity {identity_id}", tuple(changes))

        await self.model.transact(build)
        self._failures.pop(identity_id, None)
