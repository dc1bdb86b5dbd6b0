"""`gateway verify` as a user runs it: exit codes, JSON report, trust from options and config."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest
import test_validation
from test_validation import DOC, NOW, Pki, sign_cms

pki = test_validation.pki  # the test PKI fixture, shared


def gateway(*args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "verify", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.fixture(autouse=True)
def allow_test_pki(pki: Pki, monkeypatch):
    """The test PKI answers on loopback: `gateway verify` may fetch from it only when allowed."""
    monkeypatch.setenv("GATEWAY_TRUST__FETCH_ALLOW", pki.base_url.removeprefix("http://"))


@pytest.fixture(scope="module")
def files(pki: Pki, tmp_path_factory):
    d = tmp_path_factory.mktemp("verify")
    (d / "doc.txt").write_bytes(DOC)
    (d / "doc.txt.p7s").write_bytes(sign_cms(pki, pki.signer, DOC))
    (d / "revoked.p7s").write_bytes(sign_cms(pki, pki.revoked, DOC))
    (d / "tampered.txt").write_bytes(DOC + b"!")
    (d / "root.pem").write_bytes(pki.root.pem)
    return d


def test_valid_signature_exit_0_and_json_report(pki, files):
    out = gateway(
        "--json",
        "--trust",
        str(files / "root.pem"),
        "--detached",
        str(files / "doc.txt"),
        str(files / "doc.txt.p7s"),
    )
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)
    assert report["indication"] == "TOTAL_PASSED" and report["container"] == "CMS"
    sig = report["signatures"][0]
    assert sig["intact"] is True and sig["signed_objects"] == ["doc.txt"]
    assert set(sig) >= {
        "id",
        "format",
        "signer",
        "algorithm",
        "claimed_signing_time",
        "best_signature_time",
        "timestamps",
        "chain",
        "errors",
        "warnings",
    }


def test_online_revocation_and_human_summary(pki, files):
    out = gateway(
        "--trust", str(files / "root.pem"), "--detached", str(files / "doc.txt"), str(files / "revoked.p7s")
    )
    assert out.returncode == 3, out.stdout + out.stderr
    assert out.stdout.startswith("INDETERMINATE / REVOKED_NO_POE")
    assert "signer: Common Name: Revoked seal" in out.stdout


def test_tampered_content_exit_1(pki, files, tmp_path):
    (tmp_path / "doc.txt").write_bytes(DOC + b"!")
    out = gateway(
        "--offline",
        "--trust",
        str(files / "root.pem"),
        "--detached",
        str(tmp_path / "doc.txt"),
        str(files / "doc.txt.p7s"),
    )
    assert out.returncode == 1
    assert "HASH_FAILURE" in out.stdout


def test_offline_without_revocation_data_exit_3(files):
    out = gateway(
        "--json",
        "--offline",
        "--trust",
        str(files / "root.pem"),
        "--detached",
        str(files / "doc.txt"),
        str(files / "doc.txt.p7s"),
    )
    assert out.returncode == 3
    assert json.loads(out.stdout)["subindication"] == "TRY_LATER"


def test_no_trust_anchor_exit_3(files):
    out = gateway("--json", "--offline", "--detached", str(files / "doc.txt"), str(files / "doc.txt.p7s"))
    assert out.returncode == 3
    assert json.loads(out.stdout)["subindication"] == "NO_CERTIFICATE_CHAIN_FOUND"


def test_trust_and_offline_from_config(pki, files, tmp_path):
    (tmp_path / "gateway.toml").write_text(
        f'[trust]\nanchors = ["{files / "root.pem"}"]\nrevocation = "offline"\ncache_dir = "{pki.crl_dir}"\n'
    )
    out = gateway(
        "--config",
        str(tmp_path / "gateway.toml"),
        "--detached",
        str(files / "doc.txt"),
        str(files / "doc.txt.p7s"),
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_at_time_before_the_signer_existed(pki, files):
    at = (NOW - timedelta(days=60)).isoformat()
    out = gateway(
        "--json",
        "--trust",
        str(files / "root.pem"),
        "--at",
        at,
        "--detached",
        str(files / "doc.txt"),
        str(files / "doc.txt.p7s"),
    )
    report = json.loads(out.stdout)
    assert (report["indication"], report["subindication"]) == ("TOTAL_FAILED", "NOT_YET_VALID")
    assert out.returncode == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["/nonexistent/file.p7s"], "no such file"),
        (["--at", "yesterday", "x.p7s"], "--at"),
        (["--trust", "/nonexistent.pem", "x.p7s"], "no such certificate"),
        (["--detached", "/nonexistent.txt", "x.p7s"], "no such detached file"),
    ],
)
def test_usage_and_io_errors_exit_2_one_line(args, message):
    out = gateway(*args)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and message in out.stderr


def test_garbage_file_is_a_format_failure_report(tmp_path):
    (tmp_path / "junk.p7s").write_bytes(b"\x30\x80" + b"\x00" * 3)
    out = gateway("--json", str(tmp_path / "junk.p7s"))
    assert out.returncode == 1
    report = json.loads(out.stdout)
    assert (report["indication"], report["subindication"]) == ("TOTAL_FAILED", "FORMAT_FAILURE")
