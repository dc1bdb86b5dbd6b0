"""CAdES archive-time-stamp-v2 (ETSI TS 101 733): verified over what it covers, on real files.

Real files from the esig/dss test resources (tests/data/dss/README.md; the Certipost one is in
../shared/conformance); DSS's tests assert their v2 archive timestamps intact. Tampering with what
a token covers (a certificate of the SignedData) must break it, not the signature.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from asn1crypto import parser

from gateway.signing.validation.archive import der
from gateway.signing.validation.engine import validate
from gateway.signing.validation.policy import ValidationPolicy

DSS = Path(__file__).parent / "data" / "dss" / "files"
V2_FILES = [
    "dss-cades__CAdES-XL-T1-Double-AV2.png.p7m",  # two signers
    "dss-cades__Signature-C-B-LTA-10.p7m",  # a v2 and a v3 token
    "dss-cades__cadesLTAwithATv2expired.p7s",
    "dss-cades__sig_with_atsv2.p7s",  # BER: indefinite lengths, chunked content
]


def archive_timestamps(report):
    return [t for s in report.signatures for t in s.timestamps if t.type == "archive"]


@pytest.mark.parametrize("name", V2_FILES)
def test_real_v2_archive_timestamps_are_intact(name):
    report = validate(DSS / name, ValidationPolicy(offline=True))
    stamps = archive_timestamps(report)
    assert stamps and all(t.intact for t in stamps), report.to_dict()
    assert all(s.intact for s in report.signatures)
    assert not any("not supported" in w for s in report.signatures for w in s.warnings)


def test_detached_v2_archive_timestamp_needs_and_covers_the_content(tmp_path):
    corpus = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "files"
    signature = corpus / "dss-cades__test.txt.signed_Certipost-2048.detached.old.p7s"
    if not signature.is_file():
        pytest.skip("no ../shared/conformance corpus")
    content = tmp_path / "test.txt"
    shutil.copy(corpus / "dss-cades__test.txt", content)
    report = validate(signature, ValidationPolicy(offline=True, detached={"test.txt": content}))
    assert [t.intact for t in archive_timestamps(report)] == [True]
    content.write_bytes(content.read_bytes() + b"!")
    report = validate(signature, ValidationPolicy(offline=True, detached={"test.txt": content}))
    assert [t.intact for t in archive_timestamps(report)] == [False]


def test_certificate_changed_after_the_archive_timestamp_breaks_it():
    data = (DSS / "dss-cades__cadesLTAwithATv2expired.p7s").read_bytes()
    # the last byte of the SignedData's certificates field: inside a certificate's signature value
    start = data.index(b"\xa0\x82", 20)
    length = int.from_bytes(data[start + 2 : start + 4], "big")
    end = start + 4 + length - 1
    tampered = data[:end] + bytes([data[end] ^ 0x01]) + data[end + 1 :]
    report = validate(tampered, ValidationPolicy(offline=True))
    assert report.signatures[0].intact is True
    assert [t.intact for t in archive_timestamps(report)] == [False]


def test_der_normalizes_ber():
    ber = bytes.fromhex("3080" "2480" "0402abcd" "0401ef" "0000" "3180" "020102" "020101" "0000" "0000")
    assert der(ber) == bytes.fromhex("300d" "0403abcdef" "3106" "020101" "020102")
    parser.parse(der(ber), strict=True)
