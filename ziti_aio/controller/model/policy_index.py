"""Precomputed policy membership, kept current on every change.

For each policy the index holds the ids it selects on both sides, and for each entity
the policies that select it. Questions such as "may identity X dial service S" or "which
routers may X use for S" are then set look-ups, never a scan of every policy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ziti_aio.common.roles import RoleSet, parse_roles
from ziti_aio.controller.kinds import Kind

Entity = Mapping[str, Any]
Entities = Mapping[Kind, Mapping[str, Entity]]


@dataclass
class _Side:
    """One side of a policy kind: which role field selects which entity kind."""

    roles_field: str
    entity_kind: Kind
    members: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # policy -> entities
    policies: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # entity -> policies


class PolicyKindIndex:
    """Membership for one policy kind with two sides (e.g. identities and services)."""

    def __init__(self, policy_kind: Kind, left: tuple[str, Kind], right: tuple[str, Kind]) -> None:
        self.policy_kind = policy_kind
        self.left = _Side(*left)
        self.right = _Side(*right)
        self._policies: dict[str, Entity] = {}
        self._rolesets: dict[str, tuple[RoleSet, RoleSet]] = {}

    def sides(self) -> tuple[_Side, _Side]:
        return self.left, self.right

    def policy(self, policy_id: str) -> Entity:
        return self._policies[policy_id]

    def put_policy(self, policy: Entity, entities: Entities) -> None:
        """(Re)evaluate one policy against every entity of both sides."""
        pid = policy["id"]
        self.remove_policy(pid)
        self._policies[pid] = policy
        semantic = policy.get("semantic", "AllOf")
        rolesets = (parse_roles(policy.get(self.left.roles_field, []), semantic),
                    parse_roles(policy.get(self.right.roles_field, []), semantic))
        self._rolesets[pid] = rolesets
        for side, roleset in zip(self.sides(), rolesets, strict=True):
            candidates: Iterable[Entity]
            pool = entities.get(side.entity_kind, {})
            if not roleset.all and not roleset.attributes:
                candidates = [pool[i] for i in roleset.ids if i in pool]
            else:
                candidates = pool.values()
            for ent in candidates:
                if roleset.matches(ent["id"], ent.get("roleAttributes", ())):
                    side.members[pid].add(ent["id"])
                    side.policies[ent["id"]].add(pid)

    def remove_policy(self, policy_id: str) -> None:
        if self._policies.pop(policy_id, None) is None:
            return
        del self._rolesets[policy_id]
        for side in self.sides():
            for eid in side.members.pop(policy_id, ()):
                pols = side.policies.get(eid)
                if pols is not None:
                    pols.discard(policy_id)
                    if not pols:
                        del side.policies[eid]

    def put_entity(self, kind: Kind, entity: Entity) -> None:
        """(Re)evaluate one entity against every policy of this kind."""
        eid = entity["id"]
        attrs = set(entity.get("roleAttributes", ()))
        for pos, side in enumerate(self.sides()):
            if side.entity_kind != kind:
                continue
            self._drop_entity(side, eid)
            for pid, rolesets in self._rolesets.items():
                if rolesets[pos].matches(eid, attrs):
                    side.members[pid].add(eid)
                    side.policies[eid].add(pid)

    def remove_entity(self, kind: Kind, entity_id: str) -> None:
        for side in self.sides():
            if side.entity_kind == kind:
                self._drop_entity(side, entity_id)

    @staticmethod
    def _drop_entity(side: _Side, eid: str) -> None:
        for pid in side.policies.pop(eid, ()):
            members = side.members.get(pid)
            if members is not None:
                members.discard(eid)

    def policies_of(self, side: _Side, entity_id: str) -> set[str]:
        return side.policies.get(entity_id, set())

    def related(self, from_side: _Side, entity_id: str) -> set[str]:
        """Ids on the other side reachable from ``entity_id`` through any policy."""
        other = self.right if from_side is self.left else self.left
        out: set[str] = set()
        for pid in from_side.policies.get(entity_id, ()):
            out |= other.members.get(pid, set())
        return out


class PolicyIndex:
    """All three policy kinds OpenZiti evaluates, with the questions the APIs ask."""

    def __init__(self) -> None:
        self.service_policies = PolicyKindIndex(
            Kind.SERVICE_POLICIES, ("identityRoles", Kind.IDENTITIES), ("serviceRoles", Kind.SERVICES)
        )
        self.edge_router_policies = PolicyKindIndex(
            Kind.EDGE_ROUTER_POLICIES, ("identityRoles", Kind.IDENTITIES), ("edgeRouterRoles", Kind.EDGE_ROUTERS)
        )
        self.service_edge_router_policies = PolicyKindIndex(
            Kind.SERVICE_EDGE_ROUTER_POLICIES, ("serviceRoles", Kind.SERVICES), ("edgeRouterRoles", Kind.EDGE_ROUTERS)
        )
        self.by_kind = {
            i.policy_kind: i
            for i in (self.service_policies, self.edge_router_policies, self.service_edge_router_policies)
        }

    def rebuild(self, entities: Entities) -> None:
        """Evaluate every stored policy (start-up)."""
        for kind, index in self.by_kind.items():
            for policy in entities.get(kind, {}).values():
                index.put_policy(policy, entities)

    def put(self, kind: Kind, entity: Entity, entities: Entities) -> None:
        """Account for a created or updated entity of any kind."""
        if kind in self.by_kind:
            self.by_kind[kind].put_policy(entity, entities)
            return
        for index in self.by_kind.values():
            index.put_entity(kind, entity)

    def remove(self, kind: Kind, entity_id: str) -> None:
        if kind in self.by_kind:
            self.by_kind[kind].remove_policy(entity_id)
            return
        for index in self.by_kind.values():
            index.remove_entity(kind, entity_id)

    # --- questions -------------------------------------------------------------------------

    def service_permissions(self, identity_id: str) -> dict[str, set[str]]:
        """service id -> {"Dial", "Bind"} for every service the identity may reach."""
        sp = self.service_policies
        out: dict[str, set[str]] = defaultdict(set)
        for pid in sp.policies_of(sp.left, identity_id):
            ptype = sp.policy(pid)["type"]
            for sid in sp.right.members.get(pid, ()):
                out[sid].add(ptype)
        return out

    def permissions_for(self, identity_id: str, service_id: str) -> set[str]:
        """The policy types ("Dial"/"Bind") that give this identity this service."""
        sp = self.service_policies
        shared = sp.policies_of(sp.left, identity_id) & sp.policies_of(sp.right, service_id)
        return {sp.policy(pid)["type"] for pid in shared}

    def identity_edge_routers(self, identity_id: str) -> set[str]:
        erp = self.edge_router_policies
        return erp.related(erp.left, identity_id)

    def service_edge_routers(self, service_id: str) -> set[str]:
        serp = self.service_edge_router_policies
        return serp.related(serp.left, service_id)

    def session_edge_routers(self, identity_id: str, service_id: str) -> set[str]:
        """Routers an identity may use to reach a service: the two policy sets intersected."""
        return self.identity_edge_routers(identity_id) & self.service_edge_routers(service_id)
