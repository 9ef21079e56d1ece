"""ziti-aio's trio SDK: ``async with open_context("id.json") as ctx``, then ``ctx.dial`` / ``ctx.bind``
(``open_ext_jwt_context(url, jwt, ca_pem=...)`` logs in with an external JWT instead of an identity file).

The two names load :mod:`ziti_aio.sdk.context` on first use, so a module of this package that needs
none of it (the CLI's management client) does not pay for trio, the TLS stack and libsodium.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ziti_aio.sdk.context import ZitiContext, open_context, open_ext_jwt_context

__all__ = ["ZitiContext", "open_context", "open_ext_jwt_context"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from ziti_aio.sdk import context

        return getattr(context, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
