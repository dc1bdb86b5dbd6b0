"""Malformed input never crashes the validator: a FORMAT_FAILURE report or a one-line error."""

from __future__ import annotations

import re

import pytest
import test_validation
from asn1crypto import cms
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_validation import DOC, sign_cms
from test_validation_pdf import minimal_pdf, sign_pdf

from gateway.errors import GatewayError
from gateway.signing.report import Indication, SubIndication
from gateway.signing.validation.detached import InputTooLarge
from gateway.signing.validation.engine import validate
from gateway.signing.validation.policy import ValidationPolicy

pki = test_validation.pki  # the test PKI fixture, shared

OFFLINE = ValidationPolicy(offline=True)


def assert_format_failure(data: bytes) -> None:
    report = validate(data, OFFLINE)
    assert (report.indication, report.subindication) == (
        Indication.TOTAL_FAILED,
        SubIndication.FORMAT_FAILURE,
    )
    assert report.errors or report.signatures[0].errors


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00",
        b"\x30\x80" * 50_000 + b"\x00\x00" * 50_000,  # indefinite-length nesting bomb
        b"\x30\x84\x7f\xff\xff\xff" + b"\x00" * 10,  # claims 2 GiB
        bytes.fromhex("300d06092a864886f70d010701a000"),  # ContentInfo of type data, not signed-data
        bytes.fromhex("3080060b2a864886f70d010702a080308000000000"),  # signed-data, broken inside
        b"QUJD",  # base64 of junk
        b"-----BEGIN PKCS7-----\n!!!\n-----END PKCS7-----\n",
        b"%PDF-1.7\n" + b"garbage" * 100,
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\nxref\n0 2\nzzzz\ntrailer\n<< /Root 1 0 R >>\n"
        b"startxref\n99999\n%%EOF\n",
    ],
    ids=[
        "empty",
        "zero",
        "ber-bomb",
        "huge-length",
        "wrong-oid",
        "broken-signed-data",
        "base64",
        "pem",
        "pdf",
        "pdf-xref",
    ],
)
def test_garbage_is_a_format_failure(data):
    assert_format_failure(data)


def test_truncated_signatures_are_format_failures(pki):
    sig = sign_cms(pki, pki.signer, DOC, detached=False)
    for cut in (1, 10, len(sig) // 2, len(sig) - 1):
        assert_format_failure(sig[:cut])


def test_input_over_the_bound_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "big.p7s"
    path.write_bytes(b"\x30" * 5000)
    with pytest.raises(InputTooLarge):
        validate(path, ValidationPolicy(offline=True, max_input_bytes=4096))
    with pytest.raises(InputTooLarge):
        validate(b"\x30" * 5000, ValidationPolicy(offline=True, max_input_bytes=4096))


def test_detached_over_the_bound_is_refused(pki, tmp_path):
    """The CLI shows a GatewayError as one line with exit status 2 (tests/test_cli.py)."""
    content = DOC * 50
    sig = sign_cms(pki, pki.signer, content)
    assert len(content) > len(sig) + 100
    (tmp_path / "doc.txt").write_bytes(content)
    policy = ValidationPolicy(
        offline=True, max_input_bytes=len(sig) + 100, detached={"doc.txt": tmp_path / "doc.txt"}
    )
    with pytest.raises(InputTooLarge, match="doc.txt: larger than the limit"):
        validate(sig, policy)
    assert issubclass(InputTooLarge, GatewayError)


def test_pdf_with_damaged_signature_contents(pki):
    signed = sign_pdf(pki, minimal_pdf())
    start = signed.index(b"/Contents <") + len(b"/Contents <")
    damaged = signed[:start] + b"ff" * 8 + signed[start + 16 :]
    report = validate(damaged, OFFLINE)
    assert report.indication == Indication.TOTAL_FAILED
    assert report.signatures[0].intact is False


def test_pdf_with_bogus_byte_range(pki):
    signed = sign_pdf(pki, minimal_pdf())
    bogus = re.sub(
        rb"/ByteRange \[[^\]]*\]", lambda m: b"/ByteRange [0 5 -1 7]".ljust(len(m.group(0))), signed, count=1
    )
    report = validate(bogus, OFFLINE)
    assert report.indication == Indication.TOTAL_FAILED
    assert report.signatures[0].intact is False


@pytest.fixture(scope="module")
def attached(pki) -> bytes:
    return sign_cms(pki, pki.signer, DOC, detached=False)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_cms_never_crashes(pki, attached, data):
    """Random byte edits anywhere in a real signature: always a report, never an exception, and a
    pass only when the signed content, signed attributes and signature value are untouched (edits in
    unsigned parts, e.g. a redundant embedded certificate, may legitimately still validate)."""
    mutated = bytearray(attached)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(mutated) - 1))
        action = data.draw(st.sampled_from(["flip", "delete", "insert"]))
        if action == "flip":
            mutated[pos] ^= data.draw(st.integers(1, 255))
        elif action == "delete":
            del mutated[pos]
        else:
            mutated.insert(pos, data.draw(st.integers(0, 255)))
    report = validate(bytes(mutated), pki.policy(offline=True, cache_dir=pki.crl_dir))
    report.to_dict()
    if report.indication == Indication.TOTAL_PASSED:
        assert _signed_parts(bytes(mutated)) == _signed_parts(attached)


def _signed_parts(data: bytes) -> tuple[bytes, bytes, bytes]:
    """What a CMS signature protects: the encapsulated content, the signed attributes, the value."""
    sd = cms.ContentInfo.load(data)["content"]
    si = sd["signer_infos"][0]
    return sd["encap_content_info"]["content"].contents, si["signed_attrs"].dump(), si["signature"].native


@pytest.fixture(scope="module")
def signed_pdf_bytes(pki) -> bytes:
    return sign_pdf(pki, minimal_pdf())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_pdf_never_crashes(pki, signed_pdf_bytes, data):
    """Random byte edits in a signed PDF: always a report, and never a pass when a signed byte (one
    outside the /Contents hole) changed."""
    hole_start = signed_pdf_bytes.index(b"/Contents <") + len(b"/Contents ")
    hole_end = signed_pdf_bytes.index(b">", hole_start) + 1
    mutated = bytearray(signed_pdf_bytes)
    signed_byte_changed = False
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(mutated) - 1))
        value = data.draw(st.integers(0, 255))
        if value != mutated[pos] and not hole_start <= pos < hole_end:
            signed_byte_changed = True
        mutated[pos] = value
    report = validate(bytes(mutated), pki.policy(offline=True, cache_dir=pki.crl_dir))
    report.to_dict()
    if signed_byte_changed:
        assert report.indication != Indication.TOTAL_PASSED
