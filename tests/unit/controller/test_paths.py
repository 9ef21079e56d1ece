"""Path selection: costs, noTraversal, down links, disabled routers, costs far past 16 bits."""

from __future__ import annotations

import random

from ziti_aio.controller.network.paths import Graph, LinkEdge, RouterNode


def mesh(*ids: str, cost: int = 1) -> list[LinkEdge]:
    return [LinkEdge(f"{a}{b}", a, b, cost) for i, a in enumerate(ids) for b in ids[i + 1:]]


def test_direct_link_wins_and_cost_counts_links_and_routers():
    graph = Graph([RouterNode("a", 5), RouterNode("b", 7), RouterNode("c", 11)], mesh("a", "b", "c", cost=3))
    path = graph.shortest_path("a", "c")
    assert path is not None
    assert path.nodes == ("a", "c") and path.links == ("ac",)
    assert path.cost == 5 + 3 + 11
    assert graph.costs_from("a") == {"a": 5, "b": 15, "c": 19}
    assert graph.shortest_path("a", "a").nodes == ("a",)


def test_cheaper_two_hop_path_beats_an_expensive_link():
    links = [LinkEdge("ab", "a", "b", 10), LinkEdge("bc", "b", "c", 10), LinkEdge("ac", "a", "c", 100)]
    path = Graph([RouterNode("a"), RouterNode("b"), RouterNode("c")], links).shortest_path("a", "c")
    assert path is not None and path.nodes == ("a", "b", "c") and path.links == ("ab", "bc") and path.cost == 20
    # links carry traffic both ways: the reverse path uses the same links
    back = Graph([RouterNode("a"), RouterNode("b"), RouterNode("c")], links).shortest_path("c", "a")
    assert back is not None and back.nodes == ("c", "b", "a")


def test_router_cost_steers_around_an_expensive_middle_router():
    routers = [RouterNode("a"), RouterNode("b", 1000), RouterNode("d", 1), RouterNode("c")]
    links = [LinkEdge("ab", "a", "b", 1), LinkEdge("bc", "b", "c", 1), LinkEdge("ad", "a", "d", 5),
             LinkEdge("dc", "d", "c", 5)]
    path = Graph(routers, links).shortest_path("a", "c")
    assert path is not None and path.nodes == ("a", "d", "c") and path.cost == 11


def test_down_link_is_never_used():
    links = mesh("a", "b", "c")
    links[1] = LinkEdge("ac", "a", "c", 1, down=True)
    path = Graph([RouterNode("a"), RouterNode("b"), RouterNode("c")], links).shortest_path("a", "c")
    assert path is not None and path.nodes == ("a", "b", "c")
    only = [LinkEdge("ac", "a", "c", 1, down=True)]
    assert Graph([RouterNode("a"), RouterNode("c")], only).shortest_path("a", "c") is None


def test_no_traversal_router_is_an_end_but_never_a_middle_hop():
    routers = [RouterNode("a"), RouterNode("b", no_traversal=True), RouterNode("c")]
    links = [LinkEdge("ab", "a", "b", 1), LinkEdge("bc", "b", "c", 1)]
    graph = Graph(routers, links)
    assert graph.shortest_path("a", "c") is None
    assert graph.shortest_path("a", "b").nodes == ("a", "b")
    assert graph.shortest_path("b", "c").nodes == ("b", "c")
    longer = Graph([*routers, RouterNode("d")], [*links, LinkEdge("ad", "a", "d", 50), LinkEdge("dc", "d", "c", 50)])
    assert longer.shortest_path("a", "c").nodes == ("a", "d", "c")


def test_disabled_router_is_never_used():
    routers = [RouterNode("a"), RouterNode("b", disabled=True), RouterNode("c")]
    links = [LinkEdge("ab", "a", "b", 1), LinkEdge("bc", "b", "c", 1)]
    graph = Graph(routers, links)
    assert graph.shortest_path("a", "c") is None
    assert graph.shortest_path("a", "b") is None
    assert graph.shortest_path("b", "c") is None


def test_large_costs_do_not_wrap():
    big = 2**31 - 1
    routers = [RouterNode("a", big), RouterNode("b", big), RouterNode("c", big), RouterNode("d", 0)]
    links = [LinkEdge("ab", "a", "b", big), LinkEdge("bc", "b", "c", big), LinkEdge("ad", "a", "d", 3 * big),
             LinkEdge("dc", "d", "c", 3 * big)]
    path = Graph(routers, links).shortest_path("a", "c")
    assert path is not None
    # via b: 3 router costs + 2 links = 5 * big; via d: 2 routers + 6 * big = 8 * big
    assert path.nodes == ("a", "b", "c") and path.cost == 5 * big > 2**32
    # 65,536 (one past 16 bits) is more than 65,535, not 0
    assert Graph([RouterNode("x"), RouterNode("y", 65536), RouterNode("z", 65535), RouterNode("w")],
                 [LinkEdge("xy", "x", "y", 0), LinkEdge("yw", "y", "w", 0), LinkEdge("xz", "x", "z", 0),
                  LinkEdge("zw", "z", "w", 0)]).shortest_path("x", "w").nodes == ("x", "z", "w")


def test_ties_are_stable_and_prefer_fewer_hops():
    routers = [RouterNode(r) for r in "abcd"]
    links = [LinkEdge("l2", "a", "b", 1), LinkEdge("l1", "a", "b", 1), LinkEdge("bd", "b", "d", 1),
             LinkEdge("ac", "a", "c", 1), LinkEdge("cd", "c", "d", 1), LinkEdge("ad", "a", "d", 2)]
    path = Graph(routers, links).shortest_path("a", "d")
    assert path is not None and path.links == ("ad",)
    assert Graph(routers, links).shortest_path("a", "b").links == ("l1",)


def test_matches_brute_force_on_random_graphs():
    rng = random.Random(7)
    for _ in range(50):
        ids = [f"r{i}" for i in range(6)]
        routers = [RouterNode(r, rng.randrange(0, 5), no_traversal=rng.random() < 0.2) for r in ids]
        links = [LinkEdge(f"{a}-{b}", a, b, rng.randrange(0, 20), down=rng.random() < 0.2)
                 for i, a in enumerate(ids) for b in ids[i + 1:] if rng.random() < 0.6]
        graph = Graph(routers, links)
        got = graph.shortest_path("r0", "r5")
        want = _brute_force(routers, links, "r0", "r5")
        assert (got.cost if got else None) == want


def _brute_force(routers, links, src, dst):  # type: ignore[no-untyped-def]
    by_id = {r.id: r for r in routers}
    best = None

    def walk(node, seen, cost):  # type: ignore[no-untyped-def]
        nonlocal best
        if node == dst:
            best = cost if best is None else min(best, cost)
            return
        if node != src and by_id[node].no_traversal:
            return
        for link in links:
            if link.down or node not in (link.src, link.dst):
                continue
            peer = link.dst if node == link.src else link.src
            if peer not in seen:
                walk(peer, seen | {peer}, cost + link.cost + by_id[peer].cost)

    walk(src, {src}, by_id[src].cost)
    return best


def test_path_cost_prices_a_live_path_and_refuses_an_unusable_one():
    routers = [RouterNode("a", 2), RouterNode("b", 3), RouterNode("c", 4), RouterNode("t", 0, no_traversal=True),
               RouterNode("x", disabled=True)]
    links = [LinkEdge("ab", "a", "b", 10), LinkEdge("bc", "b", "c", 20), LinkEdge("ac", "a", "c", 7, down=True),
             LinkEdge("at", "a", "t", 1), LinkEdge("tc", "t", "c", 1), LinkEdge("ax", "a", "x", 1)]
    graph = Graph(routers, links)
    assert graph.path_cost(("a", "b", "c"), ("ab", "bc")) == 2 + 3 + 4 + 10 + 20
    assert graph.path_cost(("c", "b", "a"), ("bc", "ab")) == 39  # links carry both ways
    assert graph.path_cost(("a",), ()) == 2
    assert graph.path_cost(("a", "c"), ("ac",)) is None  # down link
    assert graph.path_cost(("a", "t", "c"), ("at", "tc")) is None  # no-traversal router in the middle
    assert graph.path_cost(("a", "t"), ("at",)) == 3  # ... but fine as an end
    assert graph.path_cost(("a", "x"), ("ax",)) is None  # disabled router
    assert graph.path_cost(("a", "c"), ("ab",)) is None  # link does not join these routers
    assert graph.path_cost(("a", "b", "c"), ("ab",)) is None  # lengths disagree
    assert graph.path_cost(("a", "z"), ("az",)) is None  # unknown router


def test_searches_are_remembered_per_source_within_one_graph():
    graph = Graph([RouterNode("a"), RouterNode("b")], mesh("a", "b"))
    assert graph.search("a") is graph.search("a")
    assert graph.search("b") is not graph.search("a")
    assert graph.shortest_path("b", "a").nodes == ("b", "a")
