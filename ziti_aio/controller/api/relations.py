"""Related-entity lists such as ``/identities/{id}/services``, answered from the policy index."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ziti_aio.controller.model.crud import referenced_by
from ziti_aio.controller.model.model import Model

if TYPE_CHECKING:
    from ziti_aio.controller.model.policy_index import PolicyKindIndex

IdsOf = Callable[[Model, str], Iterable[str]]


def _policies(index: str, side: str) -> IdsOf:
    def ids(model: Model, ident: str) -> Iterable[str]:
        kind_index: PolicyKindIndex = model.policy.by_kind[index]
        return kind_index.policies_of(getattr(kind_index, side), ident)

    return ids


def _members(index: str, side: str) -> IdsOf:
    def ids(model: Model, ident: str) -> Iterable[str]:
        return getattr(model.policy.by_kind[index], side).members.get(ident, set())

    return ids


def _across(index: str, side: str) -> IdsOf:
    def ids(model: Model, ident: str) -> Iterable[str]:
        kind_index: PolicyKindIndex = model.policy.by_kind[index]
        return kind_index.related(getattr(kind_index, side), ident)

    return ids


def _where(kind: str, field: str) -> IdsOf:
    return lambda model, ident: [e["id"] for e in referenced_by(model, kind, field, ident)]


SP, ERP, SERP = "service-policies", "edge-router-policies", "service-edge-router-policies"

# (kind, relation) -> (target kind, ids of related targets)
RELATIONS: dict[tuple[str, str], tuple[str, IdsOf]] = {
    ("identities", "services"): ("services", lambda m, i: m.policy.service_permissions(i).keys()),
    ("identities", "service-policies"): (SP, _policies(SP, "left")),
    ("identities", "edge-router-policies"): (ERP, _policies(ERP, "left")),
    ("identities", "edge-routers"): ("edge-routers", _across(ERP, "left")),
    ("identities", "authenticators"): ("authenticators", _where("authenticators", "identityId")),
    ("identities", "enrollments"): ("enrollments", _where("enrollments", "identityId")),
    ("services", "identities"): ("identities", _across(SP, "right")),
    ("services", "service-policies"): (SP, _policies(SP, "right")),
    ("services", "service-edge-router-policies"): (SERP, _policies(SERP, "left")),
    ("services", "edge-routers"): ("edge-routers", _across(SERP, "left")),
    ("services", "configs"): ("configs", lambda m, i: m.get("services", i)["configs"]),
    ("services", "terminators"): ("terminators", _where("terminators", "service")),
    (SP, "identities"): ("identities", _members(SP, "left")),
    (SP, "services"): ("services", _members(SP, "right")),
    (ERP, "identities"): ("identities", _members(ERP, "left")),
    (ERP, "edge-routers"): ("edge-routers", _members(ERP, "right")),
    (SERP, "services"): ("services", _members(SERP, "left")),
    (SERP, "edge-routers"): ("edge-routers", _members(SERP, "right")),
    ("edge-routers", "edge-router-policies"): (ERP, _policies(ERP, "right")),
    ("edge-routers", "service-edge-router-policies"): (SERP, _policies(SERP, "right")),
    ("edge-routers", "identities"): ("identities", _across(ERP, "right")),
    ("edge-routers", "services"): ("services", _across(SERP, "right")),
    ("edge-routers", "terminators"): ("terminators", _where("terminators", "router")),
    ("configs", "services"): ("services", _where("services", "configs")),
    ("config-types", "configs"): ("configs", _where("configs", "configTypeId")),
}
