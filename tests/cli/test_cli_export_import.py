"""``ziti-aio export`` / ``import``: a network as one file, re-created in a fresh network; bad files change
nothing and list every problem."""

import json

import pytest
from cli_helpers import Cli
from cryptography.hazmat.primitives.serialization import Encoding

from ziti_aio.pki.ca import CertAuthority
from ziti_aio.testing.controller import ADMIN_PASSWORD, ADMIN_USERNAME, create, open_controller

SECRET_KEYS = {"token", "jwt", "enrollmentJwt", "enrollmentToken", "password", "fingerprint", "verificationToken",
               "enrollment", "isOnline", "id", "createdAt", "updatedAt", "certPemFingerprint"}


async def _populate(admin):
    ct = await create(admin, "config-types", {"name": "my.v1", "schema": {"type": "object"}})
    await create(admin, "configs", {"name": "web-cfg", "configTypeId": ct, "data": {"port": 80}})
    await create(admin, "services", {"name": "web", "configs": ["web-cfg"], "roleAttributes": ["public"],
                                     "tags": {"team": "a"}})
    await create(admin, "services", {"name": "db", "encryptionRequired": False})
    alice = await create(admin, "identities", {"name": "alice", "type": "User", "isAdmin": False,
                                               "roleAttributes": ["staff"], "enrollment": {"ott": True}})
    web_id = (await admin.get("/edge/management/v1/services", params={"filter": 'name="web"'})).json()["data"][0]["id"]
    await create(admin, "identities", {"name": "host", "type": "Device", "isAdmin": False,
                                       "serviceHostingCosts": {web_id: 5}, "enrollment": {"ott": True}})
    er = await create(admin, "edge-routers", {"name": "er1", "roleAttributes": ["edge"], "isTunnelerEnabled": True})
    await create(admin, "transit-routers", {"name": "tr1", "cost": 3})
    await create(admin, "service-policies", {"name": "dial-web", "type": "Dial", "semantic": "AnyOf",
                                             "identityRoles": [f"@{alice}", "#staff"], "serviceRoles": ["@web"]})
    await create(admin, "edge-router-policies", {"name": "all-er", "identityRoles": ["#all"],
                                                 "edgeRouterRoles": [f"@{er}"]})
    await create(admin, "service-edge-router-policies", {"name": "serp", "serviceRoles": ["#all"],
                                                         "edgeRouterRoles": ["#edge"]})
    pem = CertAuthority.create_root("third-party").cert.public_bytes(Encoding.PEM).decode()
    await create(admin, "cas", {"name": "ca1", "certPem": pem, "isAuthEnabled": True,
                                "isAutoCaEnrollmentEnabled": False, "isOttCaEnrollmentEnabled": True,
                                "identityRoles": ["from-ca"]})


def _keys(value):
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


async def test_export_then_import_into_a_fresh_network(cli, controller, admin, tmp_path):
    await _populate(admin)
    await cli("login", controller.url, "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD, "-y")
    doc = json.loads((await cli("export")).output)
    entries = {c: [e for e in v] for c, v in doc.items() if isinstance(v, list)}
    assert not (_keys(entries) - {"data", "schema", "tags", "appData"}) & SECRET_KEYS
    assert [e["name"] for e in doc["identities"]] == ["alice", "host"]
    assert doc["identities"][1]["serviceHostingCosts"] == {"web": 5}
    assert doc["services"][1]["configs"] == ["web-cfg"]
    assert doc["configs"][0]["configTypeId"] == "my.v1"
    assert doc["service-policies"][0]["identityRoles"] == ["@alice", "#staff"]
    assert doc["edge-router-policies"] == [{"name": "all-er", "semantic": "AllOf", "identityRoles": ["#all"],
                                            "edgeRouterRoles": ["@er1"]}]
    assert [r["name"] for r in doc["edge-routers"]] == ["er1"]
    assert [r["name"] for r in doc["transit-routers"]] == ["tr1"]
    assert "BEGIN CERTIFICATE" in doc["cas"][0]["certPem"]
    network = tmp_path / "network.json"
    network.write_text(json.dumps(doc))

    async with open_controller(tmp_path / "fresh") as fresh:
        other = Cli(tmp_path / "other-cli")
        await other("login", fresh.url, "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD, "-y")
        dry = await other("import", str(network), "--dry-run")
        assert "would create services 'web'" in dry.output
        assert json.loads((await other("export")).output)["services"] == []
        done = await other("import", str(network))
        assert "create service-policies 'dial-web'" in done.output
        assert json.loads((await other("export")).output) == doc
        again = await other("import", str(network))
        assert again.output.strip().splitlines()[-1] == f"changed 0, unchanged {sum(map(len, entries.values()))}"
        assert json.loads((await other("export")).output) == doc


async def test_conflicts_stop_the_import_unless_overwritten(cli, controller, admin, tmp_path):
    await create(admin, "services", {"name": "web", "maxIdleTimeMillis": 10})
    await cli("login", controller.url, "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD, "-y")
    network = tmp_path / "n.json"
    network.write_text(json.dumps({"format": "ziti-aio/network", "version": 1,
                                   "services": [{"name": "web", "maxIdleTimeMillis": 20}, {"name": "new"}]}))
    result = await cli("import", str(network), code=1)
    assert "conflict: services 'web' exists with other maxIdleTimeMillis" in result.output
    assert "nothing was changed" in result.output
    assert [s["name"] for s in json.loads((await cli("export")).output)["services"]] == ["web"]
    await cli("import", str(network), "--overwrite")
    services = json.loads((await cli("export")).output)["services"]
    assert [(s["name"], s.get("maxIdleTimeMillis")) for s in services] == [("new", 0), ("web", 20)]


@pytest.mark.parametrize(("doc", "expected"), [
    ({"format": "ziti-aio/network", "version": 1,
      "services": [{"name": "a"}, {"name": "a"}],
      "service-policies": [{"name": "p", "type": "Dial", "identityRoles": ["@nobody"], "serviceRoles": ["@a"]}],
      "configs": [{"name": "c", "configTypeId": "missing.v1", "data": {}}],
      "identities": [{"name": "i", "isAdmin": "yes", "colour": "red"}, {"nome": "x"}],
      "widgets": []},
     ["widgets: not a collection that can be imported",
      "configs 'c' names 'missing.v1', which is not among the config-types",
      "services 'a': duplicate name",
      "identities 'i': unknown field 'colour'",
      "identities 'i': isAdmin must be true or false",
      "identities[1]: name is required",
      "service-policies 'p' names 'nobody', which is not among the identities"]),
    ([1, 2], ["the file must hold a JSON object"]),
    ({"services": "web"}, ["format: must be 'ziti-aio/network'", "version: must be 1", "services: must be a list"]),
])
async def test_a_bad_file_changes_nothing_and_lists_every_problem(cli, controller, tmp_path, doc, expected):
    await cli("login", controller.url, "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD, "-y")
    before = (await cli("export")).output
    network = tmp_path / "bad.json"
    network.write_text(json.dumps(doc))
    result = await cli("import", str(network), code=1)
    problems = [line for line in result.output.splitlines() if line.startswith("problem: ")]
    assert len(problems) == len(expected), result.output
    for text in expected:
        assert any(text in p for p in problems), (text, result.output)
    assert "nothing was changed" in result.output
    assert (await cli("export")).output == before
    (tmp_path / "not.json").write_text("{")
    assert "is not JSON" in (await cli("import", str(tmp_path / "not.json"), code=1)).output


async def test_auth_policies_and_signers_travel_by_name(cli, controller, admin, tmp_path):
    if (await admin.get("/edge/management/v1/auth-policies")).status_code == 404:
        pytest.skip("this controller serves no auth policies")
    signer = await create(admin, "external-jwt-signers", {"name": "corp-idp", "issuer": "https://idp.example",
                                                          "audience": "ziti", "enabled": True,
                                                          "jwksEndpoint": "https://idp.example/jwks"})
    policy = await create(admin, "auth-policies", {
        "name": "sso-only", "primary": {"cert": {"allowed": False, "allowExpiredCerts": False},
                                        "extJwt": {"allowed": True, "allowedSigners": [signer]}},
        "secondary": {"requireTotp": False, "requireExtJwtSigner": signer}})
    await create(admin, "identities", {"name": "worker", "type": "User", "isAdmin": False, "authPolicyId": policy})
    await cli("login", controller.url, "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD, "-y")
    doc = json.loads((await cli("export")).output)
    [exported_policy] = doc["auth-policies"]
    assert exported_policy["primary"]["extJwt"]["allowedSigners"] == ["corp-idp"]
    assert exported_policy["secondary"]["requireExtJwtSigner"] == "corp-idp"
    assert [i["authPolicyId"] for i in doc["identities"] if i["name"] == "worker"] == ["sso-only"]
    assert [s["name"] for s in doc["external-jwt-signers"]] == ["corp-idp"]
    network = tmp_path / "network.json"
    network.write_text(json.dumps(doc))
    async with open_controller(tmp_path / "fresh") as fresh:
        other = Cli(tmp_path / "other-cli")
        await other("login", fresh.url, "-u", ADMIN_USERNAME, "-p", ADMIN_PASSWORD, "-y")
        await other("import", str(network))
        assert json.loads((await other("export")).output) == doc
