"""The XPath (XMLDSig 6.6.3) and XPath Filter 2.0 transforms, for the node sets signers use.

Both select parts of a same-document node set. The gateway represents a node set as a subtree minus
excluded subtrees (c14n.NodeSet), which is what signers produce in practice (`not(ancestor-or-self::
ds:Signature)`, `ancestor-or-self::ds:SignatureValue[@Id='x']` of a detached counter-signature,
`subtract /descendant::ds:Signature`, `intersect id('x')`). A transform whose result
cannot be written that way (an element left out while some of its content stays in) is reported as
unsupported rather than digested wrongly. Expressions run with lxml's XPath 1.0, with the namespace
prefixes in scope at the XPath element; no extension functions (`here()` is not available).
"""

from __future__ import annotations

from lxml import etree

from gateway.signing.xml.c14n import NodeSet

XPATH = "http://www.w3.org/TR/1999/REC-xpath-19991116"
FILTER2 = "http://www.w3.org/2002/06/xmldsig-filter2"
DS = "http://www.w3.org/2000/09/xmldsig#"
MAX_EXPRESSION = 2000
MAX_FILTERS = 10


class TransformError(ValueError):
    """The transform's expression is malformed or its result is not a supported node set."""


def _namespaces(el: etree._Element) -> dict[str, str]:
    return {prefix: uri for prefix, uri in el.nsmap.items() if prefix}


def _expression(el: etree._Element) -> str:
    text = (el.text or "").strip()
    if not text or len(text) > MAX_EXPRESSION:
        raise TransformError("an XPath transform has an empty or overlong expression")
    return text


def _apex(nodeset: NodeSet) -> etree._Element:
    node = nodeset.node
    return node.getroot() if isinstance(node, etree._ElementTree) else node


def _top_most(elements: list[etree._Element]) -> list[etree._Element]:
    chosen = set(elements)
    return [el for el in elements if not any(a in chosen for a in el.iterancestors())]


def _within(el: etree._Element, roots: set[etree._Element]) -> bool:
    return el in roots or any(a in roots for a in el.iterancestors())


def _owner(node: etree._ElementUnicodeResult) -> etree._Element | None:
    """The element whose content an attribute or text node is (a tail belongs to the parent)."""
    owner = node.getparent()
    if owner is not None and getattr(node, "is_tail", False):
        owner = owner.getparent()
    return owner


def xpath_transform(tr: etree._Element, data: NodeSet) -> NodeSet:
    """XMLDSig's XPath transform: keep the nodes of `data` for which the expression is true."""
    xp = tr.find(f"{{{DS}}}XPath")
    if xp is None:
        raise TransformError("the XPath transform has no ds:XPath element")
    expr, ns = _expression(xp), _namespaces(xp)
    apex = _apex(data)
    try:
        test = etree.XPath(f"boolean({expr})", namespaces=ns)
        dropped = [el for el in apex.iter(etree.Element) if not test(el)]
        stray = etree.XPath(f"(descendant-or-self::*/@* | .//text())[not({expr})]", namespaces=ns)(apex)
    except etree.XPathError as exc:
        raise TransformError(f"the XPath transform's expression cannot be evaluated: {exc}") from None
    dropped_set = set(dropped)
    kept = [el for el in apex.iter(etree.Element) if el not in dropped_set]
    kept_tops = _top_most(kept)
    if len(kept_tops) == 1 and kept_tops[0] is not apex:
        # one subtree selected out of the input (e.g. a counter-signed ds:SignatureValue)
        apex = kept_tops[0]
        data = NodeSet(apex, data.with_comments, tuple(g for g in data.excluded if _within(g, {apex})))
        dropped = [el for el in dropped if _within(el, {apex})]
        stray = [n for n in stray if _owner(n) is not None and _within(_owner(n), {apex})]
    elif not kept_tops:
        return data.without(apex)
    tops = _top_most(dropped)
    gone = set(tops)
    if any(test(el) for top in tops for el in top.iter(etree.Element)):
        raise TransformError("the XPath transform keeps content of an element it leaves out")
    for node in stray:
        owner = _owner(node)
        if owner is None or not _within(owner, gone):
            raise TransformError("the XPath transform leaves out text or attributes of kept elements")
    return data.without(*tops)


def filter2_transform(tr: etree._Element, data: NodeSet) -> NodeSet:
    """XPath Filter 2.0: intersect, subtract and union of subtrees, applied in order to the input."""
    filters = tr.findall(f"{{{FILTER2}}}XPath")
    if not filters or len(filters) > MAX_FILTERS:
        raise TransformError("the XPath Filter 2.0 transform has no or too many XPath elements")
    tree = _apex(data).getroottree()
    result = data
    for f in filters:
        kind = f.get("Filter")
        try:
            found = tree.xpath(_expression(f), namespaces=_namespaces(f))
        except etree.XPathError as exc:
            raise TransformError(f"an XPath Filter 2.0 expression cannot be evaluated: {exc}") from None
        if not isinstance(found, list):
            raise TransformError("an XPath Filter 2.0 expression does not select nodes")
        elements = _top_most([n for n in found if isinstance(n, etree._Element)])
        if len(elements) != len([n for n in found if not isinstance(n, str)]):
            raise TransformError("an XPath Filter 2.0 expression selects nodes other than elements")
        if kind == "subtract":
            result = result.without(*elements)
        elif kind == "intersect":
            result = _intersect(result, elements)
        elif kind == "union":
            result = _union(data, elements)
        else:
            raise TransformError(f"unknown XPath Filter 2.0 filter {kind!r}")
    return result


def _intersect(current: NodeSet, elements: list[etree._Element]) -> NodeSet:
    apex = _apex(current)
    inside = [el for el in elements if el is apex or apex in set(el.iterancestors())]
    if any(apex is el or el in set(apex.iterancestors()) for el in elements):
        return current  # the current set lies within a selected subtree
    if not inside:
        return NodeSet(apex, current.with_comments, (apex,))
    if len(inside) > 1:
        raise TransformError("an XPath Filter 2.0 intersect keeps several separate subtrees")
    return NodeSet(inside[0], current.with_comments, current.excluded)


def _union(original: NodeSet, elements: list[etree._Element]) -> NodeSet:
    apex = _apex(original)
    if any(el is apex or el in set(apex.iterancestors()) for el in elements):
        return original  # the union restores the whole input
    raise TransformError("an XPath Filter 2.0 union of part of the document is not supported")
