"""``ziti-aio status``: a one-screen summary of a network (docs/operations.md), from the management API and the
controller's ``/health-checks``, for the saved login."""

from __future__ import annotations

import json
from typing import Any

import typer

from ziti_aio.cli.client import ManagementClient, open_client, reported
from ziti_aio.cli.request_options import current, with_request_options
from ziti_aio.sdk.blocking_http import HttpFailure
from ziti_aio.sdk.management import ManagementError, unreachable

HEALTH_PATH = "/health-checks"
ROUTER_NAMES_SHOWN = 12
"""Router names printed before ``... and N more`` (the summary stays one screen)."""
ALERTS_SHOWN = 5
"""Recent alerts printed, newest first (``-j`` has the same ones)."""
ALL = {"limit": "-1"}
COUNT_ONLY = {"limit": "1"}


def _status() -> None:
    """Summarize the network on one screen.

    The controller and its health, routers online, links, circuits, identities, services and the recent
    alerts, read from the management API and the controller's health checks with the saved login; -j prints
    one JSON object.
    """
    with open_client() as client:
        summary = gather(client)
    typer.echo(json.dumps(summary, indent=2) if current().output_json else render(summary))


def gather(client: ManagementClient) -> dict[str, Any]:
    """Everything the summary shows, as plain data (the ``-j`` output)."""
    version = client.call("GET", "/version").get("data") or {}
    routers_body = client.call("GET", "/edge-routers", params=ALL)
    routers = sorted(({"id": r.get("id"), "name": r.get("name"), "isOnline": bool(r.get("isOnline")),
                "disabled": bool(r.get("disabled"))} for r in routers_body.get("data") or []),
                     key=lambda r: str(r["name"]))
    return {
        "controller": {"url": client.url, "version": version.get("version", "")},
        "health": _health(client),
        "routers": {"online": sum(r["isOnline"] for r in routers), "total": _total(routers_body), "list": routers},
        "links": _count(client, "/links"),
        "circuits": _count(client, "/circuits"),
        "identities": _count(client, "/identities"),
        "services": _count(client, "/services"),
        "alerts": _alerts(client),
    }


def _total(body: dict[str, Any]) -> int:
    return int(((body.get("meta") or {}).get("pagination") or {}).get("totalCount") or len(body.get("data") or []))


def _count(client: ManagementClient, path: str) -> int:
    return _total(client.call("GET", path, params=COUNT_ONLY))


def _alerts(client: ManagementClient) -> list[dict[str, Any]] | None:
    """The newest alerts the controller kept; ``None`` when it keeps none or the login may not read them
    (only admins may)."""
    try:
        return list(client.call("GET", "/alerts", params={"limit": str(ALERTS_SHOWN)}).get("data") or [])
    except ManagementError as exc:
        if exc.status in (401, 404):
            return None
        raise


def _health(client: ManagementClient) -> dict[str, Any]:
    """The health check's ``data`` (200 and 503 both carry it); ``healthy`` is ``None`` when the controller has
    no health check to ask."""
    try:
        resp = client.http.request("GET", HEALTH_PATH)
    except HttpFailure as exc:
        raise unreachable(client.url, exc) from exc
    try:
        data = resp.json().get("data")
    except (ValueError, AttributeError):
        data = None
    if resp.status_code not in (200, 503) or not isinstance(data, dict):
        return {"healthy": None, "checks": [], "error": f"{HEALTH_PATH} answered HTTP {resp.status_code}"}
    return data


def render(summary: dict[str, Any]) -> str:
    """The summary as aligned ``label  value`` lines."""
    ctrl, routers = summary["controller"], summary["routers"]
    lines = [("controller", f"{ctrl['url']} ({ctrl['version'] or 'unknown version'})"),
             ("health", _health_text(summary["health"])),
             ("routers", f"{routers['online']}/{routers['total']} online" + _router_names(routers["list"]))]
    lines += [(key, str(summary[key])) for key in ("links", "circuits", "identities", "services")]
    alerts = summary["alerts"]
    lines.append(("alerts", "not readable with this login" if alerts is None else
                  f"{len(alerts)} recent" if alerts else "none recent"))
    width = max(len(label) for label, _ in lines)
    text = [f"{label.ljust(width)}  {value}" for label, value in lines]
    text += [f"  {a.get('timestamp', '')} {a.get('severity', '')}: {a.get('message', '')}" for a in alerts or []]
    return "\n".join(text)


def _health_text(health: dict[str, Any]) -> str:
    if health.get("healthy") is None:
        return f"unknown: {health.get('error', 'no answer')}"
    if health["healthy"]:
        return "healthy"
    failing = [f"{c.get('id')}: {c.get('err') or 'failing'}" for c in health.get("checks") or []
               if not c.get("healthy")]
    return "UNHEALTHY: " + "; ".join(failing)


def _router_names(routers: list[dict[str, Any]]) -> str:
    if not routers:
        return ""
    shown = [r["name"] + ("" if r["isOnline"] else " (offline)") for r in routers[:ROUTER_NAMES_SHOWN]]
    more = len(routers) - len(shown)
    return ": " + ", ".join(shown) + (f" ... and {more} more" if more else "")


status = reported(with_request_options(_status, tags=False))
