"""``ziti-aio list <entities> [FILTER]`` and ``ziti-aio list <entity> <related> <id-or-name> [FILTER]``."""

import json
from typing import Annotated, Any
from urllib.parse import quote

import typer

from ziti_aio.cli.client import open_client, reported
from ziti_aio.cli.help_format import Typer
from ziti_aio.cli.nouns import ATTRIBUTE_LISTS, BY_SINGULAR, NOUNS, RELATED
from ziti_aio.cli.request_options import current, with_request_options
from ziti_aio.cli.tables import render

app = Typer(help="List entities (a table, or the API's JSON with -j)", no_args_is_help=True)

Filter = Annotated[str | None, typer.Argument(metavar="FILTER",
                                              help='A ZitiQL filter, e.g. \'name contains "x" limit 50\'.')]


def _show(collection: str, body: dict[str, Any]) -> None:
    typer.echo(json.dumps(body, indent=2) if current().output_json else render(collection, body))


def _params(filter_text: str | None) -> dict[str, str] | None:
    return {"filter": filter_text} if filter_text else None


def _lister(collection: str) -> Any:
    def list_entities(filter_text: Filter = None) -> None:
        with open_client() as client:
            _show(collection, client.call("GET", f"/{collection}", params=_params(filter_text)))

    list_entities.__doc__ = f"List {collection}."
    return reported(with_request_options(list_entities, tags=False))


def _related_lister(singular: str) -> Any:
    noun = BY_SINGULAR[singular]

    def list_related(
        relation: Annotated[str, typer.Argument(help="Related entities, e.g. services, identities, edge-routers.")],
        id_or_name: Annotated[str, typer.Argument(help=f"The {noun.label}'s id or name.")],
        filter_text: Filter = None,
    ) -> None:
        with open_client() as client:
            ident = client.find(noun.collection, id_or_name, label=noun.label)["id"]
            body = client.call("GET", f"/{noun.collection}/{quote(ident, safe='')}/{quote(relation, safe='')}",
                               params=_params(filter_text))
            _show(relation, body)

    list_related.__doc__ = f"List related entities.\n\nThe entities related to one {noun.label}."
    return reported(with_request_options(list_related, tags=False))


for _noun in NOUNS:
    app.command(_noun.collection)(_lister(_noun.collection))
    if _noun.plural_alias:
        app.command(_noun.plural_alias, hidden=True)(_lister(_noun.collection))
for _collection in ATTRIBUTE_LISTS:
    app.command(_collection)(_lister(_collection))
for _singular in RELATED:
    app.command(_singular)(_related_lister(_singular))
    if BY_SINGULAR[_singular].alias:
        app.command(BY_SINGULAR[_singular].alias, hidden=True)(_related_lister(_singular))
