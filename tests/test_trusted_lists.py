"""Importing real trusted lists (EU DSS test resources): pinned signers, expiry, broken and unsigned
lists, the list of lists' pointers, the store of last good lists; the IIT-like CA bundle."""

from __future__ import annotations

import gzip
import http.server
import shutil
import stat
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree
from test_trusted_lists_support import ServiceSpec, State, build_list, build_lotl, sign_list

from gateway.cli import main
from gateway.config import load_config
from gateway.pki.tl.loaded import TrustedLists
from gateway.pki.tl.parse import load_tree, parse_tree
from gateway.pki.tl.refresher import start_refresher
from gateway.pki.tl.store import TrustedListStore, tl_folder

DATA = Path(__file__).parent / "data" / "tl"
AT = "2019-10-01T00:00:00Z"  # the EU lists in DATA are current then (LOTL #248: 2019-09-04 .. 2020-03-04)


@pytest.fixture
def gw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("GATEWAY_CONFIG", raising=False)
    for name in ("eu-lotl.xml", "eu-lotl-broken-sig.xml"):
        (tmp_path / name).write_bytes(gzip.decompress((DATA / f"{name}.gz").read_bytes()))
    for name in ("DK.xml", "eu-lotl-signer.pem", "zz-tl-signer.pem", "mra-zz-tl.xml"):
        shutil.copy(DATA / name, tmp_path / name)
    (tmp_path / "gateway.toml").write_text("[trust]\nrevocation = \"offline\"\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def tl(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["trust", "tl", *args, "--config", "gateway.toml"])
    out, err = capsys.readouterr()
    return code, out, err


def refused(code: int, err: str, text: str) -> None:
    """A refused list: exit status 2 and exactly one line on stderr, naming the reason."""
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("gateway: error:"), err
    assert text in lines[0], err


def test_lotl_with_pinned_signer_judged_at_a_time(gw: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = tl(capsys, "add", "eu-lotl.xml", "--signer", "eu-lotl-signer.pem", "--at", AT)
    assert code == 0, err
    assert "EU  LOTL #248  next update 2020-03-04" in out
    kept = gw / "trusted-lists" / "eu-lotl" / "list.xml"
    assert kept.read_bytes() == (gw / "eu-lotl.xml").read_bytes()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    code, out, _ = tl(capsys, "list")
    assert code == 0 and out.startswith("eu-lotl  EU  LOTL #248")


def test_expired_list_is_refused(gw: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = tl(capsys, "add", "eu-lotl.xml", "--signer", "eu-lotl-signer.pem")
    refused(code, err, "expired: its NextUpdate 2020-03-04")
    assert not (gw / "trusted-lists" / "eu-lotl").exists()


def test_list_not_yet_issued_at_the_time_asked(gw: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = tl(capsys, "add", "eu-lotl.xml", "--signer", "eu-lotl-signer.pem", "--at", "2019-09-01")
    refused(code, err, "is issued 2019-09-04")


def test_warning_window_before_next_update(gw: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = tl(capsys, "add", "eu-lotl.xml", "--signer", "eu-lotl-signer.pem", "--at", "2020-03-01")
    assert code == 0
    assert "warning: the EU list #248 must be replaced by 2020-03-04" in err


def test_broken_signature_is_refused_and_the_last_good_list_kept(
    gw: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = tl(capsys, "add", "eu-lotl-broken-sig.xml", "--signer", "eu-lotl-signer.pem", "--at", AT)
    refused(code, err, "signature is broken")
    assert tl(capsys, "add", "eu-lotl.xml", "--signer", "eu-lotl-signer.pem", "--at", AT)[0] == 0
    good = (gw / "eu-lotl.xml").read_bytes()
    # the source now serves the broken copy: the refresh is refused, the good copy stays in use
    shutil.copy(gw / "eu-lotl-broken-sig.xml", gw / "eu-lotl.xml")
    code, _, err = tl(capsys, "refresh", "--at", AT)
    refused(code, err, "signature is broken")
    assert (gw / "trusted-lists" / "eu-lotl" / "list.xml").read_bytes() == good
    code, out, _ = tl(capsys, "list")
    assert "(last refresh refused: the trusted list's signature is broken" in out


def test_unsigned_list_is_refused(gw: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = etree.parse(str(gw / "DK.xml"))
    sig = tree.getroot().find("{http://www.w3.org/2000/09/xmldsig#}Signature")
    sig.getparent().remove(sig)
    tree.write(str(gw / "DK-unsigned.xml"), xml_declaration=True, encoding="UTF-8")
    code, _, err = tl(capsys, "add", "DK-unsigned.xml", "--signer", "eu-lotl-signer.pem", "--at", AT)
    refused(code, err, "the trusted list is not signed")


def test_list_signed_by_another_key_is_refused(gw: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = tl(capsys, "add", "eu-lotl.xml", "--signer", "zz-tl-signer.pem", "--at", AT)
    refused(code, err, "does not verify with the pinned signer certificate")


def test_national_list_signer_comes_from_the_lotl_pointer(gw: Path, capsys: pytest.CaptureFixture) -> None:
    code, _, err = tl(capsys, "add", "DK.xml", "--at", AT)
    refused(code, err, "no signer certificate for the DK list")
    assert tl(capsys, "add", "eu-lotl.xml", "--signer", "eu-lotl-signer.pem", "--at", AT)[0] == 0
    code, out, err = tl(capsys, "add", "DK.xml", "--at", AT)
    assert code == 0, err
    assert "DK  TL #22" in out
    code, out, _ = tl(capsys, "list", "--services")
    assert ("    ca/pkc  recognisedatnationallevel since 2016-06-30, accredited since 2010-03-02  "
            "Nets DanID A/S / Root Certification Authority of TRUST2408 OCES Primary CA") in out
    # the DK pointer's certificates do not verify another territory's list
    code, _, err = tl(capsys, "add", "mra-zz-tl.xml", "--at", "2022-07-01")
    refused(code, err, "no signer certificate for the ZZ list")
    code, out, _ = tl(capsys, "remove", "DK")
    assert code == 0 and out.startswith("removed DK")
    assert not (gw / "trusted-lists" / "DK").exists()
    code, _, err = tl(capsys, "remove", "DK")
    refused(code, err, "no trusted list matches 'DK'")


def test_list_from_a_url(gw: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with _serve(gw) as base:
        url = f"{base}/mra-zz-tl.xml"
        code, out, err = tl(capsys, "add", url, "--signer", "zz-tl-signer.pem", "--at", "2022-07-01")
        assert code == 0, err
        assert "ZZ  TL #4" in out and url in out
        code, _, err = tl(capsys, "add", url.replace("mra-zz-tl", "missing"), "--signer", "zz-tl-signer.pem")
        refused(code, err, "HTTP 404")


def test_parsed_services_with_status_history(gw: Path) -> None:
    dk = parse_tree(load_tree((gw / "DK.xml").read_bytes()))
    assert (dk.territory, dk.sequence, dk.is_lotl) == ("DK", 22, False)
    [(provider, service)] = dk.services()
    assert provider.name == "Nets DanID A/S"
    assert [(s.type, s.status, s.since.year) for s in service.states] == [
        ("ca/pkc", "recognisedatnationallevel", 2016),
        ("ca/pkc", "accredited", 2010),
    ]
    assert service.current.additional == ["foresignatures"]
    zz = parse_tree(load_tree((gw / "mra-zz-tl.xml").read_bytes()))
    [(provider, service)] = zz.services()
    assert provider.name == "Third Country QTSP Company"
    assert service.current.type == "ca/qc/for-esig" and service.current.granted
    assert service.current.qualifications[0].qualifiers == ["qcwithqscd"]


def test_edited_copy_in_the_store_is_ignored(gw: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert tl(capsys, "add", "mra-zz-tl.xml", "--signer", "zz-tl-signer.pem", "--at", "2022-07-01")[0] == 0
    cfg = load_config(gw / "gateway.toml")
    lists = TrustedLists(cfg)
    [anchor] = lists.anchors()
    assert "Test-QTSP-1-RootCA-from-ZZ" in anchor.subject.human_friendly
    assert lists.qualifier() is not None
    kept = gw / "trusted-lists" / "mra-zz-tl" / "list.xml"
    kept.write_bytes(kept.read_bytes().replace(b"Third Country QTSP Company", b"Third Country QTSP Kompany"))
    assert lists.anchors() == []
    assert lists.qualifier() is None


def test_ca_bundle_gives_only_ca_anchors(dev_pki, tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """IIT's CACertificates.p7b mixes CA, OCSP and TSA certificates: only the CAs become anchors."""
    monkeypatch.delenv("GATEWAY_CONFIG", raising=False)
    bundle = tmp_path / "CACertificates.p7b"
    files = [dev_pki.dir / f"{n}.pem" for n in ("root", "ca", "ocsp", "tsa", "seal")]
    subprocess.run(
        ["openssl", "crl2pkcs7", "-nocrl", "-outform", "DER", "-out", str(bundle),
         *(a for f in files for a in ("-certfile", str(f)))],
        check=True,
    )
    (tmp_path / "gateway.toml").write_text("", encoding="utf-8")
    code = main(["trust", "add", str(bundle), "--config", str(tmp_path / "gateway.toml")])
    out = capsys.readouterr().out
    assert code == 0
    added = [line for line in out.splitlines() if line.startswith("added ")]
    assert len(added) == 2
    assert "skipped 3 certificates of the bundle that are not CAs" in out
    main(["trust", "list", "--config", str(tmp_path / "gateway.toml")])
    listed = capsys.readouterr().out
    assert "Development Root CA" in listed and "Development Qualified CA" in listed
    assert "OCSP responder" not in listed and "Development TSA" not in listed and "seal" not in listed


def test_serve_refreshes_lists_periodically(dev_pki, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The refresher `gateway serve` runs replaces a list by a newer one from its source and keeps
    the last good copy when the source turns bad."""
    monkeypatch.delenv("GATEWAY_CONFIG", raising=False)
    (tmp_path / "gateway.toml").write_text("[trust]\ntl_refresh_hours = 0.0001\n", encoding="utf-8")
    cfg = load_config(tmp_path / "gateway.toml")
    granted = [State("granted", datetime(2020, 1, 1, tzinfo=UTC))]
    ca = ServiceSpec("Dev Qualified CA", dev_pki.ca_cert.read_bytes(), granted)
    source = tmp_path / "TL-UA.xml"
    source.write_bytes(sign_list(build_list([ca], sequence=1), dev_pki))
    assert main(["trust", "tl", "add", str(source), "--signer", str(dev_pki.seal_cert),
                 "--config", str(tmp_path / "gateway.toml")]) == 0
    source.write_bytes(sign_list(build_list([ca], sequence=2), dev_pki))
    refresher = start_refresher(cfg)
    assert refresher is not None
    try:
        deadline = time.monotonic() + 20
        while TrustedListStore(tl_folder(cfg)).entries()[0].meta["sequence"] != 2:
            assert time.monotonic() < deadline, "the list was not refreshed"
            time.sleep(0.1)
        good = (tl_folder(cfg) / "TL-UA" / "list.xml").read_bytes()
        source.write_bytes(good.replace(b"Dev Qualified CA", b"Evil Qualified CA"))
        rounds = refresher.rounds
        while refresher.rounds < rounds + 2:
            assert time.monotonic() < deadline, "the refresher stopped"
            time.sleep(0.1)
    finally:
        refresher.stop()
    [entry] = TrustedListStore(tl_folder(cfg)).entries()
    assert entry.data() == good
    assert "signature is broken" in entry.meta["last_error"]


def test_lotl_follow_imports_pointed_lists_with_their_pinned_signers(  # type: ignore[no-untyped-def]
    dev_pki, tmp_path: Path, monkeypatch, capsys
) -> None:
    """A list of lists (signed by the pinned seal) points to the UA list and pins its signer (the
    ECDSA seal); `--follow UA` fetches it over HTTP and checks it with that signer only."""
    monkeypatch.delenv("GATEWAY_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gateway.toml").write_text("", encoding="utf-8")
    granted = [State("granted", datetime(2020, 1, 1, tzinfo=UTC))]
    national = build_list([ServiceSpec("Dev Qualified CA", dev_pki.ca_cert.read_bytes(), granted)])
    (tmp_path / "TL-UA.xml").write_bytes(sign_list(national, dev_pki, dev_pki.seal_ec_p12))
    (tmp_path / "TL-XX.xml").write_bytes(sign_list(national, dev_pki))  # signed by the wrong key
    ec_cert = (dev_pki.dir / "seal-ec.pem").read_bytes()
    with _serve(tmp_path) as base:
        lotl = build_lotl([(f"{base}/TL-UA.xml", "UA", ec_cert), (f"{base}/TL-XX.xml", "XX", ec_cert)])
        (tmp_path / "lotl.xml").write_bytes(sign_list(lotl, dev_pki))
        code, out, err = tl(capsys, "add", "lotl.xml", "--signer", str(dev_pki.seal_cert), "--follow", "UA")
        assert code == 0, err
        assert "EU  LOTL #1" in out and "UA  TL #1  next update" in out
        code, out, err = tl(capsys, "add", "lotl.xml", "--signer", str(dev_pki.seal_cert), "--follow", "*")
        refused(code, err, "TL-XX.xml: the trusted list's signature does not verify with the pinned signer")
        code, out, err = tl(capsys, "refresh")
        assert code == 0, err
    store = TrustedListStore(tl_folder(load_config("gateway.toml")))
    entries = {e.meta["territory"]: e for e in store.entries()}
    assert set(entries) == {"EU", "UA"} and entries["UA"].meta["via"] == entries["EU"].id


class _serve:
    """Serve a folder over HTTP on a free local port (quietly); yields the base URL."""

    def __init__(self, folder: Path) -> None:
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
                super().__init__(*args, directory=str(folder), **kwargs)

            def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)

    def __enter__(self) -> str:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
