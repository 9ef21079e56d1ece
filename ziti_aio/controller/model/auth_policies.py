"""Auth policies: which primary logins (cert, updb, ext-jwt) an identity may use, what a password
must look like, when repeated bad passwords lock the identity out, and whether a second factor
(TOTP) is required (docs/mfa.md §3).

A policy is stored as OpenZiti shows it: ``primary.{cert,updb,extJwt}`` and ``secondary``. A
request may give any part of it; the parts it leaves out keep their stored (or default) values.
External JWT signers are only referenced here; their authentication is another module's.
"""

from __future__ import annotations

import copy
import string
from typing import TYPE_CHECKING, Any

from ziti_aio.common.errors import ConflictError, InvalidAuth, ValidationError
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model import fields as f
from ziti_aio.controller.model.hooks import NoHooks
from ziti_aio.controller.model.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ziti_aio.controller.model.model import Entity, Model
    from ziti_aio.controller.store.commands import Change

# The system policy every identity has unless it names another (created on first start; never deleted).
DEFAULT_AUTH_POLICY_ID = "default"
DEFAULT_AUTH_POLICY_NAME = "Default"
MAX_LOCKOUT_MINUTES = 100 * 365 * 24 * 60
MAX_ATTEMPTS_LIMIT = 2**31 - 1
MAX_SIGNERS = 256
SPECIAL_CHARS = frozenset(string.punctuation + " ")

DEFAULT_PRIMARY: dict[str, Any] = {
    "cert": {"allowed": True, "allowExpiredCerts": True},
    "updb": {"allowed": True, "minPasswordLength": MIN_PASSWORD_LENGTH, "requireSpecialChar": False,
             "requireNumberChar": False, "requireMixedCase": False, "maxAttempts": 0, "lockoutDurationMinutes": 0},
    "extJwt": {"allowed": True, "allowedSigners": []},
}
DEFAULT_SECONDARY: dict[str, Any] = {"requireTotp": False, "requireExtJwtSigner": None}

_PRIMARY_CHECKS: dict[str, dict[str, f.Checker]] = {
    "cert": {"allowed": f.boolean, "allowExpiredCerts": f.boolean},
    "updb": {"allowed": f.boolean, "minPasswordLength": f.integer(MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH),
             "requireSpecialChar": f.boolean, "requireNumberChar": f.boolean, "requireMixedCase": f.boolean,
             "maxAttempts": f.integer(0, MAX_ATTEMPTS_LIMIT),
             "lockoutDurationMinutes": f.integer(0, MAX_LOCKOUT_MINUTES)},
    "extJwt": {"allowed": f.boolean, "allowedSigners": f.string_list},
}
_SECONDARY_CHECKS: dict[str, f.Checker] = {"requireTotp": f.boolean,
                                           "requireExtJwtSigner": f.string(max_length=64)}


def _section(field: str, value: Any, checks: Mapping[str, f.Checker]) -> dict[str, Any]:
    """The given keys of one object of a policy, each checked; unknown keys refused; ``null`` keys left out."""
    if not isinstance(value, dict):
        raise ValidationError("must be a JSON object", field=field, value=value)
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key not in checks:
            raise ValidationError(f"unknown field {key!r}", field=f"{field}.{key}", value=item)
        if item is not None or key == "requireExtJwtSigner":
            out[key] = checks[key](f"{field}.{key}", item)
    return out


def check_primary(field: str, value: Any) -> dict[str, Any]:
    """``primary``: any of ``cert``, ``updb``, ``extJwt``, each with any of its fields."""
    if not isinstance(value, dict):
        raise ValidationError("must be a JSON object", field=field, value=value)
    out: dict[str, Any] = {}
    for method, section in value.items():
        if method not in _PRIMARY_CHECKS:
            raise ValidationError(f"unknown field {method!r}", field=f"{field}.{method}", value=section)
        if section is not None:
            out[method] = _section(f"{field}.{method}", section, _PRIMARY_CHECKS[method])
    if len(out.get("extJwt", {}).get("allowedSigners", ())) > MAX_SIGNERS:
        raise ValidationError(f"at most {MAX_SIGNERS} signers", field=f"{field}.extJwt.allowedSigners")
    return out


def check_secondary(field: str, value: Any) -> dict[str, Any]:
    """``secondary``: ``requireTotp`` and ``requireExtJwtSigner`` (a signer id or ``null``)."""
    return _section(field, value, _SECONDARY_CHECKS)


def _merged(base: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in given.items():
        out[key] = _merged(out.get(key) or {}, value) if isinstance(value, dict) else value
    return out


def default_auth_policy(now: str) -> Entity:
    """The system policy of a new store: every primary method allowed, no second factor."""
    return {"id": DEFAULT_AUTH_POLICY_ID, "name": DEFAULT_AUTH_POLICY_NAME, "createdAt": now, "updatedAt": now,
            "tags": {}, "primary": copy.deepcopy(DEFAULT_PRIMARY), "secondary": dict(DEFAULT_SECONDARY)}


def completed_policy(policy: Entity) -> Entity:
    """``policy`` with every field OpenZiti's schema requires (defaults for the missing ones)."""
    return {**policy, "primary": _merged(DEFAULT_PRIMARY, policy.get("primary") or {}),
            "secondary": _merged(DEFAULT_SECONDARY, policy.get("secondary") or {})}


def _check_signers(model: Model, data: Entity) -> None:
    """Signer references must exist, when this controller has external JWT signers at all."""
    kind = Kind.__members__.get("EXTERNAL_JWT_SIGNERS")
    if kind is None:
        return
    refs = [("primary.extJwt.allowedSigners", s) for s in data["primary"]["extJwt"]["allowedSigners"]]
    if data["secondary"].get("requireExtJwtSigner"):
        refs.append(("secondary.requireExtJwtSigner", data["secondary"]["requireExtJwtSigner"]))
    for field, ref in refs:
        if model.maybe(kind, ref) is None:
            raise ValidationError("no such external JWT signer", field=field, value=ref)


class AuthPolicyRules(NoHooks):
    """Fills what a request left out; the system policy stays; a policy in use is not deleted."""

    def prepare(self, model: Model, data: Entity, old: Entity | None) -> None:
        data["primary"] = _merged(old["primary"] if old else DEFAULT_PRIMARY, data["primary"])
        data["secondary"] = _merged(old["secondary"] if old else DEFAULT_SECONDARY, data["secondary"])
        _check_signers(model, data)

    def on_delete(self, model: Model, entity: Entity) -> list[Change]:
        if entity["id"] == DEFAULT_AUTH_POLICY_ID:
            raise ConflictError("the default auth policy cannot be deleted")
        users = model.referencing(Kind.IDENTITIES, "authPolicyId", entity["id"])
        if users:
            names = ", ".join(sorted(str(i["name"]) for i in users)[:5])
            raise ConflictError(f"the auth policy is used by identities: {names}")
        return []


def policy_of(model: Model, identity: Entity) -> Entity:
    """The auth policy governing ``identity`` (the default one if its reference is missing)."""
    return (model.maybe(Kind.AUTH_POLICIES, identity.get("authPolicyId") or DEFAULT_AUTH_POLICY_ID)
            or model.maybe(Kind.AUTH_POLICIES, DEFAULT_AUTH_POLICY_ID) or default_auth_policy(""))


def check_primary_allowed(policy: Entity, method: str, *, cert_expired: bool = False) -> None:
    """Refuse a primary login (``cert`` or ``updb``) the policy does not allow (INVALID_AUTH, as OpenZiti)."""
    rules = policy["primary"][method]
    if not rules.get("allowed"):
        raise InvalidAuth()
    if method == "cert" and cert_expired and not rules.get("allowExpiredCerts"):
        raise InvalidAuth()


def check_password(policy: Entity, password: str, *, field: str = "password") -> None:
    """A new password must satisfy the policy's ``primary.updb`` rules."""
    rules = policy["primary"]["updb"]
    problems = []
    min_length = rules.get("minPasswordLength", MIN_PASSWORD_LENGTH)
    if len(password) < min_length:
        problems.append(f"at least {min_length} characters")
    if rules.get("requireSpecialChar") and not any(c in SPECIAL_CHARS for c in password):
        problems.append("a special character")
    if rules.get("requireNumberChar") and not any(c.isdigit() for c in password):
        problems.append("a digit")
    if rules.get("requireMixedCase") and not (any(c.islower() for c in password)
                                              and any(c.isupper() for c in password)):
        problems.append("upper and lower case letters")
    if problems:
        raise ValidationError(f"the auth policy requires {', '.join(problems)}", field=field)


def identity_password_check(model: Model, identity_id: str, password: str, *, field: str = "password") -> None:
    """:func:`check_password` with the policy of identity ``identity_id``."""
    identity = model.maybe(Kind.IDENTITIES, identity_id)
    if identity is not None:
        check_password(policy_of(model, identity), password, field=field)
