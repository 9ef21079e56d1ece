"""Service, edge router and service edge router policies through the CLI; ``@name`` roles become ``@id``."""

import json

from cli_helpers import created_id, find

from ziti_aio.testing.controller import MANAGEMENT


async def test_service_policy_converts_names_to_ids(logged_in, admin):
    await logged_in("create", "identity", "alice", "-a", "clients")
    await logged_in("create", "identity", "bob", "-a", "clients")
    await logged_in("create", "service", "echo", "-a", "echo")
    alice, bob = await find(admin, "identities", "alice"), await find(admin, "identities", "bob")
    echo = await find(admin, "services", "echo")

    result = await logged_in("create", "sp", "echo-dial", "dial", "--identity-roles", "@alice",
                             "--identity-roles", f"@{bob['id']}", "--service-roles", "#echo")
    policy = await find(admin, "service-policies", "echo-dial")
    assert created_id(result, "service policy", "echo-dial") == policy["id"]
    assert policy["identityRoles"] == [f"@{alice['id']}", f"@{bob['id']}"]
    assert (policy["serviceRoles"], policy["semantic"], policy["type"]) == (["#echo"], "AllOf", "Dial")

    table = (await logged_in("list", "sps")).output.splitlines()
    assert table[1].split()[:4] == [policy["id"], "echo-dial", "Dial", "AllOf"]
    assert "@alice, @bob" in table[1] and "#echo" in table[1]
    visible = (await logged_in("list", "identity", "services", "alice")).output
    assert echo["id"] in visible
    members = json.loads((await logged_in("list", "service-policy", "identities", "echo-dial", "-j")).output)
    assert sorted(i["name"] for i in members["data"]) == ["alice", "bob"]
    assert "echo-dial" in (await logged_in("list", "service", "service-policies", "echo")).output

    await logged_in("update", "service-policy", "echo-dial", "--identity-roles", "#clients",
                    "--semantic", "anyof", "-n", "echo-dial-2")
    policy = (await admin.get(f"{MANAGEMENT}/service-policies/{policy['id']}")).json()["data"]
    assert (policy["name"], policy["identityRoles"], policy["semantic"]) == ("echo-dial-2", ["#clients"], "AnyOf")
    assert policy["serviceRoles"] == ["#echo"]

    result = await logged_in("create", "sp", "bad", "Bind", "--identity-roles", "@ghost", code=1)
    assert result.stderr == "error: no identity found with id or name 'ghost'\n"
    result = await logged_in("create", "sp", "bad", "Listen", code=1)
    assert "Dial or Bind" in result.stderr
    result = await logged_in("create", "sp", "bad", "Bind", "--semantic", "OneOf", code=1)
    assert "--semantic must be AllOf or AnyOf" in result.stderr
    assert await find(admin, "service-policies", "bad") is None

    await logged_in("delete", "sp", "echo-dial-2")
    assert (await admin.get(f"{MANAGEMENT}/service-policies")).json()["data"] == []


async def test_edge_router_policies(logged_in, admin):
    await logged_in("create", "identity", "alice")
    await logged_in("create", "edge-router", "r1", "-a", "public")
    alice, r1 = await find(admin, "identities", "alice"), await find(admin, "edge-routers", "r1")

    await logged_in("create", "erp", "alice-public", "--edge-router-roles", "#public",
                    "--identity-roles", "@alice", "--semantic", "AllOf")
    policy = await find(admin, "edge-router-policies", "alice-public")
    assert (policy["edgeRouterRoles"], policy["identityRoles"], policy["semantic"]) == (
        ["#public"], [f"@{alice['id']}"], "AllOf")

    table = (await logged_in("list", "erps", 'name="alice-public"')).output.splitlines()
    assert table[0].split() == ["ID", "NAME", "SEMANTIC", "EDGE", "ROUTER", "ROLES", "IDENTITY", "ROLES"]
    assert table[1].split() == [policy["id"], "alice-public", "AllOf", "#public", "@alice"]
    assert r1["id"] in (await logged_in("list", "identity", "edge-routers", "alice")).output
    assert "alice" in (await logged_in("list", "edge-router-policy", "identities", "alice-public")).output

    await logged_in("update", "erp", "alice-public", "--edge-router-roles", "@r1", "--identity-roles", "#all")
    policy = (await admin.get(f"{MANAGEMENT}/edge-router-policies/{policy['id']}")).json()["data"]
    assert (policy["edgeRouterRoles"], policy["identityRoles"]) == ([f"@{r1['id']}"], ["#all"])

    await logged_in("delete", "edge-router-policy", policy["id"])
    assert (await admin.get(f"{MANAGEMENT}/edge-router-policies/{policy['id']}")).status_code == 404


async def test_service_edge_router_policies(logged_in, admin):
    await logged_in("create", "service", "echo", "-a", "echo")
    await logged_in("create", "edge-router", "r1")
    echo, r1 = await find(admin, "services", "echo"), await find(admin, "edge-routers", "r1")

    await logged_in("create", "serp", "echo-anywhere", "--edge-router-roles", "#all", "--service-roles", "@echo")
    policy = await find(admin, "service-edge-router-policies", "echo-anywhere")
    assert (policy["edgeRouterRoles"], policy["serviceRoles"], policy["semantic"]) == (
        ["#all"], [f"@{echo['id']}"], "AnyOf")

    table = (await logged_in("list", "serps")).output.splitlines()
    assert table[1].split() == [policy["id"], "echo-anywhere", "AnyOf", "#all", "@echo"]
    assert r1["id"] in (await logged_in("list", "service", "edge-routers", "echo")).output
    assert "echo-anywhere" in (await logged_in("list", "edge-router", "service-edge-router-policies", "r1")).output

    await logged_in("update", "service-edge-router-policy", "echo-anywhere", "--service-roles", "#echo",
                    "--semantic", "AllOf")
    policy = (await admin.get(f"{MANAGEMENT}/service-edge-router-policies/{policy['id']}")).json()["data"]
    assert (policy["serviceRoles"], policy["semantic"], policy["edgeRouterRoles"]) == (["#echo"], "AllOf", ["#all"])

    await logged_in("delete", "serp", "echo-anywhere")
    assert (await admin.get(f"{MANAGEMENT}/service-edge-router-policies")).json()["data"] == []


async def test_service_policy_semantic_defaults_to_all_of_as_ziti(logged_in, admin):
    """ziti's ``create service-policy`` defaults to AllOf: '#a,#b' grants only identities that have both."""
    await logged_in("create", "identity", "both", "-a", "a,b")
    await logged_in("create", "identity", "only-a", "-a", "a")
    await logged_in("create", "service", "svc", "-a", "svc")
    await logged_in("create", "sp", "narrow", "Dial", "--identity-roles", "#a,#b", "--service-roles", "#svc")

    assert (await find(admin, "service-policies", "narrow"))["semantic"] == "AllOf"
    assert "svc" in (await logged_in("list", "identity", "services", "both")).output
    assert "svc" not in (await logged_in("list", "identity", "services", "only-a")).output
    await logged_in("create", "erp", "erp-default")
    await logged_in("create", "serp", "serp-default")
    assert (await find(admin, "edge-router-policies", "erp-default"))["semantic"] == "AnyOf"
    assert (await find(admin, "service-edge-router-policies", "serp-default"))["semantic"] == "AnyOf"
