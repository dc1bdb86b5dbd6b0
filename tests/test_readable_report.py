"""The detailed report (EN 319 102-1 building blocks) and the readable HTML/PDF report.

The PDF is read back by poppler's pdftotext, an implementation the gateway does not use, so what
an archivist would see on paper is what is asserted.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import dev_pki_env, dev_pki_fetch
from lxml import html
from test_cades_sign_support import asn1_cert

from gateway.signing.cades import CadesOptions, sign_cades_bytes
from gateway.signing.detailed import BLOCK_OF, detailed_dict
from gateway.signing.keys import load_signing_key
from gateway.signing.readable import render_html, render_pdf
from gateway.signing.report import SubIndication
from gateway.signing.validation.engine import validate
from gateway.signing.validation.policy import ValidationPolicy

BODY = "Лист міської ради\n".encode()
GATEWAY = [sys.executable, "-m", "gateway"]


@pytest.fixture(scope="module")
def signed(dev_pki, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("readable")
    key = load_signing_key(str(dev_pki.seal_p12), dev_pki.password())
    try:
        sig = sign_cades_bytes(key, BODY, CadesOptions(level="B-T", tsa_url=dev_pki.tsa_url))
    finally:
        key.close()
    (folder / "letter.txt").write_bytes(BODY)
    (folder / "letter.txt.p7s").write_bytes(sig)
    return {"doc": folder / "letter.txt", "sig": folder / "letter.txt.p7s", "folder": folder}


def _report(dev_pki, signed, doc: Path | None = None, trusted: bool = True):
    policy = ValidationPolicy(
        trust_roots=[asn1_cert(dev_pki.root_cert)] if trusted else [],
        detached={"letter.txt": doc or signed["doc"]},
        cache_dir=signed["folder"] / "cache", fetch=dev_pki_fetch(dev_pki),
    )
    return detailed_dict(validate(signed["sig"], policy))


def _checks(d: dict) -> dict[str, dict]:
    return {c["block"]: c for c in d["signatures"][0]["checks"]}


def test_every_subindication_belongs_to_a_building_block():
    assert set(BLOCK_OF) == set(SubIndication)


def test_a_valid_signature_passes_every_block(dev_pki, signed):
    d = _report(dev_pki, signed)
    assert d["indication"] == "TOTAL_PASSED", d
    sig = d["signatures"][0]
    assert sig["decided_by"] is None
    checks = _checks(d)
    assert [c["block"] for c in sig["checks"]] == ["FC", "ISC", "VCI", "XCV", "CV", "SAV", "TST", "POE"]
    assert {b: c["result"] for b, c in checks.items()} == dict.fromkeys(checks, "PASSED")
    assert any("time-stamp proves" in line for line in checks["POE"]["details"])


def test_a_changed_document_is_decided_by_cryptographic_verification(dev_pki, signed, tmp_path):
    changed = tmp_path / "letter.txt"
    changed.write_bytes(BODY + b"!")
    d = _report(dev_pki, signed, doc=changed)
    assert d["signatures"][0]["decided_by"] == "CV"
    assert (_checks(d)["CV"]["result"], _checks(d)["CV"]["subindication"]) == ("FAILED", "HASH_FAILURE")


def test_an_untrusted_signer_is_decided_by_certificate_validation(dev_pki, signed):
    d = _report(dev_pki, signed, trusted=False)
    assert d["signatures"][0]["decided_by"] == "XCV"
    assert _checks(d)["XCV"]["subindication"] == "NO_CERTIFICATE_CHAIN_FOUND"
    assert _checks(d)["CV"]["result"] == "PASSED"


def _pdftotext(path: Path) -> str:
    assert shutil.which("pdftotext"), "poppler-utils (pdftotext) is installed by .ci/run"
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


@pytest.mark.parametrize(("lang", "verdict", "edrpou_label"),
                         [("uk", "Підпис дійсний", "ЄДРПОУ"), ("en", "The signature is valid", "EDRPOU")])
def test_cli_writes_readable_reports(dev_pki, signed, tmp_path, lang, verdict, edrpou_label):
    root = tmp_path / "root.pem"
    root.write_bytes(dev_pki.root_cert.read_bytes())
    out = subprocess.run(
        [*GATEWAY, "verify", "--json", "--detailed", "--trust", str(root), "--detached", str(signed["doc"]),
         "--html", str(tmp_path / "r.html"), "--pdf", str(tmp_path / "r.pdf"), "--lang", lang,
         str(signed["sig"])],
        capture_output=True, text=True, timeout=120, env=dev_pki_env(dev_pki),
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["signatures"][0]["checks"]
    text = _pdftotext(tmp_path / "r.pdf")
    assert verdict in text and edrpou_label in text and "04056612" in text
    page = html.fromstring((tmp_path / "r.html").read_bytes())
    assert page.get("lang") == lang
    assert verdict in page.text_content() and "04056612" in page.text_content()


def test_untrusted_text_in_a_report_is_escaped(dev_pki, signed):
    d = _report(dev_pki, signed)
    d["signatures"][0]["signer"]["subject"] = '<script>alert(1)</script>'
    page = render_html(d, "uk")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert render_pdf(d, "en").startswith(b"%PDF-")


def test_unknown_language_is_refused(dev_pki, signed):
    with pytest.raises(ValueError, match="language"):
        render_html(_report(dev_pki, signed), "de")
