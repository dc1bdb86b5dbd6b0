"""A 1207 message carries each file's detached CAdES signature intact: openssl verifies what we parse."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from second_opinion import openssl_cms_verify

from gateway.exchange.message import (
    DocTransfer,
    Document,
    Header,
    Organization,
    SignInfo,
    build_document,
    parse_message,
)
from gateway.signing.cades import CadesOptions, sign_cades_bytes
from gateway.signing.keys import load_signing_key

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")


@pytest.fixture(scope="module")
def seal(tmp_path_factory):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Миколаївська міська рада (тест)")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path_factory.mktemp("seal") / "seal.p12"
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"seal", key, cert, None, serialization.BestAvailableEncryption(b"pw")
        )
    )
    return load_signing_key(str(path), b"pw"), cert.public_bytes(serialization.Encoding.DER)


def openssl_verifies(signature: bytes, content: bytes, tmp: Path) -> bool:
    (tmp / "sig.p7s").write_bytes(signature)
    (tmp / "content").write_bytes(content)
    out = openssl_cms_verify(str(tmp / "sig.p7s"), None, str(tmp / "content"))
    return out.returncode == 0


def test_signed_files_travel_and_verify_with_openssl(seal, tmp_path):
    key, cert_der = seal
    files = [
        DocTransfer("1", "лист.pdf", "pdf", b"%PDF-1.7\n" + bytes(range(256)) * 400),
        DocTransfer("2", "додаток.txt", "txt", "Додаток до листа".encode()),
    ]
    sigs = [
        SignInfo(
            f.idnumber,
            sign_cades_bytes(key, f.data, CadesOptions(level="B-B")),
            certificate=cert_der,
            signing_time=dt.datetime.now(dt.UTC),
        )
        for f in files
    ]
    header = Header(
        msg_type=1,
        msg_id="0e0a4a51-2b9e-4c57-8a51-1e7cc0e5a001",
        msg_acknow=2,
        from_org_id="04056612",
        from_organization="Миколаївська міська рада",
        from_sys_id="gw",
        from_system="gateway",
        to_org_id="37472062",
        to_organization="Мінінфраструктури",
        to_sys_id="sev",
        to_system="СЕВ",
    )
    document = Document(
        idnumber="1",
        reg_number="1-01/7",
        reg_date=dt.date(2026, 11, 25),
        author=Organization("04056612", "Миколаївська міська рада"),
        addressees=[Organization("37472062", "Мінінфраструктури")],
        files=files,
    )
    raw = build_document(header, document, sigs)

    msg = parse_message(raw)
    for f in msg.document.files:
        (sig,) = msg.signatures_for(f.idnumber)
        assert sig.certificate == cert_der
        assert openssl_verifies(sig.sign_data, f.data, tmp_path)
    # the link matters: file 1's signature does not verify file 2
    assert not openssl_verifies(msg.signatures_for("1")[0].sign_data, msg.document.files[1].data, tmp_path)
