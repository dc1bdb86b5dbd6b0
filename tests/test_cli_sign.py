"""`gateway sign` end to end in a subprocess: outputs checked by openssl / pdfsig; errors are one line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, pkcs12
from second_opinion import openssl_cms_verify
from test_cades_sign_support import (
    minimal_pdf,
    needs_openssl,
    needs_pdfsig,
    write_pem,
)

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"


def gateway(*args: str, env: dict[str, str] | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, stdin=subprocess.DEVNULL, timeout=120)


@pytest.fixture
def work(tmp_path, dev_pki):
    (tmp_path / "letter.txt").write_bytes(b"To the regional administration\n")
    (tmp_path / "order.pdf").write_bytes(minimal_pdf())
    write_pem(tmp_path / "ca.pem", dev_pki.root_cert, dev_pki.ca_cert)
    return tmp_path


def _p12(dev_pki, path: Path | None = None) -> list[str]:
    return ["--key", str(path or dev_pki.seal_p12), "--key-password-env", "SEAL_PW"]


def _verified(work: Path) -> bool:
    run = openssl_cms_verify(work / "letter.txt.p7s", work / "ca.pem", content=work / "letter.txt")
    return run.returncode == 0


def _pw_env(dev_pki) -> dict[str, str]:
    return {"SEAL_PW": dev_pki.password().decode()}


@needs_openssl
def test_cades_detached_and_attached(work, dev_pki):
    run = gateway("sign", "--format", "cades", *_p12(dev_pki), str(work / "letter.txt"), env=_pw_env(dev_pki))
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(work / "letter.txt.p7s")
    assert _verified(work)
    run = gateway("sign", "--format", "cades-attached", "--key", str(dev_pki.seal_p12), "--key-password-env",
                  "SEAL_PW", "--out", str(work / "out.p7m"), str(work / "letter.txt"), env=_pw_env(dev_pki))
    assert run.returncode == 0, run.stderr
    assert openssl_cms_verify(work / "out.p7m", work / "ca.pem").returncode == 0


@needs_pdfsig
def test_pades_default_output_name(work, dev_pki):
    run = gateway("sign", "--format", "pades", *_p12(dev_pki), str(work / "order.pdf"), env=_pw_env(dev_pki))
    assert run.returncode == 0, run.stderr
    out = work / "order-signed.pdf"
    report = subprocess.run(["pdfsig", str(out)], capture_output=True, text=True).stdout
    assert "Signature is Valid" in report


def _config(work: Path, dev_pki, **signing: str) -> Path:
    lines = ["[signing]", *(f'{k} = "{v}"' for k, v in signing.items()),
             "[trust]", f'anchors = ["{work / "ca.pem"}"]']
    path = work / "gateway.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@needs_openssl
def test_config_key_password_file_and_tsa_default_to_b_t(work, dev_pki):
    shutil.copy(dev_pki.seal_p12, work / "seal.p12")
    shutil.copy(dev_pki.password_file, work / "seal.pw")
    cfg = _config(work, dev_pki, key="seal.p12", key_password_file="seal.pw", tsa_url=dev_pki.tsa_url)
    run = gateway("sign", "--config", str(cfg), "--format", "cades", "letter.txt", cwd=work)
    assert run.returncode == 0, run.stderr
    si = cms.ContentInfo.load((work / "letter.txt.p7s").read_bytes())["content"]["signer_infos"][0]
    assert [a["type"].native for a in si["unsigned_attrs"]] == ["signature_time_stamp_token"]
    assert _verified(work)


def test_several_inputs_into_folder(work, dev_pki):
    (work / "second.txt").write_text("second")
    (work / "out").mkdir()
    run = gateway("sign", "--format", "cades", *_p12(dev_pki), "--out", str(work / "out"),
                  str(work / "letter.txt"), str(work / "second.txt"), env=_pw_env(dev_pki))
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in (work / "out").iterdir()) == ["letter.txt.p7s", "second.txt.p7s"]


def test_no_terminal_no_password_is_one_line(work, dev_pki):
    run = gateway("sign", "--format", "cades", "--key", str(dev_pki.seal_p12), str(work / "letter.txt"))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "--key-password-env" in lines[0]  # no terminal to prompt on


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--key-password-env", "SEAL_PW"], {"SEAL_PW": "wrong"}, "wrong password"),
    (["--key-password-env", "UNSET_VAR"], {}, "UNSET_VAR"),
    (["--key-password-env", "SEAL_PW", "--level", "B-T"], None, "needs a time-stamping authority"),
    (["--key-password-env", "SEAL_PW", "--digest", "sha1"], None, "too weak"),
    (["--key-password-env", "SEAL_PW", "--format", "nope"], None, "unknown format 'nope'"),
])
def test_errors_are_one_line(work, dev_pki, monkeypatch, capsys, args, env, message):
    """In-process through the same entry point as the console script (cheaper than a subprocess)."""
    from gateway.cli import main

    monkeypatch.delenv("UNSET_VAR", raising=False)
    monkeypatch.delenv("GATEWAY_CONFIG", raising=False)
    for k, v in (_pw_env(dev_pki) if env is None else env).items():
        monkeypatch.setenv(k, v)
    monkeypatch.chdir(work)
    code = main(["sign", "--format", "cades", "--key", str(dev_pki.seal_p12), *args, "letter.txt"])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gateway: error:") and message in lines[0], err
    assert dev_pki.password().decode() not in err
    assert not (work / "letter.txt.p7s").exists()


def test_missing_input(work, dev_pki):
    run = gateway("sign", "--format", "cades", *_p12(dev_pki), str(work / "absent.txt"), env=_pw_env(dev_pki))
    assert run.returncode == 2 and "input not found" in run.stderr


def test_expired_certificate_refused(work, dev_pki):
    run = gateway("sign", "--format", "cades", *_p12(dev_pki, dev_pki.expired_p12), str(work / "letter.txt"),
                  env=_pw_env(dev_pki))
    assert run.returncode == 2 and "expired" in run.stderr


@needs_openssl
@pytest.mark.skipif(not (shutil.which("softhsm2-util") and shutil.which("pkcs11-tool")
                         and Path(SOFTHSM_MODULE).exists()), reason="softhsm2 / opensc not installed")
def test_pkcs11_token_signature_accepted_by_openssl(work, dev_pki, tmp_path_factory):
    hsm = tmp_path_factory.mktemp("hsm")
    (hsm / "tokens").mkdir()
    conf = hsm / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {hsm / 'tokens'}\nobjectstore.backend = file\n")
    env = {"SOFTHSM2_CONF": str(conf), "SEAL_PIN": "4321"}
    key, cert, extra = pkcs12.load_key_and_certificates(dev_pki.seal_p12.read_bytes(), dev_pki.password())
    (hsm / "key.der").write_bytes(key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption()))
    (hsm / "cert.der").write_bytes(cert.public_bytes(Encoding.DER))
    tool_env = {**os.environ, **env}
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "seal", "--pin", "4321", "--so-pin",
                    "8765"], env=tool_env, check=True, capture_output=True)
    tool = ["pkcs11-tool", "--module", SOFTHSM_MODULE, "--token-label", "seal", "--login", "--pin", "4321"]
    for path, kind in ((hsm / "key.der", "privkey"), (hsm / "cert.der", "cert")):
        subprocess.run([*tool, "--write-object", str(path), "--type", kind, "--label", "org-seal",
                        "--id", "01"], env=tool_env, check=True, capture_output=True)
    for i, c in enumerate(extra or []):
        (hsm / f"ca{i}.der").write_bytes(c.public_bytes(Encoding.DER))
        subprocess.run([*tool, "--write-object", str(hsm / f"ca{i}.der"), "--type", "cert",
                        "--label", f"ca{i}"], env=tool_env, check=True, capture_output=True)
    uri = f"pkcs11:token=seal;object=org-seal?module-path={SOFTHSM_MODULE}&pin-source=env:SEAL_PIN"
    run = gateway("sign", "--format", "cades", "--key", uri, str(work / "letter.txt"), env=env)
    assert run.returncode == 0, run.stderr
    assert _verified(work)
    if shutil.which("pdfsig"):
        run = gateway("sign", "--format", "pades", "--key", uri, str(work / "order.pdf"), env=env)
        assert run.returncode == 0, run.stderr
        report = subprocess.run(["pdfsig", str(work / "order-signed.pdf")], capture_output=True, text=True)
        assert "Signature is Valid" in report.stdout
    run = gateway("sign", "--format", "cades", "--key", uri, "--out", str(work / "x.p7s"),
                  str(work / "letter.txt"), env={**env, "SEAL_PIN": "0000"})
    assert run.returncode == 2 and "wrong PIN" in run.stderr and "0000" not in run.stderr
