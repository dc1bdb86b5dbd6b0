"""Tests that kill the last mutants of issue 13's spot-check a forger would love.

- The PDF /ByteRange gap check and the revision coverage check (signing/validation/pdf.py): each
  forged PDF carries a signature that verifies cryptographically over the bytes its /ByteRange
  names (re-signed by the test signer), so only the check under test can refuse it; each asserts
  the reason the user reads, and the untouched control passes.
- A hub answer without a hash, or with a wrong one, must not be accepted (soap/sev_client.py): the
  download is refused and the message stays offered (it was not end-processed); nor may an answer
  far larger than asked for be held in memory.
"""

from __future__ import annotations

import asyncio
import os
import re

import pytest
import test_validation
from asn1crypto import cms
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore
from test_validation_pdf import minimal_pdf, sign_pdf

from gateway.signing.report import Indication, SubIndication
from gateway.signing.validation.engine import validate
from gateway.soap.sev_client import MessageInfo, RetryPolicy, SevClient, SevError, SevHashMismatch
from gateway.soap.sev_hub import Faults, HubServer

pki = test_validation.pki  # the test PKI fixture, shared
FORMAT_FAILED = (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)

BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")


@pytest.fixture(scope="module")
def signed_pdf(pki) -> bytes:
    return sign_pdf(pki, minimal_pdf())


def _resign(pki, pdf: bytes, byte_range: list[int]) -> bytes:
    """`pdf` with its /ByteRange set to `byte_range` (same width) and a fresh CMS over exactly
    those bytes in /Contents: a signature that is cryptographically valid for what it names."""
    match = BYTE_RANGE.search(pdf)
    assert match is not None
    slot_start, slot_end = match.start(), pdf.index(b"]", match.start()) + 1
    text = b"/ByteRange [" + b" ".join(b"%d" % n for n in byte_range) + b"]"
    padded = text[:-1] + b" " * (slot_end - slot_start - len(text)) + b"]"
    assert len(padded) == slot_end - slot_start, "the new range does not fit the old one's width"
    pdf = pdf[:slot_start] + padded + pdf[slot_end:]
    old = [int(x) for x in match.groups()]
    contents_start, contents_end = old[1] + 1, old[2] - 1  # the hex digits between < and >
    start1, len1, start2, len2 = byte_range
    signed_bytes = pdf[start1:start1 + len1] + pdf[start2:start2 + len2]
    signer = signers.SimpleSigner(
        pki.signer.cert, pki.signer.key_info, SimpleCertificateStore.from_certs([pki.ca.cert, pki.root.cert])
    )
    token: cms.ContentInfo = asyncio.run(
        signer.async_sign_general_data(signed_bytes, "sha256", detached=True)
    )
    hexed = token.dump().hex().encode()
    room = contents_end - contents_start
    assert len(hexed) <= room
    return pdf[:contents_start] + hexed + b"0" * (room - len(hexed)) + pdf[contents_end:]


def _range(pdf: bytes) -> list[int]:
    match = BYTE_RANGE.search(pdf)
    assert match is not None
    return [int(x) for x in match.groups()]


def _report(pki, pdf: bytes):
    return validate(pdf, pki.policy(offline=True, cache_dir=pki.crl_dir))


def test_the_resigned_control_passes(pki, signed_pdf):
    """The forging helper itself: the same range, re-signed, still passes (so the forgeries below
    fail only because of their ranges)."""
    control = _resign(pki, signed_pdf, _range(signed_pdf))
    report = _report(pki, control)
    assert report.indication == Indication.TOTAL_PASSED, report.to_dict()
    assert report.signatures[0].intact


@pytest.mark.parametrize("extra", [1, 24])
def test_a_byte_range_leaving_out_more_than_the_signature_value_fails(pki, signed_pdf, extra):
    """The gap check: /ByteRange leaves out `extra` bytes before /Contents' value (bytes a forger
    could then change at will); the CMS verifies over what the range names."""
    start1, len1, start2, len2 = _range(signed_pdf)
    forged = _resign(pki, signed_pdf, [start1, len1 - extra, start2, len2])
    report = _report(pki, forged)
    s = report.signatures[0]
    assert (report.indication, report.subindication) == FORMAT_FAILED
    assert s.intact is False
    assert "the bytes left out of the /ByteRange are not exactly the signature value" in s.errors, s.errors


def test_a_byte_range_that_stops_before_the_end_of_its_revision_fails(pki, signed_pdf):
    """The coverage check: the range stops 20 bytes short of its revision's %%EOF, so the end of the
    file (where a forger appends an xref of their own) is not signed."""
    start1, len1, start2, len2 = _range(signed_pdf)
    assert start2 + len2 == len(signed_pdf)
    forged = _resign(pki, signed_pdf, [start1, len1, start2, len2 - 20])
    report = _report(pki, forged)
    s = report.signatures[0]
    assert (report.indication, report.subindication) == FORMAT_FAILED
    assert s.intact is False
    assert "the signature does not cover its whole revision of the document" in s.errors, s.errors


# --- the SEV client refuses a download whose hash the hub does not vouch for ----------------------

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, budget_seconds=10)


@pytest.mark.parametrize("fault", ["omit_hash", "wrong_hash"])
def test_a_download_without_the_right_hash_is_refused_and_stays_offered(tmp_path, fault):
    faults = Faults()
    with HubServer(tmp_path / "hub", open_registration=True, faults=faults) as server:
        a = SevClient(server.url, "sys-a", "secret-a", retry=FAST)
        b = SevClient(server.url, "sys-b", "secret-b", retry=FAST)
        b.list_incoming()
        raw = os.urandom(50_000)
        a.send(raw, MessageInfo("hashless", from_org_id="04056612", to_org_id="37472062", to_sys_id="sys-b"))
        setattr(faults, fault, True)
        with pytest.raises(SevHashMismatch, match="the hub says SHA-256") as refused:
            b.download("hashless")
        if fault == "omit_hash":
            assert "(none)" in str(refused.value)
        setattr(faults, fault, False)
        assert [m.message_id for m in b.list_incoming()] == ["hashless"]  # not end-processed
        got = b.download("hashless")  # control: the honest answer is accepted
        assert got.data == raw


def test_an_oversized_download_chunk_is_refused_before_it_is_held(tmp_path):
    """A hub answering far more than asked: the answer is cut off at the client's bound, the
    download refused, and the message stays offered."""
    faults = Faults()
    with HubServer(tmp_path / "hub", open_registration=True, max_part_size=10_000, faults=faults) as server:
        a = SevClient(server.url, "sys-a", "secret-a", retry=FAST)
        b = SevClient(server.url, "sys-b", "secret-b", retry=FAST, max_answer_bytes=20_000)
        b.list_incoming()
        raw = os.urandom(30_000)
        a.send(raw, MessageInfo("big", from_org_id="04056612", to_org_id="37472062", to_sys_id="sys-b"))
        faults.oversized_chunks = True
        with pytest.raises(SevError, match="larger than 20000 bytes"):
            b.download("big")
        faults.oversized_chunks = False
        assert [m.message_id for m in b.list_incoming()] == ["big"]  # the connection is still usable
        assert b.download("big").data == raw  # control: 10,000-byte chunks fit the bound
