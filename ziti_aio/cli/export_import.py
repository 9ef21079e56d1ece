"""``ziti-aio export`` and ``ziti-aio import FILE [--dry-run] [--overwrite]``: a network as one JSON file
(:mod:`ziti_aio.cli.network_file`, docs/operations.md).

Both run in the CLI over the management API with the saved login rather than as endpoints of the
controller: they then work against any OpenZiti-compatible controller, over the overlay when the
management plane is dark, and every change goes through the same checks as any other API call. An
import checks the whole file against the network first and changes nothing unless all of it is right.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ziti_aio.cli.client import CliError, ManagementClient, open_client, reported
from ziti_aio.cli.network_file import COLLECTIONS, Listings, exported, plan, problems, request_body
from ziti_aio.cli.request_options import with_request_options
from ziti_aio.sdk.management import ManagementError

PAGE = 500
MAX_FILE_BYTES = 64 * 1024 * 1024


def listings(client: ManagementClient) -> Listings:
    """Every exportable collection the controller serves, all pages."""
    found: Listings = {}
    for spec in COLLECTIONS:
        entities: list[dict[str, Any]] = []
        try:
            while True:
                body = client.call("GET", f"/{spec.name}", params={"limit": str(PAGE), "offset": str(len(entities))})
                page = body.get("data") or []
                entities += page
                total = ((body.get("meta") or {}).get("pagination") or {}).get("totalCount")
                if len(page) < PAGE or (isinstance(total, int) and len(entities) >= total):
                    break
        except ManagementError as exc:
            if exc.status == 404:
                continue
            raise
        found[spec.name] = entities
    return found


def _export() -> None:
    """Write the network's entities as JSON on stdout.

    Every entity an operator creates, with references by name. Secrets and runtime state are left
    out (enrollment tokens and JWTs, passwords, fingerprints, sessions, online status); so are the
    entities every network makes for itself (the default admin, routers' own identities and system
    policies).

    \b
    Example:
      ziti-aio export > network.json
    """
    with open_client() as client:
        doc = exported(listings(client))
    typer.echo(json.dumps(doc, indent=2, sort_keys=False))


def _read(path: Path) -> Any:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise CliError(f"{path} is larger than {MAX_FILE_BYTES} bytes")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CliError(f"{path} is not JSON: {exc}") from None


def _import(
    file: Annotated[Path, typer.Argument(help="A file written by ziti-aio export (or by hand in its format).")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would change; change nothing.")] = False,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Update entities that exist with other values (else such conflicts stop the import).")
    ] = False,
) -> None:
    """Create what an exported file holds and the network lacks.

    Entities are matched by name. An entity that exists with the same values is left alone (importing
    twice changes nothing); one that exists with other values is a conflict: listed, and the import
    stops before changing anything unless --overwrite. A file with dangling references, duplicate
    names, unknown fields or wrong types changes nothing: every problem is listed. Created identities
    get a one-time-token enrollment and created routers must be enrolled; created CAs must be verified.

    \b
    Examples:
      ziti-aio import network.json --dry-run
      ziti-aio import network.json
    """
    doc = _read(file)
    with open_client() as client:
        ids = listings(client)
        found = problems(doc, ids)
        if found:
            for problem in found:
                typer.echo(f"problem: {problem}", err=True)
            raise CliError(f"{file}: {len(found)} problem(s); nothing was changed")
        steps = plan(doc, ids)
        for spec, entry, fields in steps.conflicts:
            typer.echo(f"conflict: {spec.name} {entry['name']!r} exists with other {', '.join(fields)}")
        if steps.conflicts and not overwrite:
            raise CliError(f"{len(steps.conflicts)} conflict(s); nothing was changed (--overwrite updates them)")
        verb = "would " if dry_run else ""
        for spec, entry in steps.create:
            if not dry_run:
                new_id = client.create(spec.name, request_body(spec, entry, ids, create=True))
                ids.setdefault(spec.name, []).append({"id": new_id, "name": entry["name"]})
            typer.echo(f"{verb}create {spec.name} {entry['name']!r}")
        for spec, entry, _ in steps.conflicts:
            if not dry_run:
                current = next(e for e in ids[spec.name] if e.get("name") == entry["name"])
                client.patch(spec.name, str(current["id"]), request_body(spec, entry, ids, create=False))
            typer.echo(f"{verb}update {spec.name} {entry['name']!r}")
    changed = len(steps.create) + (len(steps.conflicts) if overwrite else 0)
    typer.echo(f"{'would change' if dry_run else 'changed'} {changed}, unchanged {len(steps.unchanged)}")


export = reported(with_request_options(_export, tags=False))
import_network = reported(with_request_options(_import, tags=False))
