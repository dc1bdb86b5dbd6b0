"""Helpers for the fetch-policy and revocation-cache tests: a counting HTTP listener on loopback and
certificates whose AIA/CRL/OCSP URLs point where the test says (as an attacker's would)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from asn1crypto import cms, crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509 import ocsp as xocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID


@dataclass
class Seen:
    method: str
    path: str
    host: str


@dataclass
class Listener:
    port: int
    requests: list[Seen] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


Answer = Callable[[BaseHTTPRequestHandler], None]


def not_found(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(404)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


@contextmanager
def listener(answer: Answer = not_found) -> Iterator[Listener]:
    """An HTTP server on 127.0.0.1 that records every request it gets."""
    state = Listener(0)

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.body = self.rfile.read(length) if length else b""
            state.requests.append(Seen(self.command, self.path, self.headers.get("Host", "")))
            answer(self)

        do_GET = do_POST = _any  # noqa: N815 - http.server's naming

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@dataclass
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def asn1(self) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(self.cert.public_bytes(serialization.Encoding.DER))


def make_cert(cn: str, issuer: Issued | None = None, *, ca: bool = False, ocsp_url: str | None = None,
              crl_url: str | None = None, ca_issuers_url: str | None = None,
              issuer_name: str | None = None, extra_crl_urls: tuple[str, ...] = ()) -> Issued:
    """A certificate (self-signed without `issuer`) naming the given URLs."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    subject = _name(cn)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else _name(issuer_name) if issuer_name else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.KeyUsage(digital_signature=not ca, content_commitment=not ca,
                                     key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=ca,
                                     crl_sign=ca, encipher_only=False, decipher_only=False), critical=True)
    )
    signer_key = issuer.key if issuer else key
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
    access = []
    if ocsp_url:
        access.append(x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                             x509.UniformResourceIdentifier(ocsp_url)))
    if ca_issuers_url:
        access.append(x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                             x509.UniformResourceIdentifier(ca_issuers_url)))
    if access:
        builder = builder.add_extension(x509.AuthorityInformationAccess(access), critical=False)
    urls = ([crl_url] if crl_url else []) + list(extra_crl_urls)
    if urls:
        builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            [x509.UniformResourceIdentifier(u)], None, None, None) for u in urls]), critical=False)
    return Issued(builder.sign(signer_key, hashes.SHA256()), key)


def make_crl(issuer: Issued, *, revoked: list[int] = (), next_update: timedelta = timedelta(days=1),
             this_update: datetime | None = None) -> bytes:
    now = this_update or datetime.now(UTC) - timedelta(minutes=1)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(issuer.cert.subject)
               .last_update(now).next_update(now + next_update))
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build())
    return builder.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def sign_cms(signer: Issued, data: bytes, extra: list[x509.Certificate] = (), *,
             detached: bool = False) -> bytes:
    """A CMS SignedData (DER) by `signer` over `data`."""
    builder = pkcs7.PKCS7SignatureBuilder().set_data(data)
    builder = builder.add_signer(signer.cert, signer.key, hashes.SHA256())
    for cert in extra:
        builder = builder.add_certificate(cert)
    options = [pkcs7.PKCS7Options.Binary] + ([pkcs7.PKCS7Options.DetachedSignature] if detached else [])
    return builder.sign(serialization.Encoding.DER, options)


def with_crls(signed: bytes, crls: list[bytes]) -> bytes:
    """`signed` with `crls` put into SignedData.crls (outside the signature, as anyone can)."""
    info = cms.ContentInfo.load(signed)
    content = info["content"]
    content["crls"] = [cms.RevocationInfoChoice({"crl": crl.CertificateList.load(c)}) for c in crls]
    return cms.ContentInfo({"content_type": "signed_data", "content": content}).dump(force=True)


def ocsp_answer(responder: Issued, subjects: dict[int, Issued], *, fresh: timedelta = timedelta(hours=1),
                count: list[int] | None = None) -> Callable[[BaseHTTPRequestHandler], None]:
    """An OCSP responder (for the listener) that says "good" for the given certificates."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        request = xocsp.load_der_ocsp_request(handler.body)  # type: ignore[attr-defined]
        subject = subjects[request.serial_number]
        now = datetime.now(UTC) - timedelta(seconds=1)
        response = (
            xocsp.OCSPResponseBuilder()
            .add_response(cert=subject.cert, issuer=responder.cert, algorithm=hashes.SHA1(),  # noqa: S303 - CertID
                          cert_status=xocsp.OCSPCertStatus.GOOD, this_update=now, next_update=now + fresh,
                          revocation_time=None, revocation_reason=None)
            .responder_id(xocsp.OCSPResponderEncoding.HASH, responder.cert)
            .sign(responder.key, hashes.SHA256())
        ).public_bytes(serialization.Encoding.DER)
        if count is not None:
            count.append(1)
        handler.send_response(200)
        handler.send_header("Content-Type", "application/ocsp-response")
        handler.send_header("Content-Length", str(len(response)))
        handler.end_headers()
        handler.wfile.write(response)

    return answer


def crl_answer(issuer: Issued, *, next_update: timedelta = timedelta(days=1),
               delay: float = 0.0) -> Callable[[BaseHTTPRequestHandler], None]:
    """A CRL distribution point (for the listener) that serves a fresh empty CRL of `issuer`."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(delay)
        body = make_crl(issuer, next_update=next_update)
        handler.send_response(200)
        handler.send_header("Content-Type", "application/pkix-crl")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


def wait_until(predicate: Callable[[], bool], seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
