"""`gateway trust add|list|remove`: PEM, DER and PKCS#7 anchors; the toml and the trust folder."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.config import load_config
from gateway.pki.trust import list_anchors
from gateway.signing.certificates import fingerprint, load_certificates

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")


def gateway(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "gw" / "gateway.toml"
    path.parent.mkdir()
    path.write_text('# my comment\n[organization]\nname = "Test"\n', encoding="utf-8")
    return path


@needs_openssl
def test_add_a_pkcs7_bundle_then_list(dev_pki, config, tmp_path, capsys):
    bundle = tmp_path / "chain.p7b"
    subprocess.run(["openssl", "crl2pkcs7", "-nocrl", "-certfile", str(dev_pki.root_cert), "-certfile",
                    str(dev_pki.ca_cert), "-outform", "DER", "-out", str(bundle)], check=True)
    code, out, _ = gateway(capsys, "trust", "add", str(bundle), "--config", str(config))
    assert code == 0 and out.count("added ") == 2
    # no anchors were configured: the managed folder is created and listed in the toml
    text = config.read_text(encoding="utf-8")
    assert text.startswith("# my comment\n") and load_config(config).trust.anchors == ["trust"]
    assert len(list((config.parent / "trust").glob("*.pem"))) == 2
    code, out, _ = gateway(capsys, "trust", "list", "--config", str(config))
    root = load_certificates(dev_pki.root_cert)[0]
    line = next(x for x in out.splitlines() if "Development Root CA" in x)
    assert line.startswith(fingerprint(root))
    assert root.not_valid_after.strftime("%Y-%m-%d") in line and "EXPIRED" not in line


@needs_openssl
def test_der_of_a_trusted_certificate_adds_nothing(dev_pki, config, tmp_path, capsys):
    assert gateway(capsys, "trust", "add", str(dev_pki.root_cert), "--config", str(config))[0] == 0
    der = tmp_path / "root.cer"
    subprocess.run(["openssl", "x509", "-in", str(dev_pki.root_cert), "-outform", "DER", "-out", str(der)],
                   check=True)
    code, out, _ = gateway(capsys, "trust", "add", str(der), "--config", str(config))
    assert code == 0 and "nothing added" in out
    assert len(list_anchors(load_config(config))) == 1


def test_remove_by_subject_or_fingerprint_prefix(dev_pki, config, capsys):
    for pem in (dev_pki.root_cert, dev_pki.ca_cert):
        gateway(capsys, "trust", "add", str(pem), "--config", str(config))
    code, out, _ = gateway(capsys, "trust", "remove", "qualified ca", "--config", str(config))
    assert code == 0 and out.count("removed ") == 1 and "Qualified CA" in out
    root_fp = fingerprint(load_certificates(dev_pki.root_cert)[0])
    code, out, err = gateway(capsys, "trust", "remove", root_fp[:4], "--config", str(config))
    assert code == 2 and err.strip() == "gateway: error: no trust anchor matches '" + root_fp[:4] + "'"
    prefix = ":".join(root_fp[i:i + 2] for i in range(0, 12, 2)).lower()  # colons and case ignored
    code, out, err = gateway(capsys, "trust", "remove", prefix, "--config", str(config))
    assert code == 2 and "last trust anchor" in err  # every validation would turn INDETERMINATE
    assert len(list_anchors(load_config(config))) == 1
    code, out, _ = gateway(capsys, "trust", "remove", prefix, "--force", "--config", str(config))
    assert code == 0 and "Development Root CA" in out
    code, out, _ = gateway(capsys, "trust", "list", "--config", str(config))
    assert "no trust anchors" in out


def test_a_selector_naming_several_anchors_removes_none_without_all(dev_pki, config, capsys):
    """`trust remove Council` once removed a root and its CA at once, silently."""
    for pem in (dev_pki.root_cert, dev_pki.ca_cert):
        gateway(capsys, "trust", "add", str(pem), "--config", str(config))
    code, _, err = gateway(capsys, "trust", "add", str(dev_pki.seal_cert), "--config", str(config))
    assert code == 2 and "end-entity" in err  # an end-entity certificate is no anchor, unless forced
    assert gateway(capsys, "trust", "add", str(dev_pki.seal_cert), "--force", "--config", str(config))[0] == 0
    code, _, err = gateway(capsys, "trust", "remove", " CA", "--config", str(config))
    assert code == 2 and "matches 2 anchors" in err and "--all" in err
    assert len(list_anchors(load_config(config))) == 3
    code, out, _ = gateway(capsys, "trust", "remove", " CA", "--all", "--config", str(config))
    assert code == 0 and out.count("removed ") == 2
    assert len(list_anchors(load_config(config))) == 1


def test_anchors_from_a_bundle_the_operator_wrote_are_not_edited(dev_pki, config, capsys):
    bundle = config.parent / "national.pem"
    bundle.write_bytes(dev_pki.root_cert.read_bytes() + dev_pki.ca_cert.read_bytes())
    config.write_text(config.read_text() + '[trust]\nanchors = ["national.pem"]\n', encoding="utf-8")
    code, _, err = gateway(capsys, "trust", "remove", "Root CA", "--config", str(config))
    assert code == 2 and "national.pem: edit [trust] anchors to remove it" in err
    assert bundle.read_bytes() == dev_pki.root_cert.read_bytes() + dev_pki.ca_cert.read_bytes()


def test_bad_input_is_one_line(config, tmp_path, capsys):
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    code, _, err = gateway(capsys, "trust", "add", str(junk), "--config", str(config))
    assert code == 2
    assert err.strip() == f"gateway: error: {junk}: not a certificate (PEM, DER or PKCS#7 expected)"
    code, _, err = gateway(capsys, "trust", "add", str(tmp_path / "absent.pem"), "--config", str(config))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "absent.pem" in err
    config.write_text('[trust]\nanchors = ["missing-folder"]\n', encoding="utf-8")
    code, _, err = gateway(capsys, "trust", "list", "--config", str(config))
    assert code == 2 and err.strip().endswith("missing-folder does not exist")
