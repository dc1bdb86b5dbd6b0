"""PAdES baseline signatures (ETSI EN 319 142-1) B-B to B-LTA with pyhanko.

B-T adds a signature time stamp, B-LT the DSS with chains, CRLs and OCSP responses of signer and TSA
(fetched online, checked against the trust anchors), B-LTA a document time stamp over it all.
Each signature goes into a new invisible field as an incremental update, so earlier signatures stay
valid. A file is signed from and into files (pyhanko copies the original in chunks), never held in
memory whole; the input size bound is MAX_PDF_BYTES.

National digests (DSTU 4145 keys: GOST 34.311, Kupyna), which pyhanko cannot compute through
pyca/cryptography: pyhanko prepares the field and the byte range, the byte-range digest and the CMS
(B-B/B-T) come from the CAdES signer, B-LT adds a DSS with the chains and revocation data, B-LTA a
document time stamp (SHA-256: it covers the file, not the national signature).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from asn1crypto import x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter, enumerate_sig_fields
from pyhanko.sign.general import SigningError as PyhankoSigningError
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko_certvalidator import ValidationContext

from gateway.asyncutil import run_sync
from gateway.errors import SigningError
from gateway.fileutil import atomic_output
from gateway.signing.cades import (
    CadesOptions,
    async_cades_signature,
    check_level,
    collect_revocation,
    new_hash,
    revocation_targets,
)
from gateway.signing.keys import SigningKey, check_digest_allowed
from gateway.signing.tsa import CheckedTimeStamper

MAX_PDF_BYTES = 512 * 1024 * 1024
#: how much of the input is looked at for the %PDF header (after leading white space)
PDF_HEAD = 64 * 1024
#: room for a national CMS (signature, chain, time stamp) in the /Contents placeholder
NATIONAL_RESERVE = 48 * 1024
#: digests pyhanko's own hashing (pyca/cryptography) cannot compute
NATIONAL_DIGESTS = frozenset({"gost34311", "kupyna256", "kupyna384", "kupyna512"})


def _fresh_field_name(writer) -> str:

    taken = {name for name, _value, _ref in enumerate_sig_fields(writer)}
    n = 1
    while f"Signature{n}" in taken:
        n += 1
    return f"Signature{n}"


def _validation_context(key: SigningKey, trust_roots: Sequence[x509.Certificate]):

    roots = list(trust_roots) + [c for c in key.chain if c.self_signed in ("yes", "maybe")]
    if not roots:
        raise SigningError("B-LT needs trust anchors ([trust] anchors) to build certificate chains")
    return ValidationContext(trust_roots=roots, other_certs=list(key.chain), allow_fetching=True,
                             revocation_mode="hard-fail")


async def async_sign_pdf_bytes(key: SigningKey, pdf: bytes, *, level: str = "B-B", tsa_url: str | None = None,
                               digest_algorithm: str | None = None,
                               trust_roots: Sequence[x509.Certificate] = ()) -> bytes:
    """Sign a PDF given as bytes; returns the signed PDF."""
    out = io.BytesIO()
    await async_sign_pdf_stream(key, io.BytesIO(pdf), out, level=level, tsa_url=tsa_url,
                                digest_algorithm=digest_algorithm, trust_roots=trust_roots)
    return out.getvalue()


async def async_sign_pdf_stream(key: SigningKey, pdf: BinaryIO, out: BinaryIO, *, level: str = "B-B",
                                tsa_url: str | None = None, digest_algorithm: str | None = None,
                                trust_roots: Sequence[x509.Certificate] = ()) -> None:
    """Sign the PDF read from `pdf` into `out` (both seekable; `out` also readable, as pyhanko
    digests what it wrote): files stay on disk, never in memory whole (the incremental writer
    copies the original in chunks)."""
    level = check_level(level)
    if level != "B-B" and not tsa_url:
        raise SigningError(f"level {level} needs a time-stamping authority (--tsa URL or [signing] tsa_url)")
    size = pdf.seek(0, os.SEEK_END)
    pdf.seek(0)
    if size > MAX_PDF_BYTES:
        raise SigningError(f"PDF larger than {MAX_PDF_BYTES // (1024 * 1024)} MiB")
    head = pdf.read(PDF_HEAD)
    pdf.seek(0)
    if not head.lstrip()[:5].startswith(b"%PDF"):
        raise SigningError("input is not a PDF file")
    digest = check_digest_allowed(digest_algorithm or key.default_digest)
    try:
        writer = IncrementalPdfFileWriter(pdf, strict=False)
        if writer.security_handler is not None:
            raise SigningError("encrypted PDFs cannot be signed")
        lt = level in ("B-LT", "B-LTA")
        if digest in NATIONAL_DIGESTS:
            out.write(await _async_sign_national(key, writer, _fresh_field_name(writer), level=level,
                                                 tsa_url=tsa_url, digest=digest, trust_roots=trust_roots))
            return
        vc = _validation_context(key, trust_roots) if lt else None
        meta = signers.PdfSignatureMetadata(
            field_name=_fresh_field_name(writer), md_algorithm=digest, subfilter=SigSeedSubFilter.PADES,
            embed_validation_info=lt, use_pades_lta=level == "B-LTA", validation_context=vc,
        )
        timestamper = CheckedTimeStamper(tsa_url) if level != "B-B" else None
        pdf_signer = signers.PdfSigner(meta, signer=key.signer, timestamper=timestamper)
        try:
            await pdf_signer.async_sign_pdf(writer, output=out)
        finally:
            if vc is not None:
                await vc.aclose()
    except SigningError:
        raise
    except (PdfError, PyhankoSigningError, ValueError, KeyError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SigningError(f"cannot sign the PDF: {reason}") from None
    except Exception as exc:  # noqa: BLE001 - pyhanko's validation errors (B-LT) have many types
        name = type(exc).__name__
        if "Validation" in name or "PathBuilding" in name or "Revoked" in name:
            raise SigningError(f"B-LT: {str(exc).splitlines()[0] if str(exc) else name}") from None
        raise


async def _async_sign_national(key: SigningKey, writer, field_name: str, *, level: str, tsa_url: str | None,
                               digest: str, trust_roots: Sequence[x509.Certificate]) -> bytes:
    """PAdES with a national digest (see the module's docstring)."""
    # pyhanko lays out the field; its own (SHA-256) digest of the byte range is not used
    meta = signers.PdfSignatureMetadata(field_name=field_name, md_algorithm="sha256",
                                        subfilter=SigSeedSubFilter.PADES)
    prepared, _tbs, output = await signers.PdfSigner(meta, signer=key.signer).async_digest_doc_for_signing(
        writer, bytes_reserved=NATIONAL_RESERVE)
    h = new_hash(digest)
    with output.getbuffer() as view:
        h.update(view[:prepared.reserved_region_start])
        h.update(view[prepared.reserved_region_end:])
    options = CadesOptions(level="B-B" if level == "B-B" else "B-T", tsa_url=tsa_url, digest_algorithm=digest,
                           signing_time=False)
    signature = await async_cades_signature(key, h.digest(), options)
    prepared.fill_with_cms(output, signature)
    if level in ("B-LT", "B-LTA"):
        certs, crls, ocsps = await collect_revocation(revocation_targets(signature, key), trust_roots,
                                                      extra=key.chain)
        output.seek(0)
        DocumentSecurityStore.add_dss(output, None, certs=certs, ocsps=ocsps, crls=crls, force_write=True)
    if level == "B-LTA":
        output.seek(0)
        stamped = io.BytesIO()
        await signers.PdfTimeStamper(CheckedTimeStamper(tsa_url or "")).async_timestamp_pdf(
            IncrementalPdfFileWriter(output, strict=False), "sha256", output=stamped)
        output = stamped
    return output.getvalue()


def sign_pdf_file(key: SigningKey, source: str | os.PathLike[str], output: str | os.PathLike[str], *,
                  level: str = "B-B", tsa_url: str | None = None, digest_algorithm: str | None = None,
                  trust_roots: Sequence[x509.Certificate] = ()) -> Path:
    """Sign `source` (a PDF) into `output` (written atomically)."""
    src, dst = Path(source), Path(output)
    try:
        if src.stat().st_size > MAX_PDF_BYTES:
            raise SigningError(f"{src}: larger than {MAX_PDF_BYTES // (1024 * 1024)} MiB")
        pdf = src.open("rb")
    except FileNotFoundError:
        raise SigningError(f"input not found: {src}") from None
    except IsADirectoryError:
        raise SigningError(f"input is a folder: {src}") from None
    with pdf, atomic_output(dst) as out:
        run_sync(async_sign_pdf_stream(key, pdf, out, level=level, tsa_url=tsa_url,
                                       digest_algorithm=digest_algorithm, trust_roots=trust_roots))
    return dst
