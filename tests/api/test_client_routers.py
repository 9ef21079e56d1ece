"""Edge Client API reads a current libziti (1.x) makes that 0.29.3 did not (docs/sdk-1x.md)."""

import json

import jwt
from cryptography.hazmat.primitives.serialization import Encoding

from ziti_aio.pki.bundle import fingerprint_sha1
from ziti_aio.testing.controller import CLIENT, MANAGEMENT, create
from ziti_aio.testing.network import open_network
from ziti_aio.testing.waiting import wait_until


async def test_a_service_lists_the_routers_the_caller_may_use_for_it(tmp_path):
    async with open_network(tmp_path, routers=1) as net:
        admin, router = net.admin, net.routers[0]
        service = await net.create_service("svc")
        hidden = await net.create_service("hidden")
        await create(admin, "service-policies", {"name": "svc-dial", "type": "Dial", "identityRoles": ["#all"],
                                                 "serviceRoles": [f"@{service}"]})

        async def online_routers() -> list:
            resp = await admin.get(f"{CLIENT}/services/{service}/edge-routers")
            assert resp.status_code == 200, resp.text
            return [r for r in resp.json()["data"]["edgeRouters"] if r["isOnline"]]

        routers = await wait_until(online_routers, 20, what="the online router listed for the service")
        assert [r["name"] for r in routers] == [router.name]
        assert routers[0]["supportedProtocols"]["tls"].startswith("tls://")

        denied = await admin.get(f"{CLIENT}/services/{hidden}/edge-routers")
        assert denied.status_code == 404, "a service the caller may not use is not there"
        missing = await admin.get(f"{CLIENT}/services/nosuch/edge-routers")
        assert missing.status_code == 404

        await admin.patch(f"/edge/management/v1/edge-routers/{router.id}", json={"disabled": True})
        emptied = await admin.get(f"{CLIENT}/services/{service}/edge-routers")
        assert emptied.json()["data"]["edgeRouters"] == [], "a disabled router is not offered"


async def test_external_jwt_signers_are_listed_before_login(tmp_path):
    async with open_network(tmp_path, routers=0) as net:
        async with net.controller.client() as anonymous:
            resp = await anonymous.get(f"{CLIENT}/external-jwt-signers")
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["data"] == []
        assert body["meta"]["pagination"]["totalCount"] == 0


async def _user_client(controller, admin, name: str):
    """A client logged in (client API, password) as a new non-admin identity ``name``."""
    user = await create(admin, "identities", {"name": name, "type": "User"})
    await create(admin, "authenticators", {"method": "updb", "identityId": user, "username": name,
                                           "password": "client-api-pw-1"})
    async with controller.client() as anonymous:
        login = await anonymous.post(f"{CLIENT}/authenticate", params={"method": "password"},
                                     json={"username": name, "password": "client-api-pw-1"})
    assert login.status_code == 200, login.text
    return user, controller.client(token=login.json()["data"]["token"])


async def test_a_session_is_read_back_only_by_its_identity(controller, admin):
    service = await create(admin, "services", {"name": "own-svc"})
    await create(admin, "service-policies", {"name": "own-dial", "type": "Dial", "identityRoles": ["#all"],
                                             "serviceRoles": ["#all"]})
    await create(admin, "edge-routers", {"name": "own-router"})
    await create(admin, "edge-router-policies", {"name": "own-erp", "identityRoles": ["#all"],
                                                 "edgeRouterRoles": ["#all"]})
    await create(admin, "service-edge-router-policies", {"name": "own-serp", "serviceRoles": ["#all"],
                                                         "edgeRouterRoles": ["#all"]})
    _, other = await _user_client(controller, admin, "other-user")
    async with other:
        mine = await other.post(f"{CLIENT}/sessions", json={"serviceId": service, "type": "Dial"})
        assert mine.status_code == 201, mine.text
        created_session = mine.json()["data"]
        read = await other.get(f"{CLIENT}/sessions/{created_session['id']}")
        assert read.status_code == 200, read.text
        assert read.json()["data"]["token"] == created_session["token"], "the owner sees its token"
        assert read.json()["data"]["serviceId"] == service
        theirs = await admin.post(f"{CLIENT}/sessions", json={"serviceId": service, "type": "Dial"})
        hidden = await other.get(f"{CLIENT}/sessions/{theirs.json()['data']['id']}")
        assert hidden.status_code == 404, "another identity's session is not there"
        assert hidden.json()["error"]["code"] == "NOT_FOUND"
        assert (await other.get(f"{CLIENT}/sessions/nosuch")).status_code == 404
    async with controller.client() as anonymous:
        assert (await anonymous.get(f"{CLIENT}/sessions/{created_session['id']}")).status_code == 401


async def test_terminators_are_listed_for_a_usable_service_only(controller, admin):
    usable = await create(admin, "services", {"name": "term-usable"})
    hidden = await create(admin, "services", {"name": "term-hidden"})
    router = await create(admin, "edge-routers", {"name": "term-router"})
    for service in (usable, hidden):
        await create(admin, "terminators", {"service": service, "router": router, "binding": "transport",
                                            "address": "tcp:10.0.0.1:80", "identity": "host-a"})
    user, client = await _user_client(controller, admin, "term-user")
    await create(admin, "service-policies", {"name": "term-dial", "type": "Dial", "identityRoles": [f"@{user}"],
                                             "serviceRoles": [f"@{usable}"]})
    async with client:
        listed = await client.get(f"{CLIENT}/services/{usable}/terminators")
        assert listed.status_code == 200, listed.text
        [terminator] = listed.json()["data"]
        assert (terminator["serviceId"], terminator["routerId"], terminator["identity"]) == (usable, router, "host-a")
        assert "address" not in terminator, "a client does not learn where the service is hosted"
        assert listed.json()["meta"]["pagination"]["totalCount"] == 1
        by_identity = await client.get(f"{CLIENT}/services/{usable}/terminators",
                                       params={"filter": 'identity="host-a"'})
        assert len(by_identity.json()["data"]) == 1
        probe = await client.get(f"{CLIENT}/services/{usable}/terminators",
                                 params={"filter": 'address="tcp:10.0.0.1:80"'})
        assert probe.status_code == 400, "the address cannot be probed through a filter"
        for other in (hidden, "nosuch"):
            refused = await client.get(f"{CLIENT}/services/{other}/terminators")
            assert refused.status_code == 404, f"{other}: {refused.text}"


async def test_controllers_list_this_controller(controller, admin):
    info = controller.info
    async with controller.client() as anonymous:
        assert (await anonymous.get(f"{CLIENT}/controllers")).status_code == 401
    client_view = await admin.get(f"{CLIENT}/controllers")
    assert client_view.status_code == 200, client_view.text
    [entry] = client_view.json()["data"]
    assert entry["isOnline"] is True and entry["id"] == info.instance_id
    assert entry["apiAddresses"] == {"edge-client": [{"url": f"{info.url}{CLIENT}", "version": "v1"}]}
    server_cert = controller.controller.pki.server_cert
    assert entry["certPem"] == server_cert.public_bytes(Encoding.PEM).decode()
    assert entry["fingerprint"] == fingerprint_sha1(server_cert)
    managed = (await admin.get(f"{MANAGEMENT}/controllers")).json()["data"][0]
    assert managed["apiAddresses"]["edge-management"] == [{"url": f"{info.url}{MANAGEMENT}", "version": "v1"}]
    _, user = await _user_client(controller, admin, "ctrl-user")
    async with user:
        assert (await user.get(f"{CLIENT}/controllers")).status_code == 200, "any session may list them"
        assert (await user.get(f"{MANAGEMENT}/controllers")).status_code == 401, "management needs admin rights"


async def test_enrollment_and_network_jwts_verify_with_the_published_key(controller, admin):
    device = await create(admin, "identities", {"name": "jwks-device", "type": "Device",
                                                "enrollment": {"ott": True}})
    enrollment_jwt = (await admin.get(f"{MANAGEMENT}/identities/{device}")).json()["data"]["enrollment"]["ott"]["jwt"]
    async with controller.client() as anonymous:
        jwks = (await anonymous.get(f"{CLIENT}/enroll/jwks")).json()
        networks = await anonymous.get(f"{CLIENT}/network-jwts")
    [key] = jwks["keys"]
    assert "d" not in key and key["kty"] == "RSA"
    assert key["kid"] == jwt.get_unverified_header(enrollment_jwt)["kid"]
    public_key = jwt.PyJWK(key).key
    claims = jwt.decode(enrollment_jwt, public_key, algorithms=[key["alg"]], options={"verify_aud": False})
    assert claims["em"] == "ott"
    [network] = networks.json()["data"]
    assert network["name"] == "default"
    network_claims = jwt.decode(network["token"], public_key, algorithms=[key["alg"]], audience="openziti-enroller")
    assert network_claims["em"] == "network" and network_claims["iss"] == controller.info.url
    assert "exp" not in network_claims
    again = (await admin.get(f"{MANAGEMENT}/network-jwts")).json()["data"][0]["token"]
    assert again == network["token"], "one network JWT per controller run"


async def test_informational_reads_say_what_is_served(controller, admin):
    async with controller.client() as anonymous:
        version = (await anonymous.get(f"{CLIENT}/version")).json()["data"]
        capabilities = (await anonymous.get(f"{CLIENT}/enumerated-capabilities")).json()["data"]
        protocols = (await anonymous.get(f"{CLIENT}/protocols")).json()["data"]
        specs = (await anonymous.get(f"{CLIENT}/specs")).json()["data"]
        detail = await anonymous.get(f"{CLIENT}/specs/edge-management")
        missing = await anonymous.get(f"{CLIENT}/specs/nosuch")
        body = await anonymous.get(f"{CLIENT}/specs/edge-client/spec")
    # OIDC login is served (docs/oidc.md); every controller is a Raft cluster, of one here (docs/ha.md)
    assert version["capabilities"] == ["OIDC_AUTH", "OIDC_AUTH_WITH_CSR", "HA_CONTROLLER"]
    assert version["apiVersions"]["edge-oidc"]["v1"]["path"] == "/oidc"
    assert set(capabilities) == {"OIDC_AUTH", "HA_CONTROLLER"}, "the enumeration, not what is enabled"
    assert protocols == {"https": {"address": controller.info.url.removeprefix("https://")}}
    assert [s["id"] for s in specs] == ["edge-client"]
    assert detail.json()["data"]["name"] == "edge-management"
    assert missing.status_code == 404
    outline = json.loads(body.json()["data"])
    assert outline["basePath"] == CLIENT
    assert set(outline["paths"]["/sessions/{id}"]) == {"get", "delete"}
    assert set(outline["paths"]["/current-identity/mfa"]) == {"get", "post", "delete"}, "what is served"
    assert not any(p.startswith("/identities") for p in outline["paths"]), "no management path"


async def test_each_api_root_answers_its_version(controller):
    async with controller.client() as anonymous:
        for base in (CLIENT, MANAGEMENT):
            root = await anonymous.get(f"{base}/")
            assert root.status_code == 200, f"{base}: {root.text}"
            assert root.json()["data"] == (await anonymous.get(f"{base}/version")).json()["data"]
