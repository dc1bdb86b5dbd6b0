"""Where an attached CMS file (.p7m) keeps its encapsulated content, found without reading it.

A 100 MiB .p7m parsed whole costs several copies of the content (asn1crypto slices bytes at every
level). Instead the outer TLVs are read at their offsets (DER or BER, definite or indefinite
lengths): the result is the content's byte ranges in the file (one for a primitive OCTET STRING,
one per segment of a BER constructed one) and the same SignedData without the content (the
detached form), which is small and parses as usual. Signer infos, certificates and CRLs are copied
byte for byte, so every signature and attribute check sees the encoding as it was signed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import BinaryIO

#: BER nesting of constructed OCTET STRING segments accepted
MAX_SEGMENT_DEPTH = 8
_SEQUENCE, _CONTEXT_0, _OCTET_STRING, _OCTET_STRING_CONSTRUCTED = 0x30, 0xA0, 0x04, 0x24


class LayoutError(ValueError):
    """The file is not laid out as an attached CMS SignedData this reader follows."""


@dataclass(frozen=True)
class _Tlv:
    start: int
    tag: int  # the first identifier octet
    header: int  # identifier and length octets
    length: int | None  # None: indefinite

    @property
    def body(self) -> int:
        return self.start + self.header


@dataclass(frozen=True)
class AttachedLayout:
    #: the ContentInfo with its SignedData's eContent left out (DER at the rebuilt levels)
    detached_der: bytes
    #: (offset, length) of the encapsulated content's octets in the file, in order
    ranges: list[tuple[int, int]]

    @property
    def content_length(self) -> int:
        return sum(n for _, n in self.ranges)


class _Reader:
    def __init__(self, f: BinaryIO, size: int) -> None:
        self.fd = f.fileno()
        self.size = size

    def read(self, offset: int, n: int) -> bytes:
        if offset < 0 or n < 0 or offset + n > self.size:
            raise LayoutError("an element runs past the end of the file")
        data = os.pread(self.fd, n, offset)
        if len(data) != n:
            raise LayoutError("the file is shorter than it was")
        return data

    def tlv(self, offset: int) -> _Tlv:
        head = self.read(offset, min(16, self.size - offset))
        if len(head) < 2:
            raise LayoutError("truncated element")
        pos = 1
        if head[0] & 0x1F == 0x1F:  # high tag number form
            while pos < len(head) and head[pos] & 0x80:
                pos += 1
            pos += 1
        if pos >= len(head):
            raise LayoutError("truncated identifier")
        first = head[pos]
        pos += 1
        if first == 0x80:
            if not head[0] & 0x20:
                raise LayoutError("indefinite length on a primitive element")
            return _Tlv(offset, head[0], pos, None)
        if first < 0x80:
            return _Tlv(offset, head[0], pos, first)
        count = first & 0x7F
        if count > 8 or pos + count > len(head):
            raise LayoutError("length too long")
        length = int.from_bytes(head[pos:pos + count], "big")
        return _Tlv(offset, head[0], pos + count, length)

    def end(self, tlv: _Tlv, depth: int = 0) -> int:
        """The offset just after the element (after its end-of-contents octets when indefinite)."""
        if tlv.length is not None:
            if tlv.body + tlv.length > self.size:
                raise LayoutError("an element runs past the end of the file")
            return tlv.body + tlv.length
        if depth > 64:
            raise LayoutError("nested too deeply")
        pos = tlv.body
        while self.read(pos, 2) != b"\x00\x00":
            pos = self.end(self.tlv(pos), depth + 1)
        return pos + 2

    def children(self, tlv: _Tlv) -> list[_Tlv]:
        """The elements inside a constructed one (end-of-contents octets excluded)."""
        out = []
        pos = tlv.body
        stop = tlv.body + tlv.length if tlv.length is not None else None
        while stop is None or pos < stop:
            if stop is None and self.read(pos, 2) == b"\x00\x00":
                break
            child = self.tlv(pos)
            out.append(child)
            pos = self.end(child)
        if stop is not None and pos != stop:
            raise LayoutError("elements overrun their parent")
        return out


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _wrap(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(body)) + body


def _segments(reader: _Reader, tlv: _Tlv, depth: int = 0) -> list[tuple[int, int]]:
    if tlv.tag == _OCTET_STRING and tlv.length is not None:
        return [(tlv.body, tlv.length)] if tlv.length else []
    if tlv.tag != _OCTET_STRING_CONSTRUCTED or depth >= MAX_SEGMENT_DEPTH:
        raise LayoutError("eContent is not an OCTET STRING")
    return [r for child in reader.children(tlv) for r in _segments(reader, child, depth + 1)]


def _expect(tlv: _Tlv, tag: int, what: str) -> _Tlv:
    if tlv.tag != tag:
        raise LayoutError(f"{what}: unexpected tag 0x{tlv.tag:02x}")
    return tlv


def attached_layout(f: BinaryIO) -> AttachedLayout | None:
    """The layout of the attached CMS SignedData in binary file `f`; None when it has no eContent
    (a detached signature). LayoutError when the outer structure is not a ContentInfo/SignedData."""
    reader = _Reader(f, os.fstat(f.fileno()).st_size)
    info = _expect(reader.tlv(0), _SEQUENCE, "ContentInfo")
    info_children = reader.children(info)
    if len(info_children) != 2:
        raise LayoutError("ContentInfo: not two elements")
    content_type, explicit = info_children
    inside = reader.children(_expect(explicit, _CONTEXT_0, "content"))
    if len(inside) != 1:
        raise LayoutError("content: not one SignedData")
    signed_data = _expect(inside[0], _SEQUENCE, "SignedData")
    sd_children = reader.children(signed_data)
    if len(sd_children) < 4:
        raise LayoutError("SignedData: too few elements")
    eci = _expect(sd_children[2], _SEQUENCE, "EncapsulatedContentInfo")
    eci_children = reader.children(eci)
    if len(eci_children) == 1:
        return None
    if len(eci_children) != 2:
        raise LayoutError("EncapsulatedContentInfo: unexpected elements")
    econtent_type, econtent = eci_children
    wrapped = reader.children(_expect(econtent, _CONTEXT_0, "eContent"))
    if len(wrapped) != 1:
        raise LayoutError("eContent: not one OCTET STRING")
    ranges = _segments(reader, wrapped[0])

    def raw(tlv: _Tlv) -> bytes:
        return reader.read(tlv.start, reader.end(tlv) - tlv.start)

    new_eci = _wrap(_SEQUENCE, raw(econtent_type))
    rest = (raw(c) for c in sd_children[3:])
    sd_body = b"".join([raw(sd_children[0]), raw(sd_children[1]), new_eci, *rest])
    detached = _wrap(_SEQUENCE, raw(content_type) + _wrap(_CONTEXT_0, _wrap(_SEQUENCE, sd_body)))
    return AttachedLayout(detached, ranges)
