"""``ziti-aio delete <entity> <id-or-name>...``: look every one up first (id, then name), then DELETE them.

A name that matches nothing stops the command before anything is deleted, so a typo in a list of names never
leaves the rest half done.
"""

from typing import Annotated, Any

import typer

from ziti_aio.cli.client import CliError, ManagementClient, open_client, reported
from ziti_aio.cli.help_format import Typer
from ziti_aio.cli.mfa import delete_mfa
from ziti_aio.cli.nouns import NOUNS, Noun, display_name
from ziti_aio.cli.request_options import current, with_request_options
from ziti_aio.sdk.management import ManagementError

app = Typer(help="Delete entities", no_args_is_help=True)


def resolve_all(client: ManagementClient, noun: Noun, ids: list[str]) -> list[dict[str, Any]]:
    """Every entity named by ``ids`` (each once), or a :class:`CliError` naming all that match nothing."""
    found: dict[str, dict[str, Any]] = {}
    missing: list[str] = []
    for id_or_name in dict.fromkeys(ids):
        try:
            entity = client.find(noun.collection, id_or_name, label=noun.label, named=noun.named)
        except ManagementError as exc:
            if exc.status != 404:
                raise
            missing.append(id_or_name)
        else:
            found.setdefault(entity["id"], entity)
    if missing:
        what = "id or name" if noun.named else "id"
        names = ", ".join(repr(m) for m in missing)
        raise CliError(f"no {noun.label} found with {what} {names}" + ("; nothing was deleted" if len(ids) > 1 else ""))
    return list(found.values())


def _deleter(noun: Noun) -> Any:
    what = "ids or names" if noun.named else "ids"

    def delete_entities(
        ids: Annotated[list[str], typer.Argument(help=f"The {noun.label} {what}.")],
    ) -> None:
        with open_client() as client:
            for entity in resolve_all(client, noun, ids):
                client.delete(noun.collection, entity["id"])
                if not current().output_json:
                    typer.echo(f"deleted {noun.label} {display_name(noun, entity)}")

    delete_entities.__doc__ = (f"Delete {noun.collection}.\n\nBy {what}; all are looked up first, and nothing is "
                               "deleted if one is not found.")
    return reported(with_request_options(delete_entities, tags=False))


app.command("mfa")(reported(with_request_options(delete_mfa, tags=False)))
for _noun in (n for n in NOUNS if n.deletable):
    app.command(_noun.singular)(_deleter(_noun))
    if _noun.alias:
        app.command(_noun.alias, hidden=True)(_deleter(_noun))
