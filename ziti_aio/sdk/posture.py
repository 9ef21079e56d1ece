"""Posture reporting: what the device looks like, sent when services ask for it (docs/posture.md §6).

The service listing carries ``postureQueries``; the SDK answers the union of them as libziti does:
one ``OS`` (type, kernel release, kernel version), one ``DOMAIN`` (the Windows domain, ``""``
elsewhere), one ``MAC`` (every non-internal interface's hardware address) and one ``PROCESS`` per
process path (running or not, the SHA-512 of the file, no signers off Windows). ``MFA`` queries are
answered by the controller itself. Answers go in one ``POST /posture-response-bulk``; only changed
answers are sent again, unless the last send failed or a new API session began.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import platform
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psutil
import trio

from ziti_aio.common.errors import ZitiError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from ziti_aio.sdk.client_api import EdgeClientApi

log = logging.getLogger(__name__)

# libziti's posture ticker
POSTURE_INTERVAL_S = 20.0
# OS names as posture checks spell them (OpenZiti's osType)
OS_NAMES = {"Linux": "Linux", "Darwin": "macOS", "Windows": "Windows"}
HASH_CHUNK = 64 * 1024


@dataclass(frozen=True)
class PostureQuery:
    """One check a service's policy needs: its id, type and (for process checks) the paths."""

    id: str
    type: str
    is_passing: bool
    paths: tuple[str, ...] = ()


def parse_queries(service: dict[str, Any]) -> tuple[PostureQuery, ...]:
    """The posture queries of a service listing entry (``postureQueries[].postureQueries[]``)."""
    out = []
    for policy in service.get("postureQueries") or ():
        for q in (policy or {}).get("postureQueries") or ():
            if not isinstance(q, dict) or not isinstance(q.get("id"), str):
                continue
            procs = [q["process"]] if isinstance(q.get("process"), dict) else q.get("processes") or []
            paths = tuple(p["path"] for p in procs if isinstance(p, dict) and isinstance(p.get("path"), str))
            out.append(PostureQuery(q["id"], str(q.get("queryType", "")), bool(q.get("isPassing")), paths))
    return tuple(out)


def _os_type() -> str:
    system = platform.system()
    if system == "Windows" and "server" in platform.release().lower():
        return "WindowsServer"
    return OS_NAMES.get(system, system)


def _mac_addresses() -> list[str]:
    macs = set()
    for name, addrs in psutil.net_if_addrs().items():
        if name == "lo" or name.startswith("lo"):
            continue
        for addr in addrs:
            if addr.family == psutil.AF_LINK and addr.address and addr.address.strip("0:-"):
                macs.add(addr.address.replace("-", ":").lower())
    return sorted(macs)


def _running(path: str) -> bool:
    wanted = os.path.normcase(path)
    for proc in psutil.process_iter(["exe"]):
        exe = proc.info.get("exe")
        if exe and os.path.normcase(exe) == wanted:
            return True
    return False


@functools.lru_cache(maxsize=256)
def _sha512_of(path: str, mtime_ns: int, size: int) -> str:
    """The hash of a file version (cached by modification time and size: reports repeat every 20 s)."""
    digest = hashlib.sha512()
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sha512(path: str) -> str:
    st = os.stat(path)
    return _sha512_of(path, st.st_mtime_ns, st.st_size)


def _process(query_id: str, path: str) -> dict[str, Any]:
    """A process answer: a missing file is not running and has no hash (as libziti)."""
    answer: dict[str, Any] = {"id": query_id, "typeId": "PROCESS", "path": path, "isRunning": False, "hash": "",
                              "signerFingerprints": []}
    if os.path.isfile(path):
        answer["isRunning"] = _running(path)
        try:
            answer["hash"] = _sha512(path)
        except OSError as exc:
            log.info("cannot hash %s for posture: %s", path, exc)
    return answer


def collect(queries: Iterable[PostureQuery]) -> dict[str, dict[str, Any]]:
    """The answers to ``queries``, keyed like libziti's (the type, or the path for processes). Blocking."""
    out: dict[str, dict[str, Any]] = {}
    for q in queries:
        if q.type == "OS" and "OS" not in out:
            out["OS"] = {"id": q.id, "typeId": "OS", "type": _os_type(), "version": platform.release(),
                         "build": platform.version()}
        elif q.type == "DOMAIN" and "DOMAIN" not in out:
            domain = os.environ.get("USERDNSDOMAIN", "") if platform.system() == "Windows" else ""
            out["DOMAIN"] = {"id": q.id, "typeId": "DOMAIN", "domain": domain}
        elif q.type == "MAC" and "MAC" not in out:
            out["MAC"] = {"id": q.id, "typeId": "MAC", "macAddresses": _mac_addresses()}
        elif q.type in ("PROCESS", "PROCESS_MULTI"):
            for path in q.paths:
                out.setdefault(path, _process(q.id, path))
    return out


class PostureReporter:
    """Sends one context's posture answers, only what changed since the last successful send."""

    def __init__(self, client_api: EdgeClientApi, queries: Callable[[], Iterable[PostureQuery]]) -> None:
        self.client_api = client_api
        self.queries = queries
        self._sent: dict[str, dict[str, Any]] = {}
        self._sent_for: str | None = None
        self._lock = trio.Lock()

    async def submit(self, *, force: bool = False) -> int:
        """Collect and send the answers that changed (all with ``force`` or after a new API session);
        returns how many were sent."""
        async with self._lock:
            queries = list(self.queries())
            if not queries:
                return 0
            answers = await trio.to_thread.run_sync(collect, queries)
            session = self.client_api.api_session.id if self.client_api.api_session else None
            if force or session != self._sent_for:
                self._sent = {}
            changed = [a for key, a in answers.items() if self._sent.get(key) != a]
            if not changed:
                return 0
            try:
                await self.client_api.submit_posture(changed)
            except ZitiError as exc:
                log.warning("sending posture failed: %s", exc.message)
                self._sent = {}
                return 0
            self._sent.update({k: a for k, a in answers.items() if a in changed})
            self._sent_for = session
            return len(changed)

    async def run(self, interval_s: float = POSTURE_INTERVAL_S) -> None:
        """Send changes every ``interval_s`` seconds (libziti's ticker)."""
        while True:
            await trio.sleep(interval_s)
            await self.submit()
