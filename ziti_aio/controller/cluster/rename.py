"""Naming a stopped cluster of one anew (``ziti-aio cluster init`` on a controller that has run).

Every controller runs as a cluster of one named by its instance id (docs/ha.md "A cluster of one").
Its Raft directory names that member (the snapshot's member list, the journal's vote), so a new name
starts a new log: the store, complete after a clean stop, is then the data outside the log that the
member's first start puts into its first snapshot (``run_member``).
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from pysyncobj.journal import createJournal

from ziti_aio.common.errors import ConfigError
from ziti_aio.controller.cluster.codec import MEMBERSHIP, NO_OP, NON_VOTER
from ziti_aio.controller.cluster.replica import JOURNAL_FILE, SNAPSHOT_FILE
from ziti_aio.controller.cluster.snapshot import snapshot_members
from ziti_aio.controller.store.sqlite_store import SqliteStore

if TYPE_CHECKING:
    from pathlib import Path


def _unapplied(raft_dir: Path, applied: int) -> list[int]:
    """Indexes of the journal's membership changes, and of its entries after ``applied`` other than
    pysyncobj's no-ops."""
    journal_path = raft_dir / JOURNAL_FILE
    if not journal_path.exists():
        return []
    journal = createJournal(str(journal_path))
    try:
        entries = [journal[i] for i in range(len(journal))]
    finally:
        journal._destroy()
    return [idx for command, idx, _term in entries
            if command[:1] in (bytes([MEMBERSHIP]), bytes([NON_VOTER]))
            or (idx > applied and command != bytes([NO_OP]))]


def restart_log(raft_dir: Path, store_path: Path) -> None:
    """Drop the Raft log of a stopped cluster of one whose store holds everything it applied, and mark
    the store as not yet in any log. :class:`ConfigError` (nothing changed) when the log has members
    besides its own or entries the store lacks (the controller did not stop cleanly)."""
    members = snapshot_members(raft_dir / SNAPSHOT_FILE)
    if members is not None and len(members) != 1:
        raise ConfigError(f"{raft_dir} belongs to a cluster of {len(members) or 'unknown'} members: "
                          "it cannot be initialised again")
    store = SqliteStore(store_path)
    try:
        missing = _unapplied(raft_dir, store.applied_index())
        if missing:
            raise ConfigError(f"{raft_dir} holds {len(missing)} change(s) or membership change(s) the store "
                              "has not applied: start the controller and stop it cleanly first")
        store.write([], applied_index=0)
    finally:
        store.close()
    shutil.rmtree(raft_dir)
