"""``open_network(controllers=3)``: a network whose controller is a three-member cluster."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import trio
from cryptography.hazmat.primitives.serialization import Encoding

from ziti_aio.pki.bundle import load_certs_pem
from ziti_aio.sdk import open_context
from ziti_aio.testing import open_network, wait_until
from ziti_aio.testing.controller import CLIENT, MANAGEMENT


async def test_a_network_of_three_controllers_carries_traffic(tmp_path):
    async with open_network(tmp_path, controllers=3, routers=1, reads="linearizable") as net:
        assert len(net.controllers) == 3 and net.controller in net.controllers
        await net.create_service("echo-ha")
        host, dialer = await net.create_identity("host"), await net.create_identity("dialer")
        await net.allow("host", "echo-ha", "Bind")
        await net.allow("dialer", "echo-ha", "Dial")
        token = net.admin.headers["zt-session"]
        for member in net.controllers:  # linearizable reads: every member shows the service at once
            async with member.client(token=token) as http:
                answer = await http.get(f"{MANAGEMENT}/services", params={"filter": 'name="echo-ha"'})
                assert answer.status_code == 200 and len(answer.json()["data"]) == 1, answer.text
        async with open_context(host.path) as hosting, open_context(dialer.path) as dialing:
            listener = await hosting.bind("echo-ha")
            async with trio.open_nursery() as nursery:
                async def serve() -> None:
                    accepted = await listener.accept()
                    await accepted.send_all(await accepted.receive_some())

                nursery.start_soon(serve)
                with trio.fail_after(30):
                    async with await dialing.dial("echo-ha") as stream:
                        await stream.send_all(b"ping")
                        assert await stream.receive_some() == b"ping"


def _pem_files(identity_file, directory):
    """The identity's certificate and key as PEM files (its JSON holds them as ``pem:...``)."""
    ident = json.loads(identity_file.read_text())["id"]
    cert, key = directory / "client.pem", directory / "client.key"
    cert.write_text(ident["cert"].removeprefix("pem:"))
    key.write_text(ident["key"].removeprefix("pem:"))
    return str(cert), str(key)


async def test_a_certificate_login_on_a_follower_is_the_clients_and_a_forged_header_is_ignored(tmp_path):
    async with open_network(tmp_path / "net", controllers=3, routers=0) as net:
        device = await net.create_identity("device")
        cert, key = _pem_files(device.path, tmp_path)
        follower = next(c for c in net.controllers if c is not net.controller)
        async with follower.client(cert=cert, key=key) as http:
            async def login():  # an election on a loaded machine answers 503 for a moment
                answer = await http.post(f"{CLIENT}/authenticate", params={"method": "cert"}, json={})
                assert answer.status_code in (200, 503), answer.text
                return answer if answer.status_code == 200 else None

            answer = await wait_until(login, 20, what="a certificate login through a follower")
            assert answer.json()["data"]["identity"]["id"] == device.id
        # no client certificate, and a header claiming one: from a non-member it counts for nothing
        forged = {"ziti-forwarded-by": "ctrl-1",
                  "ziti-forwarded-client-cert": base64.b64encode(
                      load_certs_pem(Path(cert).read_bytes())[0].public_bytes(Encoding.DER)).decode()}
        async with net.controller.client() as anonymous:
            refused = await anonymous.post(f"{CLIENT}/authenticate", params={"method": "cert"}, json={},
                                           headers=forged)
        assert refused.status_code == 401, refused.text
