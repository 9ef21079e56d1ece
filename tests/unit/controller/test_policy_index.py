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
