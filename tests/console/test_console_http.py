"""The console's security rules over plain HTTPS (no browser): redirects to login, cookies, CSRF, CSP and
headers, escaping, the console turned off."""

from __future__ import annotations

import re

import pytest
import trio
from trio_websocket import ConnectionClosed, ConnectionRejected, open_websocket_url

from ziti_aio.appliance.quickstart import QuickstartOptions, summary
from ziti_aio.controller.controller import ControllerInfo
from ziti_aio.controller.events.types import AlertEvent
from ziti_aio.sdk.enroll import enroll_identity
from ziti_aio.sdk.identity_file import load_identity
from ziti_aio.testing.controller import ADMIN_PASSWORD, ADMIN_USERNAME, create, open_controller

PAGES = ("/console/", "/console/identities", "/console/services", "/console/configs", "/console/service-policies",
         "/console/edge-router-policies", "/console/service-edge-router-policies", "/console/network",
         "/console/circuits", "/console/advisor", "/console/configs?type=NH5p4FpGR")
HOSTILE = '"><script>alert(1)</script><b onmouseover=alert(2)>'


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


async def _log_in(client, username: str = ADMIN_USERNAME, password: str = ADMIN_PASSWORD):
    form = await client.get("/console/login")
    return await client.post("/console/login", data={"csrf": _csrf(form.text), "username": username,
                                                     "password": password})


@pytest.fixture
async def browser_like(controller):
    async with controller.client() as client:
        yield client


async def test_without_a_session_every_page_goes_to_login(browser_like):
    for path in (*PAGES, "/console/preview?kind=identities&roles=%23all", "/console/identities/x/jwt"):
        answer = await browser_like.get(path)
        assert (answer.status_code, answer.headers["location"]) == (303, "/console/login"), path
    forged = await browser_like.post("/console/identities", data={"name": "x"})
    assert (forged.status_code, forged.headers["location"]) == (303, "/console/login")
    stale = await browser_like.get("/console/", headers={"cookie": "ziti_console=not-a-token"})
    assert stale.headers["location"] == "/console/login" and "ziti_console=;" in stale.headers["set-cookie"]


async def test_login_cookie_csp_and_headers(browser_like):
    form = await browser_like.get("/console/login")
    csp = form.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp and form.headers["x-frame-options"] == "DENY"
    refused = await browser_like.post("/console/login", data={"csrf": "guess", "username": ADMIN_USERNAME,
                                                              "password": ADMIN_PASSWORD})
    assert refused.status_code == 403 and "ziti_console=" not in refused.headers.get("set-cookie", "")
    wrong = await _log_in(browser_like, password="wrong")
    assert wrong.status_code == 401 and 'id="error"' in wrong.text and "ziti_console=" not in str(wrong.headers)
    answer = await _log_in(browser_like)
    assert (answer.status_code, answer.headers["location"]) == (303, "/console/")
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("ziti_console="))
    assert all(flag in cookie for flag in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/console"))


async def test_every_page_renders_without_inline_script_or_style(browser_like):
    await _log_in(browser_like)
    for path in PAGES:
        page = await browser_like.get(path)
        assert page.status_code == 200, path
        assert page.headers["cache-control"] == "no-store"
        html = page.text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=", html), path
    script = await browser_like.get("/console/static/console.js")
    assert script.headers["content-type"].startswith("text/javascript") and "innerHTML" not in script.text


async def test_a_form_post_needs_the_sessions_csrf_token(browser_like, admin):
    await _log_in(browser_like)
    for token in (None, "", "0" * 64):
        data = {"name": "no-csrf", "type": "Device"} | ({"csrf": token} if token is not None else {})
        refused = await browser_like.post("/console/identities", data=data)
        assert refused.status_code == 403, token
    listed = await admin.get('/edge/management/v1/identities?filter=name="no-csrf"')
    assert listed.json()["data"] == []
    page = await browser_like.get("/console/identities")
    made = await browser_like.post("/console/identities", data={"csrf": _csrf(page.text), "name": "with-csrf",
                                                                "type": "Device"})
    assert made.status_code == 303 and made.headers["location"].startswith("/console/identities/")


async def test_hostile_names_are_escaped_in_every_page(browser_like, admin):
    ident = await create(admin, "identities", {"name": HOSTILE, "type": "Device", "isAdmin": False,
                                               "enrollment": {"ott": True}})
    await create(admin, "services", {"name": HOSTILE + "x" * 900, "encryptionRequired": True})
    await _log_in(browser_like)
    for path in (*PAGES, f"/console/identities/{ident}", f"/console/advisor?identity={ident}&service=nope"):
        html = (await browser_like.get(path)).text
        assert "<script>alert" not in html and "<b onmouseover" not in html, path
    html = (await browser_like.get(f"/console/identities/{ident}")).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    jwt = await browser_like.get(f"/console/identities/{ident}/jwt")
    assert re.fullmatch(r'attachment; filename="[A-Za-z0-9_.-]+\.jwt"', jwt.headers["content-disposition"])


async def test_the_overview_lists_the_recent_alerts_at_load(controller, browser_like):
    await _log_in(browser_like)
    assert 'class="none">No recent alerts.' in (await browser_like.get("/console/")).text
    bus = controller.controller.events
    for n, message in enumerate(("the first problem", HOSTILE)):  # an alert's text is escaped like any other
        bus.publish(AlertEvent(alert_source_type="service", alert_source_id=f"s{n}", severity="error",
                               message=message))
    html = (await browser_like.get("/console/")).text
    listed = re.search(r'<ul id="alerts"[^>]*>(.*?)</ul>', html, re.S)
    assert listed is not None
    items = re.findall(r"<li>(.*?)</li>", listed.group(1))
    assert len(items) == 2 and "No recent alerts" not in html
    assert items[0].endswith("error &#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;b onmouseover=alert(2)&gt;")
    assert items[1].endswith("error the first problem")  # newest first
    assert "<script>alert" not in html


async def test_api_errors_are_shown_in_place(browser_like):
    await _log_in(browser_like)
    page = await browser_like.get("/console/service-policies")
    answer = await browser_like.post("/console/service-policies", data={
        "csrf": _csrf(page.text), "name": "bad", "type": "Dial", "semantic": "AnyOf", "identityRoles": "no-hash"})
    assert answer.status_code == 400
    assert 'id="error"' in answer.text and "identityRoles" in answer.text
    assert 'value="no-hash"' in answer.text  # what was typed stays in the form


async def test_the_console_can_be_turned_off(tmp_path):
    async with open_controller(tmp_path / "ctrl", console=False) as running, running.client() as client:
        answer = await client.get("/console/login")
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "NOT_FOUND"


async def test_reset_enrollment_issues_a_new_token(browser_like, admin):
    ident = await create(admin, "identities", {"name": "to-reset", "type": "Device", "isAdmin": False,
                                               "enrollment": {"ott": True}})
    before = (await admin.get(f"/edge/management/v1/identities/{ident}")).json()["data"]["enrollment"]["ott"]
    await _log_in(browser_like)
    page = await browser_like.get(f"/console/identities/{ident}")
    assert '<option selected>Default</option>' in page.text  # the stored type (OpenZiti stores Device as Default)
    answer = await browser_like.post(f"/console/identities/{ident}/reset-enrollment", data={"csrf": _csrf(page.text)})
    assert (answer.status_code, answer.headers["location"]) == (303, f"/console/identities/{ident}")
    after = (await admin.get(f"/edge/management/v1/identities/{ident}")).json()["data"]["enrollment"]["ott"]
    assert after["id"] != before["id"] and after["jwt"] != before["jwt"]
    assert (await browser_like.get(f"/console/identities/{ident}/jwt")).text == after["jwt"]


def test_the_quickstart_prints_the_console_url(tmp_path):
    opts = QuickstartOptions(home=tmp_path, ctrl_address="ctrl.example")
    info = ControllerInfo("https://ctrl.example:1280", 1280, tmp_path / "ca.pem", "i")
    lines = summary(opts, info, "pw", False, [], None)
    assert "  console      https://ctrl.example:1280/console/  (web console: log in as the admin below)" in lines


async def test_the_event_websocket_is_same_origin_admin_only(controller, browser_like, admin):
    url = controller.url.replace("https://", "wss://") + "/console/events"

    def connect(cookie: str | None, origin: str):
        headers = [(b"origin", origin.encode())] + ([(b"cookie", f"ziti_console={cookie}".encode())] if cookie else [])
        return open_websocket_url(url, controller.ssl_context(), extra_headers=headers)

    await _log_in(browser_like)
    token = browser_like.cookies["ziti_console"]
    async with connect(token, controller.url) as ws:
        assert not ws.closed
        await ws.send_message("anything")  # the stream is one-way: input ends it
        with trio.fail_after(10), pytest.raises(ConnectionClosed):
            await ws.get_message()
    viewer = await create(admin, "identities", {"name": "viewer", "type": "User", "isAdmin": False,
                                                "permissions": ["admin_readonly"]})
    await create(admin, "authenticators", {"method": "updb", "identityId": viewer, "username": "viewer",
                                           "password": "viewer-password-1"})
    async with controller.client() as other:
        await _log_in(other, "viewer", "viewer-password-1")
        viewer_token = other.cookies["ziti_console"]
    for cookie, origin, status in ((None, controller.url, 403), (token, "https://evil.example", 403),
                                   ("not-a-token", controller.url, 401), (viewer_token, controller.url, 403)):
        with pytest.raises(ConnectionRejected) as refused:
            async with connect(cookie, origin):
                pass
        assert refused.value.status_code == status, (cookie, origin)


async def test_a_user_with_one_permission_gets_what_it_allows(browser_like, admin):
    user = await create(admin, "identities", {"name": "svc-admin", "type": "User", "isAdmin": False,
                                              "permissions": ["service"]})
    await create(admin, "authenticators", {"method": "updb", "identityId": user, "username": "svc-admin",
                                           "password": "svc-admin-password-1"})
    await _log_in(browser_like, "svc-admin", "svc-admin-password-1")
    services = await browser_like.get("/console/services")
    assert services.status_code == 200 and 'id="create"' in services.text
    made = await browser_like.post("/console/services", data={"csrf": _csrf(services.text), "name": "by-svc-admin",
                                                              "encryptionRequired": "on"})
    assert made.status_code == 303
    identities = await browser_like.get("/console/identities")
    assert 'id="create"' not in identities.text and 'id="error"' in identities.text  # reading them is refused
    configs = await browser_like.get("/console/configs")
    assert configs.status_code == 401 and 'id="error"' in configs.text and "<script>" not in configs.text


async def test_log_in_with_the_browsers_certificate(tmp_path, controller, admin, browser_like):
    ident = await create(admin, "identities", {"name": "cert-admin", "type": "User", "isAdmin": True,
                                               "enrollment": {"ott": True}})
    jwt = (await admin.get(f"/edge/management/v1/identities/{ident}")).json()["data"]["enrollment"]["ott"]["jwt"]
    await enroll_identity(jwt, tmp_path / "cert-admin.json")
    identity = load_identity(tmp_path / "cert-admin.json")
    (tmp_path / "c.pem").write_text(identity.cert_pem)
    (tmp_path / "k.pem").write_text(identity.key_pem)
    async with controller.client(cert=str(tmp_path / "c.pem"), key=str(tmp_path / "k.pem")) as with_cert:
        form = await with_cert.get("/console/login")
        answer = await with_cert.post("/console/login", data={"csrf": _csrf(form.text), "method": "cert"})
        assert (answer.status_code, answer.headers["location"]) == (303, "/console/")
        overview = await with_cert.get("/console/")
        assert overview.status_code == 200 and "cert-admin" in overview.text
    form = await browser_like.get("/console/login")  # no certificate on this connection
    refused = await browser_like.post("/console/login", data={"csrf": _csrf(form.text), "method": "cert"})
    assert refused.status_code == 401 and 'id="error"' in refused.text


async def test_ids_from_the_url_cannot_reach_other_api_paths(browser_like):
    await _log_in(browser_like)
    for path in ("/console/identities/x%3Flimit=1", "/console/identities/%2e%2e",
                 "/console/configs/a%23b", "/console/identities/x%2F..%2F..%2Fversion/jwt"):
        answer = await browser_like.get(path)
        assert answer.status_code == 404, path
    advice = await browser_like.get("/console/advisor?identity=..&service=x%3Fy")
    assert advice.status_code == 200 and "no such entity" in advice.text


async def test_the_advisor_names_the_posture_checks_a_policy_needs(controller, browser_like):
    admin = await controller.login()
    async with admin:
        ident = await create(admin, "identities", {"name": "pat", "type": "Device", "isAdmin": False,
                                                   "roleAttributes": ["staff"]})
        service = await create(admin, "services", {"name": "payroll", "roleAttributes": []})
        await create(admin, "posture-checks", {"name": "corp-mac", "typeId": "MAC",
                                               "macAddresses": ["00:11:22:33:44:55"]})
        await create(admin, "service-policies", {
            "name": "payroll-dial", "type": "Dial", "semantic": "AnyOf", "identityRoles": ["#staff"],
            "serviceRoles": [f"@{service}"], "postureCheckRoles": ["@corp-mac"]})
    await _log_in(browser_like)
    page = await browser_like.get(f"/console/advisor?identity={ident}&service={service}")
    assert page.status_code == 200
    assert re.search(r'class="posture">Posture for <a href="/console/service-policies/[^"]+">payroll-dial</a> '
                     r'\(Dial\): corp-mac \(MAC\) <span class="no">failing</span>', page.text), page.text[-3000:]
