"""Canonical XML (C14N 1.0, 1.1 and exclusive, with or without comments) and XMLDSig node sets.

lxml (libxml2) canonicalizes. The versions differ only for a document subset whose apex has
ancestors left out: C14N 1.0 copies every xml:* attribute of those ancestors onto the apex, C14N 1.1
only xml:lang and xml:space, never xml:id, and joins the ancestors' xml:base values with the apex's
own into one (the "xml:base fix-up", RFC 3986 resolution); exclusive C14N copies none.
"""

from __future__ import annotations

from collections.abc import Sequence
from copy import deepcopy
from dataclasses import dataclass
from urllib.parse import urljoin

from lxml import etree

from gateway.xmlsafe import parse_xml

C14N_10 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N_10_COMMENTS = C14N_10 + "#WithComments"
C14N_11 = "http://www.w3.org/2006/12/xml-c14n11"
C14N_11_COMMENTS = C14N_11 + "#WithComments"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
EXC_C14N_COMMENTS = EXC_C14N + "WithComments"

#: method URI -> (exclusive, with comments)
METHODS: dict[str, tuple[bool, bool]] = {
    C14N_10: (False, False),
    C14N_10_COMMENTS: (False, True),
    C14N_11: (False, False),
    C14N_11_COMMENTS: (False, True),
    EXC_C14N: (True, False),
    EXC_C14N_COMMENTS: (True, True),
}

Node = etree._Element | etree._ElementTree


class UnsupportedCanonicalization(ValueError):
    pass


@dataclass
class NodeSet:
    """An XMLDSig node set: a document or an element's subtree, comments in or out, minus excluded
    subtrees (what the enveloped-signature, XPath and XPath Filter 2.0 transforms remove)."""

    node: Node
    with_comments: bool = False
    excluded: tuple[etree._Element, ...] = ()

    def without(self, *elements: etree._Element) -> NodeSet:
        """This node set minus the subtrees of `elements`."""
        return NodeSet(self.node, self.with_comments, (*self.excluded, *elements))


def canonicalize(
    data: Node | NodeSet,
    method: str = C14N_10,
    inclusive_prefixes: Sequence[str] | None = None,
) -> bytes:
    """The canonical octets of an element (in its document context), a tree or a node set."""
    try:
        exclusive, comments = METHODS[method]
    except KeyError:
        raise UnsupportedCanonicalization(f"unsupported canonicalization {method}") from None
    nodeset = data if isinstance(data, NodeSet) else NodeSet(data, with_comments=True)
    comments = comments and nodeset.with_comments
    node = nodeset.node
    if nodeset.excluded:
        apex = _root_of(node)
        if any(gone is apex or _inside(apex, gone) for gone in nodeset.excluded):
            return b""
        node = _copy_without(node, nodeset.excluded)
    if (
        isinstance(node, etree._Element)
        and node.getparent() is not None
        and _needs_standalone(node, exclusive)
    ):
        node = _standalone(node, _inherited_xml_attributes(node, method))
    return etree.tostring(
        node,
        method="c14n",
        exclusive=exclusive,
        with_comments=comments,
        inclusive_ns_prefixes=list(inclusive_prefixes) if exclusive and inclusive_prefixes else None,
    )


def _root_of(node: Node) -> etree._Element:
    return node.getroot() if isinstance(node, etree._ElementTree) else node


_XML_NS = "http://www.w3.org/XML/1998/namespace"
_SIMPLE_INHERITABLE = ("lang", "space")


def _attr(value: str) -> str:
    for a, b in (
        ("&", "&amp;"),
        ("<", "&lt;"),
        ('"', "&quot;"),
        ("\t", "&#9;"),
        ("\n", "&#10;"),
        ("\r", "&#13;"),
    ):
        value = value.replace(a, b)
    return value


def _needs_standalone(el: etree._Element, exclusive: bool) -> bool:
    """lxml canonicalizes a subtree right unless a default namespace is in scope (or, inclusive,
    xml:* attributes are inherited): only then is the slower standalone copy needed."""
    if None in el.nsmap:
        return True
    if exclusive:
        return False
    return any(k.startswith(f"{{{_XML_NS}}}") for anc in el.iterancestors() for k in anc.attrib)


def _inherited_xml_attributes(el: etree._Element, method: str) -> dict[str, str]:
    """The xml:* attributes (local name -> value) the apex `el` of a subset gets from its ancestors
    under `method`, besides its own."""
    exclusive, _ = METHODS[method]
    if exclusive:
        return {}
    own = {etree.QName(k).localname for k in el.attrib if k.startswith(f"{{{_XML_NS}}}")}
    found: dict[str, str] = {}
    bases: list[str] = []
    for anc in el.iterancestors():  # nearest first
        for key, value in anc.attrib.items():
            if not key.startswith(f"{{{_XML_NS}}}"):
                continue
            local = etree.QName(key).localname
            if local == "base":
                bases.append(value)
            elif local not in own and local not in found:
                found[local] = value
    if method in (C14N_11, C14N_11_COMMENTS):
        found = {k: v for k, v in found.items() if k in _SIMPLE_INHERITABLE}
        if bases:
            base = ""
            for value in reversed(bases):  # outermost first
                base = urljoin(base, value) if base else value
            own_base = el.get(f"{{{_XML_NS}}}base")
            found["base"] = urljoin(base, own_base) if own_base is not None else base
    elif bases and "base" not in own:
        found["base"] = bases[0]
    return found


def _standalone(el: etree._Element, inherited: dict[str, str]) -> etree._ElementTree:
    """`el`'s subtree as a document of its own whose apex declares every namespace in scope at `el`
    and carries the xml:* attributes `inherited` (replacing its own where both are given).

    lxml's own subtree canonicalization mis-renders default namespaces declared on ancestors
    (spurious xmlns=""), so the subtree is serialized, completed and parsed again.
    """
    copy = deepcopy(el)
    copy.tail = None
    for local, value in inherited.items():
        copy.set(f"{{{_XML_NS}}}{local}", value)
    extra = []
    declared = copy.nsmap
    for prefix, uri in el.nsmap.items():
        if prefix not in declared:
            extra.append(f' xmlns{":" + prefix if prefix else ""}="{_attr(uri)}"')
    xml = etree.tostring(copy)
    if extra:
        end = 1
        while xml[end : end + 1] not in (b" ", b"/", b">", b"\t", b"\n", b"\r"):
            end += 1
        xml = xml[:end] + "".join(extra).encode("ascii", "xmlcharrefreplace") + xml[end:]
    return parse_xml(xml, max_bytes=max(len(xml), 1) * 2)


def _path(el: etree._Element, root: etree._Element) -> list[int] | None:
    """Child indexes leading from `root` to `el`, or None if `el` is not in root's tree."""
    steps = []
    while el is not root:
        parent = el.getparent()
        if parent is None:
            return None
        steps.append(parent.index(el))
        el = parent
    return steps[::-1]


def _follow(root: etree._Element, steps: list[int]) -> etree._Element:
    for i in steps:
        root = root[i]
    return root


def _inside(node: etree._Element, ancestor: etree._Element) -> bool:
    return any(a is ancestor for a in node.iterancestors())


def _copy_without(node: Node, excluded: Sequence[etree._Element]) -> Node:
    """A copy of `node`'s whole document without the `excluded` subtrees (their tail texts stay).

    The original is never modified: lxml re-declares namespaces on a detached subtree, which would
    change later canonicalizations of the verified tree.
    """
    tree = node if isinstance(node, etree._ElementTree) else node.getroottree()
    root = tree.getroot()
    gone_paths = [p for p in (_path(el, root) for el in excluded) if p is not None]
    node_path = [] if isinstance(node, etree._ElementTree) else _path(node, root)
    if not gone_paths or node_path is None:
        return node
    copy = deepcopy(tree)
    for gone in [_follow(copy.getroot(), p) for p in gone_paths]:
        _remove_keeping_tail(gone)
    if isinstance(node, etree._ElementTree):
        return copy
    return _follow(copy.getroot(), node_path)


def _remove_keeping_tail(gone: etree._Element) -> None:
    parent = gone.getparent()
    if parent is not None:
        if gone.tail:
            prev = gone.getprevious()
            if prev is not None:
                prev.tail = (prev.tail or "") + gone.tail
            else:
                parent.text = (parent.text or "") + gone.tail
        parent.remove(gone)
