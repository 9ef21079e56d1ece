"""``quickstart --ci-env FILE``: what a ready network offers, as shell variables and as JSON.

A CI job in any language starts ``ziti-aio quickstart --detach --ci-env FILE`` (or runs it in the
background), waits for ``FILE``, then reads it (``. FILE`` in a shell, ``FILE.json`` anywhere else).
Both files are written when every role serves, each to a temporary name first and then renamed, the
JSON twin before ``FILE``: a waiter that sees ``FILE`` reads whole files. Both are removed when the
quickstart stops.

=========================  ===============================================================
``ZITI_CTRL_URL``          the controller, ``https://HOST:PORT``
``ZITI_CTRL_ADDRESS``      ``HOST:PORT``, what ``ziti-aio login`` / ``ziti edge login`` take
``ZITI_CLIENT_API``        the Edge Client API base URL (``…/edge/client/v1``)
``ZITI_MANAGEMENT_API``    the Edge Management API base URL (``…/edge/management/v1``)
``ZITI_CA_BUNDLE``         PEM file of the network's CAs (``curl --cacert``, ``REQUESTS_CA_BUNDLE``)
``ZITI_USER``              the admin's username
``ZITI_PASSWORD``          the admin's password
``ZITI_CLIENT_IDENTITY``   an enrolled identity file (``ztAPI``, ``id``) that may dial the demo service
``ZITI_DEMO_SERVICE``      the demo service's name (an echo server hosted by the quickstart's tunneler)
``ZITI_ROUTERS``           the edge routers' addresses, comma-separated (``tls://HOST:PORT``)
``ZITI_HOME``              the quickstart's home (PKI, store, identity files)
``ZITI_QUICKSTART_PID``    the quickstart's process id: ``kill`` it to stop the network
=========================  ===============================================================

``ZITI_CLIENT_IDENTITY`` and ``ZITI_DEMO_SERVICE`` are empty with ``--no-tunneler`` (null in JSON).
"""

from __future__ import annotations

import json
import os
import shlex
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ziti_aio.common import api_paths

if TYPE_CHECKING:
    from pathlib import Path

JSON_SUFFIX = ".json"


@dataclass(frozen=True)
class ReadyNetwork:
    """What a quickstart that has started every role knows about its network."""

    url: str
    ca_bundle: Path
    username: str
    password: str
    home: Path
    routers: tuple[str, ...]
    client_identity: Path | None
    demo_service: str | None


def variables(network: ReadyNetwork, pid: int) -> dict[str, str | None]:
    """The variables of the module docstring, in its order (``None``: not available)."""
    return {
        "ZITI_CTRL_URL": network.url,
        "ZITI_CTRL_ADDRESS": network.url.removeprefix("https://"),
        "ZITI_CLIENT_API": network.url + api_paths.CLIENT,
        "ZITI_MANAGEMENT_API": network.url + api_paths.MANAGEMENT,
        "ZITI_CA_BUNDLE": str(network.ca_bundle),
        "ZITI_USER": network.username,
        "ZITI_PASSWORD": network.password,
        "ZITI_CLIENT_IDENTITY": str(network.client_identity) if network.client_identity else None,
        "ZITI_DEMO_SERVICE": network.demo_service,
        "ZITI_ROUTERS": ",".join(network.routers),
        "ZITI_HOME": str(network.home),
        "ZITI_QUICKSTART_PID": str(pid),
    }


def shell_text(values: dict[str, str | None]) -> str:
    """``export NAME=value`` lines, quoted for any POSIX shell."""
    return "".join(f"export {name}={shlex.quote(value or '')}\n" for name, value in values.items())


def json_path(path: Path) -> Path:
    """The JSON twin of ``path`` (``FILE.json``)."""
    return path.with_name(path.name + JSON_SUFFIX)


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (mode 0600: the file holds the admin password)."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


def write_ci_env(path: Path, network: ReadyNetwork, pid: int | None = None) -> None:
    """Write ``path`` (shell) and its JSON twin, the twin first; see the module docstring."""
    values = variables(network, os.getpid() if pid is None else pid)
    _replace(json_path(path), json.dumps(values, indent=2) + "\n")
    _replace(path, shell_text(values))


def remove_ci_env(path: Path) -> None:
    """Remove ``path`` and its JSON twin (those that exist)."""
    for each in (path, json_path(path)):
        each.unlink(missing_ok=True)
