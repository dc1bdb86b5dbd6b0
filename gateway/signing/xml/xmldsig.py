"""XMLDSig core validation on lxml: SignedInfo, reference processing, signature value.

References are resolved only by same-document Id (exactly one element must carry it, and objects
inside a signature must sit where XMLDSig puts them: that defeats signature wrapping) or to detached
contents the caller supplies by name. No URI is ever fetched. Only the transforms listed in
TRANSFORMS are run; any other makes the reference unverifiable.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

from lxml import etree

from gateway.signing.algorithms import UnsupportedAlgorithm
from gateway.signing.xml import algorithms as xalg
from gateway.signing.xml.c14n import C14N_10, METHODS, NodeSet, UnsupportedCanonicalization, canonicalize
from gateway.signing.xml.xpath_transforms import (
    FILTER2,
    XPATH,
    TransformError,
    filter2_transform,
    xpath_transform,
)
from gateway.xmlsafe import XmlParseError, parse_xml

DS = "http://www.w3.org/2000/09/xmldsig#"
NS = {"ds": DS}
ENVELOPED = DS + "enveloped-signature"
BASE64 = DS + "base64"
TYPE_OBJECT = DS + "Object"
XML_ID = "{http://www.w3.org/XML/1998/namespace}id"
ID_ATTRIBUTES = ("Id", "ID", "id", XML_ID)
MAX_REFERENCES = 1000
MAX_TRANSFORMS = 10
DEFAULT_BUDGET = 256 * 1024 * 1024

#: a detached content by reference URI (None: the URI was absent) -> bytes, or None if not supplied
DetachedResolver = Callable[[str | None], "tuple[str, bytes] | None"]


class StructureError(ValueError):
    """The signature element is not XMLDSig as specified (FORMAT_FAILURE)."""


class NotFound(ValueError):  # noqa: N818 - a verdict, not a programming error
    """A referenced data object cannot be found (SIGNED_DATA_NOT_FOUND)."""


def q(local: str) -> str:
    return f"{{{DS}}}{local}"


def child(el: etree._Element, local: str, ns: str = DS) -> etree._Element | None:
    return el.find(f"{{{ns}}}{local}")


def text_of(el: etree._Element | None) -> str:
    return "".join(el.itertext()).strip() if el is not None else ""


def b64decode(value: str) -> bytes:
    """Strict base64 (whitespace allowed), raising StructureError."""
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise StructureError("a base64 value is not valid base64") from None


class IdIndex:
    """Elements by Id/ID/id/xml:id value, built once per document."""

    def __init__(self, root: etree._Element) -> None:
        self._ids: dict[str, list[etree._Element]] = {}
        for el in root.iter(etree.Element):
            for attr in ID_ATTRIBUTES:
                value = el.get(attr)
                if value is not None:
                    self._ids.setdefault(value, []).append(el)

    def unique(self, value: str) -> etree._Element:
        found = self._ids.get(value, [])
        if not found:
            raise NotFound(f"no element with Id '{value}' in the document")
        if len(found) > 1:
            raise NotFound(f"{len(found)} elements carry Id '{value}' (signature wrapping?)")
        return found[0]


@dataclass
class ReferenceResult:
    element: etree._Element
    uri: str | None
    type: str
    id: str
    digest_uri: str = ""
    #: the referenced object was found and all its transforms ran
    found: bool = False
    digest_ok: bool = False
    #: same-document target element, if any
    target: etree._Element | None = None
    #: a detached content's name
    name: str = ""
    #: the reference's result before digesting: bytes, or a node set (archive timestamps need it)
    result: bytes | NodeSet | None = None
    #: the element whose subtree the reference's node set was last (what a counter-signature covers)
    selected: etree._Element | None = None
    output: bytes | None = None
    error: str = ""
    not_found: bool = False

    @property
    def label(self) -> str:
        return self.name or (self.uri if self.uri is not None else "(no URI)")


@dataclass
class SignedInfo:
    element: etree._Element
    c14n_method: str
    inclusive_prefixes: list[str]
    signature_method: str
    references: list[etree._Element] = field(default_factory=list)

    def octets(self) -> bytes:
        return canonicalize(self.element, self.c14n_method, self.inclusive_prefixes)


def inclusive_prefixes(method_el: etree._Element) -> list[str]:
    incl = method_el.find("{http://www.w3.org/2001/10/xml-exc-c14n#}InclusiveNamespaces")
    if incl is None:
        return []
    return [p if p != "#default" else "" for p in (incl.get("PrefixList") or "").split()]


def signed_info(signature: etree._Element) -> SignedInfo:
    si = child(signature, "SignedInfo")
    if si is None:
        raise StructureError("ds:Signature has no ds:SignedInfo")
    c14n_el, method_el = child(si, "CanonicalizationMethod"), child(si, "SignatureMethod")
    if c14n_el is None or method_el is None:
        raise StructureError("ds:SignedInfo lacks CanonicalizationMethod or SignatureMethod")
    refs = si.findall(q("Reference"))
    if len(refs) > MAX_REFERENCES:
        raise StructureError(f"more than {MAX_REFERENCES} references")
    return SignedInfo(
        si,
        c14n_el.get("Algorithm") or "",
        inclusive_prefixes(c14n_el),
        method_el.get("Algorithm") or "",
        refs,
    )


def signature_value(signature: etree._Element) -> bytes:
    el = child(signature, "SignatureValue")
    if el is None:
        raise StructureError("ds:Signature has no ds:SignatureValue")
    return b64decode(el.text or "")


_OBJECT_CONTENT = (q("Manifest"), q("SignatureProperties"))


def _check_placement(target: etree._Element) -> None:
    """Inside a ds:Signature only its direct ds:Object children, their ds:Manifest and
    ds:SignatureProperties (and, in an enveloping signature, whatever element an object holds), the
    XAdES SignedProperties, the ds:KeyInfo and the ds:SignatureValue may be referenced.
    Anything else there (an element wrapped into an object, an object nested in another) is what
    signature-wrapping attacks plant."""
    path = [target, *target.iterancestors()]
    for i, node in enumerate(path):
        if node.tag != q("Signature") or i == 0:
            continue
        top = path[i - 1]  # the signature's child on the way to the target
        if top.tag == q("KeyInfo") or (top is target and top.tag == q("SignatureValue")):
            return  # SignatureValue: what a XAdES counter-signature covers
        if top.tag != q("Object"):
            break
        inner = path[: i - 1]  # from the target up to, not including, the ds:Object
        if any(n.tag == q("Object") for n in inner):
            break
        if not inner or (len(inner) == 1 and (inner[0].tag in _OBJECT_CONTENT or _enveloping(node))):
            return
        if etree.QName(target).localname == "SignedProperties" and len(inner) == 2:
            return
        break
    else:
        return
    raise NotFound("the referenced element is wrapped inside a signature (signature wrapping?)")


def _apex(data: bytes | NodeSet) -> etree._Element | None:
    if isinstance(data, NodeSet):
        return data.node.getroot() if isinstance(data.node, etree._ElementTree) else data.node
    return None


def _enveloping(signature: etree._Element) -> bool:
    """The signature is the document, or one of the only elements of its root (ASiC's
    XAdESSignatures): data in its objects is then all the signed data there is, nothing is hidden."""
    parent = signature.getparent()
    if parent is None:
        return True
    return parent.getparent() is None and all(
        c.tag == q("Signature") for c in parent if isinstance(c.tag, str)
    )


def _contains(ancestor: etree._Element, node: etree._Element) -> bool:
    return any(a is ancestor for a in node.iterancestors())


def safe_relative_uri(uri: str) -> str | None:
    """The file name a detached reference names, or None for URIs that point outside the files the
    caller supplied (schemes, absolute paths, '..')."""
    path = unquote(uri.split("#", 1)[0])
    if not path or "\\" in path or "\x00" in path:
        return None
    head = path.split("/", 1)[0]
    if ":" in head or path.startswith("/"):
        return None
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


class ReferenceProcessor:
    """Dereferences and transforms the references of the signatures of one document."""

    def __init__(
        self, tree: etree._ElementTree, detached: DetachedResolver, budget: int = DEFAULT_BUDGET
    ) -> None:
        self.tree = tree
        self.ids = IdIndex(tree.getroot())
        self.detached = detached
        #: octets all references together may produce (many references to one big document would
        #: otherwise canonicalize it again and again)
        self.budget = budget
        self.work = 0

    def _spend(self, data: bytes | NodeSet) -> bytes | NodeSet:
        if isinstance(data, bytes):
            self.work += len(data)
            if self.work > self.budget:
                raise StructureError(f"the references need more than {self.budget} bytes of processing")
        return data

    def process(
        self, ref: etree._Element, signature: etree._Element, *, digest: bool = True
    ) -> ReferenceResult:
        res = ReferenceResult(ref, ref.get("URI"), ref.get("Type") or "", ref.get("Id") or "")
        dm = child(ref, "DigestMethod")
        res.digest_uri = dm.get("Algorithm") or "" if dm is not None else ""
        try:
            if self.work > self.budget:
                raise StructureError(f"the references need more than {self.budget} bytes of processing")
            data = self._spend(self._dereference(res))
            transforms = child(ref, "Transforms")
            items = transforms.findall(q("Transform")) if transforms is not None else []
            if len(items) > MAX_TRANSFORMS:
                raise StructureError("too many transforms")
            res.selected = _apex(data)
            for tr in items:
                data = self._spend(self._transform(tr, data, signature))
                apex = _apex(data)
                if apex is not None:
                    res.selected = apex
            res.result = data
            res.found = True
            if not digest:
                return res
            res.output = data if isinstance(data, bytes) else self._spend(canonicalize(data, C14N_10))
            dv = child(ref, "DigestValue")
            if dm is None or dv is None:
                raise StructureError("a ds:Reference lacks DigestMethod or DigestValue")
            expected = b64decode(dv.text or "")
            res.digest_ok = xalg.digest(res.digest_uri, res.output) == expected
            if not res.digest_ok:
                res.error = f"reference {res.label}: the digest does not match"
        except NotFound as exc:
            res.not_found, res.found, res.error = True, False, f"reference {res.label}: {exc}"
        except (StructureError, UnsupportedAlgorithm, UnsupportedCanonicalization, XmlParseError) as exc:
            res.found = False
            res.error = f"reference {res.label}: {exc}"
        return res

    def _dereference(self, res: ReferenceResult) -> bytes | NodeSet:
        uri = res.uri
        if uri == "":
            return NodeSet(self.tree, with_comments=False)
        if uri is not None and uri.startswith("#"):
            frag = uri[1:]
            if frag == "xpointer(/)":
                return NodeSet(self.tree, with_comments=True)
            comments = False
            if frag.startswith("xpointer(id(") and frag.endswith("))"):
                frag, comments = frag[len("xpointer(id(") : -2].strip("'\""), True
            target = self.ids.unique(unquote(frag))
            _check_placement(target)
            res.target = target
            return NodeSet(target, with_comments=comments)
        if uri is not None and safe_relative_uri(uri) is None:
            raise NotFound("the reference points outside the supplied files (never fetched)")
        found = self.detached(uri)
        if found is None:
            raise NotFound(
                "the signed data object is not available"
                + (" (detached content: pass it)" if uri is None or "/" not in uri else "")
            )
        res.name, content = found
        return content

    def _transform(
        self, tr: etree._Element, data: bytes | NodeSet, signature: etree._Element
    ) -> bytes | NodeSet:
        algo = tr.get("Algorithm") or ""
        if algo == ENVELOPED:
            if isinstance(data, bytes):
                raise NotFound("the enveloped-signature transform needs a same-document reference")
            if isinstance(data.node, etree._Element) and not _contains(data.node, signature):
                raise NotFound(
                    "the enveloped-signature transform is applied to an element that does not "
                    "contain this signature (signature wrapping?)"
                )
            if (
                isinstance(data.node, etree._ElementTree)
                and data.node.getroot() is not signature.getroottree().getroot()
            ):
                raise NotFound("the enveloped-signature transform is applied to another document")
            return data.without(signature)
        if algo in METHODS:
            if isinstance(data, bytes):
                data = NodeSet(parse_xml(data), with_comments=True)
            return canonicalize(data, algo, inclusive_prefixes(tr))
        if algo == BASE64:
            if isinstance(data, NodeSet):
                node = data.node.getroot() if isinstance(data.node, etree._ElementTree) else data.node
                text = "".join(node.itertext())
            else:
                text = data.decode("ascii", "replace")
            return b64decode(text)
        if algo in (XPATH, FILTER2):
            if isinstance(data, bytes):
                data = NodeSet(parse_xml(data), with_comments=True)
            try:
                return xpath_transform(tr, data) if algo == XPATH else filter2_transform(tr, data)
            except TransformError as exc:
                raise StructureError(str(exc)) from None
        raise StructureError(f"unsupported transform {algo or '(none)'}")


def apply_transforms(transforms: etree._Element | None, data: bytes) -> bytes:
    """The octets an XML document `data` gives through `transforms` (a ds:Transforms element), as a
    reference to it would (a signature policy document's hash is computed so)."""
    try:
        tree = parse_xml(data)
        processor = ReferenceProcessor(tree, lambda _uri: None)
        signature = next(tree.getroot().iter(q("Signature")), tree.getroot())
        result: bytes | NodeSet = NodeSet(tree, with_comments=False)
        items = transforms.findall(q("Transform")) if transforms is not None else []
        if len(items) > MAX_TRANSFORMS:
            raise StructureError("too many transforms")
        for tr in items:
            result = processor._transform(tr, result, signature)
        return result if isinstance(result, bytes) else canonicalize(result, C14N_10)
    except (UnsupportedAlgorithm, UnsupportedCanonicalization, XmlParseError) as exc:
        raise ValueError(str(exc)) from None
