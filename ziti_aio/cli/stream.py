"""``ziti-aio stream events``: follow the controller's live event stream (docs/events.md) with the
saved login (over the overlay when the management plane is dark), one line per event; ``-j`` prints
each event's JSON as it came."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Annotated, Any

import trio
import typer
from trio_websocket import (
    ConnectionClosed,
    ConnectionRejected,
    HandshakeError,
    WebSocketConnection,
    open_websocket_url,
    wrap_client_stream,
)

from ziti_aio.cli.client import CliError, reported, trust_context
from ziti_aio.cli.config_file import SavedLogin, load_login
from ziti_aio.cli.help_format import Typer
from ziti_aio.common import api_paths
from ziti_aio.common.errors import ZitiError

app = Typer(help="Follow live output of the controller", no_args_is_help=True)


def events_url(base_url: str, types: str | None) -> str:
    """The websocket URL of the event stream on the controller at ``base_url``."""
    url = "wss://" + base_url.removeprefix("https://") + api_paths.EVENTS
    return url + f"?types={types}" if types else url


def describe(event: dict[str, Any]) -> str:
    """One readable line for an event: when, what, and its main ids."""
    kind = event.get("namespace", "?")
    what = event.get("event_type") or event.get("eventType") or event.get("metric") or ""
    if kind == "entityChange":
        state = event.get("finalState") or event.get("initialState") or {}
        detail = f"{event.get('entityType')} {state.get('name') or state.get('id', '')}"
    elif kind == "circuit":
        nodes = (event.get("path") or {}).get("nodes")
        detail = f"{event.get('circuit_id')} service {event.get('service_id')} path {nodes}"
    elif kind == "alert":
        detail = str(event.get("message", ""))
    elif kind == "metrics":
        values = event.get("metrics") or {}
        detail = f"{event.get('source_entity_id', '')} by {event.get('source_id')} " + " ".join(
            f"{k}={values[k]}" for k in ("count", "p50", "max") if k in values)
    else:
        detail = " ".join(f"{k}={v}" for k, v in event.items() if k.endswith("_id") and k != "event_src_id" and v)
    return f"{event.get('timestamp', '')} {kind} {what} {detail}".rstrip()


async def _print(ws: WebSocketConnection, as_json: bool) -> None:
    while True:
        for line in (await ws.get_message()).splitlines():  # one event per line (docs/events.md)
            typer.echo(line if as_json else describe(json.loads(line)))


async def _over_overlay(login: SavedLogin, types: str | None, as_json: bool) -> None:
    """The stream of a dark management plane: a websocket over a ziti connection to its service."""
    from ziti_aio.sdk.context import open_context  # the SDK: only for overlay logins

    async with open_context(Path(login.identity)) as ctx, trio.open_nursery() as nursery:
        conn = await ctx.dial(login.service)
        resource = api_paths.EVENTS + (f"?types={types}" if types else "")
        # typed for TCP and TLS streams, trio-websocket speaks over any trio stream
        ws = await wrap_client_stream(nursery, conn, login.service, resource,  # type: ignore[arg-type]
                                      extra_headers=[(b"zt-session", ctx.client_api.token.encode())])
        try:
            await _print(ws, as_json)
        finally:
            await ws.aclose()


async def follow(login: SavedLogin, types: str | None, as_json: bool) -> None:
    url = events_url(login.url, types)
    try:
        if login.overlay:
            await _over_overlay(login, types, as_json)
            return
        async with open_websocket_url(url, trust_context(login.ca or None),
                                      extra_headers=[(b"zt-session", login.token.encode())]) as ws:
            await _print(ws, as_json)
    except ConnectionRejected as exc:
        try:
            error = json.loads(exc.body or b"{}").get("error", {}).get("message", "")
        except ValueError:
            error = ""
        raise CliError(f"the controller refused the event stream (HTTP {exc.status_code}) {error}".rstrip()) from exc
    except ConnectionClosed as exc:
        raise CliError(f"the controller closed the event stream: {exc.reason}") from exc
    except (HandshakeError, OSError, ZitiError) as exc:
        raise CliError(f"cannot reach the event stream at {url}: {exc}") from exc


def events(types: Annotated[str | None, typer.Option("--types", "-t", help="Comma-separated event types "
                                                     "(entityChange, circuit, router, link, session, apiSession, "
                                                     "usage, service, alert); default: all.")] = None,
           output_json: Annotated[bool, typer.Option("-j", "--output-json", help="Print each event's JSON.")]
           = False) -> None:
    """Print the controller's events as they happen, until interrupted."""
    login = load_login()
    if login is None:
        raise CliError("not logged in: run ziti-aio login HOST[:PORT] -u USER -p PASSWORD [-y]")
    with contextlib.suppress(KeyboardInterrupt):
        trio.run(follow, login, types, output_json)


app.command("events")(reported(events))
