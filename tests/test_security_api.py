"""Security hardening of the HTTP API (issue 11), tried over real sockets as an attacker would."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from test_store_support import BACKENDS, database_url, serve_app

from gateway.config import load_config
from gateway.store.apikeys import create_key
from gateway.store.db import open_database

SIXTY_MIB = 60 * 1024 * 1024


@contextmanager
def running_gateway(tmp_path: Path, url: str | None = None, **env: str) -> Iterator[tuple[str, str, Any]]:
    """(base_url, api_key, cfg) of a gateway app without workers; SEV enabled so letters have a
    channel, the development PKI's seal when a `dev_pki` is given through GATEWAY_SIGNING__*."""
    from gateway.api.app import create_app

    cfg = load_config(env={
        "GATEWAY_DATABASE__URL": url or f"sqlite:///{tmp_path / 'db' / 'gateway.db'}",
        "GATEWAY_STORAGE__DIR": str(tmp_path / "storage"),
        "GATEWAY_SEV__ENABLED": "true",
        "GATEWAY_SERVER__MAX_REQUEST_BYTES": str(2 * 1024 * 1024),
        **env,
    })
    db = open_database(cfg)
    with db.session() as s:
        _, key = create_key(s, "edms")
    db.dispose()
    with serve_app(create_app(cfg, workers=False)) as base:
        yield base, key, cfg


def seal_env(dev_pki: Any) -> dict[str, str]:
    return {
        "GATEWAY_SIGNING__KEY": str(dev_pki.seal_p12),
        "GATEWAY_SIGNING__KEY_PASSWORD_FILE": str(dev_pki.password_file),
        "GATEWAY_SIGNING__DEFAULT_LEVEL": "B-B",
        "GATEWAY_TRUST__ANCHORS": str(dev_pki.root_cert),
        "GATEWAY_TRUST__REVOCATION": "offline",
    }


@pytest.fixture
def gateway(tmp_path):
    with running_gateway(tmp_path) as running:
        yield running


@pytest.fixture
def sealed(dev_pki, tmp_path):
    """A gateway with the development PKI's seal; yields an authenticated client."""
    with running_gateway(tmp_path, **seal_env(dev_pki)) as (base, key, _cfg), client_for(base, key) as c:
        yield c


@pytest.fixture(params=BACKENDS)
def any_db(request, tmp_path):
    """An authenticated client of a gateway on SQLite, then on PostgreSQL (which refuses NUL)."""
    with (
        database_url(request.param, tmp_path) as url,
        running_gateway(tmp_path, url) as (base, key, _),
        client_for(base, key) as c,
    ):
        yield c


def client_for(base: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def assert_error(resp: httpx.Response, status: int, code: str | None = None) -> str:
    """The answer is `status` in the one error shape; returns its message."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and body["error"]["message"], body
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]["message"]


META = {"to_edrpou": "37472062", "to_name": "Обласна адміністрація", "reg_number": "01-15/77",
        "reg_date": "2026-11-25", "title": "Про тест"}


def post_letter(c: httpx.Client, meta: Any = None, raw: str | None = None,
                name: str = "лист.txt") -> httpx.Response:
    text = raw if raw is not None else json.dumps(META if meta is None else meta)  # \\u escapes
    return c.post("/api/v1/outgoing", data={"metadata": text}, files=[("file", (name, b"hello"))])


def raw_request(base: str, head: str, body: bytes = b"", wait: float = 5.0) -> bytes:
    """Send `head` (and `body`) on a fresh connection; what the server answers within `wait` s."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        answer = b""
        try:
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except TimeoutError:
            pass
        return answer


def upload_head(path: str, length: int, key: str | None = None) -> str:
    auth = f"Authorization: Bearer {key}\n" if key else ""
    return (f"POST {path} HTTP/1.1\nHost: gateway\n{auth}Content-Type: multipart/form-data; boundary=b\n"
            f"Content-Length: {length}\n")


@pytest.mark.parametrize("path", ["/api/v1/outgoing", "/api/v1/validations", "/api/v1/signatures"])
def test_upload_without_key_is_refused_before_the_body_is_read(gateway, path):
    base, _, _ = gateway
    for key in (None, "gwk_wrong"):
        started = time.monotonic()
        answer = raw_request(base, upload_head(path, SIXTY_MIB, key))  # headers only, no body
        assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
        assert b"connection: close" in answer.lower() and b"www-authenticate: bearer" in answer.lower()
        assert time.monotonic() - started < 3


def test_declared_size_over_the_limit_is_refused_before_the_body_is_read(gateway):
    base, key, _ = gateway
    answer = raw_request(base, upload_head("/api/v1/outgoing", SIXTY_MIB, key))
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]


def test_parallel_unauthenticated_uploads_are_not_read(gateway):
    """Four 60 MiB uploads at once without a key: each is stopped long before its end."""
    base, _, _ = gateway
    sent = []

    def body():
        yield b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n"
        for _ in range(SIXTY_MIB // 65536):
            sent.append(65536)
            yield b"x" * 65536

    def upload(_n: int) -> int | None:
        with httpx.Client(base_url=base, timeout=10) as anon:
            try:
                return anon.post("/api/v1/outgoing", content=body(),
                                 headers={"Content-Type": "multipart/form-data; boundary=b"}).status_code
            except httpx.TransportError:
                return None  # the server closed the connection on the unread body: just as good

    with ThreadPoolExecutor(4) as pool:
        assert set(pool.map(upload, range(4))) <= {401, None}
    assert sum(sent) < 4 * SIXTY_MIB // 4, f"{sum(sent)} bytes were taken before the answer"


def test_open_and_own_auth_paths(gateway):
    base, key, _ = gateway
    with httpx.Client(base_url=base, timeout=10) as anon:
        assert anon.get("/healthz").status_code == 200
        for path in ("/metrics", "/openapi.json", "/no-such-thing", "/healthz/x", "/consoles", "/docsx",
                     "/docs/other"):
            assert anon.get(path).status_code == 401, path
        # the /docs page and its assets are open: the page asks for the key, /openapi.json needs it
        assert anon.get("/docs").status_code == 200
        assert anon.get("/docs/assets/swagger/swagger-ui.css").status_code == 200
        # /console has its own (session) authentication: the gate lets it through to the app
        assert anon.get("/console").status_code == 200 and 'name="password"' in anon.get("/console").text
        assert anon.get("/console/../api/v1/incoming").status_code in (400, 401)


ODD_NAMES = ["..", ".", "ф" * 300 + ".txt", "a/..", "..\\..", "\u202etxt.exe", "ab\x00c.txt", " "]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_odd_file_names_are_handled(sealed, name):
    """Names that once gave 500 (IsADirectoryError, ENAMETOOLONG) are signed, validated, queued."""
    signed = sealed.post("/api/v1/signatures", data={"format": "cades"}, files=[("file", (name, b"text"))])
    assert signed.status_code == 200, signed.text
    disposition = signed.headers["content-disposition"]
    assert ".." not in disposition and "\u202e" not in disposition
    report = sealed.post("/api/v1/validations", files=[("file", (name, signed.content))])
    assert report.status_code == 200 and report.json()["indication"] != "TOTAL_PASSED"  # content missing
    letter = post_letter(sealed, name=name)
    assert letter.status_code == 202, letter.text
    stored = sealed.get(f"/api/v1/outgoing/{letter.json()['id']}").json()["files"][0]["name"]
    assert stored.strip(".") and "/" not in stored and "\\" not in stored and len(stored.encode()) <= 200
    assert all(c not in stored for c in "\u202e\x00")


def download_name(resp: httpx.Response) -> str:
    """The full file name of a Content-Disposition (RFC 6266 `filename*`, else `filename`)."""
    disposition = resp.headers["content-disposition"]
    if "filename*=utf-8''" in disposition.lower():
        return unquote(disposition[disposition.lower().index("filename*=utf-8''") + 17:].split(";")[0])
    return disposition.split('filename="')[1].split('"')[0]


def test_bidi_override_is_stripped_from_file_names(sealed):
    letter = post_letter(sealed, name="звіт\u202efdp.exe")
    assert sealed.get(f"/api/v1/outgoing/{letter.json()['id']}").json()["files"][0]["name"] == "звітfdp.exe"
    signed = sealed.post("/api/v1/signatures", data={"format": "cades"},
                         files=[("file", ("звіт\u202efdp.exe", b"text"))])
    assert download_name(signed) == "звітfdp.exe.p7s"  # whole, in UTF-8, without the override


def test_a_senders_file_name_is_made_safe_for_download(gateway):
    """A received document's file named with a bidi override by its sender is served without it."""
    from gateway.exchange import inbox
    from gateway.exchange.message import DocTransfer, Document, Header, build_document, new_msg_id
    from gateway.store.blobs import BlobStore

    base, key, cfg = gateway
    header = Header(msg_type=1, msg_id=new_msg_id(), from_org_id="37472062", from_organization="Відправник",
                    from_sys_id="S-A", from_system="sed", to_org_id="04056612", to_organization="Рада",
                    to_sys_id="S-B", to_system="gw", msg_acknow=2)
    raw = build_document(header, Document(idnumber="1", reg_number="7/1", reg_date=date(2026, 11, 20),
                                          title="Лист", files=[DocTransfer("1", "рахунок\u202efdp.exe", "exe",
                                                                           b"body")]))
    db = open_database(cfg)
    got = inbox.receive(db, BlobStore(cfg.resolve(cfg.storage.dir)), raw, channel="sev",
                        validator=lambda sig, files: {})
    db.dispose()
    with client_for(base, key) as c:
        resp = c.get(f"/api/v1/incoming/{got.incoming_id}/files/1")
    assert resp.status_code == 200 and resp.content == b"body"
    assert download_name(resp) == "рахунокfdp.exe"


def test_odd_input_is_a_4xx_in_the_error_shape(any_db):
    c = any_db
    assert "nested too deep" in assert_error(post_letter(c, raw="[" * 100_000 + "]" * 100_000), 422)
    big = json.dumps(META)[:-1] + ', "purpose_type": ' + "9" * 5000 + "}"
    assert_error(post_letter(c, raw=big), 422, "invalid_metadata")
    for path in ("/api/v1/outgoing", "/api/v1/incoming"):
        assert "offset" in assert_error(c.get(path, params={"offset": 2**63}), 422, "invalid_request")
        assert "limit" in assert_error(c.get(path, params={"limit": -(2**63)}), 422, "invalid_request")
        assert_error(c.get(path, params={"status": "queued\x00"}), 422, "invalid_request")
    assert_error(c.get("/api/v1/incoming/" + "9" * 40 + "/files/" + "9" * 30), 422, "invalid_request")
    assert_error(c.get("/api/v1/incoming/a%00b"), 422, "invalid_request")
    assert_error(c.get("/api/v1/outgoing/a%00b"), 422, "invalid_request")
    assert_error(c.post("/api/v1/outgoing/%E2%80%AE/requeue"), 403, "forbidden")  # an edms key: not its job
    for ctype in (b"text/plain\x00", b"text/" + b"x" * 300):  # a part's Content-Type: NUL, too long
        part = (b'--b\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n' + json.dumps(META).encode()
                + b'\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
                + b"Content-Type: " + ctype + b"\r\n\r\nxyz\r\n--b--\r\n")
        resp = c.post("/api/v1/outgoing", content=part,
                      headers={"Content-Type": "multipart/form-data; boundary=b"})
        assert resp.status_code == 202, resp.text
    for call in ("registration", "rejection"):
        body = {"reason": "\x00"} if call == "rejection" else {"reg_number": "\x00", "reg_date": "2026-11-25"}
        assert "control characters" in assert_error(c.post(f"/api/v1/incoming/x/{call}", json=body), 422)


@pytest.mark.parametrize("field, value, fragment", [
    ("to_edrpou", "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668", "to_edrpou"),  # Arabic-Indic
    ("to_edrpou", "\uff13\uff17\uff14\uff17\uff12\uff10\uff16\uff12", "to_edrpou"),  # full-width
    ("to_edrpou", "37472063", "check digit"),
    ("reg_number", "01\x00/77", "control characters"),
    ("reg_number", "01\n77", "line breaks"),
    ("title", "Про\x85тест", "control characters"),  # C1 NEL
    ("annotation", "\x1b[31m", "control characters"),
    ("to_name", "\ud800", "control characters"),  # a lone surrogate
    ("author", {"name": "Іван\x07"}, "control characters"),
])
def test_letters_no_channel_could_send_are_refused_at_the_door(gateway, field, value, fragment):
    base, key, _ = gateway
    with client_for(base, key) as c:
        message = assert_error(post_letter(c, {**META, field: value}), 422, "invalid_metadata")
        assert fragment in message and field in message
        assert c.get("/api/v1/outgoing").json()["items"] == []


def test_multi_line_text_keeps_its_line_breaks(gateway):
    base, key, _ = gateway
    with client_for(base, key) as c:
        assert post_letter(c, {**META, "annotation": "рядок 1\r\n\tрядок 2"}).status_code == 202


def test_only_enabled_channels_are_accepted(tmp_path):
    with running_gateway(tmp_path) as (base, key, _), client_for(base, key) as c:
        message = assert_error(post_letter(c, {**META, "channel": "trembita"}), 422, "channel_disabled")
        assert "[trembita] enabled" in message
        assert post_letter(c, {**META, "channel": "sev"}).status_code == 202
    with running_gateway(tmp_path / "nosev", GATEWAY_SEV__ENABLED="false") as (base, key, _), \
            client_for(base, key) as c:
        assert "[sev] enabled" in assert_error(post_letter(c), 422, "channel_disabled")  # the default channel


def test_test_codes_can_be_allowed(tmp_path):
    env = {"GATEWAY_ORGANIZATION__EDRPOU_CHECK_DIGIT": "false"}
    with running_gateway(tmp_path, **env) as (base, key, _), client_for(base, key) as c:
        assert post_letter(c, {**META, "to_edrpou": "37472063"}).status_code == 202
        assert_error(post_letter(c, {**META, "to_edrpou": "\u0661" * 8}), 422, "invalid_metadata")


def test_absolute_urls_never_reflect_the_host_header(tmp_path):
    evil = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    public = "https://gateway.mykolaiv.example:8443"
    with running_gateway(tmp_path, GATEWAY_SERVER__PUBLIC_URL=public) as (base, key, _), \
            client_for(base, key) as c:
        resp = c.get("/api/v1/outgoing/", params={"limit": 5}, headers=evil)
        assert resp.status_code == 307
        assert resp.headers["location"] == f"{public}/api/v1/outgoing?limit=5"
    with running_gateway(tmp_path / "b") as (base, key, _), client_for(base, key) as c:
        resp = c.get("/api/v1/incoming/", headers=evil)
        assert resp.status_code == 307 and resp.headers["location"] == f"{base}/api/v1/incoming"


def test_a_bad_public_url_stops_the_start_up(tmp_path):
    from gateway.api.app import create_app
    from gateway.errors import ConfigError

    cfg = load_config(env={"GATEWAY_SERVER__PUBLIC_URL": "gateway.example:8080"})
    with pytest.raises(ConfigError, match="public_url"):
        create_app(cfg, workers=False)


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_data_at_rest_is_private_whatever_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        with running_gateway(tmp_path) as (base, key, _), client_for(base, key) as c:
            assert post_letter(c).status_code == 202
            modes = {p: oct(p.stat().st_mode & 0o777) for p in tmp_path.rglob("*")}  # while running
    finally:
        os.umask(old)
    assert {"gateway.db", "gateway.db-wal", "gateway.db-shm"} <= {p.name for p in modes}
    assert any(len(p.name) == 64 for p in modes)  # the letter's body
    assert {mode for p, mode in modes.items() if p.is_file()} == {"0o600"}, modes
    assert {mode for p, mode in modes.items() if p.is_dir()} == {"0o700"}, modes


def test_files_of_the_same_name_are_refused_not_overwritten(sealed):
    """Two `a.txt` once gave a ZIP with one signature twice (the second overwrote the first)."""
    same = [("file", ("a.txt", b"one")), ("file", ("dir/a.txt", b"two"))]
    assert "a.txt" in assert_error(sealed.post("/api/v1/signatures", data={"format": "cades"}, files=same),
                                   422, "invalid_request")
    detached = [("file", ("s.p7s", b"0")), ("detached", ("a.txt", b"1")), ("detached", ("a.txt", b"2"))]
    assert_error(sealed.post("/api/v1/validations", files=detached), 422, "invalid_request")
    two = sealed.post("/api/v1/signatures", data={"format": "cades"},
                      files=[("file", ("a.txt", b"one")), ("file", ("b.txt", b"two"))])
    assert two.status_code == 200 and two.headers["content-type"] == "application/zip"


def test_every_route_but_healthz_needs_the_key(tmp_path):
    """Each route the app has (today's and any added later) answers 401 without a valid key."""
    from fastapi.routing import APIRoute

    from gateway.api.app import create_app

    with running_gateway(tmp_path) as (base, _, cfg), httpx.Client(base_url=base, timeout=10) as anon:
        app = create_app(cfg, workers=False)
        routes = {(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops}
        routes |= {(m, r.path) for r in app.routes if isinstance(r, APIRoute) for m in r.methods}
        assert len(routes) >= 12 and ("POST", "/api/v1/outgoing") in routes
        for method, template in routes:
            path = template.replace("{n}", "1").replace("{", "").replace("}", "")
            resp = anon.request(method, path, headers={"Authorization": "Bearer gwk_forged"})
            expected = 200 if path in ("/healthz", "/docs") else 401  # /docs: a page that asks for the key
            assert resp.status_code == expected, (method, path, resp.text)
