"""``scale_100k`` (issue 19): the controller with 100,000 identities, 10,000 services, 1,000 policies.

The network is the bench's ``small`` one (16 bench users with certificates, 10 services they may
dial; ``bench/seed.py``) with the rest written straight into the store's SQLite file in one
transaction, copied from the seeded records' shapes: identities (each with a password
authenticator), services, and one Dial policy per team (``#team-N`` on both sides, ~100
identities and ~10 services each). Generating certificates and API sessions for 100,000
identities would take minutes; the fill has none, so it measures the index and the tables, not
the logins of idle identities.

Against ``small`` in the same run, alternating: controller start-up (``startup_s`` from the child:
store load, indexes, listeners), certificate logins and Dial session creations (server CPU per
operation), and the controller's RSS growth per extra identity.

``python bench/scale_bench.py [--quick] [--json-only]`` runs it on its own.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trio

from bench.common import FULL, QUICK, Context, Goal, Metric, Suite, median, open_child, progress, rss_kib, run_suites
from bench.controller_bench import SMALL, Server, Target, alternate, cert_login, cert_tokens, measure, median_cpu_ms
from bench.seed import BENCH_ROLE, Network, NetworkSpec, seed
from bench.serve_controller import serve_argv
from ziti_aio.common.ids import new_id
from ziti_aio.controller.controller import STORE_FILE

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

IDENTITIES = 100_000
SERVICES = 10_000
SERVICE_POLICIES = 1_000  # the bench users' policy and one per team
TEAMS = SERVICE_POLICIES - 1
BASELINE = f"same at {SMALL.identities} identities, {SMALL.services} services ('small')"

STARTUP = Metric("scale_100k_startup_s", None, "s", f"controller start-up, {BASELINE}",
                 goal=Goal("<=", 3.0, on="value", unit="s"))
LOGIN = Metric("scale_100k_login", None, "CPU ms/op", f"certificate login, {BASELINE}", goal=Goal("<=", 1.2))
DIAL = Metric("scale_100k_dial", None, "CPU ms/op", f"Dial session creation, {BASELINE}", goal=Goal("<=", 1.2))
STARTUP_CPU = Metric("scale_100k_startup_cpu_s", None, "CPU s", f"controller start-up CPU, {BASELINE}",
                     goal=Goal("<=", 3.0, on="value", unit="CPU s"))
RSS = Metric("scale_100k_rss_kib_per_identity", None, "KiB", "controller RSS growth over 'small' / extra identities")


def _template(db: sqlite3.Connection, kind: str, **where: Any) -> dict[str, Any]:
    for (data,) in db.execute("SELECT data FROM entities WHERE kind = ?", (kind,)):
        record = json.loads(data)
        if all(record.get(k) == v for k, v in where.items()):
            return dict(record)
    raise RuntimeError(f"no {kind} record like {where} to copy")


def bulk_fill(store_file: Path, identities: int, services: int, teams: int) -> None:
    """Add identities, services and team Dial policies to a seeded store, in one transaction."""
    db = sqlite3.connect(store_file)
    identity = _template(db, "identities", name="id-0")
    service = _template(db, "services", name="svc-0")
    policy = _template(db, "service-policies", name=f"{BENCH_ROLE}-dial")
    password = _template(db, "authenticators", method="updb", identityId=identity["id"])
    have = {kind: n for kind, n in db.execute("SELECT kind, count(*) FROM entities GROUP BY kind")}
    rows: list[tuple[str, str, str]] = []

    def add(kind: str, template: dict[str, Any], **fields: Any) -> str:
        ident = new_id()
        rows.append((kind, ident, json.dumps({**template, "id": ident, **fields}, separators=(",", ":"))))
        return ident

    for t in range(teams):
        add("service-policies", policy, name=f"team-{t}-dial", identityRoles=[f"#team-{t}"],
            serviceRoles=[f"#team-{t}"])
    for k in range(have.get("services", 0), services):
        add("services", service, name=f"svc-{k}", roleAttributes=[f"team-{k % teams}"])
    for j in range(have.get("identities", 0), identities):
        identity_id = add("identities", identity, name=f"id-{j}", roleAttributes=[f"team-{j % teams}"])
        add("authenticators", password, identityId=identity_id, username=f"user-{j}")
    with db:
        db.executemany("INSERT INTO entities (kind, id, data) VALUES (?, ?, ?)", rows)
    db.close()


@asynccontextmanager
async def serving_home(ctx: Context, network: Network, label: str
                       ) -> AsyncIterator[tuple[Target, tuple[float, float]]]:
    """A child controller on ``network``'s home, its users logged in; yields it and its start-up (wall, CPU) s."""
    async with open_child(serve_argv(network.home), ctx.workdir / f"{label}.log") as info:
        yield Target(network, Server(info["port"], info["pid"]), await cert_tokens(info["url"], network)), \
            (info["startup_s"], info["startup_cpu_s"])


async def scale_100k_suite(ctx: Context) -> list[Metric]:
    began = time.perf_counter()
    small = await seed(SMALL, ctx.workdir / "small")
    big = await seed(replace(SMALL, name="100k"), ctx.workdir / "100k")
    big = replace(big, spec=NetworkSpec("100k", IDENTITIES, SERVICES, SMALL.users))
    await trio.to_thread.run_sync(bulk_fill, big.home / STORE_FILE, IDENTITIES, SERVICES, TEAMS)
    progress(f"seeded small and 100k in {time.perf_counter() - began:.1f} s")
    startups: dict[str, list[float]] = {"small": [], "100k": []}
    startup_cpus: dict[str, list[float]] = {"small": [], "100k": []}
    rss: dict[str, list[int]] = {"small": [], "100k": []}
    results: dict[str, list[Any]] = {}
    for n in range(ctx.budget.rounds):
        async with AsyncExitStack() as stack:
            targets = {}
            for label, network in (("small", small), ("100k", big)):
                target, (startup, cpu) = await stack.enter_async_context(serving_home(ctx, network, f"{label}-{n}"))
                startups[label].append(startup)
                startup_cpus[label].append(cpu)
                progress(f"controller for {label} started in {startup:.2f} s, {cpu:.2f} CPU s")
                targets[label] = target
            runs = {}
            for label, target in targets.items():
                runs[f"login@{label}"] = lambda t=target: measure(ctx, t.server, t.workers(
                    lambda i, user, token: cert_login, with_cert=True))
                runs[f"dial@{label}"] = lambda t=target: measure(ctx, t.server, t.sessions())
            once = await alternate(replace(ctx, budget=replace(ctx.budget, rounds=1)), runs)
            for name, got in once.items():
                results.setdefault(name, []).extend(got)
            for label, target in targets.items():
                rss[label].append(rss_kib(target.server.pid))
    extra = IDENTITIES - SMALL.identities
    return [
        replace(STARTUP, value=median(startups["100k"]), baseline_value=median(startups["small"])),
        replace(STARTUP_CPU, value=median(startup_cpus["100k"]), baseline_value=median(startup_cpus["small"])),
        *(replace(spec, value=median_cpu_ms(results[f"{key}@100k"]),
                  baseline_value=median_cpu_ms(results[f"{key}@small"]))
          for spec, key in ((LOGIN, "login"), (DIAL, "dial"))),
        replace(RSS, value=(median(rss["100k"]) - median(rss["small"])) / extra),
    ]


SCALE_100K = Suite((STARTUP, STARTUP_CPU, LOGIN, DIAL, RSS), scale_100k_suite)


def main() -> None:
    parser = argparse.ArgumentParser(description="scale_100k on its own (issue 19).")
    parser.add_argument("--quick", action="store_true", help="short windows, one round")
    parser.add_argument("--json-only", action="store_true", help="print only the JSON lines")
    args = parser.parse_args()
    trio.run(lambda: run_suites((SCALE_100K,), QUICK if args.quick else FULL, json_only=args.json_only))


if __name__ == "__main__":
    main()
