from ziti_aio.controller.model.policy_index import PolicyIndex


def _ents():
    return {
        "identities": {
            "i1": {"id": "i1", "roleAttributes": ["clients", "eu"]},
            "i2": {"id": "i2", "roleAttributes": ["clients"]},
            "i3": {"id": "i3", "roleAttributes": []},
        },
        "services": {
            "s1": {"id": "s1", "roleAttributes": ["web"]},
            "s2": {"id": "s2", "roleAttributes": ["db"]},
        },
        "edge-routers": {
            "r1": {"id": "r1", "roleAttributes": ["public"]},
            "r2": {"id": "r2", "roleAttributes": []},
        },
        "service-policies": {
            "p1": {"id": "p1", "type": "Dial", "semantic": "AllOf", "identityRoles": ["#clients", "#eu"],
                   "serviceRoles": ["#web"]},
            "p2": {"id": "p2", "type": "Bind", "semantic": "AnyOf", "identityRoles": ["@i3"],
                   "serviceRoles": ["#all"]},
        },
        "edge-router-policies": {
            "e1": {"id": "e1", "semantic": "AnyOf", "identityRoles": ["#all"], "edgeRouterRoles": ["#public"]},
        },
        "service-edge-router-policies": {
            "x1": {"id": "x1", "semantic": "AnyOf", "serviceRoles": ["#all"], "edgeRouterRoles": ["#all"]},
        },
    }


def _index():
    ents = _ents()
    index = PolicyIndex()
    index.rebuild(ents)
    return index, ents


def test_allof_needs_every_attribute():
    index, _ = _index()
    assert index.service_permissions("i1") == {"s1": {"Dial"}}
    assert index.service_permissions("i2") == {}


def test_at_id_and_all():
    index, _ = _index()
    assert index.service_permissions("i3") == {"s1": {"Bind"}, "s2": {"Bind"}}
    assert index.permissions_for("i3", "s2") == {"Bind"}


def test_removing_an_attribute_revokes_access():
    index, ents = _index()
    i1 = {**ents["identities"]["i1"], "roleAttributes": ["clients"]}
    ents["identities"]["i1"] = i1
    index.put("identities", i1, ents)
    assert index.permissions_for("i1", "s1") == set()


def test_new_entity_matching_existing_policy_gains_access():
    index, ents = _index()
    s3 = {"id": "s3", "roleAttributes": ["web"]}
    ents["services"]["s3"] = s3
    index.put("services", s3, ents)
    assert index.service_permissions("i1") == {"s1": {"Dial"}, "s3": {"Dial"}}


def test_deleting_policy_removes_access_and_deleting_entity_cleans_up():
    index, _ = _index()
    index.remove("service-policies", "p2")
    assert index.service_permissions("i3") == {}
    index.remove("services", "s1")
    assert index.service_permissions("i1") == {}


def test_session_routers_are_the_intersection():
    index, ents = _index()
    assert index.session_edge_routers("i1", "s1") == {"r1"}
    serp = {"id": "x1", "semantic": "AnyOf", "serviceRoles": ["#db"], "edgeRouterRoles": ["#all"]}
    index.put("service-edge-router-policies", serp, ents)
    assert index.session_edge_routers("i1", "s1") == set()
    assert index.session_edge_routers("i1", "s2") == {"r1"}


def test_anyof_policy_update_recomputes_members():
    index, ents = _index()
    p1 = {**ents["service-policies"]["p1"], "semantic": "AnyOf"}
    index.put("service-policies", p1, ents)
    assert index.permissions_for("i2", "s1") == {"Dial"}


def _brute_force(ents):
    """service policy id -> (identity ids, service ids) by matching every entity against every policy."""
    from ziti_aio.common.roles import parse_roles

    out = {}
    for pid, pol in ents["service-policies"].items():
        sides = []
        for field, kind in (("identityRoles", "identities"), ("serviceRoles", "services")):
            roles = parse_roles(pol[field], pol["semantic"])
            sides.append({eid for eid, e in ents[kind].items() if roles.matches(eid, e["roleAttributes"])})
        out[pid] = tuple(sides)
    return out


def test_attribute_index_selects_what_matching_every_entity_selects_through_changes():
    import random

    rng = random.Random(19)
    attrs = ["a", "b", "c", "d"]
    ents = {kind: {} for kind in ("identities", "services", "edge-routers", "service-policies",
                                  "edge-router-policies", "service-edge-router-policies")}

    def roles(kind):
        pick = rng.random()
        if pick < 0.1:
            return ["#all"]
        chosen = [f"#{a}" for a in rng.sample(attrs, rng.randint(0, 3))]
        if pick < 0.4 and ents[kind]:
            chosen.append("@" + rng.choice(sorted(ents[kind])))
        return chosen

    index = PolicyIndex()
    index.rebuild(ents)
    for step in range(400):
        op = rng.random()
        kind = rng.choice(["identities", "services"])
        if op < 0.6:
            eid = f"{kind[0]}{rng.randint(0, 30)}"
            ent = {"id": eid, "roleAttributes": rng.sample(attrs, rng.randint(0, 3))}
            ents[kind][eid] = ent
            index.put(kind, ent, ents)
        elif op < 0.7 and ents[kind]:
            eid = rng.choice(sorted(ents[kind]))
            del ents[kind][eid]
            index.remove(kind, eid)
        elif op < 0.95:
            pid = f"p{rng.randint(0, 8)}"
            pol = {"id": pid, "type": "Dial", "semantic": rng.choice(["AllOf", "AnyOf"]),
                   "identityRoles": roles("identities"), "serviceRoles": roles("services")}
            ents["service-policies"][pid] = pol
            index.put("service-policies", pol, ents)
        elif ents["service-policies"]:
            pid = rng.choice(sorted(ents["service-policies"]))
            del ents["service-policies"][pid]
            index.remove("service-policies", pid)
        sp = index.service_policies
        for pid, (identities, services) in _brute_force(ents).items():
            assert sp.left.members.get(pid, set()) == identities, step
            assert sp.right.members.get(pid, set()) == services, step
    fresh = PolicyIndex()
    fresh.rebuild(ents)
    for pid in ents["service-policies"]:
        assert fresh.service_policies.left.members.get(pid, set()) == index.service_policies.left.members.get(
            pid, set())
