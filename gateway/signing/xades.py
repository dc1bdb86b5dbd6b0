"""XAdES signing entry points and the `xades` / `xades-enveloped` / `xades-enveloping` formats.

After building, every signature is checked by the validator's core (references and signature
value) before anything is written.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lxml import etree

from gateway.errors import SigningError
from gateway.fileutil import write_atomically
from gateway.signing.keys import SigningKey
from gateway.signing.xml import algorithms as xalg
from gateway.signing.xml.builder import DataObject, XadesBuilder, XadesOptions
from gateway.signing.xml.xmldsig import ReferenceProcessor, signature_value, signed_info
from gateway.xmlsafe import XmlParseError, parse_xml

if TYPE_CHECKING:
    from gateway.signing.formats import SignRequest

MAX_SIGN_INPUT = 512 * 1024 * 1024
#: the hardened parser refuses text nodes over 10 MB (no huge_tree): base64 of at most this fits
MAX_ENVELOPING = 7 * 1024 * 1024


def mime_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _resolver(objects: Sequence[DataObject]) -> Callable[[str | None], tuple[str, bytes] | None]:
    from urllib.parse import unquote

    by_name = {o.name: o.data for o in objects}

    def resolve(uri: str | None) -> tuple[str, bytes] | None:
        if uri is None:
            return None
        name = unquote(uri)
        return (name, by_name[name]) if name in by_name else None

    return resolve


def self_check(sig: etree._Element, processor: ReferenceProcessor, key: SigningKey) -> None:
    """Refuse to hand out a signature our own validator does not find intact: every same-document
    reference is re-processed (canonicalization, transforms, digest), every detached one must name
    a supplied file (its digest was just computed from those very bytes), the value must verify."""
    info = signed_info(sig)
    for ref in info.references:
        uri = ref.get("URI")
        if uri is not None and uri != "" and not uri.startswith("#"):
            if processor.detached(uri) is None:
                raise SigningError(f"internal error: the reference {uri} does not name a signed file")
            continue
        res = processor.process(ref, sig)
        if not (res.found and res.digest_ok):
            raise SigningError(f"internal error: the new signature does not verify ({res.error})")
    if not xalg.verify(
        info.signature_method, key.certificate.public_key, signature_value(sig), info.octets()
    ):
        raise SigningError("internal error: the new signature value does not verify")


def sign_detached(
    key: SigningKey, objects: Sequence[DataObject], options: XadesOptions, root: etree._Element | None = None
) -> etree._Element:
    """A detached XAdES signature over `objects` (referenced by name). With `root`, the signature is
    appended to it (an ASiC XAdESSignatures document) before it is finished."""
    if not objects:
        raise SigningError("nothing to sign")
    builder = XadesBuilder(key, options)
    for obj in objects:
        builder.add_detached(obj)
    if root is not None:
        root.append(builder.sig)

    def processor(sig: etree._Element) -> ReferenceProcessor:
        return ReferenceProcessor(sig.getroottree(), _resolver(objects))

    sig = builder.finish(processor)
    self_check(sig, processor(sig), key)
    return sig


def sign_enveloped(key: SigningKey, document: bytes, options: XadesOptions) -> bytes:
    """The XML `document` with an enveloped XAdES signature appended to its root element."""
    try:
        tree = parse_xml(document)
    except XmlParseError as exc:
        raise SigningError(f"cannot sign this XML: {exc}") from None
    builder = XadesBuilder(key, options)
    builder.add_enveloped(tree)
    tree.getroot().append(builder.sig)

    def processor(_: etree._Element) -> ReferenceProcessor:
        return ReferenceProcessor(tree, _resolver(()))

    sig = builder.finish(processor)
    self_check(sig, processor(sig), key)
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def sign_enveloping(key: SigningKey, obj: DataObject, options: XadesOptions) -> bytes:
    """A signature carrying `obj` (base64) in a ds:Object."""
    if len(obj.data) > MAX_ENVELOPING:
        raise SigningError(
            f"{obj.name} is too large to carry inside an XML signature (over "
            f"{MAX_ENVELOPING // (1024 * 1024)} MiB): use a detached signature or a container"
        )
    builder = XadesBuilder(key, options)
    builder.add_enveloping(obj)

    def processor(sig: etree._Element) -> ReferenceProcessor:
        return ReferenceProcessor(sig.getroottree(), _resolver(()))

    sig = builder.finish(processor)
    self_check(sig, processor(sig), key)
    return etree.tostring(sig.getroottree(), xml_declaration=True, encoding="UTF-8")


def to_bytes(sig: etree._Element) -> bytes:
    return etree.tostring(sig.getroottree(), xml_declaration=True, encoding="UTF-8")


def read_input(path: Path) -> bytes:
    size = path.stat().st_size
    if size > MAX_SIGN_INPUT:
        raise SigningError(f"{path.name} is larger than {MAX_SIGN_INPUT} bytes")
    return path.read_bytes()


def _options(req: SignRequest) -> XadesOptions:
    return XadesOptions(
        level=req.level,
        tsa_url=req.tsa_url,
        digest_algorithm=req.digest_algorithm,
        trust_roots=list(req.trust_roots),
    )


def _fmt_detached(key: SigningKey, inputs: list[Path], output: Path, req: SignRequest) -> Path:
    names = [p.name for p in inputs]
    if len(set(names)) != len(names):
        raise SigningError("a detached signature cannot cover two files of the same name")
    objects = [DataObject(p.name, read_input(p), mime_type(p.name)) for p in inputs]
    return write_atomically(output, to_bytes(sign_detached(key, objects, _options(req))))


def _fmt_enveloped(key: SigningKey, inputs: list[Path], output: Path, req: SignRequest) -> Path:
    if len(inputs) != 1:
        raise SigningError("format xades-enveloped signs one XML file at a time")
    return write_atomically(output, sign_enveloped(key, read_input(inputs[0]), _options(req)))


def _fmt_enveloping(key: SigningKey, inputs: list[Path], output: Path, req: SignRequest) -> Path:
    if len(inputs) != 1:
        raise SigningError("format xades-enveloping signs one file at a time")
    p = inputs[0]
    return write_atomically(
        output, sign_enveloping(key, DataObject(p.name, read_input(p), mime_type(p.name)), _options(req))
    )


def _signed_xml_name(inputs: list[Path]) -> Path:
    p = inputs[0]
    stem = p.stem if p.suffix.lower() == ".xml" else p.name
    return p.with_name(f"{stem}-signed.xml")


def register_formats(register: Callable[..., None]) -> None:
    register(
        "xades",
        _fmt_detached,
        lambda inputs: inputs[0].with_name(inputs[0].name + ".xades.xml"),
        description="XAdES detached (one signature over the files)",
        many_inputs=True,
    )
    register("xades-enveloped", _fmt_enveloped, _signed_xml_name, description="XAdES enveloped (XML input)")
    register(
        "xades-enveloping",
        _fmt_enveloping,
        lambda inputs: inputs[0].with_name(inputs[0].name + ".xades.xml"),
        description="XAdES enveloping (the file inside the signature)",
    )
