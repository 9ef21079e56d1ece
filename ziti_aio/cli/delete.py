"""``ziti-aio delete <entity> <id-or-name>...``: look each up (id first, then name) and DELETE it."""

from typing import Annotated, Any

import typer

from ziti_aio.cli.client import open_client, reported
from ziti_aio.cli.nouns import NOUNS, Noun, display_name

app = typer.Typer(help="Delete entities", no_args_is_help=True)


def _deleter(noun: Noun) -> Any:
    what = "ids or names" if noun.named else "ids"

    @reported
    def delete_entities(
        ids: Annotated[list[str], typer.Argument(help=f"The {noun.label} {what}.")],
    ) -> None:
        with open_client() as client:
            for id_or_name in ids:
                entity = client.find(noun.collection, id_or_name, label=noun.label, named=noun.named)
                client.delete(noun.collection, entity["id"])
                typer.echo(f"deleted {noun.label} {display_name(noun, entity)}")

    delete_entities.__doc__ = f"Delete {noun.collection} by {what}."
    return delete_entities


for _noun in (n for n in NOUNS if n.deletable):
    app.command(_noun.singular)(_deleter(_noun))
    if _noun.alias:
        app.command(_noun.alias, hidden=True)(_deleter(_noun))
