"""The management operations: create, update and delete of every kind, and the few others.

A ``build_*`` call validates a request body against the kind's record (:mod:`.records`), lets
the kind's hooks resolve references and add dependent changes (an identity's enrollment, a
deleted service's sessions), and returns the :class:`Command` to apply. Bad input raises
before any command exists, so nothing stored changes. The ``async`` operations build their
command under the model's write lock and apply it: routes call those, never the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ziti_aio.common.errors import ValidationError
from ziti_aio.common.ids import new_id
from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.authenticator_actions import (
    extend_request,
    extension,
    extension_verified,
    re_enrollment,
)
from ziti_aio.controller.model.cas import verify_command
from ziti_aio.controller.model.disabling import disabling, enabling
from ziti_aio.controller.model.fields import now_text
from ziti_aio.controller.model.records import RECORDS, KindRecord
from ziti_aio.controller.model.revocations import revocation_request
from ziti_aio.controller.model.rules import enrollment_refresh, router_re_enrollment
from ziti_aio.controller.model.service_configs import assigning, removing
from ziti_aio.controller.model.session_certs import session_certificate, session_certificate_end
from ziti_aio.controller.store.commands import Change, Command, Delete, Put

if TYPE_CHECKING:
    from datetime import datetime, timedelta

    from ziti_aio.controller.model.hooks import KindHooks, RuleDeps
    from ziti_aio.controller.model.model import Entity, Model
    from ziti_aio.pki.ca import CertAuthority


def _body(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise ValidationError("the request body must be a JSON object", field="body", value=None)
    return body


class Crud:
    """Builds and applies the commands of the management operations."""

    def __init__(self, model: Model, deps: RuleDeps) -> None:
        self.model = model
        self.deps = deps
        self.hooks: dict[Kind, KindHooks] = {kind: record.hooks(deps) for kind, record in RECORDS.items()}

    def _check_name(self, record: KindRecord, data: Entity, own_id: str | None) -> None:
        if not record.named:
            return
        other = self.model.names[record.kind].get(data["name"])
        if other is not None and other != own_id:
            raise ValidationError(
                f"name must be unique: {record.singular} {data['name']!r} already exists",
                field="name", value=data["name"],
            )

    # --- building commands ------------------------------------------------------------------

    def build_create(self, kind: Kind, body: Any, *, actor: str) -> tuple[Command, str]:
        """Validate a create request; returns the command and the new id."""
        record = RECORDS[kind]
        body = _body(body)
        data: Entity = {}
        for fld in record.fields:
            if fld.name in body and body[fld.name] is not None:
                data[fld.name] = fld.check(fld.name, body[fld.name])
            elif fld.required:
                raise ValidationError("is required", field=fld.name, value=None)
            else:
                data[fld.name] = fld.default_value()
        now = now_text()
        data.update(id=new_id(), createdAt=now, updatedAt=now)
        hooks = self.hooks[kind]
        hooks.prepare(self.model, data, None)
        self._check_name(record, data, None)
        changes: list[Change] = [Put(kind, data)]
        changes.extend(hooks.on_create(self.model, data, body))
        return Command(actor, f"create {record.singular} {data.get('name', data['id'])}", tuple(changes)), data["id"]

    def build_update(self, kind: Kind, ident: str, body: Any, *, partial: bool, actor: str) -> Command:
        """Validate a PUT (``partial=False``: omitted fields reset to defaults) or PATCH."""
        record = RECORDS[kind]
        body = _body(body)
        old = self.model.get(kind, ident)
        data: Entity = dict(old)
        for fld in record.fields:
            if fld.name in body:
                value = body[fld.name]
                if value is None and fld.required:
                    raise ValidationError("must not be null", field=fld.name, value=None)
                data[fld.name] = fld.default_value() if value is None else fld.check(fld.name, value)
            elif not partial:
                if fld.required:
                    raise ValidationError("is required", field=fld.name, value=None)
                data[fld.name] = fld.default_value()
        data["updatedAt"] = now_text()
        hooks = self.hooks[kind]
        hooks.prepare(self.model, data, old)
        self._check_name(record, data, ident)
        changes: list[Change] = [Put(kind, data), *hooks.on_update(self.model, data, old)]
        return Command(actor, f"update {record.singular} {ident}", tuple(changes))

    def build_delete(self, kind: Kind, ident: str, *, actor: str) -> Command:
        """Delete an entity with its cascades (a session or API session: with its revocations)."""
        entity = self.model.get(kind, ident)
        changes: list[Change] = [Delete(kind, ident)]
        changes.extend(self.hooks[kind].on_delete(self.model, entity))
        return Command(actor, f"delete {RECORDS[kind].singular} {ident}", tuple(changes))

    # --- operations -------------------------------------------------------------------------

    async def create(self, kind: Kind, body: Any, *, actor: str) -> str:
        """Create an entity from a request body; returns its id."""
        created: list[str] = []

        def build() -> Command:
            command, ident = self.build_create(kind, body, actor=actor)
            created.append(ident)
            return command

        await self.model.transact(build)
        return created[0]

    async def update(self, kind: Kind, ident: str, body: Any, *, partial: bool, actor: str) -> None:
        await self.model.transact(lambda: self.build_update(kind, ident, body, partial=partial, actor=actor))

    async def delete(self, kind: Kind, ident: str, *, actor: str) -> None:
        await self.model.transact(lambda: self.build_delete(kind, ident, actor=actor))

    async def re_enroll_router(self, router_id: str, *, actor: str) -> None:
        """Give an edge router a new enrollment; it must enroll again before it can connect."""
        await self.model.transact(lambda: Command(
            actor, f"re-enroll edge router {router_id}", tuple(router_re_enrollment(self.model, self.deps.issuer,
                                                                                    router_id))))

    async def refresh_enrollment(self, enrollment_id: str, expires_at: datetime, *, actor: str) -> None:
        """Replace an enrollment's token and JWT with ones that expire at ``expires_at``."""
        await self.model.transact(lambda: Command(
            actor, f"refresh enrollment {enrollment_id}",
            (enrollment_refresh(self.model, self.deps.issuer, enrollment_id, expires_at),)))

    async def verify_ca(self, ca_id: str, pem: bytes | str, *, actor: str) -> Entity:
        """Mark a CA verified by a certificate it signed (see :func:`.cas.verify_command`); returns the CA."""
        await self.model.transact(lambda: verify_command(self.model, ca_id, pem, actor=actor))
        return self.model.get(Kind.CAS, ca_id)

    async def disable_identity(self, identity_id: str, minutes: int, *, actor: str) -> None:
        """Disable an identity for ``minutes`` (0: until enabled); its API sessions and sessions end."""
        await self.model.transact(lambda: Command(
            actor, f"disable identity {identity_id}", tuple(disabling(self.model, identity_id, minutes))))

    async def enable_identity(self, identity_id: str, *, actor: str) -> None:
        """Lift an identity's disable."""
        await self.model.transact(lambda: Command(actor, f"enable identity {identity_id}",
                                                  (enabling(self.model, identity_id),)))

    async def assign_service_configs(self, identity_id: str, body: Any, *, actor: str) -> None:
        """Set an identity's config overrides for services (see :mod:`.service_configs`)."""
        await self.model.transact(lambda: Command(actor, f"assign service configs to identity {identity_id}",
                                                  (assigning(self.model, identity_id, body),)))

    async def remove_service_configs(self, identity_id: str, body: Any, *, actor: str) -> None:
        """Remove the named config overrides of an identity, or all of them when none are named."""
        await self.model.transact(lambda: Command(actor, f"remove service configs of identity {identity_id}",
                                                  (removing(self.model, identity_id, body),)))

    async def re_enroll_authenticator(self, auth_id: str, expires_at: datetime, *, actor: str) -> str:
        """Replace an authenticator with a fresh enrollment of its method; returns the enrollment's id."""
        made: list[str] = []

        def build() -> Command:
            changes, enrollment_id = re_enrollment(self.model, self.deps.issuer, auth_id, expires_at)
            made.append(enrollment_id)
            return Command(actor, f"re-enroll authenticator {auth_id}", tuple(changes))

        await self.model.transact(build)
        return made[0]

    async def request_extend(self, auth_id: str, roll_keys: bool, *, actor: str) -> None:
        """Ask the holder of a network-issued certificate to extend it (with a new key when ``roll_keys``)."""
        await self.model.transact(lambda: Command(actor, f"request extension of authenticator {auth_id}",
                                                  (extend_request(self.model, auth_id, roll_keys),)))

    async def revoke(self, body: Any, *, actor: str) -> str:
        """``POST /revocations``: end an API session, every API session of an identity, or one session (JTI)."""
        made: list[str] = []

        def build() -> Command:
            changes, ident = revocation_request(self.model, body)
            made.append(ident)
            return Command(actor, f"revoke {ident}", tuple(changes))

        await self.model.transact(build)
        return made[0]

    async def extend_authenticator(self, auth: Entity, csr_pem: str, ca: CertAuthority, trust_domain: str) -> str:
        """Issue a new certificate for a certificate authenticator from a CSR, unverified until
        :meth:`verify_extension`; returns the certificate chain (PEM)."""
        chain: list[str] = []

        def build() -> Command:
            change, pem = extension(self.model, ca, trust_domain, self.model.get(Kind.AUTHENTICATORS, auth["id"]),
                                    csr_pem)
            chain.append(pem)
            return Command(auth["identityId"], f"extend authenticator {auth['id']}", (change,))

        await self.model.transact(build)
        return chain[0]

    async def verify_extension(self, auth: Entity, cert_pem: object) -> None:
        """The extended certificate replaces the old one (which stops working)."""
        await self.model.transact(lambda: Command(
            auth["identityId"], f"verify extension of authenticator {auth['id']}",
            (extension_verified(self.model.get(Kind.AUTHENTICATORS, auth["id"]), cert_pem),)))

    async def create_session_certificate(self, identity: Entity, api_session: Entity, csr_pem: object,
                                         ca: CertAuthority, trust_domain: str,
                                         lifetime: timedelta) -> tuple[Entity, str]:
        """Issue a session certificate from a CSR (see :mod:`.session_certs`); returns it and the CA chain."""
        made: list[tuple[Entity, str]] = []

        def build() -> Command:
            self.model.get(Kind.API_SESSIONS, api_session["id"])
            change, cert, chain = session_certificate(self.model, ca, trust_domain, identity, api_session, csr_pem,
                                                      lifetime)
            made.append((cert, chain))
            return Command(identity["id"], f"session certificate for API session {api_session['id']}", (change,))

        await self.model.transact(build)
        return made[0]

    async def end_session_certificate(self, cert: Entity, *, actor: str) -> None:
        await self.model.transact(lambda: Command(actor, f"delete session certificate {cert['id']}",
                                                  tuple(session_certificate_end(cert))))
