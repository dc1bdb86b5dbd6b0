"""ASiC-S / ASiC-E containers made by the gateway: several files, several signatures, adding a
signature without breaking earlier ones; signatures checked by openssl cms and xmlsec1 too."""

from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path

import pytest
from second_opinion import openssl_cms_verify
from test_xades_support import (
    load_key,
    make_identity,
    needs_openssl,
    needs_xmlsec1,
    trust_roots,
    validate_bytes,
    xmlsec1_verify,
)

from gateway.signing.asic.container import MIMETYPE_E, MIMETYPE_S
from gateway.signing.asic.sign import AsicOptions, asice_cades, asice_xades, asics_cades
from gateway.signing.xml.builder import DataObject

FILES = [
    DataObject("report.txt", b"annual report\n", "text/plain"),
    DataObject("data/table.csv", b"a,b\n1,2\n", "text/csv"),
    DataObject("photo.bin", bytes(range(256)) * 40),
]


@pytest.fixture(scope="module")
def ident(tmp_path_factory):
    files = make_identity(tmp_path_factory.mktemp("asic"), "asic")
    return {"files": files, "key": load_key(files), "roots": trust_roots(files)}


def _zip(data: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(data))


def _extract(data: bytes, dest: Path) -> None:
    with _zip(data) as zf:
        for info in zf.infolist():
            target = dest / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(info))


def _check_layout(data: bytes, mimetype: str) -> None:
    first = _zip(data).infolist()[0]
    assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED and not first.extra
    assert _zip(data).read("mimetype") == mimetype.encode()
    assert data[30:38] == b"mimetype"  # ETSI EN 319 162-1 A.1: readable at a fixed offset


def _passed(data: bytes, ident, container: str, signatures: int) -> dict:
    d = validate_bytes(data, ident["roots"]).to_dict()
    assert d["indication"] == "TOTAL_PASSED", d
    assert d["container"] == container
    assert len(d["signatures"]) == signatures and all(s["intact"] for s in d["signatures"])
    return d


@needs_xmlsec1
def test_asice_xades_two_signatures(ident, tmp_path):
    first = asice_xades(ident["key"], FILES, AsicOptions())
    _check_layout(first, MIMETYPE_E)
    d = _passed(first, ident, "ASiC-E", 1)
    assert sorted(d["signatures"][0]["signed_objects"]) == sorted(f.name for f in FILES)
    second = asice_xades(ident["key"], [], AsicOptions(), existing=first)
    _check_layout(second, MIMETYPE_E)
    _passed(second, ident, "ASiC-E", 2)
    # the first signature's entry is byte-identical
    assert _zip(second).read("META-INF/signatures0.xml") == _zip(first).read("META-INF/signatures0.xml")
    _extract(second, tmp_path)
    for name in ("signatures0.xml", "signatures1.xml"):
        # xmlsec1 resolves the relative URIs from the container's root folder
        (tmp_path / name).write_bytes((tmp_path / "META-INF" / name).read_bytes())
        out = xmlsec1_verify(tmp_path / name, ident["files"]["root"])
        assert out.returncode == 0, out.stderr
        assert "SignedInfo References (ok/all): 4/4" in out.stderr


@needs_openssl
def test_asice_cades_two_signatures(ident, tmp_path):
    first = asice_cades(ident["key"], FILES, AsicOptions())
    _check_layout(first, MIMETYPE_E)
    second = asice_cades(ident["key"], [], AsicOptions(), existing=first)
    d = _passed(second, ident, "ASiC-E", 2)
    assert all(s["format"] == "CAdES-BASELINE-B" for s in d["signatures"])
    _extract(second, tmp_path)
    meta = tmp_path / "META-INF"
    for n in ("001", "002"):
        root = ident["files"]["root"]
        out = openssl_cms_verify(meta / f"signature{n}.p7s", root, meta / f"ASiCManifest{n}.xml")
        assert out.returncode == 0, out.stderr


@needs_openssl
def test_asics_cades(ident, tmp_path):
    data = asics_cades(ident["key"], FILES[0], AsicOptions())
    _check_layout(data, MIMETYPE_S)
    d = _passed(data, ident, "ASiC-S", 1)
    assert d["signatures"][0]["signed_objects"] == ["report.txt"]
    _extract(data, tmp_path)
    sig = tmp_path / "META-INF/signature.p7s"
    out = openssl_cms_verify(sig, ident["files"]["root"], tmp_path / "report.txt")
    assert out.returncode == 0, out.stderr


def _replace(data: bytes, name: str, content: bytes | None) -> bytes:
    """The container with one entry changed (None: removed), other entries as they were."""
    src = _zip(data)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for info in src.infolist():
            if info.filename == name:
                if content is None:
                    continue
                out.writestr(info, content)
            else:
                out.writestr(info, src.read(info))
    return buf.getvalue()


@pytest.mark.parametrize("make", [asice_xades, asice_cades])
def test_changed_and_missing_files(ident, make):
    data = make(ident["key"], FILES, AsicOptions())
    changed = validate_bytes(_replace(data, "report.txt", b"forged report\n"), ident["roots"])
    assert (changed.indication, changed.subindication) == ("TOTAL_FAILED", "HASH_FAILURE")
    assert not changed.signatures[0].intact
    missing = validate_bytes(_replace(data, "data/table.csv", None), ident["roots"])
    assert (missing.indication, missing.subindication) == ("INDETERMINATE", "SIGNED_DATA_NOT_FOUND")


def test_file_added_to_asics_is_format_failure(ident):
    data = asics_cades(ident["key"], FILES[0], AsicOptions())
    src = _zip(data)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for info in src.infolist():
            out.writestr(info, src.read(info))
        out.writestr("extra.txt", b"smuggled")
    report = validate_bytes(buf.getvalue(), ident["roots"])
    assert (report.indication, report.subindication) == ("TOTAL_FAILED", "FORMAT_FAILURE")


def test_reserved_and_duplicate_names_refused(ident):
    from gateway.errors import SigningError

    for files in (
        [DataObject("META-INF/x.xml", b"x")],
        [DataObject("a", b"1"), DataObject("a", b"2")],
        [DataObject("../a", b"1")],
    ):
        with pytest.raises(SigningError):
            asice_xades(ident["key"], files, AsicOptions())


def test_adding_to_a_container_of_the_other_kind_is_refused(ident):
    from gateway.errors import SigningError

    data = asics_cades(ident["key"], FILES[0], AsicOptions())
    with pytest.raises(SigningError, match="mimetype"):
        asice_cades(ident["key"], [], AsicOptions(), existing=data)


@pytest.mark.parametrize("fmt", ["asice-xades", "asice-cades"])
def test_cli_adds_a_signature_to_an_existing_container(fmt, tmp_path):
    import json
    import os
    import sys

    files = make_identity(tmp_path, "cli2")
    (tmp_path / "a.txt").write_text("alpha\n")
    (tmp_path / "b.txt").write_text("beta\n")
    env = {**os.environ, "XKP": "xades test"}

    def gateway(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gateway", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=120,
        )

    sign = [
        "sign",
        "--format",
        fmt,
        "--level",
        "B-B",
        "--key",
        str(files["p12"]),
        "--key-password-env",
        "XKP",
    ]
    assert gateway(*sign, "--out", "pack.asice", "a.txt", "b.txt").returncode == 0
    out = gateway(*sign, "pack.asice")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "pack-signed.asice").is_file()
    out = gateway("verify", "--json", "--offline", "--trust", str(files["root"]), "pack-signed.asice")
    report = json.loads(out.stdout)
    assert out.returncode == 0 and len(report["signatures"]) == 2, report
    assert all(sorted(s["signed_objects"]) == ["a.txt", "b.txt"] for s in report["signatures"])


CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "conformance" / "files"


@pytest.mark.skipif(
    not (CORPUS / "dss-asic-cades__dss1421.asice").is_file(), reason="../shared corpus absent"
)
def test_archive_manifest_timestamp_of_a_dss_container():
    data = (CORPUS / "dss-asic-cades__dss1421.asice").read_bytes()
    [sig] = validate_bytes(data).signatures
    assert [(t.type, t.intact) for t in sig.timestamps] == [("signature", True), ("archive", True)]
    token = _zip(data).read("META-INF/timestamp001.tst")
    damaged = _replace(data, "META-INF/timestamp001.tst", token[:-40] + bytes(40))
    [sig] = validate_bytes(damaged).signatures
    assert [(t.type, t.intact) for t in sig.timestamps] == [("signature", True), ("archive", False)]
    assert sig.intact


@pytest.mark.parametrize("make", [asice_xades, asice_cades])
def test_file_names_with_spaces_plus_and_cyrillic(ident, make):
    files = [DataObject("звіт 2026 + додаток.txt", b"x"), DataObject("scans/page 1.bin", b"y")]
    report = validate_bytes(make(ident["key"], files, AsicOptions()), ident["roots"])
    assert report.indication == "TOTAL_PASSED", report.to_dict()
    assert report.signatures[0].signed_objects == [f.name for f in files]
