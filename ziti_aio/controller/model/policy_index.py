"""Precomputed policy membership, kept current on every change.

For each policy the index holds the ids it selects on both sides, and for each entity
the policies that select it. Questions such as "may identity X dial service S" or "which
routers may X use for S" are then set look-ups, never a scan of every policy.

Which entities a policy's role list selects comes from an attribute index (role attribute ->
ids, kept current with every entity change), not from matching every entity: start-up with
100,000 identities and 1,000 policies evaluated 10^8 matches before (docs/model.md). An entity
put whose role attributes did not change keeps its memberships (logins update identities).
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
# The kinds policies select.
SELECTED_KINDS = (Kind.IDENTITIES, Kind.SERVICES, Kind.EDGE_ROUTERS)


def _attributes(entity: Entity) -> frozenset[str]:
    return frozenset(entity.get("roleAttributes") or ())


class AttributeIndex:
    """For each selected kind, role attribute -> entity ids, and each entity's attributes."""

    def __init__(self) -> None:
        self.ids: dict[Kind, dict[str, set[str]]] = {kind: defaultdict(set) for kind in SELECTED_KINDS}
        self.of: dict[Kind, dict[str, frozenset[str]]] = {kind: {} for kind in SELECTED_KINDS}

    def put(self, kind: Kind, entity_id: str, attributes: frozenset[str]) -> bool:
        """Record an entity's attributes; false if they are the ones already recorded."""
        old = self.of[kind].get(entity_id)
        if old == attributes:
            return False
        if old is not None:
            self._drop(kind, entity_id, old - attributes)
        by_attribute = self.ids[kind]
        for attribute in attributes:
            by_attribute[attribute].add(entity_id)
        self.of[kind][entity_id] = attributes
        return True

    def load(self, kind: Kind, pool: Mapping[str, Entity]) -> None:
        """:meth:`put` for every entity of ``pool`` at once (start-up); equal attribute sets are shared."""
        of, by_attribute = self.of[kind], self.ids[kind]
        shared: dict[tuple[str, ...], frozenset[str]] = {}
        for eid, entity in pool.items():
            listed = tuple(entity.get("roleAttributes") or ())
            attributes = shared.get(listed)
            if attributes is None:
                attributes = shared[listed] = frozenset(listed)
            of[eid] = attributes
            for attribute in attributes:
                by_attribute[attribute].add(eid)

    def remove(self, kind: Kind, entity_id: str) -> None:
        old = self.of[kind].pop(entity_id, None)
        if old is not None:
            self._drop(kind, entity_id, old)

    def _drop(self, kind: Kind, entity_id: str, attributes: Iterable[str]) -> None:
        by_attribute = self.ids[kind]
        for attribute in attributes:
            holders = by_attribute.get(attribute)
            if holders is not None:
                holders.discard(entity_id)
                if not holders:
                    del by_attribute[attribute]

    def select(self, kind: Kind, roleset: RoleSet, pool: Mapping[str, Entity]) -> set[str]:
        """The ids of ``pool`` (every entity of ``kind``) that ``roleset`` matches (``RoleSet.matches``)."""
        if roleset.all:
            return set(pool)
        out = {i for i in roleset.ids if i in pool}
        if roleset.attributes:
            by_attribute = self.ids[kind]
            holders = sorted((by_attribute.get(a, set()) for a in roleset.attributes), key=len)
            if roleset.semantic == "AllOf":
                out |= holders[0].intersection(*holders[1:])
            else:
                out |= set().union(*holders)
        return out


@dataclass
class _Side:
    """One side of a policy kind: which role field selects which entity kind."""

    roles_field: str
    entity_kind: Kind
    members: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # policy -> entities
    policies: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # entity -> policies


class PolicyKindIndex:
    """Membership for one policy kind with two sides (e.g. identities and services)."""

    def __init__(self, policy_kind: Kind, left: tuple[str, Kind], right: tuple[str, Kind],
                 attributes: AttributeIndex) -> None:
        self.policy_kind = policy_kind
        self._attributes = attributes
        self.left = _Side(*left)
        self.right = _Side(*right)
        self._policies: dict[str, Entity] = {}
        self._rolesets: dict[str, tuple[RoleSet, RoleSet]] = {}

    def sides(self) -> tuple[_Side, _Side]:
        return self.left, self.right

    def policy(self, policy_id: str) -> Entity:
        return self._policies[policy_id]

    def put_policy(self, policy: Entity, entities: Entities) -> None:
        """(Re)evaluate one policy: the entities of both sides its role lists select."""
        pid = policy["id"]
        self.remove_policy(pid)
        self._policies[pid] = policy
        semantic = policy.get("semantic", "AllOf")
        rolesets = (parse_roles(policy.get(self.left.roles_field, []), semantic),
                    parse_roles(policy.get(self.right.roles_field, []), semantic))
        self._rolesets[pid] = rolesets
        for side, roleset in zip(self.sides(), rolesets, strict=True):
            selected = self._attributes.select(side.entity_kind, roleset, entities.get(side.entity_kind, {}))
            if selected:
                side.members[pid] = selected
            for eid in selected:
                side.policies[eid].add(pid)

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
        attrs = _attributes(entity)
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
        self.attributes = AttributeIndex()
        self.service_policies = PolicyKindIndex(
            Kind.SERVICE_POLICIES, ("identityRoles", Kind.IDENTITIES), ("serviceRoles", Kind.SERVICES),
            self.attributes,
        )
        self.edge_router_policies = PolicyKindIndex(
            Kind.EDGE_ROUTER_POLICIES, ("identityRoles", Kind.IDENTITIES), ("edgeRouterRoles", Kind.EDGE_ROUTERS),
            self.attributes,
        )
        self.service_edge_router_policies = PolicyKindIndex(
            Kind.SERVICE_EDGE_ROUTER_POLICIES, ("serviceRoles", Kind.SERVICES), ("edgeRouterRoles", Kind.EDGE_ROUTERS),
            self.attributes,
        )
        self.by_kind = {
            i.policy_kind: i
            for i in (self.service_policies, self.edge_router_policies, self.service_edge_router_policies)
        }

    def rebuild(self, entities: Entities) -> None:
        """Evaluate every stored policy (start-up): the attribute index first, then each policy's selection."""
        for kind in SELECTED_KINDS:
            self.attributes.load(kind, entities.get(kind, {}))
        for kind, index in self.by_kind.items():
            for policy in entities.get(kind, {}).values():
                index.put_policy(policy, entities)

    def put(self, kind: Kind, entity: Entity, entities: Entities) -> None:
        """Account for a created or updated entity of any kind."""
        if kind in self.by_kind:
            self.by_kind[kind].put_policy(entity, entities)
            return
        if kind not in self.attributes.of or not self.attributes.put(kind, entity["id"], _attributes(entity)):
            return
        for index in self.by_kind.values():
            index.put_entity(kind, entity)

    def remove(self, kind: Kind, entity_id: str) -> None:
        if kind in self.by_kind:
            self.by_kind[kind].remove_policy(entity_id)
            return
        if kind not in self.attributes.of:
            return
        self.attributes.remove(kind, entity_id)
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
