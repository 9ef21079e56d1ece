"""A console request's logged-in user: the session cookie checked against the management API, the user's
permissions (to hide what they may not do; the API refuses it anyway), and the page renderer."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from quart import Response, render_template, request

from ziti_aio.controller.api.permissions import allowed
from ziti_aio.controller.console.api_client import ApiFailure, ManagementApi
from ziti_aio.controller.console.security import SESSION_COOKIE, CsrfKeys, clear_cookie, go, harden

LOGIN_PATH = "/console/login"


@dataclass
class Session:
    """The logged-in user of one request."""

    api: ManagementApi
    me: dict[str, Any]
    perms: set[str]
    csrf: str

    def can(self, kind: str, action: str) -> bool:
        return allowed(self.perms, kind, action)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.perms

    async def page(self, template: str, status: int = 200, **values: Any) -> Response:
        body = await render_template(template, session=self, **values)
        return harden(Response(body, status=status, content_type="text/html; charset=utf-8"))


def to_login() -> Response:
    response = go(LOGIN_PATH)
    clear_cookie(response, SESSION_COOKIE)
    return response


def permissions_of(identity: dict[str, Any]) -> set[str]:
    perms = {p for p in identity.get("permissions") or () if isinstance(p, str)}
    if identity.get("isAdmin"):
        perms.add("admin")
    return perms


Handler = Callable[..., Awaitable[Response]]


def logged_in(app: Any, csrf: CsrfKeys) -> Callable[[Handler], Handler]:
    """Decorates a console view: it receives a :class:`Session`, or the browser is sent to the login page.
    A POST must carry the session's CSRF token."""

    def decorate(view: Handler) -> Handler:
        @functools.wraps(view)
        async def wrapper(*args: Any, **kwargs: Any) -> Response:
            token = request.cookies.get(SESSION_COOKIE)
            if not token:
                return to_login()
            api = ManagementApi(app, token, request.remote_addr)
            try:
                try:
                    me = await api.get("current-identity")
                except ApiFailure as exc:
                    if exc.unauthorized:
                        return to_login()
                    raise
                session = Session(api, me, permissions_of(me), csrf.token(token))
                if request.method == "POST":
                    form = await request.form
                    if not csrf.valid(token, form.get("csrf")):
                        return await session.page("error.html", 403, message="This form has expired or did not "
                                                  "come from the console. Reload the page and try again.")
                return await view(session, *args, **kwargs)
            finally:
                await api.aclose()

        return wrapper

    return decorate
