"""The programs test_netns.py runs inside network namespaces (``python netns_node.py CMD ...``).

- ``setup URL CA PASSWORD DIR``: routers r1 (#ingress), r3 (#egress), transit routers r2 and r4
  (r4 costs more), policies, service ``svc``, identities ``host`` and ``dialer`` enrolled into
  DIR; writes ``rN.jwt`` and prints the router ids as JSON.
- ``links URL CA PASSWORD COUNT`` / ``circuits URL CA PASSWORD``: the management listings as JSON
  (``links`` waits until COUNT links are up).
- ``host IDENTITY``: binds ``svc``; answers each stream with the SHA-256 of what it read.
- ``dialer IDENTITY PHASES``: per phase, dials ``svc``, sends half of its bytes, prints
  ``phaseN half`` and waits for a line on stdin, sends the rest and prints ``phaseN result: ok`` (the
  host's digest matches) or ``phaseN result: closed: REASON``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import trio

from ziti_aio.cli.enroll import enroll
from ziti_aio.common.api_paths import MANAGEMENT
from ziti_aio.common.errors import ZitiError
from ziti_aio.sdk import open_context

if TYPE_CHECKING:
    from collections.abc import Iterator

M = MANAGEMENT
CHUNK = 64 * 1024
HALF_BYTES = 4 * 1024 * 1024
TIMEOUT_S = 30


@contextmanager
def admin(url: str, ca: str, password: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, verify=ca, timeout=TIMEOUT_S) as client:
        resp = client.post(f"{M}/authenticate?method=password", json={"username": "admin", "password": password})
        resp.raise_for_status()
        client.headers["zt-session"] = resp.json()["data"]["token"]
        yield client


def create(client: httpx.Client, kind: str, body: dict) -> str:
    resp = client.post(f"{M}/{kind}", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]["id"]


def setup(url: str, ca: str, password: str, out: str) -> None:
    out_dir = Path(out)
    with admin(url, ca, password) as client:
        ids = {"r1": create(client, "edge-routers", {"name": "r1", "roleAttributes": ["ingress"]}),
               "r3": create(client, "edge-routers", {"name": "r3", "roleAttributes": ["egress"]})}
        for name, cost in (("r2", 0), ("r4", 100)):
            ids[name] = create(client, "edge-routers", {"name": name, "roleAttributes": [], "cost": cost,
                                                        "isTunnelerEnabled": False, "tags": {"transitRouter": True}})
        for name, router_id in ids.items():
            (out_dir / f"{name}.jwt").write_text(client.get(f"{M}/edge-routers/{router_id}").json()["data"]
                                                 ["enrollmentJwt"])
        create(client, "edge-router-policies", {"name": "dialers", "identityRoles": ["#dialers"],
                                                "edgeRouterRoles": ["#ingress"]})
        create(client, "edge-router-policies", {"name": "hosts", "identityRoles": ["#hosts"],
                                                "edgeRouterRoles": ["#egress"]})
        create(client, "service-edge-router-policies", {"name": "all", "serviceRoles": ["#all"],
                                                        "edgeRouterRoles": ["#all"]})
        svc = create(client, "services", {"name": "svc", "encryptionRequired": True})
        for name, role, kind in (("host", "hosts", "Bind"), ("dialer", "dialers", "Dial")):
            ident = create(client, "identities", {"name": name, "type": "Device", "isAdmin": False,
                                                  "roleAttributes": [role], "enrollment": {"ott": True}})
            create(client, "service-policies", {"name": f"{name}-svc", "type": kind, "identityRoles": ["@" + ident],
                                                "serviceRoles": ["@" + svc]})
            jwt = out_dir / f"{name}.jwt"
            jwt.write_text(client.get(f"{M}/identities/{ident}").json()["data"]["enrollment"]["ott"]["jwt"])
            enroll(jwt, out=out_dir / f"{name}.json", password=None, remove=True)
    print(json.dumps(ids), flush=True)


def listing(url: str, ca: str, password: str, kind: str, count: int | None = None) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    with admin(url, ca, password) as client:
        while True:
            found = client.get(f"{M}/{kind}").json()["data"]
            if count is None or len(found) == count or time.monotonic() > deadline:
                print(json.dumps(found), flush=True)
                return
            time.sleep(0.1)


async def host(identity: str) -> None:
    async def serve(stream) -> None:  # type: ignore[no-untyped-def]
        digest, total = hashlib.sha256(), 0
        try:
            async with stream:
                while data := await stream.receive_some():
                    digest.update(data)
                    total += len(data)
                await stream.send_all(digest.digest())
                await stream.send_eof()
            print(f"host done {total}", flush=True)
        except (trio.BrokenResourceError, trio.ClosedResourceError, ZitiError) as exc:
            print(f"host closed: {exc}", flush=True)

    async with open_context(Path(identity)) as ctx:
        listener = await ctx.bind("svc")
        print("bound", flush=True)
        async with trio.open_nursery() as nursery:
            while True:
                nursery.start_soon(serve, await listener.accept())


async def dial(ctx):  # type: ignore[no-untyped-def]
    """Dial ``svc``, retrying while the terminator or the path is not there yet."""
    with trio.fail_after(TIMEOUT_S):
        while True:
            try:
                return await ctx.dial("svc")
            except ZitiError:
                await trio.sleep(0.2)


async def dialer(identity: str, phases: int) -> None:
    stdin = trio.lowlevel.FdStream(os.dup(0))
    async with open_context(Path(identity)) as ctx:
        for phase in range(1, phases + 1):
            stream = await dial(ctx)
            digest = hashlib.sha256()
            try:
                with trio.fail_after(TIMEOUT_S):
                    for half in (1, 2):
                        for _ in range(HALF_BYTES // CHUNK):
                            chunk = os.urandom(CHUNK)
                            digest.update(chunk)
                            await stream.send_all(chunk)
                        if half == 1:
                            print(f"phase{phase} half", flush=True)
                            await stdin.receive_some(64)
                    await stream.send_eof()
                    answer = b""
                    while data := await stream.receive_some():
                        answer += data
                print(f"phase{phase} result: {'ok' if answer == digest.digest() else 'digest mismatch'}", flush=True)
            except (trio.BrokenResourceError, trio.ClosedResourceError, ZitiError) as exc:
                print(f"phase{phase} result: closed: {exc}", flush=True)
            finally:
                await trio.aclose_forcefully(stream)


def main(argv: list[str]) -> None:
    cmd, args = argv[0], argv[1:]
    if cmd == "setup":
        setup(*args)
    elif cmd == "links":
        listing(*args[:3], "links", int(args[3]))
    elif cmd == "circuits":
        listing(*args[:3], "circuits")
    elif cmd == "host":
        trio.run(host, args[0])
    elif cmd == "dialer":
        trio.run(dialer, args[0], int(args[1]))
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv[1:])
