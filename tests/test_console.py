"""The console over real HTTP: login form, sessions with Secure/HttpOnly/SameSite cookies, CSRF on
every form that changes something, lockout, roles, Ukrainian by default, the trust safeguards,
the EDRPOU check digit, and alerts on the front page, in /metrics and in /healthz."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest
from console_support import PASSWORD, issue_for_csr, write_gateway
from fastapi.routing import iter_route_contexts
from test_store_support import serve_app

from gateway.config import load_config
from gateway.store.apikeys import create_key
from gateway.store.db import open_database
from gateway.store.users import MAX_FAILURES


class Browser:
    """A tiny cookie-keeping client: the console's cookies are Secure, which httpx's jar will not
    send over plain http, so they are kept here by hand (as a browser on localhost does)."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=30, follow_redirects=False)
        self.cookies: dict[str, str] = {}
        self.set_cookie_headers: list[str] = []

    def request(self, method: str, path: str, **kw) -> httpx.Response:
        headers = kw.pop("headers", {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        resp = self.http.request(method, path, headers=headers, **kw)
        for header in resp.headers.get_list("set-cookie"):
            self.set_cookie_headers.append(header)
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if value in ('""', "") or "max-age=0" in header.lower():
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        if resp.status_code == 303 and kw.get("follow", True):
            return self.request("GET", resp.headers["location"])
        return resp

    def get(self, path: str) -> httpx.Response:
        return self.request("GET", path)

    def post(self, path: str, data=None, files=None) -> httpx.Response:
        return self.request("POST", path, data=data, files=files)

    def login(self, name: str, password: str = PASSWORD) -> httpx.Response:
        form = self.get("/console")
        return self.post("/console/login", {"name": name, "password": password, "csrf": csrf_of(form.text)})


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"method": (a.get("method") or "get").lower(), "action": a.get("action"),
                               "fields": {}})
        elif tag in ("input", "select", "textarea") and self.forms and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value", "")


def forms_of(html: str) -> list[dict]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


@pytest.fixture
def console(dev_pki, tmp_path):
    from gateway.api.app import create_app

    path = write_gateway(dev_pki, tmp_path)
    cfg = load_config(path)
    db = open_database(cfg)
    with db.session() as s:
        _, key = create_key(s, "edms")
    db.dispose()
    with serve_app(create_app(cfg, workers=False)) as base:
        yield base.replace("127.0.0.1", "localhost"), cfg, key


def test_login_form_in_ukrainian_and_english(console):
    base, _, _ = console
    b = Browser(base)
    page = b.get("/console")
    assert page.status_code == 200 and 'lang="uk"' in page.text
    assert "Увійти" in page.text and 'name="password"' in page.text and 'name="csrf"' in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    en = b.get("/console?lang=en")
    assert "Sign in" in en.text and 'lang="en"' in en.text
    assert "Sign in" in b.get("/console").text  # remembered in a cookie


def test_session_cookie_flags_and_logout(console):
    base, _, _ = console
    b = Browser(base)
    resp = b.login("officer")
    assert resp.status_code == 200 and "Огляд" in resp.text
    session = [h for h in b.set_cookie_headers if h.startswith("gw_console=")][0].lower()
    assert "secure" in session and "httponly" in session and "samesite=strict" in session
    logout = forms_of(resp.text)[0]
    assert logout["action"] == "/console/logout"
    b.post("/console/logout", {"csrf": logout["fields"]["csrf"]})
    assert 'name="password"' in b.get("/console").text


def test_lockout_after_repeated_failures_and_audit(console):
    base, cfg, key = console
    b = Browser(base)
    for _ in range(MAX_FAILURES - 1):
        resp = b.login("operator", "wrong password")
        assert resp.status_code == 401 and "Неправильне ім" in resp.text
    resp = b.login("operator", "wrong password")
    assert resp.status_code == 401 and "заблоковано" in resp.text
    assert b.login("operator").status_code == 401  # the right password, but locked
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as api:
        assert api.get("/api/v1/admin/audit").status_code == 403  # an edms key may not read it
    db = open_database(cfg)
    with db.session() as s:
        from gateway.store.audit import entries
        actions = [e.action for e in entries(s)]
    db.dispose()
    assert actions.count("login.failed") == MAX_FAILURES + 1


def test_login_needs_its_csrf_token(console):
    base, _, _ = console
    b = Browser(base)
    b.get("/console")
    resp = b.post("/console/login", {"name": "officer", "password": PASSWORD, "csrf": "forged"})
    assert resp.status_code == 403 and "gw_console" not in b.cookies


def _mutating_console_routes(base_app):
    for ctx in iter_route_contexts(base_app.routes):
        path = getattr(ctx, "path", "") or ""
        if path.startswith("/console/") and "POST" in (ctx.methods or ()) and path not in (
                "/console/login", "/console/logout"):
            yield path.replace("{key_id}", "1").replace("{code}", "12345678").replace(
                "{letter_id}", "x").replace("{incoming_id}", "x").replace("{name}", "auditor")


def test_every_mutating_route_needs_session_csrf_and_role(console, dev_pki, tmp_path):
    from gateway.api.app import create_app

    base, cfg, _ = console
    paths = list(_mutating_console_routes(create_app(cfg, workers=False)))
    assert len(paths) >= 12
    anon, auditor = Browser(base), Browser(base)
    auditor.login("auditor")
    token = csrf_of(auditor.get("/console").text)
    for path in paths:
        assert anon.post(path, {"csrf": "x"}).status_code == 401, path
        assert auditor.post(path, {}).status_code == 403, path  # no CSRF field
        assert auditor.post(path, {"csrf": token + "x"}).status_code == 403, path
        resp = auditor.post(path, {"csrf": token})  # right token, wrong role
        assert resp.status_code == 403 and "Ваша роль" in resp.text, path


def test_every_form_that_changes_something_carries_csrf(console):
    base, _, _ = console
    officer = Browser(base)
    officer.login("officer")
    pages = ["/console", "/console/keys", "/console/trust", "/console/partners", "/console/messages",
             "/console/audit", "/console/users"]
    seen = 0
    for path in pages:
        resp = officer.get(path)
        assert resp.status_code == 200, path
        for form in forms_of(resp.text):
            if form["method"] == "post":
                seen += 1
                assert form["fields"].get("csrf"), (path, form["action"])
    assert seen >= 8


def test_trust_safeguards(console, dev_pki):
    base, cfg, _ = console
    b = Browser(base)
    b.login("officer")
    token = csrf_of(b.get("/console/trust").text)
    preview = b.post("/console/trust/preview", {"csrf": token},
                     files={"file": ("seal.pem", dev_pki.seal_cert.read_bytes())})
    assert preview.status_code == 200 and "не ЦСК" in preview.text
    payload = forms_of(preview.text)[-1]["fields"]["payload"]
    refused = b.post("/console/trust/add", {"csrf": token, "payload": payload})
    assert refused.status_code == 422 and "end-entity" in refused.text
    added = b.post("/console/trust/preview", {"csrf": token},
                   files={"file": ("ca.pem", dev_pki.ca_cert.read_bytes())})
    assert "не ЦСК" not in added.text
    payload = forms_of(added.text)[-1]["fields"]["payload"]
    done = b.post("/console/trust/add", {"csrf": token, "payload": payload})
    assert done.status_code == 200 and "Виконано" in done.text
    fps = re.findall(r'name="fingerprint" value="([0-9A-F]+)"', done.text)
    assert len(fps) == 2
    assert b.post("/console/trust/remove", {"csrf": token, "fingerprint": fps[0]}).status_code == 200
    last = b.post("/console/trust/remove", {"csrf": token, "fingerprint": fps[1]})
    assert last.status_code == 409 and "last trust anchor" in last.text


def test_partner_edrpou_check_digit(console):
    base, _, _ = console
    b = Browser(base)
    b.login("officer")
    token = csrf_of(b.get("/console/partners").text)
    bad = b.post("/console/partners", {"csrf": token, "edrpou": "12345670", "name": "Хибна"})
    assert bad.status_code == 422
    ok = b.post("/console/partners", {"csrf": token, "edrpou": "26597691", "name": "Одеська міська рада",
                                      "channel": "sev", "sev_system_id": "ODESA-1"})
    assert ok.status_code == 200 and "Одеська міська рада" in ok.text


def test_expiry_alert_on_front_page_metrics_and_healthz(console, dev_pki, tmp_path):
    base, cfg, key = console
    with httpx.Client(base_url=base, timeout=30) as client:
        health = client.get("/healthz").json()
        assert health["status"] == "ok", health
    b = Browser(base)
    b.login("officer")
    token = csrf_of(b.get("/console/keys").text)
    assert b.post("/console/keys/generate", {"csrf": token, "label": "short seal",
                                             "algorithm": "ec-p256"}).status_code == 200
    csr = b.get("/console/keys/1/csr").text
    cert = issue_for_csr(dev_pki, csr.encode(), days=20)
    attached = b.post("/console/keys/1/attach", {"csrf": token}, files={"file": ("seal.pem", cert)})
    assert attached.status_code == 200 and "сертифікат приєднано" in attached.text
    front = b.get("/console").text
    assert "строк дії ключа спливає" in front and "short seal" in front
    with httpx.Client(base_url=base, timeout=30) as client:
        health = client.get("/healthz")
        assert health.status_code == 200 and health.json()["status"] == "degraded"
        assert "key_expiry" in health.json()["checks"]["alerts"]
        metrics = client.get("/metrics", headers={"Authorization": f"Bearer {key}"}).text
        assert 'gateway_alerts{kind="key_expiry",severity="warning"} 1.0' in metrics


def test_key_revocation_status_and_anchor_crl(dev_pki, tmp_path):
    """Online: the revoked dev signer shows as revoked, the seal as good; the CRL fetched on the way
    is cached and the trust page shows it under the CA that signed it (not under the root)."""
    from gateway.api.app import create_app

    cfg = load_config(write_gateway(dev_pki, tmp_path, revocation="online"))
    with serve_app(create_app(cfg, workers=False)) as base:
        b = Browser(base.replace("127.0.0.1", "localhost"))
        b.login("officer")
        token = csrf_of(b.get("/console/keys").text)
        for label, p12 in (("seal", dev_pki.seal_p12), ("revoked", dev_pki.revoked_p12)):
            form = {"csrf": token, "label": label, "password": dev_pki.password()}
            resp = b.post("/console/keys/import", form, files={"file": (p12.name, p12.read_bytes())})
            assert resp.status_code == 200, resp.text
        good = b.get("/console/keys/1/status")
        assert good.status_code == 200 and "TOTAL_PASSED" in good.text and "чинний" in good.text
        revoked = b.get("/console/keys/2/status")
        assert "REVOKED" in revoked.text and "відкликано" in revoked.text
        row = b.get("/console/trust").text.split("<tbody>")[1]
        assert "Root CA" in row and re.search(r"виданий \d{4}-\d\d-\d\d", row)  # the root's CRL, verified


def test_failed_logins_from_one_client_are_throttled(console):
    """Past the limit, guessing other names from the same address is refused without hashing."""
    base, _, _ = console
    b = Browser(base)
    for n in range(20):
        assert b.login(f"nobody-{n}", "guess").status_code == 401
    resp = b.login("officer")  # even the right password: this address is throttled for a while
    assert resp.status_code == 429 and "Забагато невдалих спроб з цього" in resp.text
