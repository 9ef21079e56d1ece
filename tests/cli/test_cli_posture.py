"""Posture checks through the CLI: one create command per type (ziti's arguments), list, delete, a service
policy's --posture-check-roles, and policy advice naming the checks."""

import json

from cli_helpers import created_id, find

from ziti_aio.testing.controller import MANAGEMENT

SHA512 = "cd" * 64


async def test_create_each_type_list_and_delete(logged_in, admin):
    made = {}
    for args in (("os", "modern", "--os", "linux:>=5.10", "-o", "Windows", "-a", "laptops"),
                 ("mac", "nic", "-m", "00:11:22:33:44:55,66:77:88:99:aa:bb"),
                 ("domain", "corp", "-d", "corp.example"),
                 ("process", "edr", "linux", "/opt/edr/agent", "-s", SHA512),
                 ("process-multi", "agents", "anyof", "linux,macos", "/opt/a,/opt/b", "-s", f"{SHA512}|{'ef' * 64}"),
                 ("mfa", "totp", "-s", "300", "-w", "--tags", "team=sec")):
        result = await logged_in("create", "posture-check", *args)
        made[args[1]] = created_id(result, "posture check", args[1])
    checks = {c["name"]: c for c in (await admin.get(f"{MANAGEMENT}/posture-checks")).json()["data"]}
    assert checks["modern"]["operatingSystems"] == [{"type": "Linux", "versions": [">=5.10"]},
                                                    {"type": "Windows", "versions": []}]
    assert checks["modern"]["roleAttributes"] == ["laptops"]
    assert checks["nic"]["macAddresses"] == ["00:11:22:33:44:55", "66:77:88:99:aa:bb"]
    assert checks["edr"]["process"] == {"osType": "Linux", "path": "/opt/edr/agent", "hashes": [SHA512]}
    assert checks["agents"]["semantic"] == "AnyOf"
    assert [p["osType"] for p in checks["agents"]["processes"]] == ["Linux", "macOS"]
    assert checks["agents"]["processes"][0]["hashes"] == [SHA512, "ef" * 64]
    assert (checks["totp"]["timeoutSeconds"], checks["totp"]["promptOnWake"]) == (300, True)
    assert checks["totp"]["tags"] == {"team": "sec"}

    table = (await logged_in("list", "posture-checks")).output
    assert made["edr"] in table and "PROCESS_MULTI" in table
    assert "laptops" in (await logged_in("list", "posture-check-role-attributes")).output

    result = await logged_in("create", "posture-check", "os", "bad", "--os", "beos", code=1)
    assert "OS type must be one of" in result.stderr
    result = await logged_in("create", "posture-check", "mac", "bad", "-m", "zz", code=1)
    assert "macAddresses[0]" in result.stderr
    result = await logged_in("create", "posture-check", "process-multi", "bad", "AllOf", "linux", "/a,/b", code=1)
    assert "one OS type per path" in result.stderr
    assert await find(admin, "posture-checks", "bad") is None

    await logged_in("delete", "posture-check", "nic", made["corp"])
    names = {c["name"] for c in (await admin.get(f"{MANAGEMENT}/posture-checks")).json()["data"]}
    assert names == {"modern", "edr", "agents", "totp"}


async def test_policy_roles_and_advice(logged_in, admin):
    await logged_in("create", "identity", "alice")
    await logged_in("create", "service", "echo")
    await logged_in("create", "posture-check", "domain", "corp", "-d", "corp.example")
    await logged_in("create", "sp", "echo-dial", "Dial", "--identity-roles", "@alice", "--service-roles", "@echo",
                    "--posture-check-roles", "@corp")
    corp = await find(admin, "posture-checks", "corp")
    assert (await find(admin, "service-policies", "echo-dial"))["postureCheckRoles"] == [f"@{corp['id']}"]
    advice = (await logged_in("policy-advice", "alice", "echo")).output
    assert "posture: echo-dial (Dial) needs corp (DOMAIN): failing" in advice, advice
    assert "passes the checks of no Dial policy" in advice
    answer = json.loads((await logged_in("policy-advice", "alice", "echo", "-j")).output)
    assert answer["data"]["posturePolicies"][0]["postureChecks"][0]["name"] == "corp"
