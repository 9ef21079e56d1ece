"""Services, configs, config types, edge routers and terminators through the CLI, checked through the API."""

import json

from cli_helpers import created_id, find

from ziti_aio.testing.controller import MANAGEMENT

INTERCEPT = '{"protocols":["tcp"],"addresses":["echo.ziti"],"portRanges":[{"low":80,"high":80}]}'
SCHEMA = '{"type":"object","properties":{"port":{"type":"integer"}},"additionalProperties":false}'


async def test_config_types_configs_and_services(logged_in, admin, tmp_path):
    result = await logged_in("create", "config-type", "my.v1", SCHEMA)
    my_type = await find(admin, "config-types", "my.v1")
    assert created_id(result, "config type", "my.v1") == my_type["id"]
    assert my_type["schema"]["properties"]["port"] == {"type": "integer"}
    await logged_in("create", "config", "echo-intercept", "intercept.v1", INTERCEPT)
    host_file = tmp_path / "host.json"
    host_file.write_text('{"protocol":"tcp","address":"localhost","port":8080}')
    await logged_in("create", "config", "echo-host", "host.v1", "-f", str(host_file))
    await logged_in("create", "config", "mine", my_type["id"], '{"port": 1}')

    result = await logged_in("create", "service", "echo", "-c", "echo-intercept,echo-host", "-a", "echo",
                             "-e", "OFF", "--terminator-strategy", "random")
    echo = await find(admin, "services", "echo")
    assert created_id(result, "service", "echo") == echo["id"]
    intercept, host = await find(admin, "configs", "echo-intercept"), await find(admin, "configs", "echo-host")
    assert echo["configs"] == [intercept["id"], host["id"]]
    assert (echo["encryptionRequired"], echo["terminatorStrategy"], echo["roleAttributes"]) == (
        False, "random", ["echo"])
    assert host["data"] == {"protocol": "tcp", "address": "localhost", "port": 8080}

    services = (await logged_in("list", "services")).output.splitlines()
    assert services[0].split()[:2] == ["ID", "NAME"]
    assert any(line.split()[:5] == [echo["id"], "echo", "false", "random", "echo"] for line in services)
    configs = (await logged_in("list", "configs")).output.splitlines()
    assert any(line.split() == [host["id"], "echo-host", "host.v1"] for line in configs)
    types = json.loads((await logged_in("list", "config-types", 'name="my.v1"', "-j")).output)
    assert [t["id"] for t in types["data"]] == [my_type["id"]]
    related = (await logged_in("list", "service", "configs", "echo")).output
    assert intercept["id"] in related and host["id"] in related and related.endswith("results: 1-2 of 2\n")
    assert "mine" in (await logged_in("list", "config-type", "configs", "my.v1")).output

    await logged_in("update", "service", "echo", "-n", "echo2", "-e", "ON", "-c", "echo-host", "-a", "")
    echo2 = (await admin.get(f"{MANAGEMENT}/services/{echo['id']}")).json()["data"]
    assert (echo2["name"], echo2["encryptionRequired"], echo2["configs"], echo2["roleAttributes"]) == (
        "echo2", True, [host["id"]], [])
    assert echo2["terminatorStrategy"] == "random"
    await logged_in("update", "config", "echo-host", "--data", '{"protocol":"udp","address":"h","port":53}')
    assert (await find(admin, "configs", "echo-host"))["data"]["protocol"] == "udp"
    result = await logged_in("update", "config", "mine", "--data", '{"port": "x"}', code=1)
    assert result.stderr.startswith("error: COULD_NOT_VALIDATE: ")

    result = await logged_in("delete", "config", "echo-host", code=1)
    assert result.stderr.startswith("error: CONFLICT_CANNOT_MODIFY_REFERENCED: ")
    await logged_in("delete", "service", "echo2")
    result = await logged_in("delete", "config", "echo-host", "echo-intercept", "mine")
    assert result.output.splitlines() == ["deleted config echo-host", "deleted config echo-intercept",
                                          "deleted config mine"]
    await logged_in("delete", "config-type", "my.v1")
    for collection, ident in (("services", echo["id"]), ("configs", host["id"]), ("config-types", my_type["id"])):
        assert (await admin.get(f"{MANAGEMENT}/{collection}/{ident}")).status_code == 404


async def test_config_input_errors(logged_in, admin):
    result = await logged_in("create", "config", "c", "intercept.v1", code=1)
    assert "either as an argument or with a file option" in result.stderr
    result = await logged_in("create", "config", "c", "intercept.v1", "{not json", code=1)
    assert "not valid JSON" in result.stderr
    result = await logged_in("create", "config", "c", "no.such.type", "{}", code=1)
    assert result.stderr.startswith("error: COULD_NOT_VALIDATE: ")
    result = await logged_in("create", "service", "s", "-e", "maybe", code=1)
    assert "--encryption must be ON or OFF" in result.stderr
    assert await find(admin, "configs", "c") is None
    assert await find(admin, "services", "s") is None


async def test_edge_router_lifecycle(logged_in, admin, tmp_path):
    jwt_path = tmp_path / "r1.jwt"
    result = await logged_in("create", "er", "r1", "-o", str(jwt_path), "-a", "public", "-t", "--cost", "7")
    r1 = await find(admin, "edge-routers", "r1")
    assert created_id(result, "edge router", "r1") == r1["id"]
    assert (r1["roleAttributes"], r1["isTunnelerEnabled"], r1["cost"]) == (["public"], True, 7)
    assert (r1["noTraversal"], r1["disabled"]) == (False, False)
    assert jwt_path.read_text() == r1["enrollmentJwt"]

    table = (await logged_in("list", "edge-routers")).output.splitlines()
    assert table[0].split()[:4] == ["ID", "NAME", "IS", "ONLINE"]
    assert table[1].split() == [r1["id"], "r1", "false", "false", "7", "true", "public"]
    assert (await logged_in("list", "edge-router", "identities", "r1")).output.endswith("results: 1-1 of 1\n")

    await logged_in("update", "edge-router", "r1", "--cost", "9", "--no-traversal", "--disabled", "-a", "core")
    updated = (await admin.get(f"{MANAGEMENT}/edge-routers/{r1['id']}")).json()["data"]
    assert (updated["cost"], updated["noTraversal"], updated["disabled"], updated["roleAttributes"]) == (
        9, True, True, ["core"])
    await logged_in("update", "er", r1["id"], "--traversal", "--enabled", "-n", "r1b")
    updated = (await admin.get(f"{MANAGEMENT}/edge-routers/{r1['id']}")).json()["data"]
    assert (updated["name"], updated["cost"], updated["noTraversal"], updated["disabled"]) == ("r1b", 9, False, False)

    await logged_in("create", "edge-router", "r2", "--no-traversal", "--disabled")
    r2 = await find(admin, "edge-routers", "r2")
    assert (r2["noTraversal"], r2["disabled"], r2["isTunnelerEnabled"]) == (True, True, False)

    result = await logged_in("delete", "er", "r1b", "r2")
    assert result.output.splitlines() == ["deleted edge router r1b", "deleted edge router r2"]
    assert (await admin.get(f"{MANAGEMENT}/edge-routers")).json()["data"] == []
    assert await find(admin, "identities", "r1") is None


async def test_terminators(logged_in, admin):
    await logged_in("create", "service", "web")
    await logged_in("create", "edge-router", "r1")
    web, r1 = await find(admin, "services", "web"), await find(admin, "edge-routers", "r1")

    result = await logged_in("create", "terminator", "web", "r1", "tcp:localhost:8080")
    terminator_id = result.output.removeprefix("New terminator created with id: ").strip()
    terminator = (await admin.get(f"{MANAGEMENT}/terminators/{terminator_id}")).json()["data"]
    assert (terminator["serviceId"], terminator["routerId"]) == (web["id"], r1["id"])
    assert (terminator["address"], terminator["binding"]) == ("tcp:localhost:8080", "transport")

    table = (await logged_in("list", "terminators")).output.splitlines()
    assert table[1].split()[:5] == [terminator_id, "web", "r1", "transport", "tcp:localhost:8080"]
    related = json.loads((await logged_in("list", "service", "terminators", "web", "-j")).output)
    assert [t["id"] for t in related["data"]] == [terminator_id]

    result = await logged_in("create", "terminator", "nope", "r1", "tcp:x:1", code=1)
    assert result.stderr == "error: no service found with id or name 'nope'\n"
    await logged_in("delete", "terminator", terminator_id)
    assert (await admin.get(f"{MANAGEMENT}/terminators/{terminator_id}")).status_code == 404
