"""The one way untrusted XML enters the gateway (signatures, 1207 messages, SOAP): a hardened parser.

No DTD is loaded or accepted (a DOCTYPE is refused outright, also in UTF-16, which rules out XXE,
external DTDs and entity expansion bombs), nothing is fetched from the network, huge trees are
refused, comments and whitespace are kept by default (they are part of what is signed).
"""

from __future__ import annotations

import re

from lxml import etree

MAX_XML_BYTES = 64 * 1024 * 1024
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)


class XmlParseError(ValueError):
    """The input is not acceptable XML; the message is fit for a report."""


def hardened_parser(*, large_text: bool = False, keep_comments: bool = True) -> etree.XMLParser:
    """`large_text` lifts libxml2's 10 MB cap on one text node (a large base64 file inside a
    message); use it only through `parse_xml`, which has refused any DTD first, so entity expansion
    is impossible and the size stays bounded by `max_bytes`."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=large_text,
        remove_comments=not keep_comments,
        remove_blank_text=False,
        remove_pis=False,
        collect_ids=False,
    )


def _ascii_view(data: bytes) -> bytes:
    """The document's bytes with UTF-16/32 zero bytes dropped, for the DOCTYPE pre-check."""
    head = data[:4]
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in head:
        return data.replace(b"\x00", b"")
    return data


def parse_xml(
    data: bytes, *, max_bytes: int = MAX_XML_BYTES, large_text: bool = False, keep_comments: bool = True
) -> etree._ElementTree:
    """Parse `data` into a tree, or raise XmlParseError (never anything else)."""
    if len(data) > max_bytes:
        raise XmlParseError(f"the XML document is larger than {max_bytes} bytes")
    if _DOCTYPE.search(_ascii_view(data)):
        raise XmlParseError("XML with a DOCTYPE is not accepted (DTDs and entities are refused)")
    try:
        root = etree.fromstring(data, hardened_parser(large_text=large_text, keep_comments=keep_comments))
    except etree.XMLSyntaxError as exc:
        raise XmlParseError(f"not well-formed XML: {exc.msg}") from None
    except (ValueError, MemoryError) as exc:
        raise XmlParseError(f"not acceptable XML: {exc}") from None
    tree = root.getroottree()
    info = tree.docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise XmlParseError("XML with a DOCTYPE is not accepted (DTDs and entities are refused)")
    for node in root.iter(etree.Entity):
        raise XmlParseError(f"XML entity reference &{node.name}; is not accepted")
    return tree


def root_attributes(data: bytes, *, step: int = 64 * 1024) -> dict[str, str]:
    """The root element's attributes, reading only as far as its start tag (cheap on a document of
    100 MB), with the same refusals as `parse_xml` (no DTD, no entities, no network)."""
    parser = etree.XMLPullParser(
        events=("start",), resolve_entities=False, no_network=True, load_dtd=False, collect_ids=False
    )
    for start in range(0, len(data), step):
        if _DOCTYPE.search(_ascii_view(data[max(0, start - 32):start + step])):  # overlapping windows
            raise XmlParseError("XML with a DOCTYPE is not accepted (DTDs and entities are refused)")
        try:
            parser.feed(data[start:start + step])
            for _event, element in parser.read_events():
                return {str(k): str(v) for k, v in element.attrib.items()}
        except etree.XMLSyntaxError as exc:
            raise XmlParseError(f"not well-formed XML: {exc.msg}") from None
    raise XmlParseError("no root element")
