"""One entity of each kind the controller stores, and the operations it implements, for tests that sweep them."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding

from ziti_aio.pki.ca import CertAuthority
from ziti_aio.testing.controller import CLIENT, MANAGEMENT, create

SEED_PASSWORD = "sweep-user-password"

# GET operations the controller answers (with a 2xx on seeded ids); it refuses any other GET with 404.
MANAGEMENT_READS = frozenset({
    "/.well-known/est/cacerts", "/api-sessions", "/api-sessions/{id}", "/authenticators", "/authenticators/{id}",
    "/cas", "/cas/{id}", "/config-types", "/config-types/{id}", "/config-types/{id}/configs", "/configs",
    "/configs/{id}", "/configs/{id}/services", "/current-api-session", "/current-identity", "/edge-router-policies",
    "/edge-router-policies/{id}", "/edge-router-policies/{id}/edge-routers", "/edge-router-policies/{id}/identities",
    "/edge-router-role-attributes", "/edge-routers", "/edge-routers/{id}", "/edge-routers/{id}/edge-router-policies",
    "/edge-routers/{id}/identities", "/edge-routers/{id}/service-edge-router-policies", "/edge-routers/{id}/services",
    "/enrollments", "/enrollments/{id}", "/external-jwt-signers", "/external-jwt-signers/{id}",
    "/identities", "/identities/{id}", "/identities/{id}/authenticators",
    "/identities/{id}/edge-router-policies", "/identities/{id}/edge-routers", "/identities/{id}/enrollments",
    "/identities/{id}/service-policies", "/identities/{id}/services", "/identities/{id}/policy-advice/{serviceId}",
    "/identities/{id}/service-configs",
    "/identity-role-attributes", "/revocations",
    "/service-edge-router-policies", "/service-edge-router-policies/{id}",
    "/service-edge-router-policies/{id}/edge-routers", "/service-edge-router-policies/{id}/services",
    "/service-policies", "/service-policies/{id}", "/service-policies/{id}/identities",
    "/service-policies/{id}/services", "/service-role-attributes", "/services", "/services/{id}",
    "/services/{id}/configs", "/services/{id}/edge-routers", "/services/{id}/identities",
    "/services/{id}/service-edge-router-policies", "/services/{id}/service-policies", "/services/{id}/terminators",
    "/sessions", "/sessions/{id}", "/terminators", "/terminators/{id}", "/transit-routers", "/transit-routers/{id}",
    "/version", "/controllers", "/enumerated-capabilities", "/network-jwts", "/specs", "/specs/{id}",
    "/specs/{id}/spec", "/", "/auth-policies", "/auth-policies/{id}", "/current-identity/mfa",
    "/current-identity/mfa/qr-code",
    "/posture-checks", "/posture-checks/{id}", "/posture-check-types", "/posture-check-types/{id}",
    "/posture-check-role-attributes", "/service-policies/{id}/posture-checks", "/identities/{id}/posture-data",
    "/identities/{id}/failed-service-requests",
    "/cas/{id}/jwt", "/controller-settings", "/controller-settings/{id}",
    "/controller-settings/{id}/effective", "/current-identity/authenticators", "/current-identity/authenticators/{id}",
    "/database/data-integrity-results", "/identity-types", "/identity-types/{id}", "/routers", "/routers/{id}",
    "/sessions/{id}/route-path", "/summary", "/revocations/{id}",
})
CLIENT_READS = frozenset({
    "/.well-known/est/cacerts", "/current-api-session", "/current-api-session/service-updates", "/current-identity",
    "/current-identity/edge-routers", "/services", "/services/{id}", "/sessions", "/version",
    "/services/{id}/edge-routers", "/external-jwt-signers", "/controllers", "/sessions/{id}",
    "/services/{id}/terminators", "/enumerated-capabilities", "/protocols", "/network-jwts", "/enroll/jwks", "/specs",
    "/specs/{id}", "/specs/{id}/spec", "/", "/current-identity/mfa", "/current-identity/mfa/qr-code",
    "/current-identity/authenticators", "/current-identity/authenticators/{id}",
    "/current-api-session/certificates",
})
# Paths with only writes (POST, PUT, PATCH, DELETE) the controller implements.
MANAGEMENT_WRITES = frozenset({
    "/authenticate", "/cas/{id}/verify", "/edge-routers/{id}/re-enroll", "/enrollments/{id}/refresh",
    "/identities/{id}/disable", "/identities/{id}/enable", "/authenticate/mfa", "/identities/{id}/mfa",
    "/current-api-session/totp-token",
    "/current-identity/mfa/verify", "/authenticators/{id}/re-enroll",
    "/authenticators/{id}/request-extend", "/identities/{id}/trace", "/database/snapshot",
    "/database/check-data-integrity", "/database/fix-data-integrity",
    "/current-identity/authenticators/{id}/extend", "/current-identity/authenticators/{id}/extend-verify",
})
CLIENT_WRITES = frozenset({"/authenticate", "/enroll", "/enroll/ott", "/enroll/updb", "/enroll/erott",
                           "/sessions/{id}", "/authenticate/mfa", "/current-api-session/totp-token",
                           "/current-identity/mfa/verify", "/enroll/token", "/posture-response",
                           "/posture-response-bulk",
                           "/enroll/extend/router", "/current-identity/authenticators/{id}/extend",
                           "/current-identity/authenticators/{id}/extend-verify"})


async def seed(admin: Any) -> dict[str, str]:
    """One entity of each kind, keyed by collection (``identities``, ``edge-routers``, ...)."""
    ids = {
        "identities": await create(admin, "identities", {"name": "sweep-device", "type": "Device",
                                                         "enrollment": {"ott": True}}),
        "services": await create(admin, "services", {"name": "sweep-service"}),
        "config-types": await create(admin, "config-types", {"name": "sweep-config-type", "schema": {}}),
        "edge-routers": await create(admin, "edge-routers", {"name": "sweep-router"}),
        "service-policies": await create(admin, "service-policies", {"name": "sweep-dial", "type": "Dial",
                                                                     "identityRoles": ["#all"],
                                                                     "serviceRoles": ["#all"]}),
        "edge-router-policies": await create(admin, "edge-router-policies", {
            "name": "sweep-erp", "identityRoles": ["#all"], "edgeRouterRoles": ["#all"]}),
        "service-edge-router-policies": await create(admin, "service-edge-router-policies", {
            "name": "sweep-serp", "serviceRoles": ["#all"], "edgeRouterRoles": ["#all"]}),
    }
    ids["posture-checks"] = await create(admin, "posture-checks", {
        "name": "sweep-posture-check", "typeId": "OS", "roleAttributes": ["sweep"],
        "operatingSystems": [{"type": "Linux", "versions": [">=5.0"]}]})
    ids["posture-check-types"] = "OS"
    ids["configs"] = await create(admin, "configs", {"name": "sweep-config", "configTypeId": ids["config-types"],
                                                     "data": {}})
    await admin.post(f"{MANAGEMENT}/identities/{ids['identities']}/service-configs",
                     json=[{"serviceId": ids["services"], "configId": ids["configs"]}])
    ids["terminators"] = await create(admin, "terminators", {
        "service": ids["services"], "router": ids["edge-routers"], "binding": "transport",
        "address": "tcp:127.0.0.1:1"})
    user = await create(admin, "identities", {"name": "sweep-user", "type": "User"})
    ids["authenticators"] = await create(admin, "authenticators", {
        "method": "updb", "identityId": user, "username": "sweep-user", "password": SEED_PASSWORD})
    resp = await admin.get(f"{MANAGEMENT}/enrollments", params={"filter": f'identityId="{ids["identities"]}"'})
    ids["enrollments"] = resp.json()["data"][0]["id"]
    ids["transit-routers"] = await create(admin, "transit-routers", {"name": "sweep-transit"})
    ca_pem = CertAuthority.create_root("sweep root").cert.public_bytes(Encoding.PEM).decode()
    ids["external-jwt-signers"] = await create(admin, "external-jwt-signers", {
        "name": "sweep-signer", "issuer": "https://sweep-idp.example.com", "audience": "sweep", "enabled": True,
        "certPem": ca_pem, "clientId": "sweep-client", "scopes": ["openid"],
        "externalAuthUrl": "https://sweep-idp.example.com/authorize"})
    ids["cas"] = await create(admin, "cas", {"name": "sweep-ca", "certPem": ca_pem, "isAuthEnabled": True,
                                             "isAutoCaEnrollmentEnabled": False, "isOttCaEnrollmentEnabled": True,
                                             "identityRoles": []})
    # The user's own login, so that deleting it spares the admin's session.
    login = await admin.post(f"{MANAGEMENT}/authenticate", params={"method": "password"},
                             json={"username": "sweep-user", "password": SEED_PASSWORD})
    ids["api-sessions"] = login.json()["data"]["id"]
    session = await admin.post(f"{CLIENT}/sessions", json={"serviceId": ids["services"], "type": "Dial"})
    ids["sessions"] = session.json()["data"]["id"]
    ids["specs"] = "edge-client"
    ids["auth-policies"] = await create(admin, "auth-policies", {
        "name": "sweep-policy", "primary": {"updb": {"maxAttempts": 5}}, "secondary": {"requireTotp": False}})
    # The admin's MFA enrollment, started and never verified: its reads answer, its logins stay full.
    await admin.post(f"{CLIENT}/current-identity/mfa")
    ids["controller-settings"] = "global"
    ids["identity-types"] = "Default"
    ids["routers"] = ids["transit-routers"]
    mine = await admin.get(f"{CLIENT}/current-identity/authenticators")
    ids["current-identity"] = mine.json()["data"][0]["id"]
    ids["revocations"] = await create(admin, "revocations", {"id": "sweep-revoked-jti", "type": "JTI"})
    return ids
