"""First-start content of a controller's store: config types, auth policy, default admin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ziti_aio.common.errors import ConfigError
from ziti_aio.common.ids import new_id
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.config_types import BUILTIN_CONFIG_TYPES
from ziti_aio.controller.model.fields import now_text
from ziti_aio.controller.model.passwords import MIN_PASSWORD_LENGTH, hash_password
from ziti_aio.controller.model.rules import DEFAULT_AUTH_POLICY_ID, new_authenticator, new_identity
from ziti_aio.controller.store.commands import Change, Command, Put

if TYPE_CHECKING:
    from ziti_aio.controller.model.model import Model


def seed_changes(model: Model) -> list[Change]:
    """Built-in config types and the default auth policy that are missing."""
    now = now_text()
    changes: list[Change] = []
    for ct in BUILTIN_CONFIG_TYPES:
        if model.maybe(Kind.CONFIG_TYPES, ct.id) is None and model.by_name(Kind.CONFIG_TYPES, ct.name) is None:
            changes.append(Put(Kind.CONFIG_TYPES, {"id": ct.id, "name": ct.name, "schema": ct.schema,
                                                "target": ct.target, "tags": {}, "createdAt": now, "updatedAt": now}))
    if model.maybe(Kind.AUTH_POLICIES, DEFAULT_AUTH_POLICY_ID) is None:
        changes.append(Put(Kind.AUTH_POLICIES, {
            "id": DEFAULT_AUTH_POLICY_ID, "name": "Default", "createdAt": now, "updatedAt": now, "tags": {},
            "primary": {"cert": {"allowed": True, "allowExpiredCerts": True},
                        "updb": {"allowed": True, "minPasswordLength": MIN_PASSWORD_LENGTH, "maxAttempts": 0},
                        # OpenZiti's default policy allows ext-jwt from every signer (docs/external-jwt.md).
                        "extJwt": {"allowed": True, "allowedSigners": []}},
            "secondary": {"requireTotp": False, "requireExtJwtSigner": None},
        }))
    return changes


def admin_changes(model: Model, username: str, password: str | None) -> list[Change]:
    """The default admin identity with a password login, unless one exists."""
    if any(i.get("isDefaultAdmin") for i in model.all(Kind.IDENTITIES)):
        return []
    if not password:
        raise ConfigError("the store has no admin yet: an admin password is required on first start")
    if model.lookup(Kind.AUTHENTICATORS, "username", username) is not None:
        raise ConfigError(f"the username {username!r} is already used by another identity")
    identity_id = new_id()
    identity = new_identity(identity_id, "Default Admin", isAdmin=True, isDefaultAdmin=True)
    auth = new_authenticator(identity_id, method="updb", username=username, passwordHash=hash_password(password))
    return [Put(Kind.IDENTITIES, identity), Put(Kind.AUTHENTICATORS, auth)]


async def bootstrap(model: Model, *, admin_username: str, admin_password: str | None) -> None:
    """Create whatever first-start content is missing, in one command."""

    def build() -> Command:
        changes = seed_changes(model) + admin_changes(model, admin_username, admin_password)
        return Command("controller", "bootstrap", tuple(changes))

    await model.transact(build)
