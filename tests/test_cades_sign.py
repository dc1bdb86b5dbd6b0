"""CAdES B-B .. B-LTA signatures made with the development PKI, checked by openssl (cms, ts)."""

from __future__ import annotations

import hashlib
import os
import subprocess

import pytest
from asn1crypto import cms, core
from second_opinion import openssl_cms_verify
from test_cades_sign_support import (
    as_content_info,
    load_cms,
    needs_openssl,
    openssl_ts_verify,
    unsigned_attr_values,
    write_pem,
)

from gateway.errors import SigningError
from gateway.signing.cades import (
    OID_ARCHIVE_TS_V3,
    OID_ATS_HASH_INDEX_V3,
    CadesOptions,
    sign_cades_bytes,
    sign_cades_file,
)
from gateway.signing.keys import load_signing_key
from gateway.signing.tsa import check_timestamp_token

OID_TST = "1.2.840.113549.1.9.16.2.14"


@pytest.fixture(scope="module")
def seal(dev_pki):
    key = load_signing_key(str(dev_pki.seal_p12), dev_pki.password())
    yield key
    key.close()


@pytest.fixture(scope="module")
def ca_file(dev_pki, tmp_path_factory):
    return write_pem(tmp_path_factory.mktemp("trust") / "ca.pem", dev_pki.root_cert, dev_pki.ca_cert)


@pytest.fixture
def doc(tmp_path):
    p = tmp_path / "letter.txt"
    p.write_bytes(b"Mykolaiv city council\r\n" + os.urandom(3000))
    return p


def _trust(dev_pki):
    from test_cades_sign_support import asn1_cert

    return [asn1_cert(dev_pki.root_cert)]


def _opts(dev_pki, level: str) -> CadesOptions:
    return CadesOptions(level=level, tsa_url=dev_pki.tsa_url if level != "B-B" else None,
                        trust_roots=_trust(dev_pki))


@needs_openssl
def test_bb_detached_verified_by_openssl(seal, ca_file, doc, tmp_path):
    out = sign_cades_file(seal, doc, tmp_path / "letter.txt.p7s", CadesOptions())
    ok = openssl_cms_verify(out, ca_file, content=doc)
    assert ok.returncode == 0, ok.stderr
    tampered = tmp_path / "tampered.txt"
    tampered.write_bytes(doc.read_bytes() + b"!")
    assert openssl_cms_verify(out, ca_file, content=tampered).returncode != 0


@needs_openssl
def test_bb_attached_verified_by_openssl(seal, ca_file, tmp_path):
    doc = tmp_path / "big.bin"
    doc.write_bytes(os.urandom(3 * 1024 * 1024 + 17))  # spans several streaming chunks
    out = sign_cades_file(seal, doc, tmp_path / "big.bin.p7m", CadesOptions(), attached=True)
    ok = openssl_cms_verify(out, ca_file)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "big.bin.p7m.out").read_bytes() == doc.read_bytes()


def test_bb_signed_attributes(seal, doc, tmp_path):
    out = sign_cades_file(seal, doc, tmp_path / "x.p7s", CadesOptions())
    ci = load_cms(out)
    sd = ci["content"]
    assert sd["encap_content_info"]["content"].native is None  # detached
    si = sd["signer_infos"][0]
    attrs = {a["type"].native: a["values"][0] for a in si["signed_attrs"]}
    assert set(attrs) == {"content_type", "signing_time", "message_digest", "signing_certificate_v2"}
    assert attrs["content_type"].native == "data"
    assert attrs["message_digest"].native == hashlib.sha256(doc.read_bytes()).digest()
    ess = attrs["signing_certificate_v2"]["certs"][0]
    assert ess["cert_hash"].native == hashlib.sha256(seal.certificate.dump()).digest()
    # DER: the signed attributes are exactly what was signed, re-encoded identically
    assert si["signed_attrs"].dump(force=True)[1:] == si["signed_attrs"].dump()[1:]


def test_sign_bytes_attached_equals_content(seal):
    der = sign_cades_bytes(seal, b"manifest", CadesOptions(), attached=True)
    assert cms.ContentInfo.load(der)["content"]["encap_content_info"]["content"].native == b"manifest"


@needs_openssl
def test_bt_signature_timestamp_verified_by_openssl_ts(seal, ca_file, doc, tmp_path, dev_pki):
    out = sign_cades_file(seal, doc, tmp_path / "t.p7s", _opts(dev_pki, "B-T"))
    assert openssl_cms_verify(out, ca_file, content=doc).returncode == 0
    si = load_cms(out)["content"]["signer_infos"][0]
    tokens = unsigned_attr_values(si, OID_TST)
    assert len(tokens) == 1
    check = openssl_ts_verify(as_content_info(tokens[0]), ca_file, tmp_path, data=si["signature"].native)
    assert check.returncode == 0 and "Verification: OK" in check.stdout, check.stderr


def test_timestamp_with_other_imprint_refused(seal, doc, tmp_path, dev_pki):
    out = sign_cades_file(seal, doc, tmp_path / "t.p7s", _opts(dev_pki, "B-T"))
    si = load_cms(out)["content"]["signer_infos"][0]
    token = as_content_info(unsigned_attr_values(si, OID_TST)[0])
    imprint = hashlib.sha256(si["signature"].native).digest()
    check_timestamp_token(token, imprint, "sha256")  # the right one passes
    with pytest.raises(SigningError, match="different digest"):
        check_timestamp_token(token, hashlib.sha256(b"other").digest(), "sha256")


def test_unreachable_tsa_is_one_line(seal, doc, tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SigningError) as err:
        sign_cades_file(seal, doc, tmp_path / "t.p7s", CadesOptions(level="B-T", tsa_url=f"http://127.0.0.1:{port}/"))
    assert "TSA" in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "t.p7s").exists()


def test_b_t_without_tsa_refused():
    with pytest.raises(SigningError, match="needs a time-stamping authority"):
        CadesOptions(level="B-T")


def _revocation(sd: cms.SignedData) -> tuple[list, list]:
    crls, ocsps = [], []
    for choice in [] if isinstance(sd["crls"], core.Void) else sd["crls"]:
        if choice.name == "crl":
            crls.append(choice.chosen)
        elif choice.chosen["other_rev_info_format"].native == "ocsp_response":
            ocsps.append(choice.chosen["other_rev_info"])
    return crls, ocsps


def _covers(cert, crls, ocsps) -> bool:
    for c in crls:
        if c["tbs_cert_list"]["issuer"] == cert.issuer:
            return True
    for o in ocsps:
        for single in o.basic_ocsp_response["tbs_response_data"]["responses"]:
            if single["cert_id"]["serial_number"].native == cert.serial_number:
                return True
    return False


@needs_openssl
def test_blt_embeds_chains_and_revocation_data(seal, ca_file, doc, tmp_path, dev_pki):
    out = sign_cades_file(seal, doc, tmp_path / "lt.p7s", _opts(dev_pki, "B-LT"))
    assert openssl_cms_verify(out, ca_file, content=doc).returncode == 0
    sd = load_cms(out)["content"]
    crls, ocsps = _revocation(sd)
    assert crls or ocsps
    embedded = {c.chosen.dump() for c in sd["certificates"]}
    si = sd["signer_infos"][0]
    token = as_content_info(unsigned_attr_values(si, OID_TST)[0])
    tsa_sd = token["content"]
    tsa_sid = tsa_sd["signer_infos"][0]["sid"].chosen
    tsa_cert = next(c.chosen for c in tsa_sd["certificates"] if c.chosen.serial_number
                    == tsa_sid["serial_number"].native and c.chosen.issuer == tsa_sid["issuer"])
    for cert in (seal.certificate, tsa_cert):
        assert cert.dump() in embedded
        assert _covers(cert, crls, ocsps), f"no revocation data for {cert.subject.human_friendly}"


def _independent_archive_imprint(sd: cms.SignedData, si: cms.SignerInfo, content: bytes,
                                 index_der: bytes) -> bytes:
    """EN 319 122-1 5.5.3 recomputed from the raw encoding of the SignerInfo (not via gateway code)."""
    raw = si.contents  # the SignerInfo's fields, encoded, in order; unsignedAttrs ([1]) is last
    pos, fields = 0, []
    while pos < len(raw):  # plain TLV walk (single-byte tags, short/long definite lengths)
        first_len = raw[pos + 1]
        if first_len < 0x80:
            head, length = 2, first_len
        else:
            n = first_len & 0x7F
            head, length = 2 + n, int.from_bytes(raw[pos + 2:pos + 2 + n], "big")
        fields.append(raw[pos:pos + head + length])
        pos += head + length
    signed_part = b"".join(f for f in fields if f[0] != 0xA1)
    return hashlib.sha256(
        sd["encap_content_info"]["content_type"].dump() + hashlib.sha256(content).digest()
        + signed_part + index_der).digest()


@needs_openssl
def test_blta_archive_timestamp_v3(seal, ca_file, doc, tmp_path, dev_pki):
    out = sign_cades_file(seal, doc, tmp_path / "lta.p7s", _opts(dev_pki, "B-LTA"))
    assert openssl_cms_verify(out, ca_file, content=doc).returncode == 0
    sd = load_cms(out)["content"]
    si = sd["signer_infos"][0]
    archive = unsigned_attr_values(si, OID_ARCHIVE_TS_V3)
    assert len(archive) == 1
    token = as_content_info(archive[0])
    index = unsigned_attr_values(token["content"]["signer_infos"][0], OID_ATS_HASH_INDEX_V3)
    assert len(index) == 1
    index_der = index[0].dump()
    seq = core.Sequence.load(index_der)
    cert_hashes, crl_hashes, attr_hashes = (list(core.SequenceOf.load(seq[i].dump(), spec=core.OctetString))
                                            for i in range(3))
    assert {h.native for h in cert_hashes} == {hashlib.sha256(c.dump()).digest() for c in sd["certificates"]}
    assert {h.native for h in crl_hashes} == {hashlib.sha256(c.dump()).digest() for c in sd["crls"]}
    # the index covers the signature time stamp (attrType || value), not the archive time stamp itself
    tst_attr = next(a for a in si["unsigned_attrs"] if a["type"].dotted == OID_TST)
    assert [h.native for h in attr_hashes] == [
        hashlib.sha256(tst_attr["type"].dump() + tst_attr["values"][0].dump()).digest()]
    imprint = _independent_archive_imprint(sd, si, doc.read_bytes(), index_der)
    check = openssl_ts_verify(token, ca_file, tmp_path, digest_hex=imprint.hex())
    assert check.returncode == 0 and "Verification: OK" in check.stdout, check.stderr


@needs_openssl
def test_blta_attached(seal, ca_file, doc, tmp_path, dev_pki):
    out = sign_cades_file(seal, doc, tmp_path / "lta.p7m", _opts(dev_pki, "B-LTA"), attached=True)
    assert openssl_cms_verify(out, ca_file).returncode == 0
    sd = load_cms(out)["content"]
    assert sd["encap_content_info"]["content"].native == doc.read_bytes()
    assert unsigned_attr_values(sd["signer_infos"][0], OID_ARCHIVE_TS_V3)


def test_output_not_left_behind_on_failure(seal, tmp_path):
    with pytest.raises(SigningError, match="input not found"):
        sign_cades_file(seal, tmp_path / "missing.txt", tmp_path / "missing.txt.p7s", CadesOptions())
    assert list(tmp_path.iterdir()) == []


def test_revoked_certificate_cannot_make_lt(dev_pki, doc, tmp_path):
    key = load_signing_key(str(dev_pki.revoked_p12), dev_pki.password())
    with pytest.raises(SigningError, match="B-LT"):
        sign_cades_file(key, doc, tmp_path / "r.p7s", _opts(dev_pki, "B-LT"))


def test_openssl_rejects_tampered_attached(seal, ca_file, doc, tmp_path):
    out = sign_cades_file(seal, doc, tmp_path / "a.p7m", CadesOptions(), attached=True)
    data = bytearray(out.read_bytes())
    idx = data.find(b"Mykolaiv")
    data[idx] ^= 0x01
    bad = tmp_path / "bad.p7m"
    bad.write_bytes(bytes(data))
    run = subprocess.run(["openssl", "cms", "-verify", "-inform", "DER", "-in", str(bad), "-CAfile",
                          str(ca_file), "-purpose", "any", "-out", os.devnull],
                         capture_output=True, text=True)
    assert run.returncode != 0


def test_blt_validates_offline_with_embedded_data_only(seal, doc, tmp_path, dev_pki):
    """pyhanko's validator, fetching nothing, trusts signer and TSA from what B-LT embedded."""
    import asyncio

    from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
    from pyhanko_certvalidator import ValidationContext

    out = sign_cades_file(seal, doc, tmp_path / "lt.p7s", _opts(dev_pki, "B-LT"))
    sd = load_cms(out)["content"]
    crls, ocsps = _revocation(sd)
    vc = ValidationContext(trust_roots=_trust(dev_pki), crls=crls, ocsps=ocsps, allow_fetching=False,
                           revocation_mode="hard-fail")
    status = asyncio.run(async_validate_detached_cms(doc.read_bytes(), sd, signer_validation_context=vc,
                                                     ts_validation_context=vc))
    assert status.intact and status.valid and status.trusted
    ts = status.timestamp_validity
    assert ts is not None and ts.intact and ts.valid and ts.trusted


def test_signing_inside_a_running_event_loop(seal, dev_pki):
    """A server's async handler calling the synchronous API must not hit 'asyncio.run() cannot be called'."""
    import asyncio

    async def handler() -> bytes:
        return sign_cades_bytes(seal, b"letter", _opts(dev_pki, "B-T"))

    der = asyncio.run(handler())
    si = cms.ContentInfo.load(der)["content"]["signer_infos"][0]
    assert unsigned_attr_values(si, OID_TST)


@needs_openssl
def test_ecdsa_seal_b_t(dev_pki, ca_file, doc, tmp_path):
    key = load_signing_key(str(dev_pki.seal_ec_p12), dev_pki.password())
    assert key.key_algorithm == "ecdsa"
    out = sign_cades_file(key, doc, tmp_path / "ec.p7s", _opts(dev_pki, "B-T"))
    ok = openssl_cms_verify(out, ca_file, content=doc)
    assert ok.returncode == 0, ok.stderr
    si = load_cms(out)["content"]["signer_infos"][0]
    assert si["signature_algorithm"]["algorithm"].native == "sha256_ecdsa"


def test_tsa_answer_for_another_digest_is_not_embedded(seal, doc, tmp_path, dev_pki):
    """A TSA (here: a proxy in front of the real one) that stamps something else is caught."""
    import http.server
    import threading
    import urllib.request

    from asn1crypto import tsp

    class Liar(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def do_POST(self):
            req = tsp.TimeStampReq.load(self.rfile.read(int(self.headers["Content-Length"])))
            req["message_imprint"] = {"hash_algorithm": {"algorithm": "sha256"},
                                      "hashed_message": hashlib.sha256(b"something else").digest()}
            upstream = urllib.request.Request(dev_pki.tsa_url, data=req.dump(),
                                              headers={"Content-Type": "application/timestamp-query"})
            with urllib.request.urlopen(upstream, timeout=10) as resp:
                body = resp.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Liar)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/"
        with pytest.raises(SigningError, match="different digest"):
            sign_cades_file(seal, doc, tmp_path / "t.p7s", CadesOptions(level="B-T", tsa_url=url))
    finally:
        server.shutdown()
    assert not (tmp_path / "t.p7s").exists()
