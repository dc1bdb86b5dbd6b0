"""Issue 10's leftovers: the readable validation report of a received document in the console (HTML
page and PDF, in the officer's language), the "a channel is down" alert (front page, /metrics,
/healthz), and a revoked CA certificate refused as a trust anchor unless forced."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from aiosmtpd.controller import Controller
from asn1crypto import cms
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from console_support import write_gateway
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import update
from test_console import Browser, csrf_of, forms_of
from test_console_alerts import Sink
from test_crash_exchange import free_port
from test_store_support import BACKENDS, database_url, serve_app

from gateway.api.app import create_app
from gateway.config import load_config
from gateway.console.alerts import collect
from gateway.console.mailer import AlertMailer
from gateway.errors import GatewayError
from gateway.exchange import inbox
from gateway.exchange.message import DocTransfer, Document, Header, SignInfo, build_document, new_msg_id
from gateway.pki import trustops
from gateway.store.apikeys import create_key
from gateway.store.blobs import BlobStore
from gateway.store.db import open_database
from gateway.store.models import Outgoing

STORED_REPORT = {  # the shape the inbox stores for a file (INTERFACE.md report)
    "indication": "TOTAL_FAILED", "subindication": "HASH_FAILURE", "container": "CMS",
    "validation_time": "2026-11-29T10:00:00Z",
    "signatures": [{
        "id": "S1", "format": "CAdES-BASELINE-B", "indication": "TOTAL_FAILED",
        "subindication": "HASH_FAILURE",
        "intact": False, "signer": {"subject": "Печатка Одеської міської ради", "issuer": "Test CA",
                                    "serial": "0A", "edrpou": "26597691", "drfo": None},
        "algorithm": {"digest": "sha256", "signature": "rsa"}, "claimed_signing_time": "2026-11-29T09:59:00Z",
        "best_signature_time": None, "timestamps": [], "chain": [], "signed_objects": ["a.txt"],
        "errors": ["the signed data were changed"], "warnings": [],
    }],
}


@pytest.fixture
def console(dev_pki, tmp_path):
    """(base URL, cfg, an EDMS API key) of a gateway without workers, users of every role."""
    cfg = load_config(write_gateway(dev_pki, tmp_path))
    db = open_database(cfg)
    with db.session() as s:
        _, key = create_key(s, "edms")
    db.dispose()
    with serve_app(create_app(cfg, workers=False)) as base:
        yield base.replace("127.0.0.1", "localhost"), cfg, key


def receive_signed_document(cfg) -> str:
    """A received document whose (stored) validation report says its signature failed."""
    db = open_database(cfg)
    header = Header(msg_type=1, msg_id=new_msg_id(), from_org_id="26597691", from_organization="Одеса",
                    from_sys_id="S-A", from_system="sed", to_org_id="12345678", to_organization="Рада",
                    to_sys_id="S-B", to_system="gw", msg_acknow=2)
    raw = build_document(header, Document(idnumber="1", reg_number="7/1", reg_date=date(2026, 11, 20),
                                          title="Звіт", files=[DocTransfer("1", "a.txt", "txt", b"body")]),
                         [SignInfo("1", b"\x30\x00")])
    got = inbox.receive(db, BlobStore(cfg.resolve(cfg.storage.dir)), raw, channel="sev",
                        validator=lambda sig, files: STORED_REPORT)
    db.dispose()
    return got.incoming_id


def _pdf_text(data: bytes) -> str:
    assert shutil.which("pdftotext"), "poppler-utils is installed by .ci/run"
    out = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True).stdout
    return " ".join(out.decode().split())


# --- 1. the readable report of a received document ---------------------------------------------

def test_received_document_report_page_and_pdf(console):
    base, cfg, _ = console
    incoming_id = receive_signed_document(cfg)
    anonymous = Browser(base)
    refused = anonymous.get(f"/console/messages/in/{incoming_id}/report.pdf")
    assert refused.headers["content-type"].startswith("text/html") and 'name="password"' in refused.text
    b = Browser(base)
    b.login("operator")
    listed = b.get("/console/messages?direction=in").text
    assert f'href="/console/messages/in/{incoming_id}/report"' in listed
    detail = b.get(f"/console/messages/in/{incoming_id}").text
    assert f'href="/console/messages/in/{incoming_id}/report.pdf"' in detail
    assert "Протокол перевірки" in detail

    page = b.get(f"/console/messages/in/{incoming_id}/report")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Підпис недійсний" in page.text and "Печатка Одеської міської ради" in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src" not in policy and "unsafe-inline" not in policy and "style-src 'sha256-" in policy
    pdf = b.get(f"/console/messages/in/{incoming_id}/report.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert "Підпис недійсний" in _pdf_text(pdf.content) and "26597691" in _pdf_text(pdf.content)

    b.get("/console?lang=en")  # the officer's language, remembered in the cookie
    english = b.get(f"/console/messages/in/{incoming_id}/report.pdf")
    assert "The signature is not valid" in _pdf_text(english.content)
    assert "The signature is not valid" in b.get(f"/console/messages/in/{incoming_id}/report").text
    assert b.get("/console/messages/in/no-such-id/report.pdf").status_code == 404


# --- 2. a channel that is down -----------------------------------------------------------------

def _letter(cfg, *, channel: str, error: str | None, at: datetime) -> None:
    db = open_database(cfg)
    with db.session() as s:
        s.add(Outgoing(id=str(uuid.uuid4()), msg_id=new_msg_id(), status="sending", channel=channel,
                       to_edrpou="26597691", to_name="Одеська міська рада", meta={}, attempts=1,
                       last_error=error, created_at=at, updated_at=at))
    db.dispose()


def _alerts(base: str, key: str) -> tuple[dict, str]:
    with httpx.Client(base_url=base, timeout=30) as client:
        health = client.get("/healthz").json()
        metrics = client.get("/metrics", headers={"Authorization": f"Bearer {key}"}).text
    return health, metrics


def test_trembita_failing_letters_raise_a_channel_down_alert(console):
    base, cfg, key = console
    health, _ = _alerts(base, key)
    assert health["status"] == "ok", health
    now = datetime.now(UTC)
    _letter(cfg, channel="trembita", error=None, at=now - timedelta(minutes=5))  # delivered earlier
    _letter(cfg, channel="trembita", error="security server: connection refused",
            at=now - timedelta(minutes=1))
    health, metrics = _alerts(base, key)
    assert health["status"] == "degraded" and "channel_down" in health["checks"]["alerts"], health
    assert 'gateway_alerts{kind="channel_down",severity="critical"} 1.0' in metrics
    b = Browser(base)
    b.login("operator")
    front = b.get("/console").text
    assert "канал обміну не працює" in front and "trembita" in front and "connection refused" in front

    _letter(cfg, channel="trembita", error=None, at=datetime.now(UTC))  # a later letter went through
    health, metrics = _alerts(base, key)
    assert "channel_down" not in health["checks"]["alerts"] and "channel_down" not in metrics


@pytest.mark.parametrize("backend", BACKENDS)
def test_channel_down_judged_by_the_latest_attempt_on_every_backend(backend, tmp_path):
    with database_url(backend, tmp_path) as url:
        path = tmp_path / "gateway.toml"
        path.write_text(f'[database]\nurl = "{url}"\n[storage]\ndir = "{tmp_path / "blobs"}"\n',
                        encoding="utf-8")
        cfg = load_config(path)
        now = datetime.now(UTC)
        _letter(cfg, channel="sev", error="hub: 503", at=now - timedelta(minutes=2))
        _letter(cfg, channel="sev", error=None, at=now - timedelta(minutes=1))  # sent since: sev is up
        _letter(cfg, channel="trembita", error="timed out", at=now - timedelta(minutes=3))
        _letter(cfg, channel="trembita", error="refused", at=now - timedelta(minutes=1))
        _letter(cfg, channel="trembita", error="old", at=now - timedelta(hours=2))  # outside the window
        db = open_database(cfg)
        down = [a for a in collect(cfg, db, None, now=now) if a.kind == "channel_down"]
        db.dispose()
        assert [(a.subject, a.count, a.detail, a.severity) for a in down] == [
            ("trembita", 2, "refused", "critical")]


@pytest.fixture
def sink():
    """A local SMTP sink: (its handler with the received messages, its port)."""
    handler, port = Sink(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def test_channel_down_is_mailed_once_while_its_error_changes(dev_pki, tmp_path, sink):
    """The alert is the channel's; a new error text on the next attempt is not a new alert."""
    handler, port = sink
    cfg = load_config(write_gateway(dev_pki, tmp_path, extra=(
        f'[console]\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\nmail_from = "gateway@mkrada.gov.ua"\n'
        'mail_to = ["security@mkrada.gov.ua"]\nmail_repeat_hours = 24.0\n')))
    now = datetime.now(UTC)
    _letter(cfg, channel="trembita", error="HTTP 502 from the security server", at=now)
    db = open_database(cfg)
    mailer = AlertMailer(cfg, db, lambda: None)
    assert mailer.run_once(now) == 1
    text = handler.messages[0][1].get_content()
    assert "канал обміну не працює" in text and "trembita" in text and "HTTP 502" in text
    with db.session() as s:
        s.execute(update(Outgoing).values(last_error="timed out", updated_at=now + timedelta(minutes=1)))
    assert mailer.run_once(now + timedelta(minutes=2)) == 0
    db.dispose()


def test_sev_poller_failing_raises_a_channel_down_alert(dev_pki, tmp_path, monkeypatch):
    monkeypatch.setenv("GW_TEST_SEV_PASSWORD", "secret")
    extra = (f'[sev]\nenabled = true\nurl = "http://127.0.0.1:{free_port()}/nothing-listens"\n'
             'system_id = "sys-a"\npassword_env = "GW_TEST_SEV_PASSWORD"\npoll_seconds = 0.1\n')
    cfg = load_config(write_gateway(dev_pki, tmp_path, extra=extra))
    db = open_database(cfg)
    with db.session() as s:
        _, key = create_key(s, "edms")
    db.dispose()
    with serve_app(create_app(cfg)) as base:
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        health: dict = {}
        while datetime.now(UTC) < deadline:
            health, metrics = _alerts(base, key)
            if health["checks"]["sev"].startswith("failing"):
                break
        assert health["checks"]["sev"].startswith("failing"), health
        health, metrics = _alerts(base, key)
        assert health["status"] == "degraded" and "channel_down" in health["checks"]["alerts"], health
        assert 'gateway_alerts{kind="channel_down",severity="critical"} 1.0' in metrics


# --- 3. a revoked CA certificate as a trust anchor ---------------------------------------------

def _sub_ca(dev_pki, name: str) -> tuple[x509.Certificate, serialization.Encoding, object]:
    root = x509.load_pem_x509_certificate(dev_pki.root_cert.read_bytes())
    root_key = serialization.load_pem_private_key((dev_pki.dir / "keys" / "root.key.pem").read_bytes(), None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(root.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    return cert, root, root_key


def _crl(root, root_key, revoked: list[x509.Certificate]) -> bytes:
    now = datetime.now(UTC)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(root.subject)
               .last_update(now - timedelta(hours=1)).next_update(now + timedelta(days=7)))
    for cert in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(cert.serial_number)
            .revocation_date(now - timedelta(minutes=30)).build())
    return builder.sign(root_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _pkcs7(certs: list[x509.Certificate], crls: list[bytes]) -> bytes:
    signed = cms.SignedData({
        "version": "v1", "digest_algorithms": [], "encap_content_info": {"content_type": "data"},
        "certificates": [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
                         for c in certs],
        "crls": [asn1_crl.CertificateList.load(d) for d in crls], "signer_infos": [],
    })
    return cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()


def test_revoked_ca_refused_as_anchor_unless_forced(dev_pki, tmp_path):
    cfg = load_config(write_gateway(dev_pki, tmp_path))
    revoked, root, root_key = _sub_ca(dev_pki, "Revoked Sub CA")
    good, _, _ = _sub_ca(dev_pki, "Good Sub CA")
    cache = cfg.resolve(cfg.trust.cache_dir)
    cache.mkdir(exist_ok=True)
    (cache / "root.crl").write_bytes(_crl(root, root_key, [revoked]))
    pem = revoked.public_bytes(serialization.Encoding.PEM)

    (candidate,) = trustops.preview(cfg, pem)
    assert any(p.startswith("revoked on") for p in candidate.problems), candidate
    (fine,) = trustops.preview(cfg, good.public_bytes(serialization.Encoding.PEM))
    assert fine.problems == ()
    with pytest.raises(GatewayError, match="revoked"):
        trustops.add(cfg, pem)
    assert [a.fingerprint for a in trustops.add(cfg, pem, force=True)] == [candidate.fingerprint]

    # a CRL not signed by the trusted issuer counts for nothing
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (cache / "root.crl").write_bytes(_crl(root, forger, [good]))
    assert trustops.preview(cfg, good.public_bytes(serialization.Encoding.PEM))[0].problems == ()


def test_revoked_ca_found_by_a_crl_in_the_uploaded_bundle(dev_pki, tmp_path):
    cfg = load_config(write_gateway(dev_pki, tmp_path))
    revoked, root, root_key = _sub_ca(dev_pki, "Revoked Sub CA")
    bundle = _pkcs7([revoked], [_crl(root, root_key, [revoked])])
    (candidate,) = trustops.preview(cfg, bundle)
    assert any(p.startswith("revoked on") for p in candidate.problems), candidate
    with pytest.raises(GatewayError, match="revoked"):
        trustops.add(cfg, bundle)


def test_console_preview_shows_a_revoked_ca_and_asks_for_force(console, dev_pki):
    base, cfg, _ = console
    revoked, root, root_key = _sub_ca(dev_pki, "Revoked Sub CA")
    cache = cfg.resolve(cfg.trust.cache_dir)
    cache.mkdir(exist_ok=True)
    (cache / "root.crl").write_bytes(_crl(root, root_key, [revoked]))
    b = Browser(base)
    b.login("officer")
    token = csrf_of(b.get("/console/trust").text)
    preview = b.post("/console/trust/preview", {"csrf": token}, files={
        "file": ("sub.pem", revoked.public_bytes(serialization.Encoding.PEM))})
    assert preview.status_code == 200 and "revoked on" in preview.text and 'name="force"' in preview.text
    payload = forms_of(preview.text)[-1]["fields"]["payload"]
    refused = b.post("/console/trust/add", {"csrf": token, "payload": payload})
    assert refused.status_code == 422 and "revoked" in refused.text
    forced = b.post("/console/trust/add", {"csrf": token, "payload": payload, "force": "yes"})
    assert forced.status_code == 200 and "Revoked Sub CA" in forced.text


def test_ca_withdrawn_in_a_trusted_list_refused_as_anchor(dev_pki, tmp_path, monkeypatch):
    from test_trusted_lists_support import ServiceSpec, State, build_list, sign_list

    from gateway.cli import main

    monkeypatch.delenv("GATEWAY_CONFIG", raising=False)
    path = write_gateway(dev_pki, tmp_path)
    withdrawn, _, _ = _sub_ca(dev_pki, "Withdrawn Provider CA")
    pem = withdrawn.public_bytes(serialization.Encoding.PEM)
    now = datetime.now(UTC)
    xml = build_list([ServiceSpec("Withdrawn Provider CA", pem, [
        State("withdrawn", now - timedelta(days=3)), State("granted", now - timedelta(days=300))])])
    (tmp_path / "ua.xml").write_bytes(sign_list(xml, dev_pki))
    assert main(["trust", "tl", "add", str(tmp_path / "ua.xml"), "--signer", str(dev_pki.seal_cert),
                 "--config", str(path)]) == 0
    cfg = load_config(path)
    (candidate,) = trustops.preview(cfg, pem)
    assert any("withdrawn since" in p and "trusted list of UA" in p for p in candidate.problems), candidate
    with pytest.raises(GatewayError, match="withdrawn"):
        trustops.add(cfg, pem)
