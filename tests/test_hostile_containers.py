"""Property-based hostile ASiC-E containers: the entries of a real signed container rearranged.

test_zip_attacks.py damages the bytes of a container; here hypothesis edits its structure the way
a forger would: entries dropped, duplicated, renamed (onto a signed name, into META-INF), given
another entry's content or new bytes, unsigned entries added, the order changed. Whatever it
builds, validation gives a report (never an exception), and TOTAL_PASSED only when every signed
file and the signature read back unchanged, with the signature naming only those files: a file
the signature does not cover is never presented as signed.
"""

from __future__ import annotations

import io
import zipfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_xades_support import load_key, make_identity, trust_roots, validate_bytes
from test_zip_attacks import _container

from gateway.signing.asic.sign import AsicOptions, asice_xades
from gateway.signing.xml.builder import DataObject

SIGNED = {"a.txt": b"alpha", "b.txt": b"beta"}
NAMES = ["a.txt", "b.txt", "c.txt", "A.TXT", "META-INF/manifest.xml", "META-INF/signatures0.xml",
         "META-INF/signatures1.xml", "META-INF/a.txt", "mimetype"]

_identity: dict = {}


def _signed() -> tuple[bytes, list]:
    """The signed container (built once per session; hypothesis needs it outside fixtures)."""
    if not _identity:
        import tempfile
        from pathlib import Path

        folder = Path(tempfile.mkdtemp(prefix="hostile-asic-"))
        files = make_identity(folder, "hostile-asic")
        data = asice_xades(load_key(files), [DataObject(n, c) for n, c in SIGNED.items()], AsicOptions())
        _identity.update(data=data, roots=trust_roots(files))
    return _identity["data"], _identity["roots"]


def _entries(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(i.filename, z.read(i)) for i in z.infolist() if i.filename != "mimetype"]


@st.composite
def rearranged(draw, entries: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    entries = list(entries)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["drop", "duplicate", "rename", "swap", "replace", "add", "reorder"]))
        i = draw(st.integers(0, len(entries) - 1)) if entries else None
        if i is None:
            entries.append((draw(st.sampled_from(NAMES)), b"new"))
        elif kind == "drop":
            del entries[i]
        elif kind == "duplicate":
            entries.insert(draw(st.integers(0, len(entries))), entries[i])
        elif kind == "rename":
            entries[i] = (draw(st.sampled_from(NAMES)), entries[i][1])
        elif kind == "swap":
            j = draw(st.integers(0, len(entries) - 1))
            entries[i] = (entries[i][0], entries[j][1])
        elif kind == "replace":
            entries[i] = (entries[i][0], draw(st.sampled_from([b"", b"alpha ", b"ALPHA", b"beta", b"<x/>"])))
        elif kind == "add":
            entries.insert(draw(st.integers(0, len(entries))), (draw(st.sampled_from(NAMES)), b"unsigned"))
        else:
            entries = draw(st.permutations(entries))
    return entries


def _read_back(data: bytes) -> dict[str, bytes] | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = [i.filename for i in z.infolist()]
            if len(names) != len(set(names)):
                return None
            return {n: z.read(n) for n in names}
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, ValueError):
        return None


def test_the_untouched_container_passes():
    data, roots = _signed()
    report = validate_bytes(data, roots)
    assert report.indication == "TOTAL_PASSED", report.to_dict()
    assert sorted(report.signatures[0].signed_objects) == sorted(SIGNED)


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_rearranged_container_passes_only_with_its_signed_files_intact(data):
    original, roots = _signed()
    entries = data.draw(rearranged(_entries(original)))
    container = _container(*entries)
    report = validate_bytes(container, roots)
    d = report.to_dict()
    reasons = d.get("errors", []) + [e for s in d["signatures"] for e in s["errors"]]
    assert not any(r.startswith("cannot validate") for r in reasons), reasons
    if report.indication != "TOTAL_PASSED":
        return
    got = _read_back(container)
    assert got is not None
    signature = dict(_entries(original))["META-INF/signatures0.xml"]
    assert all(got.get(name) == content for name, content in SIGNED.items()), sorted(got)
    assert [s for s in got if s.startswith("META-INF/signature")] == ["META-INF/signatures0.xml"]
    assert got["META-INF/signatures0.xml"] == signature
    for sig in report.signatures:
        assert set(sig.signed_objects) <= set(SIGNED), sig.signed_objects
