"""Options shared by ``create`` and ``update``, and turning their text into API values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ziti_aio.cli.client import CliError, ManagementClient

MAX_JSON_FILE_BYTES = 1024 * 1024
SEMANTICS = ("AllOf", "AnyOf")

Csv = list[str] | None
RoleAttributes = Annotated[Csv, typer.Option("-a", "--role-attributes", help="Role attributes: a,b (repeatable).")]
IdentityRoles = Annotated[Csv, typer.Option("--identity-roles", help="Identity roles: #attr, @name-or-id, #all.")]
ServiceRoles = Annotated[Csv, typer.Option("--service-roles", help="Service roles: #attr, @name-or-id, #all.")]
EdgeRouterRoles = Annotated[
    Csv, typer.Option("--edge-router-roles", help="Edge router roles: #attr, @name-or-id, #all.")
]
PostureCheckRoles = Annotated[
    Csv, typer.Option("--posture-check-roles", help="Posture check roles: #attr, @name-or-id, #all.")
]
Configs = Annotated[Csv, typer.Option("-c", "--configs", help="Configs by name or id: cfg1,cfg2.")]
Encryption = Annotated[str | None, typer.Option("-e", "--encryption", help="End-to-end encryption: ON or OFF.")]
Permissions = Annotated[Csv, typer.Option("--permissions", help="Permissions: p1,p2 (e.g. service.read).")]
NewName = Annotated[str | None, typer.Option("-n", "--name", help="A new name.")]
Cost = Annotated[int | None, typer.Option("--cost", min=0, max=65535, help="Routing cost, 0-65535.")]
MAX_ROUTER_COST = 2**31 - 1
RouterCost = Annotated[int | None, typer.Option("--cost", min=0, max=MAX_ROUTER_COST,
                                                help=f"Router cost on paths, 0-{MAX_ROUTER_COST}.")]
JwtOutput = Annotated[Path | None, typer.Option("-o", "--jwt-output-file", help="Write the enrollment JWT here.")]

ROLE_TARGETS = {"identityRoles": "identities", "serviceRoles": "services", "edgeRouterRoles": "edge-routers",
                "postureCheckRoles": "posture-checks"}
ROLE_LABELS = {"identities": "identity", "services": "service", "edge-routers": "edge router",
               "posture-checks": "posture check"}


def split_csv(values: Csv) -> list[str]:
    """Values of a repeatable option, each of which may itself be comma-separated."""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def semantic(value: str) -> str:
    """``AnyOf`` or ``AllOf``, case-insensitively."""
    for known in SEMANTICS:
        if value.lower() == known.lower():
            return known
    raise CliError(f"--semantic must be AllOf or AnyOf, not {value!r}")


def encryption(value: str) -> bool:
    """``ON``/``OFF`` (also true/false) as a bool."""
    lowered = value.lower()
    if lowered in ("on", "true"):
        return True
    if lowered in ("off", "false"):
        return False
    raise CliError(f"--encryption must be ON or OFF, not {value!r}")


def convert_roles(client: ManagementClient, roles: list[str], collection: str) -> list[str]:
    """``@name`` becomes ``@id`` (ziti's ``convertNamesToIds``); ``#attr`` and ``#all`` pass through."""
    label = ROLE_LABELS[collection]
    return ["@" + client.find(collection, r[1:], label=label)["id"] if r.startswith("@") else r for r in roles]


def role_fields(client: ManagementClient, given: dict[str, Csv]) -> dict[str, list[str]]:
    """API role fields (``identityRoles``...) for the role options that were given."""
    return {name: convert_roles(client, split_csv(values), ROLE_TARGETS[name])
            for name, values in given.items() if values is not None}


def json_object(text: str | None, file: Path | None, what: str) -> dict[str, Any]:
    """A JSON object from an argument or a file (exactly one of them)."""
    if (text is None) == (file is None):
        raise CliError(f"give the {what} either as an argument or with a file option, not both or neither")
    if file is not None:
        if file.stat().st_size > MAX_JSON_FILE_BYTES:
            raise CliError(f"{file} is larger than {MAX_JSON_FILE_BYTES} bytes")
        text = file.read_text()
    try:
        value = json.loads(text or "")
    except ValueError as exc:
        raise CliError(f"the {what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise CliError(f"the {what} must be a JSON object")
    return value


def write_jwt(path: Path, jwt: str | None, what: str) -> None:
    """Write an enrollment JWT to ``path`` (owner-only)."""
    if not jwt:
        raise CliError(f"the {what} has no pending enrollment JWT")
    path.touch(mode=0o600)
    path.write_text(jwt)
