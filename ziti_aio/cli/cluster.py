"""``ziti-aio cluster``: the controller cluster's members, as OpenZiti's ``ziti agent cluster`` (docs/ha.md).

Every command goes to the fabric API's ``cluster/*`` operations of the saved login's controller; changes
must be made on the leader (another member answers 503 naming it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ziti_aio.appliance.cluster_init import init_cluster
from ziti_aio.cli.client import ManagementClient, open_client, reported
from ziti_aio.cli.help_format import Typer
from ziti_aio.cli.request_options import current, with_request_options
from ziti_aio.sdk.blocking_http import HttpFailure
from ziti_aio.sdk.management import envelope, unreachable

FABRIC = "/fabric/v1"
COLUMNS = ("ID", "ADDRESS", "VOTER", "LEADER", "CONNECTED", "VERSION")

app = Typer(help="Manage the controller cluster (members, leadership)", no_args_is_help=True)


def _fabric(client: ManagementClient, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    try:
        resp = client.http.request(method, FABRIC + path, json=body)
    except HttpFailure as exc:
        raise unreachable(client.url, exc) from exc
    return envelope(resp)


def render(members: list[dict[str, Any]]) -> str:
    """The members as an aligned table."""
    rows = [list(COLUMNS)] + [[str(m.get("id", "")), str(m.get("address", "")), str(m.get("voter", "")).lower(),
                               str(m.get("leader", "")).lower(), str(m.get("connected", "")).lower(),
                               str(m.get("version", ""))] for m in members]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def _done(answer: dict[str, Any], text: str) -> None:
    typer.echo(json.dumps(answer, indent=2) if current().output_json else text)


def list_members() -> None:
    """List the cluster's members.

    Each member's id, address, whether it votes, leads and is connected, and its version.
    """
    with open_client() as client:
        answer = _fabric(client, "GET", "/cluster/list-members")
    _done(answer, render(answer.get("data") or []))


def add(
    address: Annotated[str, typer.Argument(help="The new member's address, tls:host:port.")],
    voter: Annotated[str, typer.Option("--voter", metavar="BOOL", help="Is this member a voting member "
                                       "(--voter=false: it receives the log but does not vote)")] = "true",
) -> None:
    """Add the controller at ADDRESS.

    It must be running and list this cluster's members. A member already there with the other role
    changes role (a non-voter is promoted with --voter=true).
    """
    is_voter = _boolean(voter, "--voter")
    with open_client() as client:
        answer = _fabric(client, "POST", "/cluster/add-member", {"address": address, "isVoter": is_voter})
    _done(answer, f"added {address} as a {'' if is_voter else 'non-'}voting member")


def _boolean(value: str, flag: str) -> bool:
    # as a Go flag's boolean: --voter=false, --voter false
    if value.lower() in ("true", "t", "1"):
        return True
    if value.lower() in ("false", "f", "0"):
        return False
    raise typer.BadParameter(f"takes true or false, not {value!r}", param_hint=flag)


def remove(member: Annotated[str, typer.Argument(help="The member id to remove.")]) -> None:
    """Remove member ID from the cluster."""
    with open_client() as client:
        answer = _fabric(client, "POST", "/cluster/remove-member", {"id": member})
    _done(answer, f"removed {member}")


def transfer_leadership(
    member: Annotated[str | None, typer.Argument(help="The member to lead (default: the most caught-up).")] = None,
) -> None:
    """Hand the leadership to another member."""
    with open_client() as client:
        answer = _fabric(client, "POST", "/cluster/transfer-leadership", {"newLeaderId": member} if member else {})
    _done(answer, f"leadership transferred{' to ' + member if member else ''}")


def init(
    config: Annotated[Path, typer.Option("--config", "-c", help="The controller's node.toml (stopped).")],
    member: Annotated[str, typer.Option("--id", help="This controller's member id in the cluster.")] = "ctrl-1",
) -> None:
    """Name a stopped controller's member in its cluster.

    Every controller is a cluster of one named by its instance id; this issues its certificate with
    the given member id and records it in the [controller] table of its node.toml. Members are added
    later with cluster add.
    """
    made = init_cluster(config, member)
    typer.echo(f"{made.member_id} ({made.spiffe_id}) at {made.address} is the first member of a new cluster; "
               f"start it with: ziti-aio run --config {config}")


app.command("init")(reported(init))
app.command("list")(reported(with_request_options(list_members, tags=False)))
app.command("add")(reported(with_request_options(add, tags=False)))
app.command("remove")(reported(with_request_options(remove, tags=False)))
app.command("transfer-leadership")(reported(with_request_options(transfer_leadership, tags=False)))
