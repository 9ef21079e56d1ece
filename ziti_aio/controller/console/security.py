"""The console's session cookie, CSRF tokens and security headers (docs/console.md §Security).

The session cookie holds the user's API session token (``Secure; HttpOnly; SameSite=Strict``, path
``/console``): the console keeps no session state of its own, so logging out or an expired API session ends
the console session too. Every form post carries a CSRF token bound to that token by an HMAC with a key of
this controller process; the login form, before there is a session, uses a double-submit cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from quart import Response

SESSION_COOKIE = "ziti_console"
LOGIN_COOKIE = "ziti_console_login"
COOKIE_PATH = "/console"
# No inline script or style anywhere; the live parts are one module from /console/static.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


class CsrfKeys:
    """Derives each session's CSRF token; a new key each process start (forms then simply re-render)."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def token(self, session: str) -> str:
        return hmac.new(self._key, session.encode(), hashlib.sha256).hexdigest()

    def valid(self, session: str, offered: str | None) -> bool:
        return bool(offered) and hmac.compare_digest(self.token(session), offered or "")


def set_cookie(response: Response, name: str, value: str, *, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path=COOKIE_PATH, secure=True, httponly=True,
                        samesite="Strict")


def clear_cookie(response: Response, name: str) -> None:
    response.delete_cookie(name, path=COOKIE_PATH, secure=True, httponly=True, samesite="Strict")


def go(location: str) -> Response:
    """A hardened redirect (303: the browser follows with a GET, also after a form post)."""
    return harden(Response("", status=303, headers={"Location": location}))


def harden(response: Response, *, cache: str = "no-store") -> Response:
    """The headers every console answer carries."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.setdefault("Cache-Control", cache)
    return response
