"""Related-entity lists such as ``/identities/{id}/services``, answered from the policy index."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ziti_aio.controller.kinds import Kind
from ziti_aio.controller.model.posture_checks import checks_of_policy

if TYPE_CHECKING:
    from ziti_aio.controller.model.model import Model
    from ziti_aio.controller.model.policy_index import PolicyKindIndex

IdsOf = Callable[["Model", str], Iterable[str]]


def _policies(index: Kind, side: str) -> IdsOf:
    def ids(model: Model, ident: str) -> Iterable[str]:
        kind_index: PolicyKindIndex = model.policy.by_kind[index]
        return kind_index.policies_of(getattr(kind_index, side), ident)

    return ids


def _members(index: Kind, side: str) -> IdsOf:
    def ids(model: Model, ident: str) -> Iterable[str]:
        members: set[str] = getattr(model.policy.by_kind[index], side).members.get(ident, set())
        return members

    return ids


def _across(index: Kind, side: str) -> IdsOf:
    def ids(model: Model, ident: str) -> Iterable[str]:
        kind_index: PolicyKindIndex = model.policy.by_kind[index]
        return kind_index.related(getattr(kind_index, side), ident)

    return ids


def _where(kind: Kind, field: str) -> IdsOf:
    return lambda model, ident: [e["id"] for e in model.referencing(kind, field, ident)]


IDN, SVC, ER, CFG = Kind.IDENTITIES, Kind.SERVICES, Kind.EDGE_ROUTERS, Kind.CONFIGS
SP, ERP, SERP = Kind.SERVICE_POLICIES, Kind.EDGE_ROUTER_POLICIES, Kind.SERVICE_EDGE_ROUTER_POLICIES

# (kind, relation) -> (target kind, ids of related targets); a relation is named by its target's collection.
RELATIONS: dict[tuple[Kind, str], tuple[Kind, IdsOf]] = {
    (IDN, SVC): (SVC, lambda m, i: m.policy.service_permissions(i).keys()),
    (IDN, SP): (SP, _policies(SP, "left")),
    (IDN, ERP): (ERP, _policies(ERP, "left")),
    (IDN, ER): (ER, _across(ERP, "left")),
    (IDN, Kind.AUTHENTICATORS): (Kind.AUTHENTICATORS, _where(Kind.AUTHENTICATORS, "identityId")),
    (IDN, Kind.ENROLLMENTS): (Kind.ENROLLMENTS, _where(Kind.ENROLLMENTS, "identityId")),
    (SVC, IDN): (IDN, _across(SP, "right")),
    (SVC, SP): (SP, _policies(SP, "right")),
    (SVC, SERP): (SERP, _policies(SERP, "left")),
    (SVC, ER): (ER, _across(SERP, "left")),
    (SVC, CFG): (CFG, lambda m, i: m.get(SVC, i)["configs"]),
    (SVC, Kind.TERMINATORS): (Kind.TERMINATORS, _where(Kind.TERMINATORS, "service")),
    (SP, IDN): (IDN, _members(SP, "left")),
    (SP, SVC): (SVC, _members(SP, "right")),
    (SP, Kind.POSTURE_CHECKS): (Kind.POSTURE_CHECKS, lambda m, i: [c["id"] for c in checks_of_policy(m, m.get(SP, i))]),
    (ERP, IDN): (IDN, _members(ERP, "left")),
    (ERP, ER): (ER, _members(ERP, "right")),
    (SERP, SVC): (SVC, _members(SERP, "left")),
    (SERP, ER): (ER, _members(SERP, "right")),
    (ER, ERP): (ERP, _policies(ERP, "right")),
    (ER, SERP): (SERP, _policies(SERP, "right")),
    (ER, IDN): (IDN, _across(ERP, "right")),
    (ER, SVC): (SVC, _across(SERP, "right")),
    (ER, Kind.TERMINATORS): (Kind.TERMINATORS, _where(Kind.TERMINATORS, "router")),
    (CFG, SVC): (SVC, _where(SVC, "configs")),
    (Kind.CONFIG_TYPES, CFG): (CFG, _where(CFG, "configTypeId")),
}
