"""``ziti-aio create <entity>``: POST to the management API and print ``New <type> <name> created with id: <id>``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

from ziti_aio.cli import ext_jwt_signer as ejs
from ziti_aio.cli.auth_policy import CobraBoolCommand, create_auth_policy
from ziti_aio.cli.client import CliError, ManagementClient, open_client, reported
from ziti_aio.cli.help_format import Typer
from ziti_aio.cli.mfa import create_mfa
from ziti_aio.cli.options import (
    Configs,
    Csv,
    EdgeRouterRoles,
    Encryption,
    IdentityRoles,
    JwtOutput,
    Permissions,
    PostureCheckRoles,
    RoleAttributes,
    RouterCost,
    ServiceRoles,
    encryption,
    json_object,
    role_fields,
    semantic,
    split_csv,
    write_jwt,
)
from ziti_aio.cli.posture import app as posture_check_app
from ziti_aio.cli.request_options import current, with_request_options

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_ENROLLMENT_MINUTES = 30
MAX_CA_PEM_BYTES = 64 * 1024
POLICY_TYPES = ("Dial", "Bind")

app = Typer(help="Create entities", no_args_is_help=True)
enrollment_app = Typer(help="Create an enrollment for an identity", no_args_is_help=True)
authenticator_app = Typer(help="Create an authenticator for an identity", no_args_is_help=True)
app.add_typer(enrollment_app, name="enrollment")
app.add_typer(authenticator_app, name="authenticator")
app.command("auth-policy", cls=CobraBoolCommand)(reported(with_request_options(create_auth_policy, tags=True)))
app.command("mfa")(reported(with_request_options(create_mfa, tags=False)))
app.add_typer(posture_check_app, name="posture-check")

Semantic = Annotated[str, typer.Option("--semantic", help="How # roles combine: AnyOf or AllOf.")]
Duration = Annotated[int, typer.Option("-d", "--duration", min=1, help="Minutes the enrollment stays valid.")]


def _with_request_options(fn: Callable[P, R]) -> Callable[P, R]:
    """The request flags without --tags: ziti's enrollment and authenticator commands take no tags."""
    return with_request_options(fn, tags=False)


def _created(label: str, name: str | None, ident: str) -> None:
    if current().output_json:  # the controller's answer is printed instead
        return
    typer.echo(f"New {label}{' ' + name if name else ''} created with id: {ident}")


def _command(name: str, alias: str | None = None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Register a create command under ``name`` and, hidden, under ziti's short ``alias``."""

    def register(fn: Callable[P, R]) -> Callable[P, R]:
        wrapped = reported(with_request_options(fn, tags=True))
        app.command(name)(wrapped)
        if alias:
            app.command(alias, hidden=True)(wrapped)
        return wrapped

    return register


def _pending_jwt(enrollment: dict[str, Any]) -> str | None:
    for method in ("ott", "updb"):
        if isinstance(enrollment.get(method), dict) and enrollment[method].get("jwt"):
            return str(enrollment[method]["jwt"])
    return None


@_command("identity")
def create_identity(
    name: str,
    jwt_output_file: JwtOutput = None,
    role_attributes: RoleAttributes = None,
    admin: Annotated[bool, typer.Option("-A", "--admin", help="Give the identity admin rights.")] = False,
    updb: Annotated[str | None, typer.Option("--updb", help="Enroll by username/password, not by OTT.")] = None,
    permissions: Permissions = None,
    auth_policy: Annotated[str, typer.Option("-P", "--auth-policy", help="Auth policy id or name.")] = "default",
    default_hosting_precedence: Annotated[
        str, typer.Option("-p", "--default-hosting-precedence", help="default, required or failed.")
    ] = "default",
) -> None:
    """Create an identity to enroll.

    It gets a one-time-token enrollment (with --updb: a username/password one); -o writes its JWT for
    ziti-aio enroll or an SDK.

    \b
    Examples:
      ziti-aio create identity alice -o alice.jwt -a clients
      ziti-aio create identity bob --updb bob
    """
    body: dict[str, Any] = {
        "name": name, "type": "Default", "isAdmin": admin, "roleAttributes": split_csv(role_attributes),
        "authPolicyId": auth_policy, "defaultHostingPrecedence": default_hosting_precedence,
        "enrollment": {"updb": updb} if updb else {"ott": True},
    }
    if permissions is not None:
        body["permissions"] = split_csv(permissions)
    with open_client() as client:
        ident = client.create("identities", body)
        _created("identity", name, ident)
        if jwt_output_file is not None:
            write_jwt(jwt_output_file, _pending_jwt(client.get("identities", ident).get("enrollment") or {}),
                      "identity")


@_command("service")
def create_service(
    name: str,
    role_attributes: RoleAttributes = None,
    configs: Configs = None,
    encryption_flag: Encryption = "ON",
    terminator_strategy: Annotated[
        str | None, typer.Option("--terminator-strategy", help="smartrouting, weighted, random or sticky.")
    ] = None,
) -> None:
    """Create a service.

    \b
    Examples:
      ziti-aio create service echo -a echo
      ziti-aio create service echo -c echo-intercept,echo-host -e OFF
    """
    body: dict[str, Any] = {"name": name, "roleAttributes": split_csv(role_attributes),
                            "configs": split_csv(configs), "encryptionRequired": encryption(encryption_flag or "ON")}
    if terminator_strategy is not None:
        body["terminatorStrategy"] = terminator_strategy
    with open_client() as client:
        _created("service", name, client.create("services", body))


@_command("config")
def create_config(
    name: str,
    config_type: Annotated[str, typer.Argument(help="Config type name or id, e.g. intercept.v1.")],
    data: Annotated[str | None, typer.Argument(help="The config's JSON data.")] = None,
    json_file: Annotated[Path | None, typer.Option("-f", "--json-file", help="Read the JSON data here.")] = None,
) -> None:
    """Create a config of a config type."""
    body = {"name": name, "configTypeId": config_type, "data": json_object(data, json_file, "config data")}
    with open_client() as client:
        _created("config", name, client.create("configs", body))


@_command("config-type")
def create_config_type(
    name: str,
    schema: Annotated[str | None, typer.Argument(help="The JSON schema of its configs.")] = None,
    schema_file: Annotated[Path | None, typer.Option("-f", "--schema-file", help="Read the schema here.")] = None,
) -> None:
    """Create a config type."""
    body: dict[str, Any] = {"name": name}
    if schema is not None or schema_file is not None:
        body["schema"] = json_object(schema, schema_file, "schema")
    with open_client() as client:
        _created("config type", name, client.create("config-types", body))


@_command("edge-router", alias="er")
def create_edge_router(
    name: str,
    jwt_output_file: JwtOutput = None,
    role_attributes: RoleAttributes = None,
    tunneler_enabled: Annotated[bool, typer.Option("-t", "--tunneler-enabled", help="Embed a tunneler.")] = False,
    no_traversal: Annotated[bool, typer.Option("--no-traversal", help="Never route through it.")] = False,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it disabled.")] = False,
    cost: RouterCost = None,
) -> None:
    """Create an edge router.

    -o writes its enrollment JWT.
    """
    body: dict[str, Any] = {"name": name, "roleAttributes": split_csv(role_attributes),
                            "isTunnelerEnabled": tunneler_enabled, "noTraversal": no_traversal, "disabled": disabled}
    if cost is not None:
        body["cost"] = cost
    with open_client() as client:
        ident = client.create("edge-routers", body)
        _created("edge router", name, ident)
        if jwt_output_file is not None:
            write_jwt(jwt_output_file, client.get("edge-routers", ident).get("enrollmentJwt"), "edge router")


@_command("transit-router")
def create_transit_router(name: str, jwt_output_file: JwtOutput = None, cost: RouterCost = None) -> None:
    """Create a transit router (forwarding only).

    Run it without an edge listener; -o writes its enrollment JWT.
    """
    body: dict[str, Any] = {"name": name, "roleAttributes": [], "isTunnelerEnabled": False,
                            "tags": {"transitRouter": True}}
    if cost is not None:
        body["cost"] = cost
    with open_client() as client:
        ident = client.create("edge-routers", body)
        _created("transit router", name, ident)
        if jwt_output_file is not None:
            write_jwt(jwt_output_file, client.get("edge-routers", ident).get("enrollmentJwt"), "transit router")


def _policy(client: ManagementClient, name: str, sem: str, roles: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "semantic": semantic(sem), **role_fields(client, roles)}


@_command("service-policy", alias="sp")
def create_service_policy(
    name: str,
    policy_type: Annotated[str, typer.Argument(metavar="Dial|Bind", help="What the identities may do.")],
    identity_roles: IdentityRoles = None,
    service_roles: ServiceRoles = None,
    semantic_value: Semantic = "AllOf",
    posture_check_roles: PostureCheckRoles = None,
) -> None:
    """Create a service policy (who may Dial/Bind).

    Which identities may dial (use) or bind (host) which services. --semantic AllOf (the default, as in
    ziti) matches identities and services that have every # role given; AnyOf those that have one.

    \b
    Examples:
      ziti-aio create service-policy echo-dial Dial \\
          --identity-roles '#clients' --service-roles '#echo'
      ziti-aio create sp echo-bind Bind --identity-roles @server \\
          --service-roles @echo --semantic AnyOf
    """
    kind = next((t for t in POLICY_TYPES if t.lower() == policy_type.lower()), None)
    if kind is None:
        raise CliError(f"the policy type must be Dial or Bind, not {policy_type!r}")
    with open_client() as client:
        body = _policy(client, name, semantic_value, {"identityRoles": identity_roles or [],
                                                       "serviceRoles": service_roles or [],
                                                       "postureCheckRoles": posture_check_roles or []})
        _created("service policy", name, client.create("service-policies", {**body, "type": kind}))


@_command("edge-router-policy", alias="erp")
def create_edge_router_policy(
    name: str,
    edge_router_roles: EdgeRouterRoles = None,
    identity_roles: IdentityRoles = None,
    semantic_value: Semantic = "AnyOf",
) -> None:
    """Create an edge router policy.

    Which identities may use which edge routers.
    """
    with open_client() as client:
        body = _policy(client, name, semantic_value, {"edgeRouterRoles": edge_router_roles or [],
                                                       "identityRoles": identity_roles or []})
        _created("edge router policy", name, client.create("edge-router-policies", body))


@_command("service-edge-router-policy", alias="serp")
def create_service_edge_router_policy(
    name: str,
    edge_router_roles: EdgeRouterRoles = None,
    service_roles: ServiceRoles = None,
    semantic_value: Semantic = "AnyOf",
) -> None:
    """Create a service edge router policy.

    Which services may use which edge routers.
    """
    with open_client() as client:
        body = _policy(client, name, semantic_value, {"edgeRouterRoles": edge_router_roles or [],
                                                       "serviceRoles": service_roles or []})
        _created("service edge router policy", name, client.create("service-edge-router-policies", body))


@_command("terminator")
def create_terminator(
    service: Annotated[str, typer.Argument(help="Service name or id.")],
    router: Annotated[str, typer.Argument(help="Edge router name or id.")],
    address: Annotated[str, typer.Argument(help="Where the router dials, e.g. tcp:localhost:8080.")],
    binding: Annotated[str, typer.Option("--binding", help="The router's xgress binding.")] = "transport",
) -> None:
    """Create a terminator.

    Where a router connects a service's circuits.
    """
    with open_client() as client:
        body = {"service": client.find("services", service, label="service")["id"],
                "router": client.find("edge-routers", router, label="edge router")["id"],
                "address": address, "binding": binding}
        _created("terminator", None, client.create("terminators", body))


@_command("ca")
def create_ca(
    name: str,
    cert_file: Annotated[Path, typer.Argument(metavar="PEM_CERT_FILE", help="The CA's certificate (PEM).")],
    auth: Annotated[bool, typer.Option("-e", "--auth", help="Identities may log in with certificates it signed.")
                    ] = False,
    ottca: Annotated[bool, typer.Option("-o", "--ottca", help="Allow one-time-token CA enrollment.")] = False,
    autoca: Annotated[bool, typer.Option("-u", "--autoca", help="Allow auto CA enrollment.")] = False,
    role_attributes: Annotated[Csv, typer.Option("-a", "--role-attributes",
                                                 help="Role attributes enrolling identities get: a,b.")] = None,
    identity_name_format: Annotated[str | None, typer.Option(
        "-f", "--identity-name-format", help="Names of identities it enrolls (default [caName]-[commonName]).")
    ] = None,
) -> None:
    """Create a third-party CA.

    Identities may then enroll or log in with certificates it signed.
    Its certificates are trusted once it is verified (ziti-aio verify ca). Not to be confused with
    ziti-aio pki create ca, which makes a CA on disk.
    """
    if cert_file.stat().st_size > MAX_CA_PEM_BYTES:
        raise CliError(f"{cert_file} is larger than {MAX_CA_PEM_BYTES} bytes")
    body: dict[str, Any] = {"name": name, "certPem": cert_file.read_text(), "isAuthEnabled": auth,
                            "isOttCaEnrollmentEnabled": ottca, "isAutoCaEnrollmentEnabled": autoca,
                            "identityRoles": split_csv(role_attributes)}
    if identity_name_format is not None:
        body["identityNameFormat"] = identity_name_format
    with open_client() as client:
        _created("ca", name, client.create("cas", body))


@_command("ext-jwt-signer", alias="external-jwt-signer")
def create_ext_jwt_signer(
    name: str,
    issuer: Annotated[str, typer.Argument(help="The issuer (iss) of its tokens.")],
    jwks_endpoint: ejs.JwksEndpoint = None, cert_pem: ejs.CertPem = None, cert_file: ejs.CertFile = None,
    audience: ejs.Audience = None, claims_property: ejs.ClaimsProperty = None,
    external_id: Annotated[bool, typer.Option("--external-id/--no-external-id", "-x",
                                              help="Match identities' externalId (else their id).")] = True,
    enabled: Annotated[bool, typer.Option("--enabled/--disabled", "-e", help="Accept its tokens.")] = True,
    external_auth_url: ejs.ExternalAuthUrl = None, kid: ejs.Kid = None, client_id: ejs.ClientId = None,
    scopes: ejs.Scopes = None, target_token: ejs.TargetToken = "ACCESS", enroll_to_cert: ejs.EnrollToCert = None,
    enroll_to_token: ejs.EnrollToToken = None, enroll_name_claims_selector: ejs.EnrollName = None,
    enroll_attr_claims_selector: ejs.EnrollAttributes = None, enroll_auth_policy: ejs.EnrollAuthPolicy = None,
) -> None:
    """Create an external JWT signer.

    Identities may then log in with its tokens (login --ext-jwt), and with --enroll-to-cert or
    --enroll-to-token unknown subjects enroll themselves.

    \b
    Examples:
      ziti-aio create ext-jwt-signer corp https://idp -u https://idp/keys -a z
      ziti-aio create ext-jwt-signer pem https://idp -f idp.pem -k key-1 -a z
    """
    source = ejs.key_source(jwks_endpoint, cert_pem, cert_file)
    if not source:
        raise CliError("give the signer's keys: -u/--jwks-endpoint, -p/--cert-pem or -f/--cert-file")
    if audience is None:
        raise CliError("give the audience its tokens carry: -a/--audience")
    body = {"name": name, "issuer": issuer, "enabled": enabled, "useExternalId": external_id, **source,
            **ejs.signer_fields(audience=audience, claims_property=claims_property,
                                external_auth_url=external_auth_url, kid=kid, client_id=client_id, scopes=scopes,
                                target_token=target_token, enroll_to_cert=enroll_to_cert,
                                enroll_to_token=enroll_to_token, enroll_name=enroll_name_claims_selector,
                                enroll_attributes=enroll_attr_claims_selector, enroll_auth_policy=enroll_auth_policy)}
    with open_client() as client:
        _created("external jwt signer", name, client.create("external-jwt-signers", body))


def _create_enrollment(identity: str, method: str, minutes: int, jwt_output_file: Path | None,
                       username: str | None = None) -> None:
    expires = datetime.now(UTC) + timedelta(minutes=minutes)
    with open_client() as client:
        found = client.find("identities", identity, label="identity")
        body: dict[str, Any] = {"method": method, "identityId": found["id"],
                                "expiresAt": expires.isoformat().replace("+00:00", "Z")}
        if username is not None:
            body["username"] = username
        ident = client.create("enrollments", body)
        _created(f"{method} enrollment for", found["name"], ident)
        if jwt_output_file is not None:
            write_jwt(jwt_output_file, client.get("enrollments", ident).get("jwt"), "enrollment")


@enrollment_app.command("ott")
@reported
@_with_request_options
def create_enrollment_ott(identity: str, duration: Duration = DEFAULT_ENROLLMENT_MINUTES,
                          jwt_output_file: JwtOutput = None) -> None:
    """Create a one-time-token enrollment for an identity."""
    _create_enrollment(identity, "ott", duration, jwt_output_file)


@enrollment_app.command("updb")
@reported
@_with_request_options
def create_enrollment_updb(identity: str, username: str, duration: Duration = DEFAULT_ENROLLMENT_MINUTES,
                           jwt_output_file: JwtOutput = None) -> None:
    """Create a username/password enrollment for an identity."""
    _create_enrollment(identity, "updb", duration, jwt_output_file, username=username)


@authenticator_app.command("updb")
@reported
@_with_request_options
def create_authenticator_updb(identity: str, username: str, password: str) -> None:
    """Give an identity a username and password."""
    with open_client() as client:
        found = client.find("identities", identity, label="identity")
        ident = client.create("authenticators", {"method": "updb", "identityId": found["id"],
                                                 "username": username, "password": password})
        _created("updb authenticator for", found["name"], ident)
