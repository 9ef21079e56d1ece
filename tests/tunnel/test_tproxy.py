"""``tunnel tproxy`` in a network namespace: curl to an intercepted hostname, DNS failover, rules cleaned up."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import trio

from ziti_aio.tunnel.dns_server import NamePool
from ziti_aio.tunnel.intercept import InterceptRule, iptables_rules, nft_script
from ziti_aio.tunnel.tproxy import InterceptSpec, rules_for

HERE = Path(__file__).resolve().parent


def test_rules_for_hostnames_use_the_dns_range_and_ips_their_own():
    pool = NamePool("100.64.0.1/10")
    spec = InterceptSpec.parse("web", {"protocols": ["tcp", "udp"], "addresses": ["web.ziti", "*.svc", "10.1.0.0/16"],
                                       "portRanges": [{"low": 80, "high": 443}]})
    rules = rules_for([spec], pool)
    assert sorted((r.protocol, str(r.network)) for r in rules) == [
        ("tcp", "10.1.0.0/16"), ("tcp", "100.64.0.0/10"), ("udp", "10.1.0.0/16"), ("udp", "100.64.0.0/10")]
    script = nft_script(rules, 1111, 2222)
    assert "ip daddr 100.64.0.0/10 tcp dport 80-443 meta mark set 0x2a1 tproxy ip to 127.0.0.1:1111" in script
    assert script.startswith("table inet ziti_aio {}\ndelete table inet ziti_aio\n")
    assert ["-A", "ziti_aio_pre", "-p", "udp", "-d", "10.1.0.0/16", "--dport", "80:443", "-j", "TPROXY",
            "--on-ip", "127.0.0.1", "--on-port", "2222",
            "--tproxy-mark", "0x2a1/0x2a1"] in iptables_rules(rules, 1, 2222)
    pool.set_patterns({"web": spec.addresses})
    ip = pool.address("a.svc")
    assert spec.matches("udp", ip, 443, "a.svc") and not spec.matches("udp", ip, 444, "a.svc")
    assert not spec.matches("tcp", ip, 80, "a.other")
    assert all(isinstance(r, InterceptRule) for r in rules)


@pytest.mark.slow
@pytest.mark.needs_root("ip", "curl", why="network namespaces, TPROXY rules")
@pytest.mark.parametrize("backend", [pytest.param("nft", marks=pytest.mark.needs_root("nft")),
                                     pytest.param("iptables", marks=pytest.mark.needs_root("iptables"))])
async def test_curl_to_an_intercepted_hostname_in_a_namespace(tmp_path, backend):
    ns = f"zt-{uuid.uuid4().hex[:8]}"
    etc = Path("/etc/netns") / ns
    try:
        subprocess.run(["ip", "netns", "add", ns], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        etc.mkdir(parents=True)
        (etc / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:5 attempts:1\n")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parents[1])])}
        result = await trio.run_process(
            ["ip", "netns", "exec", ns, sys.executable, str(HERE / "tproxy_scenario.py"), str(tmp_path), backend],
            capture_stdout=True, capture_stderr=True, check=False, env=env)
        assert result.returncode == 0, result.stderr.decode()[-4000:]
        found = json.loads(result.stdout.decode().strip().splitlines()[-1])
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(etc, ignore_errors=True)
    assert found["started"]["intercepting"] == ["echo", "web"]
    assert found["curl"][:2] == [0, "hello through the overlay\n"], found["curl"]
    assert found["udp"] == "ping"
    assert found["other"] == "192.0.2.7"  # from the second upstream: the first never answers
    if backend == "nft":
        assert "10.77.0.0" not in found["ruleset"] and "100.64.0.0/10" in found["ruleset"]
        assert "ziti_aio" not in found["after"]
    assert "0x2a1" not in found["rules_after"] and "673" not in found["rules_after"]
