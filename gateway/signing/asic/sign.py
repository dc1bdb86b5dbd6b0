"""Making ASiC containers (ETSI EN 319 162-1) and adding signatures to existing ones.

- ASiC-E with XAdES: META-INF/signaturesN.xml (asic:XAdESSignatures) over the data files, plus an
  OpenDocument META-INF/manifest.xml as DSS and DigiDoc4j write it.
- ASiC-E with CAdES: META-INF/signatureNNN.p7s over META-INF/ASiCManifestNNN.xml, which lists the
  data files with their digests.
- ASiC-S with CAdES: META-INF/signature.p7s over the one data file.

Adding a signature copies every existing entry byte for byte and only adds new META-INF entries,
so earlier signatures stay valid.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from lxml import etree

from gateway.errors import SigningError
from gateway.signing.asic.container import (
    MIMETYPE_E,
    MIMETYPE_S,
    Container,
    ContainerError,
    check_name,
    read_container,
    write_container,
)
from gateway.signing.cades import new_hash
from gateway.signing.keys import SigningKey, check_digest_allowed
from gateway.signing.xml import algorithms as xalg
from gateway.signing.xml.builder import DataObject, XadesOptions
from gateway.signing.xml.xmldsig import DS

if TYPE_CHECKING:
    from gateway.signing.cades import CadesOptions

ASIC_NS = "http://uri.etsi.org/02918/v1.2.1#"
ODF_MANIFEST = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"
MAX_CONTAINER = 1024 * 1024 * 1024


@dataclass
class AsicOptions:
    level: str = "B-B"
    tsa_url: str | None = None
    digest_algorithm: str | None = None
    trust_roots: Sequence = ()


def _xades_options(opts: AsicOptions) -> XadesOptions:
    return XadesOptions(
        level=opts.level,
        tsa_url=opts.tsa_url,
        digest_algorithm=opts.digest_algorithm,
        trust_roots=list(opts.trust_roots),
    )


def _cades_options(opts: AsicOptions) -> CadesOptions:
    from gateway.signing.cades import CadesOptions

    return CadesOptions(
        level=opts.level,
        tsa_url=opts.tsa_url,
        digest_algorithm=opts.digest_algorithm,
        trust_roots=list(opts.trust_roots),
    )


def _check_files(files: Sequence[DataObject]) -> None:
    if not files:
        raise SigningError("nothing to put in the container")
    seen = set()
    for f in files:
        try:
            check_name(f.name)
        except ContainerError as exc:
            raise SigningError(str(exc)) from None
        if f.name in seen:
            raise SigningError(f"two files named {f.name!r} cannot go into one container")
        if f.name == "mimetype" or f.name.startswith("META-INF/"):
            raise SigningError(f"{f.name!r} is a reserved name in an ASiC container")
        seen.add(f.name)


def _odf_manifest(files: Sequence[DataObject]) -> bytes:
    root = etree.Element(f"{{{ODF_MANIFEST}}}manifest", nsmap={"manifest": ODF_MANIFEST})
    attr = f"{{{ODF_MANIFEST}}}"
    etree.SubElement(root, f"{attr}file-entry", {f"{attr}full-path": "/", f"{attr}media-type": MIMETYPE_E})
    for f in files:
        etree.SubElement(
            root, f"{attr}file-entry", {f"{attr}full-path": f.name, f"{attr}media-type": f.mime_type}
        )
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _next_name(existing: Container | None, pattern: str, width: int) -> str:
    names = set(existing.files) if existing else set()
    for i in range(0 if width == 0 else 1, 10_000):
        name = pattern.format(str(i).zfill(width) if width else i)
        if name not in names:
            return name
    raise SigningError("the container holds too many signatures")


def _open_existing(data: bytes, kind: str) -> tuple[Container, list[DataObject]]:
    try:
        container = read_container(data, MAX_CONTAINER)
    except ContainerError as exc:
        raise SigningError(f"cannot add a signature to this container: {exc}") from None
    expected = MIMETYPE_S if kind == "S" else MIMETYPE_E
    if container.mimetype != expected:
        raise SigningError(f"the container's mimetype is {container.mimetype!r}, not {expected}")
    if container.deviations:
        raise SigningError(f"cannot add a signature to this container: {container.deviations[0]}")
    from gateway.signing.xades import mime_type

    files = [DataObject(n, container.files[n], mime_type(n)) for n in container.data_files]
    return container, files


#: the entries of a container to write (after its mimetype): (name, content)
Entries = list[tuple[str, bytes]]


def _rewrite(
    container: Container | None, new: Entries, files: Sequence[DataObject]
) -> Entries:
    if container is None:
        entries = [(f.name, f.data) for f in files]
    else:
        entries = [(n, c) for n, c in container.files.items() if n != "mimetype"]
    return [*entries, *new]


def asice_xades(
    key: SigningKey, files: Sequence[DataObject], opts: AsicOptions, existing: bytes | None = None
) -> bytes:
    """A new ASiC-E with one XAdES signature over `files`, or `existing` with one more signature
    over all its data files."""
    return write_container(MIMETYPE_E, asice_xades_entries(key, files, opts, existing))


def asice_xades_entries(
    key: SigningKey, files: Sequence[DataObject], opts: AsicOptions, existing: bytes | None = None
) -> Entries:
    """What `asice_xades` writes after the mimetype (for `write_container_to` a file)."""
    from gateway.signing.xades import sign_detached

    container = None
    if existing is not None:
        container, files = _open_existing(existing, "E")
    _check_files(files)
    root = etree.Element(f"{{{ASIC_NS}}}XAdESSignatures", nsmap={"asic": ASIC_NS, "ds": DS})
    sign_detached(key, files, _xades_options(opts), root=root)
    sig_name = _next_name(container, "META-INF/signatures{}.xml", 0)
    new = [(sig_name, etree.tostring(root, xml_declaration=True, encoding="UTF-8"))]
    if container is None or "META-INF/manifest.xml" not in container.files:
        new.insert(0, ("META-INF/manifest.xml", _odf_manifest(files)))
    return _rewrite(container, new, files)


def _asic_manifest(files: Sequence[DataObject], sig_name: str, digest: str) -> bytes:
    root = etree.Element(f"{{{ASIC_NS}}}ASiCManifest", nsmap={"asic": ASIC_NS, "ds": DS})
    etree.SubElement(root, f"{{{ASIC_NS}}}SigReference", URI=sig_name, MimeType="application/pkcs7-signature")
    uri = xalg.DIGEST_URIS[digest.replace("_", "-")]
    for f in files:
        ref = etree.SubElement(
            root, f"{{{ASIC_NS}}}DataObjectReference", URI=quote(f.name, safe="/"), MimeType=f.mime_type
        )
        etree.SubElement(ref, f"{{{DS}}}DigestMethod", Algorithm=uri)
        value = new_hash(digest, f.data).digest()
        etree.SubElement(ref, f"{{{DS}}}DigestValue").text = base64.b64encode(value).decode("ascii")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def asice_cades(
    key: SigningKey, files: Sequence[DataObject], opts: AsicOptions, existing: bytes | None = None
) -> bytes:
    """A new ASiC-E with a CAdES signature over an ASiCManifest of `files`, or `existing` with one
    more signature (and manifest) over all its data files."""
    return write_container(MIMETYPE_E, asice_cades_entries(key, files, opts, existing))


def asice_cades_entries(
    key: SigningKey, files: Sequence[DataObject], opts: AsicOptions, existing: bytes | None = None
) -> Entries:
    """What `asice_cades` writes after the mimetype (for `write_container_to` a file)."""
    from gateway.signing.cades import sign_cades_bytes

    container = None
    if existing is not None:
        container, files = _open_existing(existing, "E")
    _check_files(files)
    digest = check_digest_allowed(opts.digest_algorithm or key.default_digest)
    sig_name = _next_name(container, "META-INF/signature{}.p7s", 3)
    manifest_name = sig_name.replace("signature", "ASiCManifest").replace(".p7s", ".xml")
    if container is not None and manifest_name in container.files:
        manifest_name = _next_name(container, "META-INF/ASiCManifest{}.xml", 3)
    manifest = _asic_manifest(files, sig_name, digest)
    cades_opts = _cades_options(opts)
    cades_opts.digest_algorithm = digest
    signature = sign_cades_bytes(key, manifest, cades_opts)
    return _rewrite(container, [(manifest_name, manifest), (sig_name, signature)], files)


def asics_cades(key: SigningKey, file: DataObject, opts: AsicOptions) -> bytes:
    """An ASiC-S with a CAdES signature over its one file."""
    from gateway.signing.cades import sign_cades_bytes

    _check_files([file])
    if "/" in file.name:
        raise SigningError("the file in an ASiC-S container must be at its root")
    signature = sign_cades_bytes(key, file.data, _cades_options(opts))
    return write_container(MIMETYPE_S, [(file.name, file.data), ("META-INF/signature.p7s", signature)])
