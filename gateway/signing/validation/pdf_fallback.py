"""Signatures of a PDF whose structure cannot be read, found by their /ByteRange.

A damaged cross-reference table or a broken object elsewhere in the file does not make the
signatures in it disappear: each `/ByteRange [0 a b c]` whose gap holds a hex /Contents is a
signature found. Its bytes are checked like any other PAdES signature's; what was changed after it
cannot be analysed, so an intact one is at best INDETERMINATE, and a byte range or /Contents that
cannot be used makes it not intact (TOTAL_FAILED / FORMAT_FAILURE), never a failure of the file.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass

from asn1crypto import cms

from gateway.signing.validation.signerinfo import PARSE_ERRORS, SignedContent

_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d{1,12})\s+(\d{1,12})\s+(\d{1,12})\s+(\d{1,12})\s*\]")
MAX_SIGNATURES = 100


@dataclass
class RawSignature:
    name: str
    content: SignedContent | None
    signed_data: cms.SignedData | None
    #: why the signature cannot be checked, when content or signed_data is None
    problem: str = ""
    end: int = 0


def locate(data: bytes, name: str) -> list[RawSignature]:
    """Every signature found by its byte range, in file order, duplicates removed."""
    found: list[RawSignature] = []
    seen: set[tuple[int, ...]] = set()
    for m in _BYTE_RANGE.finditer(data):
        br = tuple(int(x) for x in m.groups())
        if br in seen:
            continue
        seen.add(br)
        found.append(_signature(data, br, f"S{len(found) + 1}", name))
        if len(found) >= MAX_SIGNATURES:
            break
    return found


def _signature(data: bytes, br: tuple[int, ...], sig_id: str, name: str) -> RawSignature:
    start1, len1, start2, len2 = br
    end = start2 + len2
    if start1 != 0 or len1 > start2 or end > len(data):
        return RawSignature(sig_id, None, None, "the /ByteRange points outside the file", end)
    gap = data[len1:start2]
    if not (gap.startswith(b"<") and gap.endswith(b">")) or b">" in gap[:-1]:
        return RawSignature(sig_id, None, None,
                            "the bytes left out of the /ByteRange are not exactly the signature value", end)
    try:
        digits = b"".join(gap[1:-1].split())
        der = binascii.unhexlify(digits + b"0" * (len(digits) % 2))
        info = cms.ContentInfo.load(_trimmed(der))
        signed_data = info["content"]
        signed_data["signer_infos"][0]  # noqa: B018 - parse now: a broken CMS is a finding, not a crash
    except (binascii.Error, *PARSE_ERRORS) as exc:
        problem = f"the /Contents is not a CMS signature ({type(exc).__name__})"
        return RawSignature(sig_id, None, None, problem, end)
    view = memoryview(data)
    content = SignedContent([view[start1:len1], view[start2:end]], name)
    return RawSignature(sig_id, content, signed_data, "", end)


def _trimmed(der: bytes) -> bytes:
    """The DER value at the start of /Contents without the zero padding after it."""
    if len(der) < 2:
        return der
    first = der[1]
    if first < 0x80:
        return der[: 2 + first]
    count = first & 0x7F
    if count == 0 or count > 4:
        return der  # indefinite length (BER): asn1crypto finds the end itself
    length = int.from_bytes(der[2 : 2 + count], "big")
    return der[: 2 + count + length]
