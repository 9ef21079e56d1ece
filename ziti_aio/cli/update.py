"""``ziti-aio update <entity> <id-or-name> [options]``: PATCH with only the fields given."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

from ziti_aio.cli import ext_jwt_signer as ejs
from ziti_aio.cli.auth_policy import CobraBoolCommand, update_auth_policy
from ziti_aio.cli.client import CliError, ManagementClient, open_client, reported
from ziti_aio.cli.help_format import ReadableCommand, Typer
from ziti_aio.cli.nouns import BY_SINGULAR, display_name
from ziti_aio.cli.options import (
    MAX_ROUTER_COST,
    Configs,
    Csv,
    EdgeRouterRoles,
    Encryption,
    IdentityRoles,
    NewName,
    Permissions,
    RoleAttributes,
    RouterCost,
    ServiceRoles,
    encryption,
    json_object,
    role_fields,
    semantic,
    split_csv,
)
from ziti_aio.cli.request_options import current, with_request_options

P = ParamSpec("P")
R = TypeVar("R")

app = Typer(help="Update entities (only the fields given change)", no_args_is_help=True)
app.command("auth-policy", cls=CobraBoolCommand)(reported(with_request_options(update_auth_policy, tags=True)))

IdOrName = Annotated[str, typer.Argument(help="The entity's id or name.")]
Semantic = Annotated[str | None, typer.Option("--semantic", help="How # roles combine: AnyOf or AllOf.")]


def _command(singular: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Register an update command for ``singular`` and, hidden, under ziti's short alias."""

    def register(fn: Callable[P, R]) -> Callable[P, R]:
        wrapped = reported(with_request_options(fn, tags=True))
        app.command(singular)(wrapped)
        alias = BY_SINGULAR[singular].alias
        if alias:
            app.command(alias, hidden=True)(wrapped)
        return wrapped

    return register


def _given(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _patch(client: ManagementClient, singular: str, id_or_name: str, body: dict[str, Any]) -> None:
    if not body and current().tags is None:  # --tags alone is an update (the client adds them)
        raise CliError("nothing to update: give at least one option")
    noun = BY_SINGULAR[singular]
    entity = client.find(noun.collection, id_or_name, label=noun.label)
    client.patch(noun.collection, entity["id"], body)
    if not current().output_json:
        typer.echo(f"updated {noun.label} {display_name(noun, entity)}")


def _csv(values: Csv) -> list[str] | None:
    return None if values is None else split_csv(values)


@_command("identity")
def update_identity(
    id_or_name: IdOrName, name: NewName = None, role_attributes: RoleAttributes = None,
    permissions: Permissions = None,
    disable: Annotated[bool, typer.Option("--disable", help="Refuse its logins and end its sessions.")] = False,
    duration_minutes: Annotated[int | None, typer.Option(
        "--duration-minutes", min=0, help="With --disable: for this many minutes (default 0: until enabled).")] = None,
    enable: Annotated[bool, typer.Option("--enable", help="Lift a disable.")] = False,
    auth_policy: Annotated[str | None, typer.Option("-P", "--auth-policy", help="Auth policy id or name.")] = None,
) -> None:
    """Change an identity.

    Its name, role attributes, permissions or auth policy; --disable (for --duration-minutes, or until --enable) refuses
    its logins and ends its API sessions and live connections.
    """
    if disable and enable:
        raise CliError("give --disable or --enable, not both")
    if duration_minutes is not None and not disable:
        raise CliError("--duration-minutes goes with --disable")
    body = _given(name=name, roleAttributes=_csv(role_attributes), permissions=_csv(permissions),
                  authPolicyId=auth_policy)
    with open_client() as client:
        if not (disable or enable) or body or current().tags is not None:
            _patch(client, "identity", id_or_name, body)
        if disable or enable:
            identity = client.find("identities", id_or_name, label="identity")
            action = "disable" if disable else "enable"
            client.call("POST", f"/identities/{identity['id']}/{action}",
                        json={"durationMinutes": duration_minutes or 0} if disable else None)
            if not current().output_json:
                typer.echo(f"{action}d identity {identity['name']}")


@_command("service")
def update_service(
    id_or_name: IdOrName,
    name: NewName = None,
    role_attributes: RoleAttributes = None,
    configs: Configs = None,
    encryption_flag: Encryption = None,
    terminator_strategy: Annotated[
        str | None, typer.Option("--terminator-strategy", help="smartrouting, weighted, random or sticky.")
    ] = None,
) -> None:
    """Change a service.

    Its name, role attributes, configs, encryption or terminator strategy.
    """
    body = _given(name=name, roleAttributes=_csv(role_attributes), configs=_csv(configs),
                  encryptionRequired=None if encryption_flag is None else encryption(encryption_flag),
                  terminatorStrategy=terminator_strategy)
    with open_client() as client:
        _patch(client, "service", id_or_name, body)


@_command("config")
def update_config(
    id_or_name: IdOrName,
    name: NewName = None,
    data: Annotated[str | None, typer.Option("-d", "--data", help="The new JSON data.")] = None,
    json_file: Annotated[Path | None, typer.Option("-f", "--json-file", help="Read the new JSON data here.")] = None,
) -> None:
    """Rename a config or replace its data."""
    new_data = json_object(data, json_file, "config data") if data is not None or json_file is not None else None
    with open_client() as client:
        _patch(client, "config", id_or_name, _given(name=name, data=new_data))


@_command("edge-router")
def update_edge_router(
    id_or_name: IdOrName,
    name: NewName = None,
    role_attributes: RoleAttributes = None,
    cost: RouterCost = None,
    no_traversal: Annotated[
        bool | None, typer.Option("--no-traversal/--traversal", help="Never route through it / allow it again.")
    ] = None,
    disabled: Annotated[bool | None, typer.Option("--disabled/--enabled", help="Disable or enable it.")] = None,
    tunneler_enabled: Annotated[
        bool | None, typer.Option("--tunneler-enabled/--tunneler-disabled", "-t", help="Embedded tunneler on/off.")
    ] = None,
) -> None:
    """Change an edge router.

    Its name, role attributes, cost, traversal, state or tunneler.
    """
    body = _given(name=name, roleAttributes=_csv(role_attributes), cost=cost, noTraversal=no_traversal,
                  disabled=disabled, isTunnelerEnabled=tunneler_enabled)
    with open_client() as client:
        _patch(client, "edge-router", id_or_name, body)


class _CobraBoolCommand(ReadableCommand):
    """Takes ``--down=true`` / ``--down=false`` as ziti (cobra) does, for the ``--down/--up`` flag."""

    # ctx is typer's private copy of click's Context (typer._click), which typer does not export: Any.
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        spelled = {"--down=true": "--down", "--down=false": "--up"}
        return super().parse_args(ctx, [spelled.get(a.lower(), a) for a in args])


def update_link(
    link_id: Annotated[str, typer.Argument(help="The link's id.")],
    down: Annotated[bool | None, typer.Option("--down/--up", help="Mark the link down (--down=false or --up: "
                                                                   "usable again).")] = None,
    static_cost: Annotated[int | None, typer.Option("--static-cost", min=0, max=MAX_ROUTER_COST,
                                                    help="The link's static cost.")] = None,
) -> None:
    """Mark a router link down or up.

    Or set its static cost (ziti: fabric update link).
    """
    with open_client() as client:
        _patch(client, "link", link_id, _given(down=down, staticCost=static_cost))


app.command("link", cls=_CobraBoolCommand)(reported(with_request_options(update_link, tags=False)))


def _update_policy(singular: str, id_or_name: str, name: str | None, sem: str | None,
                   roles: dict[str, Csv]) -> None:
    with open_client() as client:
        body = _given(name=name, semantic=None if sem is None else semantic(sem))
        body.update(role_fields(client, roles))
        _patch(client, singular, id_or_name, body)


@_command("service-policy")
def update_service_policy(id_or_name: IdOrName, name: NewName = None, identity_roles: IdentityRoles = None,
                          service_roles: ServiceRoles = None, semantic_value: Semantic = None) -> None:
    """Change a service policy.

    Its name, roles or semantic.
    """
    _update_policy("service-policy", id_or_name, name, semantic_value,
                   {"identityRoles": identity_roles, "serviceRoles": service_roles})


@_command("edge-router-policy")
def update_edge_router_policy(id_or_name: IdOrName, name: NewName = None, edge_router_roles: EdgeRouterRoles = None,
                              identity_roles: IdentityRoles = None, semantic_value: Semantic = None) -> None:
    """Change an edge router policy.

    Its name, roles or semantic.
    """
    _update_policy("edge-router-policy", id_or_name, name, semantic_value,
                   {"edgeRouterRoles": edge_router_roles, "identityRoles": identity_roles})


@_command("service-edge-router-policy")
def update_service_edge_router_policy(id_or_name: IdOrName, name: NewName = None,
                                      edge_router_roles: EdgeRouterRoles = None,
                                      service_roles: ServiceRoles = None, semantic_value: Semantic = None) -> None:
    """Change a service edge router policy.

    Its name, roles or semantic.
    """
    _update_policy("service-edge-router-policy", id_or_name, name, semantic_value,
                   {"edgeRouterRoles": edge_router_roles, "serviceRoles": service_roles})


@_command("ext-jwt-signer")
def update_ext_jwt_signer(
    id_or_name: IdOrName, name: NewName = None,
    issuer: Annotated[str | None, typer.Option("-l", "--issuer", help="The issuer (iss) of its tokens.")] = None,
    jwks_endpoint: ejs.JwksEndpoint = None, cert_pem: ejs.CertPem = None, cert_file: ejs.CertFile = None,
    audience: ejs.Audience = None, claims_property: ejs.ClaimsProperty = None,
    external_id: Annotated[bool | None, typer.Option("--external-id/--no-external-id", "-x",
                                                     help="Match identities' externalId (else their id).")] = None,
    enabled: Annotated[bool | None, typer.Option("--enabled/--disabled", "-e", help="Accept its tokens.")] = None,
    external_auth_url: ejs.ExternalAuthUrl = None, kid: ejs.Kid = None, client_id: ejs.ClientId = None,
    scopes: ejs.Scopes = None, target_token: ejs.TargetToken = None, enroll_to_cert: ejs.EnrollToCert = None,
    enroll_to_token: ejs.EnrollToToken = None, enroll_name_claims_selector: ejs.EnrollName = None,
    enroll_attr_claims_selector: ejs.EnrollAttributes = None, enroll_auth_policy: ejs.EnrollAuthPolicy = None,
) -> None:
    """Change an external JWT signer.

    Only the options given change; -u, -p or -f replaces where its keys come from.
    """
    body = {**_given(name=name, issuer=issuer, useExternalId=external_id, enabled=enabled),
            **ejs.key_source(jwks_endpoint, cert_pem, cert_file),
            **ejs.signer_fields(audience=audience, claims_property=claims_property,
                                external_auth_url=external_auth_url, kid=kid, client_id=client_id, scopes=scopes,
                                target_token=target_token, enroll_to_cert=enroll_to_cert,
                                enroll_to_token=enroll_to_token, enroll_name=enroll_name_claims_selector,
                                enroll_attributes=enroll_attr_claims_selector, enroll_auth_policy=enroll_auth_policy)}
    with open_client() as client:
        _patch(client, "ext-jwt-signer", id_or_name, body)
