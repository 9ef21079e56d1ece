"""The management client against a real controller: the same calls blocking (CLI) and with trio (harness)."""

from __future__ import annotations

import re
import ssl

import pytest
import trio

from ziti_aio.sdk.management import AsyncManagementClient, ManagementClient, ManagementError
from ziti_aio.testing.controller import ADMIN_PASSWORD, ADMIN_USERNAME


async def test_ensure_find_patch_delete(controller):
    async with await AsyncManagementClient.login(controller.url, verify=controller.ssl_context(),
                                                 username=ADMIN_USERNAME, password=ADMIN_PASSWORD) as admin:
        created = await admin.ensure("services", {"name": "svc one", "roleAttributes": ["a"]})
        assert await admin.ensure("services", {"name": "svc one"}) == created  # found, not created twice
        assert (await admin.find("services", created["id"], label="service"))["name"] == "svc one"
        assert (await admin.find("services", "svc one", label="service"))["id"] == created["id"]
        await admin.patch("services", created["id"], {"roleAttributes": ["b"]})
        assert (await admin.get("services", created["id"]))["roleAttributes"] == ["b"]
        await admin.delete("services", created["id"])
        with pytest.raises(ManagementError, match="no service found with id or name 'svc one'") as missing:
            await admin.find("services", "svc one", label="service")
        assert missing.value.status == 404
        assert await admin.find_named("services", "svc one") is None


async def test_errors_carry_the_controllers_code_and_status(controller):
    async with await AsyncManagementClient.login(controller.url, verify=controller.ssl_context(),
                                                 username=ADMIN_USERNAME, password=ADMIN_PASSWORD) as admin:
        with pytest.raises(ManagementError) as invalid:
            await admin.create("services", {"name": ""})
    assert invalid.value.status == 400 and invalid.value.message.startswith(f"{invalid.value.api_code}: ")
    with pytest.raises(ManagementError, match=r"^INVALID_AUTH: ") as refused:
        await AsyncManagementClient.login(controller.url, verify=controller.ssl_context(), username=ADMIN_USERNAME,
                                          password="wrong")
    assert refused.value.status == 401


async def test_the_blocking_client_makes_the_same_calls(controller):
    def work() -> tuple[str, str]:
        with ManagementClient.open(controller.url, verify=controller.ssl_context()) as anonymous:
            token = anonymous.authenticate(ADMIN_USERNAME, ADMIN_PASSWORD)
        with ManagementClient.open(controller.url, verify=controller.ssl_context(), token=token) as admin:
            ident = admin.create("services", {"name": "blocking"})
            return ident, admin.find("services", "blocking", label="service")["id"]

    ident, found = await trio.to_thread.run_sync(work)
    assert ident == found


async def test_an_unreachable_controller_is_one_error():
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    url = f"https://127.0.0.1:{port}"
    with pytest.raises(ManagementError, match=re.escape(f"cannot reach {url}: ")) as unreachable:
        async with AsyncManagementClient.open(url, verify=ssl.create_default_context()) as client:
            await client.get("services", "x")
    assert unreachable.value.status is None


async def test_the_blocking_client_reports_errors_as_the_async_one_does(controller):
    def work() -> list[ManagementError]:
        errors = []
        with ManagementClient.open(controller.url, verify=controller.ssl_context()) as anonymous:
            for call in (lambda: anonymous.authenticate(ADMIN_USERNAME, "wrong"),
                         lambda: anonymous.get("services", "x")):
                with pytest.raises(ManagementError) as failed:
                    call()
                errors.append(failed.value)
        with pytest.raises(ManagementError, match="cannot reach ftp://x: ") as bad_url:
            ManagementClient.open("ftp://x", verify=ssl.create_default_context())
        errors.append(bad_url.value)
        return errors

    refused, anonymous, bad_url = await trio.to_thread.run_sync(work)
    assert (refused.status, refused.api_code) == (401, "INVALID_AUTH")
    assert anonymous.status == 401 and anonymous.message.startswith(f"{anonymous.api_code}: ")
    assert bad_url.status is None


async def test_the_blocking_client_on_an_unreachable_controller():
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    url = f"https://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()

    def work() -> None:
        with ManagementClient.open(url, verify=ssl.create_default_context()) as client:
            client.get("services", "x")

    with pytest.raises(ManagementError, match=re.escape(f"cannot reach {url}: ")) as unreachable:
        await trio.to_thread.run_sync(work)
    assert unreachable.value.status is None
