"""`gateway sign` then `gateway verify` under the shared development PKI (CRL, OCSP and TSA served on
localhost by tests/conftest.py's dev_pki)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import dev_pki_env

DOC = "Рішення міської ради № 42\n".encode() * 10


def gateway(*args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args], capture_output=True, text=True, timeout=120, env=env
    )


@pytest.fixture
def signer(dev_pki, tmp_path):
    env = {**os.environ, "SEAL_PASSWORD": dev_pki.password().decode()}
    (tmp_path / "doc.txt").write_bytes(DOC)

    def sign(p12, fmt="cades", level="B-T", source="doc.txt") -> str:
        out = tmp_path / f"{p12.stem}-{fmt}-{level}.sig"
        args = [
            "sign",
            "--format",
            fmt,
            "--level",
            level,
            "--key",
            str(p12),
            "--key-password-env",
            "SEAL_PASSWORD",
            "--out",
            str(out),
            str(tmp_path / source),
        ]
        if level != "B-B":
            args[5:5] = ["--tsa", dev_pki.tsa_url]
        done = gateway(*args, env=env)
        assert done.returncode == 0, done.stderr
        return str(out)

    return sign


def verify(dev_pki, signature: str, *extra: str) -> tuple[int, dict]:
    done = gateway("verify", "--json", "--trust", str(dev_pki.root_cert), *extra, signature,
                   env=dev_pki_env(dev_pki))
    assert done.returncode in (0, 1, 3), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_seal_b_t_passes_with_edrpou(dev_pki, signer, tmp_path):
    code, report = verify(dev_pki, signer(dev_pki.seal_p12), "--detached", str(tmp_path / "doc.txt"))
    sig = report["signatures"][0]
    assert code == 0, sig["errors"]
    assert sig["format"] == "CAdES-BASELINE-T" and sig["intact"] is True
    assert sig["signer"]["edrpou"] == dev_pki.edrpou
    assert sig["timestamps"][0]["type"] == "signature" and sig["timestamps"][0]["intact"] is True
    assert sig["best_signature_time"] == sig["timestamps"][0]["time"]


def test_ecdsa_seal(dev_pki, signer, tmp_path):
    code, report = verify(
        dev_pki, signer(dev_pki.seal_ec_p12, level="B-B"), "--detached", str(tmp_path / "doc.txt")
    )
    assert code == 0, report["signatures"][0]["errors"]
    assert report["signatures"][0]["algorithm"]["signature"] == "ecdsa"


def test_b_lt_validates_offline(dev_pki, signer, tmp_path):
    code, report = verify(
        dev_pki, signer(dev_pki.seal_p12, level="B-LT"), "--offline", "--detached", str(tmp_path / "doc.txt")
    )
    assert code == 0, report["signatures"][0]["errors"]
    assert report["signatures"][0]["format"] == "CAdES-BASELINE-LT"


def test_revoked_signer_is_not_accepted(dev_pki, signer, tmp_path):
    code, report = verify(
        dev_pki, signer(dev_pki.revoked_p12, level="B-B"), "--detached", str(tmp_path / "doc.txt")
    )
    assert code == 3
    assert report["subindication"] == "REVOKED_NO_POE"
    assert report["signatures"][0]["chain"][0]["revocation"] == "revoked"


def test_pades_b_t(dev_pki, signer, tmp_path):
    from test_validation_pdf import minimal_pdf

    (tmp_path / "letter.pdf").write_bytes(minimal_pdf())
    code, report = verify(dev_pki, signer(dev_pki.seal_p12, fmt="pades", source="letter.pdf"))
    assert code == 0, report["signatures"][0]["errors"]
    assert report["container"] == "PDF" and report["signatures"][0]["format"] == "PAdES-BASELINE-T"


def test_expired_signer_without_timestamp(dev_pki, tmp_path):
    """Made directly with pyhanko (an expired key is not something the project signs with)."""
    import asyncio

    from pyhanko.sign import signers

    signer = signers.SimpleSigner.load_pkcs12(str(dev_pki.expired_p12), passphrase=dev_pki.password())
    (tmp_path / "doc.txt").write_bytes(DOC)
    info = asyncio.run(signer.async_sign_general_data(DOC, "sha256", detached=True))
    (tmp_path / "doc.txt.p7s").write_bytes(info.dump())
    code, report = verify(dev_pki, str(tmp_path / "doc.txt.p7s"), "--detached", str(tmp_path / "doc.txt"))
    assert code == 3
    assert report["subindication"] == "OUT_OF_BOUNDS_NO_POE"
