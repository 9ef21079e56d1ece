"""``ziti-aio cluster init``: make a stopped controller the first member of a new cluster (docs/ha.md).

As OpenZiti's ``ziti agent cluster init``: it issues the controller's certificate with the member's
SPIFFE id (``spiffe://<trust domain>/controller/<id>``) and records ``cluster = { id = … }`` in the
``[controller]`` table of its node.toml. Started, it is a cluster of one; ``cluster add`` later adds
members without any migration: every write it acknowledges is in its Raft log, and what a controller
stored before it was initialised goes into the log's first snapshot (``run_member``).
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ziti_aio.appliance.node_config import load_node_config, parse_node_config
from ziti_aio.common.errors import ConfigError
from ziti_aio.controller.cluster.member import member_spiffe_id
from ziti_aio.controller.cluster.rename import restart_log
from ziti_aio.controller.controller import RAFT_DIR, STORE_FILE, ControllerConfig
from ziti_aio.controller.home_lock import HomeLock
from ziti_aio.controller.pki_home import ensure_controller_pki

if TYPE_CHECKING:
    from pathlib import Path

_CONTROLLER_HEADER = re.compile(r"^\s*\[controller\]\s*(#.*)?$")


@dataclass(frozen=True)
class InitializedMember:
    """What ``cluster init`` made: the member id, its SPIFFE id and its API (and Raft) address."""

    member_id: str
    spiffe_id: str
    address: str


def init_cluster(config_path: Path, member_id: str) -> InitializedMember:
    """Turn the controller of the node.toml at ``config_path`` into member ``member_id`` of a new cluster.

    A controller that has run (as a cluster of one named by its instance id) starts a new log under
    the new name (:func:`~ziti_aio.controller.cluster.rename.restart_log`). Refused
    (:class:`ConfigError`, nothing changed) when it is configured as a member already, its log has
    had other members or changes its store lacks, ``member_id`` is not a name, or the controller is running
    (:class:`~ziti_aio.controller.home_lock.HomeLock`)."""
    cfg = load_node_config(config_path)
    ctrl = cfg.controller
    if ctrl is None:
        raise ConfigError(f"{config_path}: no [controller] table: only a controller can start a cluster")
    if ctrl.cluster is not None:
        raise ConfigError(f"{config_path}: the controller is already initialised as cluster member "
                          f"{ctrl.cluster.member_id!r}")
    text = config_path.read_text()
    lines = text.splitlines(keepends=True)
    at = next((n for n, line in enumerate(lines) if _CONTROLLER_HEADER.match(line)), None)
    if at is None:
        raise ConfigError(f"{config_path}: no [controller] table header to add the cluster setting under")
    lines.insert(at + 1, f"cluster = {{ id = {json.dumps(member_id)} }}\n")
    updated = "".join(lines)
    # The same checks as at start-up (a member id of its own, no slash): nothing is written otherwise.
    parse_node_config(tomllib.loads(updated), source=str(config_path))
    home = cfg.home / "controller"
    with HomeLock(home, f"initialise cluster member {member_id!r}"):
        return _init_stopped(config_path, updated, member_id, home, ctrl.address, ctrl.port)


def _init_stopped(config_path: Path, updated: str, member_id: str, home: Path, address: str,
                  port: int) -> InitializedMember:
    trust_domain = ControllerConfig(home=home).trust_domain
    if (home / RAFT_DIR).exists():  # it ran as a cluster of one named by its instance id
        restart_log(home / RAFT_DIR, home / STORE_FILE)
    ensure_controller_pki(home / "pki", names=[address], trust_domain=trust_domain, member_id=member_id)
    config_path.write_text(updated)
    host = f"[{address}]" if ":" in address else address
    return InitializedMember(member_id, f"spiffe://{trust_domain}/{member_spiffe_id(member_id)}",
                             f"{host}:{port}")
