"""Terminator choice: precedence groups, then the strategy over terminator + path costs."""

from __future__ import annotations

import random
from collections import Counter

from ziti_aio.controller.network.terminators import Terminator, Terminators


def terms(*specs: tuple[str, str, int, str]) -> Terminators:
    out = Terminators(random.Random(1))
    for tid, router, cost, precedence in specs:
        out.add(Terminator(tid, "svc", router, f"{router}/x", cost=cost, precedence=precedence))
    return out


def test_smartrouting_adds_path_cost_and_skips_unreachable_routers():
    t = terms(("t1", "r1", 0, "default"), ("t2", "r2", 0, "default"), ("t3", "r3", 0, "default"))
    assert t.select("svc", "smartrouting", path_costs={"r1": 100, "r2": 5}).id == "t2"
    assert t.select("svc", "smartrouting", path_costs={"r1": 100}).id == "t1"
    assert t.select("svc", "smartrouting", path_costs={}) is None
    # the terminator's own cost counts too, and costs past 16 bits compare as numbers
    t2 = terms(("a", "r1", 65535, "default"), ("b", "r2", 0, "default"))
    assert t2.select("svc", "smartrouting", path_costs={"r1": 0, "r2": 70000}).id == "a"


def test_precedence_required_then_default_then_failed():
    t = terms(("req", "r2", 0, "required"), ("def", "r1", 0, "default"), ("fail", "r1", 0, "failed"))
    assert t.select("svc", "smartrouting", path_costs={"r1": 0, "r2": 10**9}).id == "req"
    assert t.select("svc", "smartrouting", path_costs={"r1": 0}).id == "def"
    t.remove("def")
    assert t.select("svc", "smartrouting", path_costs={"r1": 0}).id == "fail"


def test_weighted_prefers_cheap_and_random_is_uniform():
    t = terms(("cheap", "r1", 0, "default"), ("dear", "r2", 0, "default"))
    costs = {"r1": 0, "r2": 9}
    weighted = Counter(t.select("svc", "weighted", path_costs=costs).id for _ in range(2000))
    assert weighted["cheap"] > 5 * weighted["dear"] > 0
    uniform = Counter(t.select("svc", "random", path_costs=costs).id for _ in range(2000))
    assert 800 < uniform["cheap"] < 1200


def test_for_service_follows_adds_replacements_and_removals():
    t = Terminators()
    t.add(Terminator("a", "svc", "r1", "r1/x"))
    t.add(Terminator("b", "svc", "r2", "r2/x"))
    t.add(Terminator("c", "other", "r1", "r1/y"))
    assert sorted(x.id for x in t.for_service("svc")) == ["a", "b"]
    t.add(Terminator("a", "moved", "r1", "r1/x"))  # the same router re-creates it for another service
    assert [x.id for x in t.for_service("svc")] == ["b"] and [x.id for x in t.for_service("moved")] == ["a"]
    assert t.remove("b", "r1") is None and [x.id for x in t.for_service("svc")] == ["b"]
    assert t.remove("b") is not None and t.for_service("svc") == []
    assert sorted(x.id for x in t.remove_router("r1")) == ["a", "c"]
    assert t.for_service("moved") == [] and t.for_service("other") == [] and len(t) == 0
