"""Helpers shared by the signing tests (no tests here): certificates as PEM files, a minimal PDF,
openssl wrappers, time-stamp token extraction."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms, core, pem
from asn1crypto import x509 as ax

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
needs_pdfsig = pytest.mark.skipif(shutil.which("pdfsig") is None,
                                  reason="pdfsig (poppler-utils) not installed")


def cert_der(cert: object) -> bytes:
    """DER of a certificate given as asn1crypto/cryptography object, PEM/DER bytes or a file path."""
    if isinstance(cert, str | Path):
        cert = Path(cert).read_bytes()
    if isinstance(cert, bytes):
        return pem.unarmor(cert)[2] if pem.detect(cert) else cert
    if isinstance(cert, ax.Certificate):
        return cert.dump()
    if hasattr(cert, "public_bytes"):
        from cryptography.hazmat.primitives.serialization import Encoding

        return cert.public_bytes(Encoding.DER)
    raise TypeError(f"not a certificate: {type(cert).__name__}")


def write_pem(path: Path, *certs: object) -> Path:
    path.write_bytes(b"".join(pem.armor("CERTIFICATE", cert_der(c)) for c in certs))
    return path


def asn1_cert(cert: object) -> ax.Certificate:
    return ax.Certificate.load(cert_der(cert))


def minimal_pdf(text: str = "hello") -> bytes:
    """A valid one-page PDF with a classic xref table."""
    stream = f"BT /F1 12 Tf 20 100 Td ({text}) Tj ET".encode()
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def load_cms(path: Path) -> cms.ContentInfo:
    return cms.ContentInfo.load(path.read_bytes())


def unsigned_attr_values(si: cms.SignerInfo, oid: str) -> list:
    if isinstance(si["unsigned_attrs"], core.Void):
        return []
    return [v for a in si["unsigned_attrs"] if a["type"].dotted == oid for v in a["values"]]


def as_content_info(value) -> cms.ContentInfo:
    return value if isinstance(value, cms.ContentInfo) else cms.ContentInfo.load(value.dump())


def openssl_ts_verify(token: cms.ContentInfo, ca_file: Path, tmp: Path, *, data: bytes | None = None,
                      digest_hex: str | None = None) -> subprocess.CompletedProcess:
    """`openssl ts -verify` of a bare token against the data it covers (or the imprint digest)."""
    tok = tmp / "token.der"
    tok.write_bytes(token.dump())
    cmd = ["openssl", "ts", "-verify", "-in", str(tok), "-token_in", "-CAfile", str(ca_file)]
    if data is not None:
        (tmp / "ts-data.bin").write_bytes(data)
        cmd += ["-data", str(tmp / "ts-data.bin")]
    else:
        cmd += ["-digest", digest_hex or ""]
    return subprocess.run(cmd, capture_output=True, text=True)
