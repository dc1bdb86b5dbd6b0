"""The security officers' console at /console: server-rendered pages (Jinja2), Ukrainian by default
(English with ?lang=en, remembered in a cookie), server-side sessions, a CSRF field on every form
that changes something, lockout after repeated failed logins, and roles:

- officer: keys, trust anchors, partners, users (and everything the others see);
- operator: messages - view, re-queue failed letters, reject received documents;
- auditor: reads everything, changes nothing.

Every change and every login (failed ones too) is written to the audit log. The console checks
its own session cookie; it does not use API keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
from pathlib import Path
from typing import Annotated, Any

from asn1crypto import x509 as asn1_x509
from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import or_, select

from gateway.console import alerts as alerts_mod
from gateway.console import certstatus
from gateway.console.i18n import LANGUAGES, translator
from gateway.console.throttle import LoginThrottle
from gateway.errors import GatewayError
from gateway.exchange import edrpou as edrpou_mod
from gateway.exchange.inbox import IncomingStateError, reject
from gateway.exchange.incoming_report import combined_report
from gateway.exchange.outbox import history_view, requeue
from gateway.pki import trustops
from gateway.pki.trust import list_anchors
from gateway.signing.certificates import name_text
from gateway.signing.readable import render_html, render_pdf
from gateway.store import keyregistry, partners, users
from gateway.store.audit import append as audit
from gateway.store.audit import entries, verify
from gateway.store.models import Incoming, Outgoing, SealKey, User
from gateway.store.sessions import close_session, lookup, open_session

HERE = Path(__file__).parent
SESSION_COOKIE = "gw_console"
LOGIN_COOKIE = "gw_login"
LANG_COOKIE = "gw_lang"
MAX_UPLOAD = 1024 * 1024
PAGE_SIZE = 50
STYLE_BLOCK = re.compile(r"<style>(.*?)</style>", re.DOTALL)

templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(prefix="/console", include_in_schema=False)

OFFICER, OPERATOR, AUDITOR = "officer", "operator", "auditor"
#: who may see each page
VIEW = {
    "home": {OFFICER, OPERATOR, AUDITOR},
    "keys": {OFFICER, AUDITOR},
    "trust": {OFFICER, AUDITOR},
    "partners": {OFFICER, OPERATOR, AUDITOR},
    "messages": {OFFICER, OPERATOR, AUDITOR},
    "audit": {OFFICER, AUDITOR},
    "users": {OFFICER, AUDITOR},
}


def install(app: FastAPI) -> None:
    """Add the console's pages and its static assets to the app."""
    app.state.console_throttle = LoginThrottle()
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=str(HERE / "static")), name="console-static")


# --- request plumbing ---------------------------------------------------------------------------

def _lang(request: Request) -> str:
    wanted = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or "uk"
    return wanted if wanted in LANGUAGES else "uk"


class Page:
    """The signed-in user (or None), the language and the CSRF token of one request."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.ctx = request.app.state.gateway
        self.lang = _lang(request)
        self._ = translator(self.lang)
        self.user: User | None = None
        self.csrf = ""
        with self.ctx.db.session() as s:
            found = lookup(s, request.cookies.get(SESSION_COOKIE))
            if found is not None:
                row, self.user = found
                self.csrf = row.csrf

    @property
    def actor(self) -> str:
        return f"user:{self.user.name}" if self.user else "anonymous"

    def may(self, what: str) -> bool:
        return self.user is not None and self.user.role in VIEW[what]

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        values.update(page=self, _=self._, user=self.user, csrf=self.csrf, lang=self.lang, view=VIEW)
        response = templates.TemplateResponse(self.request, template, values, status_code=status)
        _security_headers(response)
        if self.request.query_params.get("lang") in LANGUAGES:
            _cookie(response, LANG_COOKIE, self.lang, max_age=365 * 86400, http_only=False)
        return response

    def error(self, status: int, message: str) -> HTMLResponse:
        return self.render("error.html", status=status, message=message)


def _security_headers(response: Response) -> None:
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"


def _cookie(response: Response, name: str, value: str, *, max_age: int | None = None,
            http_only: bool = True) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/console", secure=True, httponly=http_only,
                        samesite="strict")


def _redirect(path: str, notice: str | None = None) -> RedirectResponse:
    target = f"/console{path}" + (f"?notice={notice}" if notice else "")
    return RedirectResponse(target, status_code=303)


def _viewer(request: Request, what: str) -> tuple[Page, Response | None]:
    """The page, or the answer instead of it: the login form, or 403 for the wrong role."""
    page = Page(request)
    if page.user is None:
        return page, _login_form(page)
    if not page.may(what):
        return page, page.error(403, page._("Your role may not see this page."))
    return page, None


async def _changer(request: Request, role: str) -> tuple[Page, dict[str, Any], Response | None]:
    """For a POST: the page and its form fields, or the refusal (no session, CSRF, role)."""
    page = Page(request)
    form = await request.form()
    fields = {k: v for k, v in form.multi_items()}
    if page.user is None:
        return page, fields, _login_form(page, status=401)
    if not secrets.compare_digest(str(fields.get("csrf", "")), page.csrf):
        return page, fields, page.error(403, page._("The form has expired or did not come from the console. "
                                                    "Open the page again."))
    if page.user.role != role:
        return page, fields, page.error(403, page._("Your role may not change this."))
    return page, fields, None


def _login_form(page: Page, status: int = 200, message: str | None = None) -> HTMLResponse:
    token = page.request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = page.render("login.html", status=status, login_csrf=token, message=message)
    _cookie(response, LOGIN_COOKIE, token, max_age=3600)
    return response


def _text(fields: dict[str, Any], name: str, limit: int = 500) -> str:
    value = fields.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


async def _upload(fields: dict[str, Any], name: str) -> tuple[bytes, str] | None:
    value = fields.get(name)
    if value is None or isinstance(value, str):
        return None
    data = await value.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD or not data:
        return None
    return data, value.filename or "upload"


# --- login, front page --------------------------------------------------------------------------

@router.get("", response_class=HTMLResponse)
def home(request: Request) -> Response:
    page, refusal = _viewer(request, "home")
    if refusal is not None:
        return refusal
    found = alerts_mod.collect(page.ctx.cfg, page.ctx.db, page.ctx.seal, workers=page.ctx.workers)
    return page.render("home.html", alerts=found)


@router.post("/login")
def login(request: Request, name: Annotated[str, Form(max_length=200)],
          password: Annotated[str, Form(max_length=1000)],
          csrf: Annotated[str, Form(max_length=100)]) -> Response:
    page = Page(request)
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not secrets.compare_digest(csrf, expected):
        return _login_form(page, 403, page._("The form has expired. Try again."))
    client = request.client.host if request.client else "-"
    throttle: LoginThrottle = request.app.state.console_throttle
    if throttle.blocked(client):
        return _login_form(page, 429, page._("Too many failed attempts from this computer. Try again later."))
    with page.ctx.db.session() as s:
        result = users.check_login(s, name, password)
        audit(s, f"user:{name[:200]}", "login.ok" if result.outcome == "ok" else "login.failed", "console",
              {"outcome": result.outcome, "client": client})
        if result.outcome != "ok" or result.user is None:
            throttle.failed(client)
            messages = {"locked": page._("Too many failed attempts: the account is locked for 15 minutes."),
                        "disabled": page._("Wrong name or password.")}
            return _login_form(page, 401, messages.get(result.outcome, page._("Wrong name or password.")))
        token, _row = open_session(s, result.user, page.ctx.cfg.console.session_minutes)
    response = _redirect("")
    _cookie(response, SESSION_COOKIE, token)
    response.delete_cookie(LOGIN_COOKIE, path="/console")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    page = Page(request)
    form = await request.form()
    if page.user is not None and secrets.compare_digest(str(form.get("csrf", "")), page.csrf):
        with page.ctx.db.session() as s:
            close_session(s, request.cookies.get(SESSION_COOKIE))
            audit(s, page.actor, "logout", "console")
    response = _redirect("")
    response.delete_cookie(SESSION_COOKIE, path="/console")
    return response


# --- keys ---------------------------------------------------------------------------------------

@router.get("/keys", response_class=HTMLResponse)
def keys_page(request: Request) -> Response:
    page, refusal = _viewer(request, "keys")
    if refusal is not None:
        return refusal
    with page.ctx.db.session() as s:
        rows = keyregistry.list_keys(s)
        views = [{"row": r, "subject": _subject(r.cert_pem)} for r in rows]
    seal_subject = None
    try:
        if page.ctx.seal is not None:
            seal_subject = _subject_der(page.ctx.seal.certificate_der)
    except GatewayError:
        seal_subject = None
    return page.render("keys.html", keys=views, seal_subject=seal_subject,
                       notice=request.query_params.get("notice"))


def _subject(cert_pem: str | None) -> str:
    if not cert_pem:
        return "-"
    return name_text(alerts_mod.certificate_from_pem(cert_pem).subject)


def _subject_der(der: bytes) -> str:
    cert = asn1_x509.Certificate.load(der)
    return f"{name_text(cert.subject)} ({cert.not_valid_after:%Y-%m-%d})"


@router.post("/keys/import")
async def keys_import(request: Request) -> Response:
    page, fields, refusal = await _changer(request, OFFICER)
    if refusal is not None:
        return refusal
    upload = await _upload(fields, "file")
    if upload is None:
        return page.error(422, page._("Choose a key file (at most 1 MiB)."))
    password = fields.get("password")
    secret = password.encode() if isinstance(password, str) and password else None
    try:
        with page.ctx.db.session() as s:
            row = keyregistry.import_container(s, page.ctx.cfg, _text(fields, "label", 200), upload[0],
                                               upload[1], secret)
            audit(s, page.actor, "key.import", f"key:{row.id}", {"label": row.label})
    except GatewayError as exc:
        return page.error(422, str(exc))
    return _redirect("/keys", "imported")


@router.post("/keys/generate")
async def keys_generate(request: Request) -> Response:
    page, fields, refusal = await _changer(request, OFFICER)
    if refusal is not None:
        return refusal
    try:
        with page.ctx.db.session() as s:
            algorithm = _text(fields, "algorithm", 20) or "rsa-3072"
            row = keyregistry.generate(s, page.ctx.cfg, _text(fields, "label", 200), algorithm)
            audit(s, page.actor, "key.generate", f"key:{row.id}",
                  {"label": row.label, "algorithm": algorithm})
    except GatewayError as exc:
        return page.error(422, str(exc))
    return _redirect("/keys", "generated")


@router.get("/keys/{key_id}/csr")
def keys_csr(key_id: int, request: Request) -> Response:
    page, refusal = _viewer(request, "keys")
    if refusal is not None:
        return refusal
    with page.ctx.db.session() as s:
        row = keyregistry.list_keys(s)
        match = [r for r in row if r.id == key_id and r.csr_pem]
        if not match:
            return page.error(404, page._("No such key."))
        return PlainTextResponse(match[0].csr_pem, headers={
            "Content-Disposition": f'attachment; filename="key-{key_id}.csr"'})


@router.get("/keys/{key_id}/status", response_class=HTMLResponse)
def keys_status(key_id: int, request: Request) -> Response:
    page, refusal = _viewer(request, "keys")
    if refusal is not None:
        return refusal
    with page.ctx.db.session() as s:
        row = s.get(SealKey, key_id)
        if row is None or not row.cert_pem:
            return page.error(404, page._("No such key."))
        label, cert_pem = row.label, row.cert_pem
    result = certstatus.key_status(page.ctx.policy(), cert_pem)
    return page.render("key_status.html", label=label, result=result,
                       online=page.ctx.cfg.trust.revocation == "online")


@router.post("/keys/{key_id}/attach")
async def keys_attach(key_id: int, request: Request) -> Response:
    page, fields, refusal = await _changer(request, OFFICER)
    if refusal is not None:
        return refusal
    upload = await _upload(fields, "file")
    if upload is None:
        return page.error(422, page._("Choose the certificate file."))
    try:
        with page.ctx.db.session() as s:
            row = keyregistry.attach(s, page.ctx.cfg, key_id, upload[0])
            audit(s, page.actor, "key.attach", f"key:{row.id}", {"label": row.label})
    except GatewayError as exc:
        return page.error(422, str(exc))
    return _redirect("/keys", "attached")


@router.post("/keys/{key_id}/activate")
async def keys_activate(key_id: int, request: Request) -> Response:
    page, _fields, refusal = await _changer(request, OFFICER)
    if refusal is not None:
        return refusal
    try:
        with page.ctx.db.session() as s:
            row = keyregistry.get(s, key_id)
            keyregistry.load(page.ctx.cfg, row).close()
            keyregistry.activate(s, key_id)
            audit(s, page.actor, "key.activate", f"key:{row.id}", {"label": row.label})
    except GatewayError as exc:
        return page.error(409, str(exc))
    return _redirect("/keys", "activated")


# --- trust --------------------------------------------------------------------------------------

@router.get("/trust", response_class=HTMLResponse)
def trust_page(request: Request) -> Response:
    page, refusal = _viewer(request, "trust")
    if refusal is not None:
        return refusal
    found = list_anchors(page.ctx.cfg)
    crls = certstatus.anchor_crls(page.ctx.cfg, found)
    anchors = [{"fingerprint": a.fingerprint, "subject": name_text(a.certificate.subject),
                "not_after": a.certificate.not_valid_after, "source": a.source.name,
                "crl": crls.get(a.fingerprint)} for a in found]
    return page.render("trust.html", anchors=anchors, notice=request.query_params.get("notice"))


@router.post("/trust/preview")
async def trust_preview(request: Request) -> Response:
    page, fields, refusal = await _changer(request, OFFICER)
    if refusal is not None:
        return refusal
    upload = await _upload(fields, "file")
    if upload is None:
        return page.error(422, page._("Choose a certificate file (at most 1 MiB)."))
    try:
        candidates = trustops.preview(page.ctx.cfg, upload[0])
    except GatewayError as exc:
        return page.error(422, str(exc))
    return page.render("trust_preview.html", candidates=candidates,
                       payload=base64.b64encode(upload[0]).decode("ascii"),
                       needs_force=any(c.problems and not c.known for c in candidates))


@router.post("/trust/add")
async def trust_add(request: Request) -> Response:
    page, fields, refusal = await _changer(request, OFFICER)
    if refusal is not None:
        return refusal
    try:
        data = base64.b64decode(_text(fields, "payload", 2 * MAX_UPLOAD), validate=True)
    except (binascii.Error, ValueError):
        return page.error(422, page._("The preview is damaged. Start again."))
    force = fields.get("force") == "yes"
    try:
        added = trustops.add(page.ctx.cfg, data, force=force)
    except GatewayError as exc:
        return page.error(422, str(exc))
    with page.ctx.db.session() as s:
        audit(s, page.actor, "trust.add", "trust", {"added": [a.fingerprint for a in added], "force": force})
    return _redirect("/trust", "added")


@router.post("/trust/remove")
async def trust_remove(request: Request) -> Response:
    page, fields, refusal = await _changer(request, OFFICER)
    if refusal is not None:
        return refusal
    try:
        removed = trustops.remove(page.ctx.cfg, _text(fields, "fingerprint", 100))
    except GatewayError as exc:
        return page.error(409, str(exc))
    with page.ctx.db.session() as s:
        audit(s, page.actor, "trust.remove", "trust", {"removed": [a.fingerprint for a in removed]})
    return _redirect("/trust", "removed")


# --- partners -----------------------------------------------------------------------------------

@router.get("/partners", response_class=HTMLResponse)
def partners_page(request: Request) -> Response:
    page, refusal = _viewer(request, "partners")
    if refusal is not None:
        return refusal
    with page.ctx.db.session() as s:
        rows = partners.list_partners(s)
    return page.render("partners.html", partners=rows, notice=request.query_params.get("notice"))


@router.post("/partners")
async def partners_save(request: Request) -> Response:
    page, fields, refusal = await _changer(request, OFFICER)
    if refusal is not None:
        return refusal
    code = _text(fields, "edrpou", 16)
    values = {"edrpou": code, "name": _text(fields, "name", 500),
              "channel": _text(fields, "channel", 16) or "sev",
              "sev_system_id": _text(fields, "sev_system_id", 100) or None,
              "xroad_client": _text(fields, "xroad_client", 300) or None,
              "xroad_service": _text(fields, "xroad_service", 300) or None}
    try:
        edrpou_mod.validate(code)
        if not values["name"]:
            raise GatewayError(page._("The partner needs a name."))
        with page.ctx.db.session() as s:
            partners.upsert_partner(s, **values)
            audit(s, page.actor, "partner.save", f"partner:{code}", values)
    except (ValueError, GatewayError) as exc:
        return page.error(422, str(exc))
    return _redirect("/partners", "saved")


@router.post("/partners/{code}/remove")
async def partners_remove(code: str, request: Request) -> Response:
    page, _fields, refusal = await _changer(request, OFFICER)
    if refusal is not None:
        return refusal
    with page.ctx.db.session() as s:
        if not partners.remove_partner(s, code):
            return page.error(404, page._("No such partner."))
        audit(s, page.actor, "partner.remove", f"partner:{code}")
    return _redirect("/partners", "removed")


# --- messages -----------------------------------------------------------------------------------

@router.get("/messages", response_class=HTMLResponse)
def messages_page(request: Request) -> Response:
    page, refusal = _viewer(request, "messages")
    if refusal is not None:
        return refusal
    direction = "in" if request.query_params.get("direction") == "in" else "out"
    status = (request.query_params.get("status") or "")[:16]
    text = (request.query_params.get("q") or "")[:100].strip()
    model = Incoming if direction == "in" else Outgoing
    with page.ctx.db.session() as s:
        q = select(model)
        if status:
            q = q.where(model.status == status)
        if text:
            like = f"%{text}%"
            if model is Outgoing:
                q = q.where(or_(Outgoing.to_edrpou.like(like), Outgoing.to_name.like(like),
                                Outgoing.id.like(like)))
            else:
                q = q.where(or_(Incoming.from_edrpou.like(like), Incoming.from_name.like(like),
                                Incoming.id.like(like)))
        order = Incoming.received_at if model is Incoming else Outgoing.created_at
        rows = list(s.scalars(q.order_by(order.desc()).limit(PAGE_SIZE)))
    return page.render("messages.html", rows=rows, direction=direction, status_filter=status, q=text)


@router.get("/messages/out/{letter_id}", response_class=HTMLResponse)
def message_out(letter_id: str, request: Request) -> Response:
    page, refusal = _viewer(request, "messages")
    if refusal is not None:
        return refusal
    with page.ctx.db.session() as s:
        row = s.get(Outgoing, letter_id)
        if row is None:
            return page.error(404, page._("No such letter."))
        history = history_view(s, "outgoing", letter_id)
    return page.render("message_out.html", row=row, history=history,
                       meta=json.dumps(row.meta, ensure_ascii=False, indent=2),
                       notice=request.query_params.get("notice"))


@router.post("/messages/out/{letter_id}/requeue")
async def message_requeue(letter_id: str, request: Request) -> Response:
    page, _fields, refusal = await _changer(request, OPERATOR)
    if refusal is not None:
        return refusal
    with page.ctx.db.session() as s:
        row = requeue(s, letter_id, f"re-queued by {page.actor}")
        if row is None:
            return page.error(409, page._("Only a failed letter can be re-queued."))
        audit(s, page.actor, "letter.requeue", f"outgoing:{letter_id}", {"to_edrpou": row.to_edrpou})
    page.ctx.wake_workers()
    return _redirect(f"/messages/out/{letter_id}", "requeued")


@router.get("/messages/in/{incoming_id}", response_class=HTMLResponse)
def message_in(incoming_id: str, request: Request) -> Response:
    page, refusal = _viewer(request, "messages")
    if refusal is not None:
        return refusal
    with page.ctx.db.session() as s:
        row = s.get(Incoming, incoming_id)
        if row is None:
            return page.error(404, page._("No such document."))
        history = history_view(s, "incoming", incoming_id)
        files = [{"n": f.n, "name": f.name, "size": f.size, "report": f.report} for f in row.files]
    return page.render("message_in.html", row=row, history=history, files=files)


def _incoming_report(page: Page, incoming_id: str) -> dict[str, Any] | None:
    with page.ctx.db.session() as s:
        row = s.get(Incoming, incoming_id)
        return None if row is None else combined_report(row)


@router.get("/messages/in/{incoming_id}/report", response_class=HTMLResponse)
def message_in_report(incoming_id: str, request: Request) -> Response:
    """The readable validation report in the officer's language (a page of its own, printable)."""
    page, refusal = _viewer(request, "messages")
    if refusal is not None:
        return refusal
    report = _incoming_report(page, incoming_id)
    if report is None:
        return page.error(404, page._("No such document."))
    html = render_html(report, page.lang)
    response = HTMLResponse(html)
    _security_headers(response)
    # the report is one self-contained page with its own <style> block and no script: that block,
    # by its hash, is the only style allowed
    hashes = [f"'sha256-{base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()}'"
              for css in STYLE_BLOCK.findall(html)]
    styles = " ".join(hashes) or "'none'"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src {styles}; form-action 'none'; frame-ancestors 'none'")
    return response


@router.get("/messages/in/{incoming_id}/report.pdf")
def message_in_report_pdf(incoming_id: str, request: Request) -> Response:
    """The same report as a PDF for the paper archive."""
    page, refusal = _viewer(request, "messages")
    if refusal is not None:
        return refusal
    report = _incoming_report(page, incoming_id)
    if report is None:
        return page.error(404, page._("No such document."))
    response = Response(render_pdf(report, page.lang), media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{incoming_id}-report.pdf"'})
    _security_headers(response)
    return response


@router.get("/messages/out/{letter_id}/raw")
def message_out_raw(letter_id: str, request: Request) -> Response:
    page, refusal = _viewer(request, "messages")
    if refusal is not None:
        return refusal
    with page.ctx.db.session() as s:
        row = s.get(Outgoing, letter_id)
        if row is None or not row.message_sha256:
            return page.error(404, page._("No such letter."))
        sha = row.message_sha256
    return Response(page.ctx.blobs.get(sha), media_type="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="{letter_id}.xml"'})


@router.get("/messages/in/{incoming_id}/raw")
def message_in_raw(incoming_id: str, request: Request) -> Response:
    page, refusal = _viewer(request, "messages")
    if refusal is not None:
        return refusal
    with page.ctx.db.session() as s:
        row = s.get(Incoming, incoming_id)
        if row is None:
            return page.error(404, page._("No such document."))
        sha = row.message_sha256
    return Response(page.ctx.blobs.get(sha), media_type="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="{incoming_id}.xml"'})


@router.post("/messages/in/{incoming_id}/reject")
async def message_reject(incoming_id: str, request: Request) -> Response:
    page, fields, refusal = await _changer(request, OPERATOR)
    if refusal is not None:
        return refusal
    reason = _text(fields, "reason", 2000)
    if not reason:
        return page.error(422, page._("Give the reason."))
    with page.ctx.db.session() as s:
        row = s.get(Incoming, incoming_id)
        if row is None:
            return page.error(404, page._("No such document."))
        try:
            reject(s, row, reason)
        except IncomingStateError as exc:
            return page.error(409, str(exc))
        audit(s, page.actor, "incoming.reject", f"incoming:{incoming_id}", {"reason": reason})
    page.ctx.wake_workers()
    return _redirect(f"/messages/in/{incoming_id}")


# --- audit, users -------------------------------------------------------------------------------

@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request) -> Response:
    page, refusal = _viewer(request, "audit")
    if refusal is not None:
        return refusal
    action = (request.query_params.get("action") or "")[:64]
    with page.ctx.db.session() as s:
        rows = entries(s, action=action or None, limit=200, newest_first=True)
        check = verify(s)
    return page.render("audit.html", rows=rows, check=check, action=action)


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request) -> Response:
    page, refusal = _viewer(request, "users")
    if refusal is not None:
        return refusal
    with page.ctx.db.session() as s:
        rows = users.list_users(s)
    return page.render("users.html", users=rows, roles=users.USER_ROLES,
                       notice=request.query_params.get("notice"))


@router.post("/users")
async def users_create(request: Request) -> Response:
    page, fields, refusal = await _changer(request, OFFICER)
    if refusal is not None:
        return refusal
    try:
        with page.ctx.db.session() as s:
            user = users.create_user(s, _text(fields, "name", 200), _text(fields, "role", 16),
                                     str(fields.get("password") or ""))
            audit(s, page.actor, "user.create", f"user:{user.name}", {"role": user.role})
    except users.UserError as exc:
        return page.error(422, str(exc))
    return _redirect("/users", "created")


@router.post("/users/{name}/disable")
async def users_disable(name: str, request: Request) -> Response:
    page, _fields, refusal = await _changer(request, OFFICER)
    if refusal is not None:
        return refusal
    try:
        with page.ctx.db.session() as s:
            users.disable_user(s, name)
            audit(s, page.actor, "user.disable", f"user:{name}")
    except users.UserError as exc:
        return page.error(404, str(exc))
    return _redirect("/users", "disabled")

