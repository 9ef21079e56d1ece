"""The web console at ``/console/`` (docs/console.md): login, the overview, routers and links, live circuits,
the policy advisor and the role-selector preview. Entity pages are in :mod:`entity_routes`.

Pages are rendered on the server from the management API's answers (through :class:`ManagementApi`, as the
logged-in user); the one script, ``static/console.js``, adds the live parts: the event stream, previews.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio
from quart import Blueprint, Response, render_template, request, websocket

from ziti_aio.common.errors import ZitiError
from ziti_aio.common.roles import parse_roles
from ziti_aio.controller.console.api_client import ApiFailure, ManagementApi
from ziti_aio.controller.console.entity_routes import add_entity_routes
from ziti_aio.controller.console.forms import split_list
from ziti_aio.controller.console.picture import HEIGHT, WIDTH, layout
from ziti_aio.controller.console.security import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    CsrfKeys,
    clear_cookie,
    go,
    harden,
    set_cookie,
)
from ziti_aio.controller.console.session import Session, logged_in

if TYPE_CHECKING:
    from ziti_aio.controller.api.app import ApiContext

HERE = Path(__file__).parent
LIVE_TYPES = ("circuit", "router", "link", "alert")
ALERTS_SHOWN = 20
"""Kept alerts the overview lists when it loads (live ones are added on top, up to ``MAX_EVENTS`` in console.js)."""
SEND_TIMEOUT_S = 30.0
PREVIEW_KINDS = ("identities", "services", "edge-routers")
MAX_PREVIEW_NAMES = 50
COUNTED = ("identities", "services", "configs", "service-policies", "edge-router-policies",
           "service-edge-router-policies")


def console_blueprint(ctx: ApiContext, app: Any) -> Blueprint:
    """The console's routes; ``app`` is the Quart application whose management API they call."""
    bp = Blueprint("console", __name__, url_prefix="/console", template_folder=str(HERE / "templates"),
                   static_folder=str(HERE / "static"), static_url_path="/static")
    csrf = CsrfKeys()
    session_view = logged_in(app, csrf)
    add_entity_routes(bp, session_view)

    @bp.after_request
    async def _static_headers(response: Response) -> Response:
        if request.path.startswith("/console/static/"):
            return harden(response, cache="no-cache")
        return response

    @bp.errorhandler(ApiFailure)
    async def _api_failure(exc: ApiFailure) -> Response:
        """A read the page needed was refused (say, a permission the user lacks): the API's message."""
        body = await render_template("error.html", session=None, message=exc.message)
        return harden(Response(body, status=exc.status, content_type="text/html; charset=utf-8"))

    @bp.get("/")
    @session_view
    async def overview(s: Session) -> Response:
        counts: dict[str, int | None] = {}
        for kind in COUNTED:
            try:
                counts[kind] = len(await s.api.all(kind))
            except ApiFailure:
                counts[kind] = None  # not readable with these permissions
        routers, links, circuits = await _routers(s), await _optional(s, "links"), await _optional(s, "circuits")
        nodes, edges = layout(routers, links)
        online = sum(1 for r in routers if r.get("isOnline"))
        alerts = await _recent_alerts(s) if s.is_admin else []
        return await s.page("overview.html", counts=counts, routers=routers, online=online, links=links,
                            circuits=circuits, nodes=nodes, edges=edges, width=WIDTH, height=HEIGHT, alerts=alerts)

    @bp.get("/login")
    async def login_form() -> Response:
        return await _login_page()

    @bp.post("/login")
    async def login() -> Response:
        """Password login; with ``method=cert``, the client certificate the browser presented on this
        connection (the API's TLS asks every client for one, docs/edge-api.md §5)."""
        form = await request.form
        offered, expected = form.get("csrf", ""), request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not secrets.compare_digest(offered, expected):
            return await _login_page("The login form expired; try again.", 403)
        api = ManagementApi(app, None, request.remote_addr)
        try:
            if form.get("method") == "cert":
                token = await api.login_certificate()
            else:
                token = await api.login(form.get("username", ""), form.get("password", ""))
        except ApiFailure as exc:
            return await _login_page(exc.message, exc.status, username=form.get("username", ""))
        finally:
            await api.aclose()
        response = go("/console/")
        set_cookie(response, SESSION_COOKIE, token)
        clear_cookie(response, LOGIN_COOKIE)
        return response

    async def _login_page(error: str = "", status: int = 200, username: str = "") -> Response:
        nonce = secrets.token_urlsafe(24)
        body = await render_template("login.html", error=error, csrf=nonce, username=username, session=None)
        response = harden(Response(body, status=status, content_type="text/html; charset=utf-8"))
        set_cookie(response, LOGIN_COOKIE, nonce, max_age=3600)
        return response

    @bp.post("/logout")
    @session_view
    async def logout(s: Session) -> Response:
        with contextlib.suppress(ApiFailure):  # already gone: the cookie goes anyway
            await s.api.call("DELETE", "current-api-session")
        response = go("/console/login")
        clear_cookie(response, SESSION_COOKIE)
        return response

    @bp.get("/network")
    @session_view
    async def network(s: Session) -> Response:
        routers, links = await _routers(s), await _optional(s, "links")
        names = {r["id"]: r.get("name", r["id"]) for r in routers}
        return await s.page("network.html", routers=routers, links=links, names=names)

    @bp.get("/circuits")
    @session_view
    async def circuits(s: Session) -> Response:
        routers = await _routers(s)
        names = {r["id"]: r.get("name", r["id"]) for r in routers}
        services = {sv["id"]: sv["name"] for sv in await _optional(s, "services")}
        identities = {i["id"]: i["name"] for i in await _optional(s, "identities")}
        return await s.page("circuits.html", circuits=await _optional(s, "circuits"), names=names,
                            services=services, identities=identities, live=s.is_admin)

    @bp.get("/advisor")
    @session_view
    async def advisor(s: Session) -> Response:
        identities, services = await _optional(s, "identities"), await _optional(s, "services")
        identity_id, service_id = request.args.get("identity", ""), request.args.get("service", "")
        advice = why = error = None
        if identity_id and service_id:
            try:
                advice = await s.api.get(f"identities/{identity_id}/policy-advice/{service_id}")
                why = await _reasons(s, identity_id, service_id)
            except ApiFailure as exc:
                error = exc.message
        return await s.page("advisor.html", identities=identities, services=services, identity_id=identity_id,
                            service_id=service_id, advice=advice, why=why, error=error)

    @bp.get("/preview")
    @session_view
    async def preview(s: Session) -> Response:
        """The entities a role list selects, as JSON for the forms' live preview."""
        kind = request.args.get("kind", "")
        if kind not in PREVIEW_KINDS:
            return _json({"error": f"kind must be one of {', '.join(PREVIEW_KINDS)}"}, 400)
        try:
            entities = await s.api.all(kind)
        except ApiFailure as exc:
            return _json({"error": exc.message}, exc.status)
        by_name = {e["name"]: e["id"] for e in entities}
        roles = [("@" + by_name.get(r[1:], r[1:])) if r.startswith("@") else r
                 for r in split_list(request.args.get("roles", ""))]
        semantic = request.args.get("semantic", "AnyOf")
        selector = parse_roles(roles, semantic if semantic in ("AllOf", "AnyOf") else "AnyOf")
        matched = sorted(e["name"] for e in entities if selector.matches(e["id"], e.get("roleAttributes") or ()))
        return _json({"count": len(matched), "names": matched[:MAX_PREVIEW_NAMES]})

    @bp.websocket("/events")
    async def events() -> Response | None:
        """Circuit, router, link and alert events for the live pages: the admin event stream's rules
        (docs/events.md), with the session cookie instead of a header, for same-origin pages only."""
        token = websocket.cookies.get(SESSION_COOKIE)
        origin = websocket.headers.get("origin", "")
        if not token or origin.split("//", 1)[-1] != websocket.headers.get("host", ""):
            return Response("", status=403)
        try:
            found = ctx.access.resolve(token)
        except ZitiError:
            return Response("", status=401)
        if not found.is_admin or ctx.events is None:
            return Response("", status=403)
        await websocket.accept()
        sub = ctx.events.subscribe(f"console {found.identity['name']} {websocket.remote_addr}", LIVE_TYPES)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_end_on_input, nursery.cancel_scope)
                async for event in sub:
                    with trio.move_on_after(SEND_TIMEOUT_S) as waited:
                        await websocket.send(json.dumps(event.to_json(), separators=(",", ":"), default=str))
                    if waited.cancelled_caught:
                        break  # not reading: only this stream ends (docs/events.md)
                nursery.cancel_scope.cancel()
        finally:
            sub.close()
        return None

    return bp


async def _end_on_input(scope: trio.CancelScope) -> None:
    """The stream is one-way: a page that sends anything ends it."""
    await websocket.receive()
    scope.cancel()


def _json(payload: Any, status: int = 200) -> Response:
    return harden(Response(json.dumps(payload), status=status, content_type="application/json"))


async def _optional(s: Session, path: str) -> list[dict[str, Any]]:
    """A list, or nothing when the user may not read it."""
    try:
        return await s.api.all(path)
    except ApiFailure:
        return []


async def _recent_alerts(s: Session) -> list[dict[str, Any]]:
    """The alerts the controller kept, newest first (docs/operations.md); the page adds live ones on top."""
    try:
        return list(await s.api.get("alerts", limit=ALERTS_SHOWN) or [])
    except ApiFailure:
        return []


async def _routers(s: Session) -> list[dict[str, Any]]:
    return await _optional(s, "edge-routers")


async def _reasons(s: Session, identity_id: str, service_id: str) -> dict[str, list[dict[str, Any]]]:
    """The policies behind an advice: service policies naming both, and each side's router policies."""
    mine = {p["id"]: p for p in await s.api.all(f"identities/{identity_id}/service-policies")}
    theirs = {p["id"] for p in await s.api.all(f"services/{service_id}/service-policies")}
    return {
        "servicePolicies": [p for pid, p in mine.items() if pid in theirs],
        "edgeRouterPolicies": await s.api.all(f"identities/{identity_id}/edge-router-policies"),
        "serviceEdgeRouterPolicies": await s.api.all(f"services/{service_id}/service-edge-router-policies"),
    }
