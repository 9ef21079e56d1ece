"""ziti-aio: an OpenZiti-compatible zero-trust overlay network in one Python program."""

__version__ = "0.1.0"
