"""Validation benchmark (no network).

- floor: SHA-256 of a 1 MiB document + one raw RSA-2048 signature with an already-loaded key;
- validating a CAdES B-B detached signature over the same 1 MiB file (root -> CA -> signer trusted,
  offline, CRLs from the cache folder) must cost at most 5x the floor;
- the same online, the CRLs served over HTTP on loopback (allowed by the fetch policy), with a warm
  revocation cache (first validation fetched them): at most 5x the floor too.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from timing import interleaved_samples

MIB = 1024 * 1024
ROUNDS = 40
LIMIT = 5.0


def _pki(folder: Path, base: str = "http://127.0.0.1:9"):
    """Three-level PKI, CRLs for both CAs in `folder/crl`; returns (root, ca, signer) as
    (asn1crypto cert, cryptography key) pairs."""
    from asn1crypto import x509 as ax509
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)

    def issue(cn, issuer, ca, crl_name):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        issuer_name, issuer_key = (name, key) if issuer is None else (issuer[2], issuer[1])
        b = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=10))
            .not_valid_after(now + timedelta(days=100))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )
        if issuer is not None:
            b = b.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
            )
        if crl_name:
            b = b.add_extension(
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            [x509.UniformResourceIdentifier(f"{base}/{crl_name}")],
                            None,
                            None,
                            None,
                        )
                    ]
                ),
                critical=False,
            )
        if ca:
            b = b.add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
        cert = b.sign(issuer_key, hashes.SHA256())
        return ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)), key, name

    def crl(issuer):
        b = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(issuer[2])
            .last_update(now - timedelta(hours=1))
            .next_update(now + timedelta(days=7))
            .add_extension(x509.CRLNumber(1), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key()), critical=False
            )
        )
        return b.sign(issuer[1], hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    root = issue("bench root", None, True, None)
    ca = issue("bench CA", root, True, "root.crl")
    signer = issue("bench seal", ca, False, "ca.crl")
    (folder / "crl").mkdir()
    (folder / "crl" / "root.crl").write_bytes(crl(root))
    (folder / "crl" / "ca.crl").write_bytes(crl(ca))
    return root, ca, signer


def _sign(data: bytes, root, ca, signer) -> bytes:
    from asn1crypto import keys
    from cryptography.hazmat.primitives import serialization
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key_info = keys.PrivateKeyInfo.load(
        signer[1].private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    s = signers.SimpleSigner(signer[0], key_info, SimpleCertificateStore.from_certs([ca[0], root[0]]))
    return asyncio.run(s.async_sign_general_data(data, "sha256", detached=True)).dump()


def _interleaved_best(fns, rounds: int = ROUNDS) -> list[float]:
    """The minimum, not the median: other load on the machine only ever adds time, and it hurts the
    longer, Python-heavy validation more than the floor's two OpenSSL calls."""
    return [min(t) for t in interleaved_samples(fns, rounds)]


def _cold(fn) -> float:
    """Time of one call on a fresh thread, where nothing parsed earlier is reused."""
    result: list[float] = []

    def timed() -> None:
        t = time.perf_counter()
        fn()
        result.append(time.perf_counter() - t)

    worker = threading.Thread(target=timed)
    worker.start()
    worker.join()
    return result[0]


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def _crl_server(folder: Path):
    """An HTTP server on loopback serving `folder` (bound first, so the certificates can name it)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run() -> list[str]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from gateway.signing.report import Indication
    from gateway.signing.validation.engine import validate
    from gateway.signing.validation.fetchpolicy import FetchPolicy
    from gateway.signing.validation.policy import ValidationPolicy

    with tempfile.TemporaryDirectory() as tmp, _crl_server(Path(tmp) / "crl") as base:
        folder = Path(tmp)
        root, ca, signer = _pki(folder, base)
        doc = folder / "doc.bin"
        doc.write_bytes(os.urandom(MIB))
        signature = _sign(doc.read_bytes(), root, ca, signer)
        (folder / "doc.bin.p7s").write_bytes(signature)

        def policy() -> ValidationPolicy:
            return ValidationPolicy(
                trust_roots=[root[0]], offline=True, cache_dir=folder / "crl", detached={"doc.bin": doc}
            )

        report = validate(folder / "doc.bin.p7s", policy())
        if report.indication != Indication.TOTAL_PASSED:
            raise RuntimeError(f"benchmark signature does not validate: {report.to_dict()}")
        key = signer[1]

        def floor() -> None:
            digest = hashlib.sha256(doc.read_bytes()).digest()
            key.sign(digest, padding.PKCS1v15(), hashes.SHA256())

        def validation() -> None:
            validate(folder / "doc.bin.p7s", policy())

        online_policy = ValidationPolicy(
            trust_roots=[root[0]], cache_dir=folder / "fetched", detached={"doc.bin": doc},
            fetch=FetchPolicy.from_items([base.removeprefix("http://")]))
        report = validate(folder / "doc.bin.p7s", online_policy)  # cold: fetches both CRLs
        sources = sorted(s.source for s in report.signatures[0].revocation_sources)
        if report.indication != Indication.TOTAL_PASSED or sources != ["fetched", "fetched"]:
            raise RuntimeError(f"online benchmark signature: {report.to_dict()}")

        def online() -> None:
            validate(folder / "doc.bin.p7s", online_policy)

        t_floor, t_validate, t_online = _interleaved_best([floor, validation, online])
        t_cold = _cold(validation)
    ratio = t_validate / t_floor
    verdict = "ok" if ratio <= LIMIT else f"OVER the {LIMIT:g}x budget"
    online_ratio = t_online / t_floor
    online_verdict = "ok" if online_ratio <= LIMIT else f"OVER the {LIMIT:g}x budget"
    return [
        f"floor (sha256 1 MiB + RSA-2048 sign): {t_floor * 1000:.2f} ms",
        f"CAdES B-B detached 1 MiB, chain of 3, offline, CRLs from cache: {t_validate * 1000:.2f} ms",
        f"ratio {ratio:.2f}x (budget {LIMIT:g}x): {verdict}",
        f"same, online with a warm revocation cache: {t_online * 1000:.2f} ms, ratio {online_ratio:.2f}x "
        f"(budget {LIMIT:g}x): {online_verdict}",
        f"first validation on a new thread (no reused certificate parses): {t_cold * 1000:.2f} ms",
    ]


if __name__ == "__main__":
    print("\n".join(run()))
