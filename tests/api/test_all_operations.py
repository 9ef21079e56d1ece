"""Every operation of OpenZiti's ``client.yml``, ``management.yml`` and ``fabric.yml``, called as an admin.

The walk runs against a live network (a controller, an online router, seeded entities of every kind), puts
seeded ids into the paths and a valid body into each write, and requires of every operation an answer that
is not "no such endpoint" / "no such collection" and not a 5xx; each 2xx body must validate against the
response schema the file declares. It prints the counts (answered / total per file). Without
``ZITI_AIO_OPENAPI_DIR`` it skips, saying why (tests/api/openapi.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.serialization import Encoding

from ziti_aio.common.api_paths import FABRIC
from ziti_aio.pki.ca import CertAuthority
from ziti_aio.pki.csr import create_csr
from ziti_aio.pki.keys import generate_key
from ziti_aio.testing.controller import ADMIN_PASSWORD, ADMIN_USERNAME, CLIENT, MANAGEMENT, create
from ziti_aio.testing.network import open_network

from .openapi import body_problems, needs_fabric_openapi, needs_openapi, schema
from .seeds import seed

if TYPE_CHECKING:
    import httpx

pytestmark = [needs_openapi, needs_fabric_openapi]

FILES = {"client.yml": CLIENT, "management.yml": MANAGEMENT, "fabric.yml": FABRIC}

# Operations client.yml declares but OpenZiti's controller never implemented (no handler is registered, so
# its generated server answers 501): ziti-aio answers them 501 with code NOT_IMPLEMENTED.
NOT_IMPLEMENTED_BY_OPENZITI = frozenset({("client.yml", f"{m} /services/{{id}}") for m in ("PUT", "PATCH", "DELETE")})
# Error messages that mean "this operation does not exist here" rather than "this entity or input is wrong".
MISSING = ("no such endpoint", "no such collection", "no such relation", "cannot be")


def _csr(name: str) -> str:
    return create_csr(generate_key("ec256"), name).public_bytes(Encoding.PEM).decode()


def _bodies(ids: dict[str, str]) -> dict[str, Any]:
    """A valid body per write, keyed ``METHOD /path`` (the same in every file that has the operation)."""
    policy = {"identityRoles": ["#all"], "serviceRoles": ["#all"], "semantic": "AnyOf"}
    terminator = {"service": ids["services"], "router": ids["edge-routers"], "binding": "transport",
                  "address": "tcp:127.0.0.1:2"}
    return {
        "POST /authenticate": {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD},
        "POST /sessions": {"serviceId": ids["services"], "type": "Dial"},
        "POST /current-api-session/certificates": {"csr": _csr(ids["admin"])},
        "PUT /current-identity/authenticators/{id}": {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD,
                                                      "currentPassword": ADMIN_PASSWORD},
        "PATCH /current-identity/authenticators/{id}": {"password": ADMIN_PASSWORD,
                                                        "currentPassword": ADMIN_PASSWORD},
        "POST /current-identity/authenticators/{id}/extend": {"clientCertCsr": _csr(ids["admin"])},
        "POST /current-identity/authenticators/{id}/extend-verify": {"clientCert": "not a certificate"},
        "POST /identities": {"name": "walk-identity", "type": "Device", "isAdmin": False},
        "PUT /identities/{id}": {"name": "sweep-device", "type": "Device", "isAdmin": False},
        "PATCH /identities/{id}": {"tags": {"walked": True}},
        "PUT /identities/{id}/trace": {"enabled": True, "duration": "5m", "traceId": "walk", "channels": []},
        "POST /identities/{id}/disable": {"durationMinutes": 1},
        "POST /identities/{id}/service-configs": [{"serviceId": ids["services"], "configId": ids["configs"]}],
        "DELETE /identities/{id}/service-configs": [{"serviceId": ids["services"], "configId": ids["configs"]}],
        "POST /services": {"name": "walk-service", "encryptionRequired": True},
        "PUT /services/{id}": {"name": "sweep-service", "encryptionRequired": True},
        "PATCH /services/{id}": {"tags": {"walked": True}},
        "POST /configs": {"name": "walk-config", "configTypeId": ids["config-types"], "data": {}},
        "PUT /configs/{id}": {"name": "sweep-config", "data": {}},
        "PATCH /configs/{id}": {"tags": {"walked": True}},
        "POST /config-types": {"name": "walk-config-type"},
        "PUT /config-types/{id}": {"name": "sweep-config-type"},
        "PATCH /config-types/{id}": {"tags": {"walked": True}},
        "POST /edge-routers": {"name": "walk-router"},
        "PUT /edge-routers/{id}": {"name": "sweep-router"},
        "PATCH /edge-routers/{id}": {"tags": {"walked": True}},
        "POST /transit-routers": {"name": "walk-transit"},
        "PUT /transit-routers/{id}": {"name": "sweep-transit"},
        "PATCH /transit-routers/{id}": {"tags": {"walked": True}},
        "POST /routers": {"name": "walk-fabric-router", "cost": 1, "noTraversal": False},
        "PUT /routers/{id}": {"name": "sweep-transit", "fingerprint": "", "cost": 1, "noTraversal": False},
        "PATCH /routers/{id}": {"cost": 2},
        "POST /service-policies": {"name": "walk-sp", "type": "Dial", **policy},
        "PUT /service-policies/{id}": {"name": "sweep-dial", "type": "Dial", **policy},
        "PATCH /service-policies/{id}": {"tags": {"walked": True}},
        "POST /edge-router-policies": {"name": "walk-erp", "identityRoles": ["#all"], "edgeRouterRoles": ["#all"],
                                       "semantic": "AnyOf"},
        "PUT /edge-router-policies/{id}": {"name": "sweep-erp", "identityRoles": ["#all"],
                                           "edgeRouterRoles": ["#all"], "semantic": "AnyOf"},
        "PATCH /edge-router-policies/{id}": {"tags": {"walked": True}},
        "POST /service-edge-router-policies": {"name": "walk-serp", "serviceRoles": ["#all"],
                                               "edgeRouterRoles": ["#all"], "semantic": "AnyOf"},
        "PUT /service-edge-router-policies/{id}": {"name": "sweep-serp", "serviceRoles": ["#all"],
                                                   "edgeRouterRoles": ["#all"], "semantic": "AnyOf"},
        "PATCH /service-edge-router-policies/{id}": {"tags": {"walked": True}},
        "POST /terminators": terminator,
        "PUT /terminators/{id}": {**terminator, "address": "tcp:127.0.0.1:3"},
        "PATCH /terminators/{id}": {"cost": 10},
        "POST /authenticators": {"method": "updb", "identityId": ids["walk-user"], "username": "walk-user",
                                 "password": "walk-user-password"},
        "PUT /authenticators/{id}": {"username": "sweep-user", "password": "sweep-user-password-2"},
        "PATCH /authenticators/{id}": {"tags": {"walked": True}},
        "POST /authenticators/{id}/re-enroll": {"expiresAt": "2099-01-01T00:00:00Z"},
        "POST /authenticators/{id}/request-extend": {"rollKeys": False},
        "POST /enrollments": {"method": "ott", "identityId": ids["walk-user"], "expiresAt": "2099-01-01T00:00:00Z"},
        "POST /enrollments/{id}/refresh": {"expiresAt": "2099-01-01T00:00:00Z"},
        "POST /cas": {"name": "walk-ca", "certPem": ids["ca-pem"], "isAuthEnabled": False,
                      "isAutoCaEnrollmentEnabled": False, "isOttCaEnrollmentEnabled": False, "identityRoles": []},
        "PUT /cas/{id}": {"name": "sweep-ca", "isAuthEnabled": True, "isAutoCaEnrollmentEnabled": False,
                          "isOttCaEnrollmentEnabled": True, "identityRoles": []},
        "PATCH /cas/{id}": {"tags": {"walked": True}},
        "POST /cas/{id}/verify": "not a certificate",
        "POST /revocations": {"id": "walk-revoked", "type": "JTI", "expiresAt": "2099-01-01T00:00:00Z"},
        "POST /controller-settings": {"controllerId": ids["controllers"], "oidc": {"redirectUris": []}},
        "PUT /controller-settings/{id}/effective": {"oidc": {"redirectUris": ["http://localhost:20314/cb"],
                                                            "postLogoutUris": []}},
        "PATCH /controller-settings/{id}/effective": {"oidc": {"postLogoutUris": ["http://localhost:1/out"]}},
        "POST /inspections": {"appRegex": ".*", "requestedValues": ["stackdump"]},
        "POST /database/snapshot": {"path": "walk-snapshot"},
        "PATCH /links/{id}": {"staticCost": 5},
        "POST /cluster/add-member": {"address": "tls:127.0.0.1:1", "isVoter": True},
        "POST /cluster/remove-member": {"id": "other-controller"},
        "POST /cluster/transfer-leadership": {"newLeaderId": "other-controller"},
        "POST /enroll/ott": _csr("walk-nobody"), "POST /enroll/ottca": _csr("walk-nobody"),
        "POST /enroll/updb": {"password": "walk-password"}, "POST /enroll": {},
        "POST /enroll/erott": {"certCsr": _csr("walk-nobody"), "serverCertCsr": _csr("walk-nobody")},
        "POST /enroll/extend/router": {"certCsr": _csr("walk-nobody"), "serverCertCsr": _csr("walk-nobody")},
        "POST /enroll/ca": {}, "POST /enroll/token": {}, "POST /enroll/challenge": {},
    }


def _ident(op_path: str, method: str, ids: dict[str, str]) -> dict[str, str]:
    """The path variables of one operation, from the seeded ids."""
    parts = op_path.strip("/").split("/")
    collection = "/".join(parts[:2]) if parts[0].startswith("current-") else parts[0]
    doomed = ids.get(f"doomed-{collection}") if method == "DELETE" and parts[-1] == "{id}" else None
    return {"id": doomed or ids.get(collection, "unknown-id"), "serviceId": ids["services"]}


async def _seed_all(net: Any) -> dict[str, str]:
    admin = net.admin
    ids = await seed(admin)
    ids["ca-pem"] = CertAuthority.create_root("walk root").cert.public_bytes(Encoding.PEM).decode()
    me = (await admin.get(f"{MANAGEMENT}/current-identity")).json()["data"]
    ids["admin"] = me["id"]
    mine = (await admin.get(f"{CLIENT}/current-identity/authenticators")).json().get("data") or []
    ids["current-identity/authenticators"] = mine[0]["id"] if mine else "unknown-id"
    ids["walk-user"] = await create(admin, "identities", {"name": "walk-user", "type": "User"})
    ids["controllers"] = (await admin.get(f"{MANAGEMENT}/controllers")).json()["data"][0]["id"]
    ids["controller-settings"] = ids["controllers"]
    ids["identity-types"] = "Device"
    ids["routers"] = ids["transit-routers"]
    ids["links"] = ids["circuits"] = "unknown-id"
    # DELETE /x/{id} acts on an entity of its own, so that the other operations keep the seeded ones.
    for kind, body in (("identities", {"name": "doomed-identity", "type": "Device"}),
                       ("services", {"name": "doomed-service"}), ("edge-routers", {"name": "doomed-router"}),
                       ("transit-routers", {"name": "doomed-transit"}), ("routers", None),
                       ("config-types", {"name": "doomed-ct"}),
                       ("service-policies", {"name": "doomed-sp", "type": "Bind"}),
                       ("edge-router-policies", {"name": "doomed-erp"}),
                       ("service-edge-router-policies", {"name": "doomed-serp"}),
                       ("terminators", {"service": ids["services"], "router": ids["edge-routers"],
                                        "binding": "transport", "address": "tcp:127.0.0.1:9"})):
        if body is None:
            ids[f"doomed-{kind}"] = await create(admin, "transit-routers", {"name": "doomed-fabric-router"})
        else:
            ids[f"doomed-{kind}"] = await create(admin, kind, body)
    ids["doomed-configs"] = await create(admin, "configs", {"name": "doomed-config", "configTypeId":
                                                            ids["config-types"], "data": {}})
    return ids


def _missing(resp: httpx.Response) -> bool:
    if resp.status_code not in (404, 405):
        return False
    try:
        message = resp.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return True
    return message.startswith(MISSING) or any(m in message for m in MISSING[3:])


async def _call(client: httpx.AsyncClient, method: str, url: str, body: Any) -> httpx.Response:
    if isinstance(body, str):
        return await client.request(method, url, content=body, headers={"content-type": "application/x-pem-file"})
    return await client.request(method, url, json=body)


def _plan() -> list[tuple[str, Any]]:
    """Every operation of the three files, deletes after everything else (so the seeded entities serve every
    other operation of every file) and logging out last (it ends the session it runs on)."""
    plan = [(file, r.ok()) for file in FILES for r in schema(file).get_all_operations()]
    order = list(FILES)
    plan.sort(key=lambda fo: (fo[1].path == "/current-api-session" and fo[1].method.upper() == "DELETE",
                              fo[1].method.upper() == "DELETE", order.index(fo[0]), fo[1].path, fo[1].method))
    return plan


async def test_every_operation_of_the_three_files_answers(tmp_path):
    async with open_network(tmp_path, routers=1) as net:
        ids = await _seed_all(net)
        bodies = _bodies(ids)
        problems: list[str] = []
        answered = dict.fromkeys(FILES, 0)
        total = dict.fromkeys(FILES, 0)
        for file, op in _plan():
            base = FILES[file]
            total[file] += 1
            method = op.method.upper()
            label = f"{method} {op.path}"
            url = base + op.path.format(**_ident(op.path, method, ids))
            if op.path == "/current-api-session" and method == "DELETE":
                async with net.controller.client() as anon:
                    login = await anon.post(f"{base}/authenticate", params={"method": "password"},
                                            json=bodies["POST /authenticate"])
                async with net.controller.client(token=login.json()["data"]["token"]) as own:
                    resp = await own.delete(url)
            elif label == "POST /authenticate":
                resp = await net.admin.post(url, params={"method": "password"}, json=bodies[label])
            else:
                resp = await _call(net.admin, method, url, bodies.get(label))
            if resp.status_code == 201 and op.path == "/current-api-session/certificates":
                ids["current-api-session/certificates"] = resp.json()["data"]["id"]
            if _missing(resp):
                problems.append(f"{file} {label}: not answered ({resp.status_code} {resp.text[:160]})")
                continue
            answered[file] += 1
            if (file, label) in NOT_IMPLEMENTED_BY_OPENZITI:
                if resp.status_code != 501 or resp.json()["error"]["code"] != "NOT_IMPLEMENTED":
                    problems.append(f"{file} {label}: {resp.status_code} {resp.text[:200]}, not 501")
            elif resp.status_code >= 500:
                problems.append(f"{file} {label}: {resp.status_code} {resp.text[:200]}")
            else:
                problems += [f"{file} {p}" for p in body_problems(op, resp)]
        summary = ", ".join(f"{f} {answered[f]}/{total[f]}" for f in FILES)
        print(f"operations answered: {summary}")
        assert not problems, f"{len(problems)} problems ({summary}):\n" + "\n".join(problems)
