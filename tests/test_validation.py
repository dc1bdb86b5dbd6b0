"""The validation engine on real signatures made with pyhanko under a throw-away three-level PKI.

The CRLs are served over real HTTP on 127.0.0.1; openssl is the second implementation that checks
the same signatures where it can.
"""

from __future__ import annotations

import asyncio
import base64
import http.server
import shutil
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms, keys, pem, tsp, x509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp as cocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID
from pyhanko.sign import signers
from pyhanko.sign.ades.api import CAdESSignedAttrSpec
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore
from second_opinion import openssl_cms_verify

from gateway.signing.report import Indication, SubIndication
from gateway.signing.validation.engine import validate
from gateway.signing.validation.fetchpolicy import FetchPolicy
from gateway.signing.validation.policy import ValidationPolicy

NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class Identity:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey

    @property
    def pem(self) -> bytes:
        return pem.armor("CERTIFICATE", self.cert.dump())

    @property
    def key_info(self) -> keys.PrivateKeyInfo:
        return keys.PrivateKeyInfo.load(
            self.key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )


@dataclass
class Pki:
    dir: Path
    base_url: str
    root: Identity
    ca: Identity
    signer: Identity
    revoked: Identity
    expired: Identity
    tsa: Identity
    crl_dir: Path
    served: dict[str, bytes] = field(default_factory=dict)
    ocsp_signer: Identity | None = None
    ocsp_revoked: Identity | None = None

    def policy(self, **kw) -> ValidationPolicy:
        # the PKI is served on loopback, which validation fetches from only when allowed
        allow = FetchPolicy.from_items([self.base_url.removeprefix("http://")])
        return ValidationPolicy(trust_roots=[self.root.cert], fetch=allow, **kw)


_KEYS: dict[str, rsa.RSAPrivateKey] = {}


def _key(name: str) -> rsa.RSAPrivateKey:
    """One RSA key per identity name and process: the modules that share this PKI rebuild its
    certificates, not its keys."""
    if name not in _KEYS:
        _KEYS[name] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _KEYS[name]


#: organizationIdentifier (EN 319 412-1) per subject, for the registry-code test
ORG_IDS = {"Mykolaiv city council seal": "NTRUA-04056612"}


def _name(cn: str) -> cx509.Name:
    attrs = [
        cx509.NameAttribute(NameOID.COMMON_NAME, cn),
        cx509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test council"),
        cx509.NameAttribute(NameOID.COUNTRY_NAME, "UA"),
    ]
    if cn in ORG_IDS:
        attrs.append(cx509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, ORG_IDS[cn]))
    return cx509.Name(attrs)


def _issue(
    subject: str,
    key,
    issuer: Identity | None,
    *,
    ca: bool,
    crl_url: str | None,
    not_before: datetime,
    not_after: datetime,
    tsa: bool = False,
    serial: int | None = None,
    ocsp_url: str | None = None,
) -> Identity:
    builder = cx509.CertificateBuilder().subject_name(_name(subject)).public_key(key.public_key())
    builder = builder.serial_number(serial or cx509.random_serial_number())
    builder = builder.not_valid_before(not_before).not_valid_after(not_after)
    if issuer is None:
        builder = builder.issuer_name(_name(subject))
        signing_key = key
    else:
        builder = builder.issuer_name(cx509.load_der_x509_certificate(issuer.cert.dump()).subject)
        signing_key = issuer.key
        builder = builder.add_extension(
            cx509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    builder = builder.add_extension(
        cx509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
    )
    builder = builder.add_extension(cx509.BasicConstraints(ca=ca, path_length=None), critical=True)
    if ca:
        builder = builder.add_extension(
            cx509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            cx509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True
        )
    if tsa:
        builder = builder.add_extension(
            cx509.ExtendedKeyUsage([cx509.ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    if crl_url:
        builder = builder.add_extension(
            cx509.CRLDistributionPoints(
                [cx509.DistributionPoint([cx509.UniformResourceIdentifier(crl_url)], None, None, None)]
            ),
            critical=False,
        )
    if ocsp_url:
        builder = builder.add_extension(
            cx509.AuthorityInformationAccess(
                [
                    cx509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP, cx509.UniformResourceIdentifier(ocsp_url)
                    )
                ]
            ),
            critical=False,
        )
    cert = builder.sign(signing_key, hashes.SHA256())
    return Identity(x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)), key)


def _crl(issuer: Identity, revoked: list[tuple[int, datetime]], issued: datetime | None = None) -> bytes:
    issued = issued or NOW - timedelta(hours=1)
    builder = cx509.CertificateRevocationListBuilder().issuer_name(
        cx509.load_der_x509_certificate(issuer.cert.dump()).subject
    )
    builder = builder.last_update(issued).next_update(issued + timedelta(days=7))
    builder = builder.add_extension(cx509.CRLNumber(1), critical=False)
    builder = builder.add_extension(
        cx509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
    )
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            cx509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    return builder.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _ocsp_responder(ca: Identity, revoked: dict[int, datetime]):
    """An OCSP responder for `ca`'s certificates, the CA signing its answers itself."""
    ca_cert = cx509.load_der_x509_certificate(ca.cert.dump())

    def respond(raw: bytes) -> bytes:
        request = cocsp.load_der_ocsp_request(raw)
        when = revoked.get(request.serial_number)
        builder = cocsp.OCSPResponseBuilder().add_response_by_hash(
            request.issuer_name_hash,
            request.issuer_key_hash,
            request.serial_number,
            request.hash_algorithm,
            cocsp.OCSPCertStatus.REVOKED if when else cocsp.OCSPCertStatus.GOOD,
            NOW - timedelta(minutes=5),
            NOW + timedelta(days=1),
            when,
            None,
        )
        builder = builder.responder_id(cocsp.OCSPResponderEncoding.HASH, ca_cert)
        for ext in request.extensions:
            if isinstance(ext.value, cx509.OCSPNonce):
                builder = builder.add_extension(ext.value, critical=False)
        return builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    return respond


class _Handler(http.server.BaseHTTPRequestHandler):
    served: dict[str, bytes] = {}
    timestamper: DummyTimeStamper | None = None
    ocsp_responder = None

    def do_GET(self):  # noqa: N802
        body = self.served.get(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/pkix-crl")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):  # noqa: N802 - an RFC 3161 TSA at /tsa, an OCSP responder at /ocsp
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        if self.path == "/ocsp":
            body, kind = self.ocsp_responder(raw), "application/ocsp-response"
        else:
            body, kind = (
                self.timestamper.request_tsa_response(tsp.TimeStampReq.load(raw)).dump(),
                ("application/timestamp-reply"),
            )
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> Pki:
    """Root -> issuing CA -> signers (valid, revoked, expired) and a TSA; CRLs over HTTP."""
    directory = tmp_path_factory.mktemp("pki")
    served: dict[str, bytes] = {}
    handler = type("Handler", (_Handler,), {"served": served})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    long_ago, far = NOW - timedelta(days=3650), NOW + timedelta(days=3650)
    root = _issue(
        "Test Root", _key("Test Root"), None, ca=True, crl_url=None, not_before=long_ago, not_after=far
    )
    ca = _issue(
        "Test Issuing CA",
        _key("Test Issuing CA"),
        root,
        ca=True,
        crl_url=f"{base}/root.crl",
        not_before=long_ago,
        not_after=far,
    )
    leaf_url = f"{base}/ca.crl"
    signer = _issue(
        "Council seal",
        _key("Council seal"),
        ca,
        ca=False,
        crl_url=leaf_url,
        not_before=NOW - timedelta(days=30),
        not_after=NOW + timedelta(days=365),
    )
    revoked = _issue(
        "Revoked seal",
        _key("Revoked seal"),
        ca,
        ca=False,
        crl_url=leaf_url,
        not_before=NOW - timedelta(days=30),
        not_after=NOW + timedelta(days=365),
    )
    expired = _issue(
        "Expired seal",
        _key("Expired seal"),
        ca,
        ca=False,
        crl_url=leaf_url,
        not_before=NOW - timedelta(days=800),
        not_after=NOW - timedelta(days=400),
    )
    tsa = _issue(
        "Test TSA",
        _key("Test TSA"),
        ca,
        ca=False,
        crl_url=leaf_url,
        not_before=NOW - timedelta(days=1000),
        not_after=far,
        tsa=True,
    )
    ocsp_signer = _issue(
        "OCSP-checked seal",
        _key("OCSP-checked seal"),
        ca,
        ca=False,
        crl_url=None,
        ocsp_url=f"{base}/ocsp",
        not_before=NOW - timedelta(days=30),
        not_after=NOW + timedelta(days=365),
    )
    ocsp_revoked = _issue(
        "OCSP-revoked seal",
        _key("OCSP-revoked seal"),
        ca,
        ca=False,
        crl_url=None,
        ocsp_url=f"{base}/ocsp",
        not_before=NOW - timedelta(days=30),
        not_after=NOW + timedelta(days=365),
    )
    handler.ocsp_responder = staticmethod(
        _ocsp_responder(ca, {ocsp_revoked.cert.serial_number: NOW - timedelta(days=1)})
    )
    handler.timestamper = DummyTimeStamper(
        tsa.cert, tsa.key_info, SimpleCertificateStore.from_certs([ca.cert])
    )
    served["/root.crl"] = _crl(root, [])
    served["/ca.crl"] = _crl(ca, [(revoked.cert.serial_number, NOW - timedelta(days=1))])
    crl_dir = directory / "crl-cache"
    crl_dir.mkdir()
    (crl_dir / "root.crl").write_bytes(served["/root.crl"])
    (crl_dir / "ca.crl").write_bytes(served["/ca.crl"])
    yield Pki(
        directory, base, root, ca, signer, revoked, expired, tsa, crl_dir, served, ocsp_signer, ocsp_revoked
    )
    server.shutdown()


def sign_cms(
    pki: Pki,
    who: Identity,
    data: bytes,
    *,
    detached: bool = True,
    digest: str = "sha256",
    timestamp_at: datetime | None = None,
    content_timestamp: bool = False,
) -> bytes:
    """A CAdES signature made by pyhanko (signingCertificateV2, optional signature timestamp)."""
    store = SimpleCertificateStore.from_certs([pki.ca.cert, pki.root.cert])
    signer = signers.SimpleSigner(who.cert, who.key_info, store)
    timestamper = None
    if timestamp_at is not None:
        timestamper = DummyTimeStamper(
            pki.tsa.cert,
            pki.tsa.key_info,
            SimpleCertificateStore.from_certs([pki.ca.cert]),
            fixed_dt=timestamp_at,
        )
    settings = None
    if content_timestamp:
        settings = PdfCMSSignedAttributes(cades_signed_attrs=CAdESSignedAttrSpec(timestamp_content=True))
    info = asyncio.run(
        signer.async_sign_general_data(
            data,
            digest,
            detached=detached,
            timestamper=timestamper,
            use_cades=True,
            signed_attr_settings=settings,
        )
    )
    return info.dump()


def project_key(pki: Pki, folder: Path):
    """The test signer as the project's SigningKey (a PKCS#12 file loaded by gateway.signing.keys)."""
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    from gateway.signing.keys import load_signing_key

    p12 = folder / "seal.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"seal",
            pki.signer.key,
            cx509.load_der_x509_certificate(pki.signer.cert.dump()),
            [cx509.load_der_x509_certificate(pki.ca.cert.dump())],
            BestAvailableEncryption(b"pw"),
        )
    )
    return load_signing_key(str(p12), b"pw")


def run_validation(pki_policy: ValidationPolicy, signature: bytes, content: bytes | None, tmp_path: Path):
    if content is not None:
        path = tmp_path / "doc.txt"
        path.write_bytes(content)
        pki_policy.detached = {"doc.txt": path}
    return validate(signature, pki_policy)


DOC = b"Council decision No. 42: approve the budget.\n" * 20


def test_valid_signature_with_trusted_root_passes(pki, tmp_path):
    sig = sign_cms(pki, pki.signer, DOC)
    report = run_validation(pki.policy(offline=True, cache_dir=pki.crl_dir), sig, DOC, tmp_path)
    s = report.signatures[0]
    assert report.indication == Indication.TOTAL_PASSED, s.errors
    assert s.intact and s.format == "CAdES-BASELINE-B"
    assert s.signer.subject.startswith("Common Name: Council seal")
    assert [c.revocation for c in s.chain] == ["good", "good", "not-checked"]
    assert s.algorithm.digest == "sha256" and s.algorithm.signature == "rsa"
    assert report.exit_code == 0


def test_openssl_agrees_on_the_valid_signature(pki, tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl not installed")
    sig = sign_cms(pki, pki.signer, DOC)
    (tmp_path / "s.p7s").write_bytes(sig)
    (tmp_path / "doc.txt").write_bytes(DOC)
    (tmp_path / "root.pem").write_bytes(pki.root.pem)
    out = openssl_cms_verify(str(tmp_path / "s.p7s"), str(tmp_path / "root.pem"), str(tmp_path / "doc.txt"))
    assert out.returncode == 0, out.stderr
    (tmp_path / "doc.txt").write_bytes(DOC + b"x")
    out = openssl_cms_verify(str(tmp_path / "s.p7s"), str(tmp_path / "root.pem"), str(tmp_path / "doc.txt"))
    assert out.returncode != 0


def test_without_trust_anchor_is_indeterminate_but_intact(pki, tmp_path):
    sig = sign_cms(pki, pki.signer, DOC)
    report = run_validation(ValidationPolicy(offline=True), sig, DOC, tmp_path)
    s = report.signatures[0]
    assert (report.indication, report.subindication) == (
        Indication.INDETERMINATE,
        SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
    )
    assert s.intact is True
    assert len(s.chain) == 3  # still shown, from the embedded certificates


def test_attached_signature(pki):
    sig = sign_cms(pki, pki.signer, DOC, detached=False)
    report = validate(sig, pki.policy(offline=True, cache_dir=pki.crl_dir))
    assert report.indication == Indication.TOTAL_PASSED, report.signatures[0].errors


def test_tampered_content_is_hash_failure(pki, tmp_path):
    sig = sign_cms(pki, pki.signer, DOC)
    report = run_validation(
        pki.policy(offline=True, cache_dir=pki.crl_dir), sig, DOC.replace(b"42", b"43"), tmp_path
    )
    assert (report.indication, report.subindication) == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)
    assert report.signatures[0].intact is False
    assert report.exit_code == 1


def test_tampered_signature_value_is_sig_crypto_failure(pki, tmp_path):
    info = cms.ContentInfo.load(sign_cms(pki, pki.signer, DOC))
    si = info["content"]["signer_infos"][0]
    value = bytearray(si["signature"].native)
    value[10] ^= 0x01
    si["signature"] = bytes(value)
    report = run_validation(
        pki.policy(offline=True, cache_dir=pki.crl_dir), info.dump(force=True), DOC, tmp_path
    )
    assert (report.indication, report.subindication) == (
        Indication.TOTAL_FAILED,
        SubIndication.SIG_CRYPTO_FAILURE,
    )
    assert report.signatures[0].intact is False


def test_missing_detached_content_is_signed_data_not_found(pki):
    report = validate(sign_cms(pki, pki.signer, DOC), pki.policy(offline=True, cache_dir=pki.crl_dir))
    assert (report.indication, report.subindication) == (
        Indication.INDETERMINATE,
        SubIndication.SIGNED_DATA_NOT_FOUND,
    )


def test_revoked_signer_online_fetches_the_crl(pki, tmp_path):
    """Revoked yesterday, signed today, no proof of existence before the revocation."""
    sig = sign_cms(pki, pki.revoked, DOC)
    cache = tmp_path / "cache"
    report = run_validation(pki.policy(offline=False, cache_dir=cache), sig, DOC, tmp_path)
    s = report.signatures[0]
    assert (s.indication, s.subindication) == (Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE), (
        s.errors
    )
    assert s.chain[0].revocation == "revoked"
    assert s.intact is True
    # what was fetched is cached for offline use
    assert sorted(p.suffix for p in cache.iterdir()) == [".crl", ".crl"]
    offline = run_validation(pki.policy(offline=True, cache_dir=cache), sig, DOC, tmp_path)
    assert offline.signatures[0].subindication == SubIndication.REVOKED_NO_POE


def test_revoked_signer_offline_from_cache(pki, tmp_path):
    sig = sign_cms(pki, pki.revoked, DOC)
    report = run_validation(pki.policy(offline=True, cache_dir=pki.crl_dir), sig, DOC, tmp_path)
    assert report.subindication == SubIndication.REVOKED_NO_POE


def test_timestamp_before_revocation_is_proof_of_existence(pki, tmp_path):
    sig = sign_cms(pki, pki.revoked, DOC, timestamp_at=NOW - timedelta(days=3))
    report = run_validation(pki.policy(offline=True, cache_dir=pki.crl_dir), sig, DOC, tmp_path)
    s = report.signatures[0]
    assert report.indication == Indication.TOTAL_PASSED, s.errors
    assert s.format == "CAdES-BASELINE-T"
    assert s.best_signature_time == NOW - timedelta(days=3)
    assert s.timestamps[0].intact and s.timestamps[0].type == "signature"


def test_offline_without_revocation_data_is_try_later(pki, tmp_path):
    sig = sign_cms(pki, pki.signer, DOC)
    report = run_validation(pki.policy(offline=True), sig, DOC, tmp_path)
    assert (report.indication, report.subindication) == (Indication.INDETERMINATE, SubIndication.TRY_LATER)


def test_expired_signer_without_timestamp_is_out_of_bounds(pki, tmp_path):
    sig = sign_cms(pki, pki.expired, DOC)
    report = run_validation(pki.policy(offline=True, cache_dir=pki.crl_dir), sig, DOC, tmp_path)
    assert (report.indication, report.subindication) == (
        Indication.INDETERMINATE,
        SubIndication.OUT_OF_BOUNDS_NO_POE,
    )


def test_expired_signer_with_timestamp_inside_validity_passes(pki, tmp_path):
    sig = sign_cms(pki, pki.expired, DOC, timestamp_at=NOW - timedelta(days=500))
    report = run_validation(pki.policy(offline=True, cache_dir=pki.crl_dir), sig, DOC, tmp_path)
    assert report.indication == Indication.TOTAL_PASSED, report.signatures[0].errors


def test_validation_at_a_past_time(pki, tmp_path):
    """--at: as of last year the expired signer was valid; before the revocation the revoked one too."""
    sig = sign_cms(pki, pki.expired, DOC)
    report = run_validation(
        pki.policy(offline=True, cache_dir=pki.crl_dir, at=NOW - timedelta(days=500)), sig, DOC, tmp_path
    )
    assert report.indication == Indication.TOTAL_PASSED, report.signatures[0].errors
    sig = sign_cms(pki, pki.revoked, DOC)
    report = run_validation(
        pki.policy(offline=True, cache_dir=pki.crl_dir, at=NOW - timedelta(days=2)), sig, DOC, tmp_path
    )
    assert report.indication == Indication.TOTAL_PASSED, report.signatures[0].errors


def test_sha1_signature_is_not_accepted(pki, tmp_path):
    sig = sign_cms(pki, pki.signer, DOC, digest="sha1")
    report = run_validation(pki.policy(offline=True, cache_dir=pki.crl_dir), sig, DOC, tmp_path)
    s = report.signatures[0]
    assert s.intact is True
    assert (s.indication, s.subindication) == (
        Indication.INDETERMINATE,
        SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
    )
    assert s.algorithm.digest == "sha1"


def test_unknown_signature_algorithm_is_crypto_constraints_no_poe(pki, tmp_path):
    info = cms.ContentInfo.load(sign_cms(pki, pki.signer, DOC))
    si = info["content"]["signer_infos"][0]
    si["signature_algorithm"] = {"algorithm": "1.3.6.1.4.1.99999.2"}  # registered by nobody
    report = run_validation(
        pki.policy(offline=True, cache_dir=pki.crl_dir), info.dump(force=True), DOC, tmp_path
    )
    s = report.signatures[0]
    assert (s.indication, s.subindication) == (
        Indication.INDETERMINATE,
        SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
    )
    assert s.intact is False


def test_registered_algorithm_is_used(pki, tmp_path):
    """The hook for national algorithms: a registered verify function is called for its OID."""
    from gateway.signing import algorithms

    calls = []

    def verify(info, signature, data, hash_name, params):
        calls.append(hash_name)
        return algorithms.signature_algorithm("1.2.840.113549.1.1.1").verify(
            info, signature, data, hash_name, params
        )

    oid = "1.3.6.1.4.1.99999.1"
    algorithms.register_signature(oid, "test-rsa", verify, "sha256")
    info = cms.ContentInfo.load(sign_cms(pki, pki.signer, DOC))
    info["content"]["signer_infos"][0]["signature_algorithm"] = {"algorithm": oid}
    report = run_validation(
        pki.policy(offline=True, cache_dir=pki.crl_dir), info.dump(force=True), DOC, tmp_path
    )
    assert calls == ["sha256"]
    assert report.signatures[0].algorithm.signature == "test-rsa"
    assert report.indication == Indication.TOTAL_PASSED


def test_pem_and_base64_input(pki, tmp_path):
    sig = sign_cms(pki, pki.signer, DOC)
    armored = pem.armor("PKCS7", sig)
    assert (
        run_validation(pki.policy(offline=True, cache_dir=pki.crl_dir), armored, DOC, tmp_path)
        .signatures[0]
        .intact
    )
    b64 = base64.encodebytes(sig)
    assert (
        run_validation(pki.policy(offline=True, cache_dir=pki.crl_dir), b64, DOC, tmp_path)
        .signatures[0]
        .intact
    )


def test_detached_file_chosen_by_name(pki, tmp_path):
    sig = sign_cms(pki, pki.signer, DOC)
    (tmp_path / "a.txt").write_bytes(b"other")
    (tmp_path / "doc.txt").write_bytes(DOC)
    (tmp_path / "doc.txt.p7s").write_bytes(sig)
    policy = pki.policy(
        offline=True,
        cache_dir=pki.crl_dir,
        detached={"a.txt": tmp_path / "a.txt", "doc.txt": tmp_path / "doc.txt"},
    )
    report = validate(tmp_path / "doc.txt.p7s", policy)
    assert report.indication == Indication.TOTAL_PASSED, report.signatures[0].errors


def test_content_timestamp_after_revocation_is_revoked(pki, tmp_path):
    """A content timestamp proves the signature was made after it: here, after the revocation."""
    sig = sign_cms(pki, pki.revoked, DOC, timestamp_at=NOW - timedelta(hours=1), content_timestamp=True)
    report = run_validation(pki.policy(offline=True, cache_dir=pki.crl_dir), sig, DOC, tmp_path)
    s = report.signatures[0]
    assert sorted(t.type for t in s.timestamps) == ["content", "signature"]
    assert all(t.intact for t in s.timestamps)
    assert (s.indication, s.subindication) == (Indication.TOTAL_FAILED, SubIndication.REVOKED), s.errors


def test_valid_content_timestamp_is_reported(pki, tmp_path):
    sig = sign_cms(pki, pki.signer, DOC, timestamp_at=NOW - timedelta(hours=1), content_timestamp=True)
    report = run_validation(pki.policy(offline=True, cache_dir=pki.crl_dir), sig, DOC, tmp_path)
    assert report.indication == Indication.TOTAL_PASSED, report.signatures[0].errors
    content_ts = [t for t in report.signatures[0].timestamps if t.type == "content"][0]
    assert content_ts.intact and content_ts.time == NOW - timedelta(hours=1)


def test_project_signer_b_lta_validates_offline_from_embedded_data(pki, tmp_path):
    """gateway.signing.cades at B-LTA (TSA and CRLs over HTTP): offline, no cache, the embedded
    certificates and revocation data suffice, and the archive timestamp verifies."""
    from gateway.signing.cades import CadesOptions, sign_cades_bytes

    key = project_key(pki, tmp_path)
    options = CadesOptions(level="B-LTA", tsa_url=f"{pki.base_url}/tsa", trust_roots=[pki.root.cert])
    sig = sign_cades_bytes(key, DOC, options)
    report = run_validation(pki.policy(offline=True), sig, DOC, tmp_path)
    s = report.signatures[0]
    assert report.indication == Indication.TOTAL_PASSED, s.errors
    assert s.format == "CAdES-BASELINE-LTA"
    assert [t.type for t in s.timestamps] == ["signature", "archive"]
    assert all(t.intact for t in s.timestamps), s.warnings
    assert [c.revocation for c in s.chain] == ["good", "good", "not-checked"]


def test_certificate_without_signature_key_usage(pki, tmp_path):
    """The CA's certificate allows only certificate and CRL signing, not document signatures."""
    sig = sign_cms(pki, pki.ca, DOC)
    report = run_validation(pki.policy(offline=True, cache_dir=pki.crl_dir), sig, DOC, tmp_path)
    s = report.signatures[0]
    assert s.intact is True
    assert (s.indication, s.subindication) == (
        Indication.INDETERMINATE,
        SubIndication.CHAIN_CONSTRAINTS_FAILURE,
    )
    assert "key usage" in s.errors[0]


def test_stale_cached_crl_is_not_enough(pki, tmp_path):
    """A CRL whose nextUpdate has passed says nothing about now: offline, that is TRY_LATER."""
    stale = tmp_path / "stale"
    stale.mkdir()
    (stale / "root.crl").write_bytes((pki.crl_dir / "root.crl").read_bytes())
    (stale / "ca.crl").write_bytes(_crl(pki.ca, [], issued=NOW - timedelta(days=30)))
    sig = sign_cms(pki, pki.signer, DOC)
    report = run_validation(pki.policy(offline=True, cache_dir=stale), sig, DOC, tmp_path)
    assert (report.indication, report.subindication) == (Indication.INDETERMINATE, SubIndication.TRY_LATER)


def test_ocsp_checked_signer_online_and_then_offline_from_cache(pki, tmp_path):
    cache = tmp_path / "cache"
    sig = sign_cms(pki, pki.ocsp_signer, DOC)
    report = run_validation(pki.policy(offline=False, cache_dir=cache), sig, DOC, tmp_path)
    s = report.signatures[0]
    assert report.indication == Indication.TOTAL_PASSED, s.errors
    assert s.chain[0].revocation == "good"
    assert any(p.suffix == ".ocsp" for p in cache.iterdir())
    offline = run_validation(pki.policy(offline=True, cache_dir=cache), sig, DOC, tmp_path)
    assert offline.indication == Indication.TOTAL_PASSED, offline.signatures[0].errors


def test_ocsp_revoked_signer(pki, tmp_path):
    sig = sign_cms(pki, pki.ocsp_revoked, DOC)
    report = run_validation(pki.policy(offline=False, cache_dir=tmp_path / "cache"), sig, DOC, tmp_path)
    s = report.signatures[0]
    assert (s.indication, s.subindication) == (Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE), (
        s.errors
    )
    assert s.chain[0].revocation == "revoked"


def test_signer_registry_code_is_reported(pki, tmp_path):
    name = "Mykolaiv city council seal"
    seal = _issue(
        name,
        _key(name),
        pki.ca,
        ca=False,
        crl_url=None,
        not_before=NOW - timedelta(days=1),
        not_after=NOW + timedelta(days=30),
    )
    report = run_validation(ValidationPolicy(offline=True), sign_cms(pki, seal, DOC), DOC, tmp_path)
    signer = report.signatures[0].signer
    assert (signer.edrpou, signer.drfo) == ("04056612", None)
    assert "Common Name: Mykolaiv city council seal" in signer.subject
    assert report.to_dict()["signatures"][0]["signer"]["edrpou"] == "04056612"


def test_concurrent_validations_share_one_policy(pki, tmp_path):
    """The REST API validates on worker threads with one policy object: results stay correct."""
    from concurrent.futures import ThreadPoolExecutor

    good, bad = sign_cms(pki, pki.signer, DOC), sign_cms(pki, pki.revoked, DOC)
    (tmp_path / "doc.txt").write_bytes(DOC)
    policy = pki.policy(offline=True, cache_dir=pki.crl_dir, detached={"doc.txt": tmp_path / "doc.txt"})
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda sig: validate(sig, policy).subindication, [good, bad] * 6))
    assert results == [None, SubIndication.REVOKED_NO_POE] * 6
