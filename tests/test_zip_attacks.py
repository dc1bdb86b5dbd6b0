"""Hostile ZIP containers: path traversal, absolute and backslash names, duplicate names, zip bombs
(ratio, lying sizes, too many entries), encrypted entries, mimetype tricks. Each is refused with a
clear verdict and reason, quickly, without inflating the bomb or writing anything to disk."""

from __future__ import annotations

import io
import struct
import warnings
import zipfile

import pytest
from test_xades_support import load_key, make_identity, trust_roots, validate_bytes

from gateway.signing.asic.container import MIMETYPE_E, ContainerError, read_container
from gateway.signing.asic.sign import AsicOptions, asice_xades
from gateway.signing.xml.builder import DataObject


def _container(*entries: tuple[str, bytes], mimetype_first: bool = True, stored: bool = True) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            items = [("mimetype", MIMETYPE_E.encode()), *entries]
            if not mimetype_first:
                items = [*entries, items[0]]
            for name, data in items:
                info = zipfile.ZipInfo(name)
                info.compress_type = (
                    zipfile.ZIP_STORED if (name == "mimetype" and stored) else zipfile.ZIP_DEFLATED
                )
                zf.writestr(info, data)
    return buf.getvalue()


def _format_failure(data: bytes, words: str) -> None:
    report = validate_bytes(data).to_dict()
    assert (report["indication"], report["subindication"]) == ("TOTAL_FAILED", "FORMAT_FAILURE"), report
    assert words in report["errors"][0], report["errors"]


@pytest.mark.parametrize(
    "name,words",
    [
        ("../evil.txt", "'..'"),
        ("a/../../evil.txt", "'..'"),
        ("/etc/cron.d/evil", "absolute"),
        ("C:/evil.txt", "absolute"),
        ("..\\evil.txt", "forbidden characters"),
        ("a\x01b", "forbidden characters"),
        ("./a.txt", "'.'"),
    ],
)
def test_bad_entry_names(name, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _format_failure(_container((name, b"x"), ("META-INF/signatures0.xml", b"<a/>")), words)
    assert list(tmp_path.iterdir()) == []  # nothing extracted anywhere


@pytest.mark.parametrize("names", [("a.txt", "a.txt"), ("a.txt", "A.TXT"), ("mimetype",)])
def test_duplicate_names(names):
    _format_failure(_container(*((n, b"x") for n in names)), "duplicate")


def test_compression_ratio_bomb():
    _format_failure(_container(("bomb.bin", b"\0" * (64 * 1024 * 1024))), "compression ratio")


def _lie_about_size(data: bytes, size: int) -> bytes:
    """Patch every local and central header to declare `size` uncompressed bytes."""
    out = bytearray(data)
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (i := out.find(sig, start)) >= 0:
            out[i + offset : i + offset + 4] = struct.pack("<I", size)
            start = i + 4
    return bytes(out)


def test_declared_size_over_the_bound():
    data = _lie_about_size(_container(("a.txt", b"small")), 0xF0000000)
    with pytest.raises(ContainerError, match="more than"):
        read_container(data, 1024 * 1024 * 1024)
    _format_failure(data, "")


def test_size_lie_smaller_than_content():
    data = _container(("a.txt", b"x" * 5000))
    src = zipfile.ZipFile(io.BytesIO(data))
    info = src.getinfo("a.txt")
    # declare 10 bytes: the bounded reader stops there and the CRC check refuses the entry
    patched = bytearray(data)
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (i := patched.find(sig, start)) >= 0:
            if struct.unpack("<I", patched[i + offset : i + offset + 4])[0] == info.file_size:
                patched[i + offset : i + offset + 4] = struct.pack("<I", 10)
            start = i + 4
    _format_failure(bytes(patched), "cannot be read")


def test_too_many_entries():
    _format_failure(_container(*((f"f{i}", b"") for i in range(10_001))), "more than 10000")


def test_encrypted_entry():
    buf = io.BytesIO(_container(("a.txt", b"x")))
    data = bytearray(buf.getvalue())
    for sig, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (i := data.find(sig, start)) >= 0:
            data[i + offset] |= 1
            start = i + 4
    _format_failure(bytes(data), "encrypted")


def test_not_a_zip_and_truncated():
    _format_failure(b"PK\x03\x04" + b"\0" * 100, "not a valid ZIP")
    good = _container(("a.txt", b"x"))
    _format_failure(good[: len(good) // 2], "not a valid ZIP")


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    files = make_identity(tmp_path_factory.mktemp("zipattacks"), "zipattacks")
    key = load_key(files)
    return asice_xades(key, [DataObject("a.txt", b"alpha")], AsicOptions()), trust_roots(files)


def _rebuild(data: bytes, *, mimetype_first: bool = True, stored: bool = True) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    entries = [(i.filename, src.read(i)) for i in src.infolist() if i.filename != "mimetype"]
    return _container(*entries, mimetype_first=mimetype_first, stored=stored)


@pytest.mark.parametrize(
    "kw,words", [({"mimetype_first": False}, "not the first"), ({"stored": False}, "compressed")]
)
def test_mimetype_rules(signed, kw, words):
    """The mimetype must come first and stored. The EU DSS accepts such containers (its corpus
    has them as valid), so the signature stays intact, but the verdict is lowered."""
    data, roots = signed
    assert validate_bytes(data, roots).indication == "TOTAL_PASSED"
    report = validate_bytes(_rebuild(data, **kw), roots)
    assert (report.indication, report.subindication) == ("INDETERMINATE", "SIG_CONSTRAINTS_FAILURE")
    assert report.signatures[0].intact
    assert any(words in e for e in report.signatures[0].errors)


def test_signature_file_with_doctype_in_container(signed):
    data, roots = signed
    src = zipfile.ZipFile(io.BytesIO(data))
    entries = []
    for info in src.infolist():
        content = src.read(info)
        if info.filename == "META-INF/signatures0.xml":
            content = content.replace(b"?>", b'?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>', 1)
        if info.filename != "mimetype":
            entries.append((info.filename, content))
    report = validate_bytes(_container(*entries), roots)
    assert (report.indication, report.subindication) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    assert "DOCTYPE" in report.signatures[0].errors[0]


def _mutations(data: bytes, seed: int, count: int):
    import random

    rnd = random.Random(seed)
    for _ in range(count):
        b = bytearray(data)
        for _ in range(rnd.randint(1, 4)):
            pos = rnd.randrange(len(b))
            op = rnd.random()
            if op < 0.5:
                b[pos] = rnd.randrange(256)
            elif op < 0.75:
                del b[pos : pos + rnd.randint(1, 40)]
            else:
                b[pos:pos] = rnd.randbytes(rnd.randint(1, 16))
        yield bytes(b)


def _signed_entries(data: bytes) -> dict[str, bytes] | None:
    """The signed file and the signature file of a container, or None when they cannot be read."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return {name: z.read(name) for name in ("a.txt", "META-INF/signatures0.xml")}
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, ValueError, NotImplementedError):
        return None


def test_damaged_containers_always_give_a_clear_report(signed):
    """Random damage never escapes as an exception or a generic 'cannot validate' report, and with
    the signer trusted it passes only when the signed file and the signature read back unchanged."""
    data, roots = signed
    original = _signed_entries(data)
    assert original is not None and validate_bytes(data, roots).indication == "TOTAL_PASSED"
    for damaged in _mutations(data, seed=7, count=80):
        report = validate_bytes(damaged, roots)
        reasons = report.errors + [e for s in report.signatures for e in s.errors]
        assert not any(r.startswith("cannot validate") or "malformed signature (" in r for r in reasons), (
            reasons
        )
        if report.indication == "TOTAL_PASSED":
            assert _signed_entries(damaged) == original
