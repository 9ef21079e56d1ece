"""ziti-aio's trio SDK: ``async with open_context("id.json") as ctx``, then ``ctx.dial`` / ``ctx.bind``."""

from ziti_aio.sdk.context import ZitiContext, open_context

__all__ = ["ZitiContext", "open_context"]
