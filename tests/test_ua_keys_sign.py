"""Signing with keys from Ukrainian containers: `gateway sign --key Key-6.dat|key.jks --cert CERT`,
`[signing] key/cert`, the certificate checks (mismatch, key agreement, validity) and signatures
verified by the project's validator and by PyPI dstu-core."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from test_cades_sign_support import minimal_pdf
from test_ua_keys_support import (
    JKS,
    JKS_KEY_PASSWORD,
    KEY6,
    PASSWORDS,
    certificate_for,
    dstu_root,
    opened,
    write_pem,
)
from test_ua_support import dstu_core

from gateway.api.seal import Seal
from gateway.cli import main
from gateway.config import load_config
from gateway.crypto.ua.dstu4145 import generate_private_key, verify
from gateway.crypto.ua.kupyna import Kupyna
from gateway.crypto.ua.oids import DSTU4145_LE
from gateway.crypto.ua.verify import verify_signature
from gateway.errors import KeyLoadError
from gateway.signing.certificates import load_certificates
from gateway.signing.keys import certificate_validity_problem, load_key_file

SECRET_TEXTS = (PASSWORDS[JKS].decode(), JKS_KEY_PASSWORD.decode(), PASSWORDS[KEY6].decode())


@pytest.fixture
def jks_env(monkeypatch):
    monkeypatch.setenv("STORE_PW", PASSWORDS[JKS].decode())
    monkeypatch.setenv("ENTRY_PW", JKS_KEY_PASSWORD.decode())
    monkeypatch.setenv("KEY6_PW", PASSWORDS[KEY6].decode())


@pytest.fixture(scope="module")
def seal_cert(tmp_path_factory):
    """A signing certificate for the containers' m=257 key (+ its root), and the root alone."""
    folder = tmp_path_factory.mktemp("ua-certs")
    signing_key = opened(KEY6).keys[0][0]
    cert = certificate_for(signing_key)
    root = dstu_root()[1]
    return write_pem(folder / "seal.pem", cert, root), write_pem(folder / "root.pem", root)


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _no_secrets(*texts: str) -> None:
    key = opened(KEY6).keys[0][0]
    for text in texts:
        for secret in (*SECRET_TEXTS, f"{key.d:x}", key.d.to_bytes(32, "little").hex()):
            assert secret not in text


def test_container_key_signs_and_dstu_core_verifies(seal_cert):
    """The decrypted d signs: PyPI dstu-core derives the same public key from it and verifies the
    signature (its convention: Kupyna-256 digest read big-endian, r||s big-endian); the project's
    verifier accepts what the loaded SigningKey signs."""
    key = load_key_file(KEY6, PASSWORDS[KEY6], cert=seal_cert[0])
    assert key.key_algorithm == "dstu4145" and key.key_size == 257
    assert key.chain and key.chain[0].subject == dstu_root()[1].subject
    private = opened(KEY6).keys[0][0]
    oracle = dstu_core()
    secret = private.d.to_bytes(33, "big")
    q = private.public_point
    assert oracle.sign257_verifying_key(secret) == q[0].to_bytes(33, "big") + q[1].to_bytes(33, "big")
    message = b"Rishennia mis'koi rady No. 17"
    r, s = private.sign(Kupyna(256, message).digest()[::-1])
    ours = r.to_bytes(33, "big") + s.to_bytes(33, "big")
    assert oracle.sign257_verify(oracle.sign257_verifying_key(secret), message, ours)
    assert not oracle.sign257_verify(oracle.sign257_verifying_key(secret), message + b".", ours)
    theirs = oracle.sign257_message(secret, message)
    assert verify(private.curve, q, Kupyna(256, message).digest()[::-1],
                  int.from_bytes(theirs[:33], "big"), int.from_bytes(theirs[33:], "big"))
    for digest in ("gost34311", "kupyna256"):
        value = key.sign_raw(message, digest)
        assert verify_signature(key.certificate.public_key, value, message, digest, DSTU4145_LE)
        assert not verify_signature(key.certificate.public_key, value, message + b".", digest, DSTU4145_LE)


def test_cli_signs_cades_with_jks_and_the_validator_passes_it(capsys, tmp_path, jks_env, seal_cert):
    letter = tmp_path / "letter.txt"
    letter.write_text("Лист до Миколаївської обласної військової адміністрації", encoding="utf-8")
    code, out, err = _run(capsys, "sign", "--format", "cades", "--level", "B-B", "--key", str(JKS),
                          "--key-password-env", "STORE_PW", "--key-entry-password-env", "ENTRY_PW",
                          "--cert", str(seal_cert[0]), str(letter))
    assert code == 0, err
    assert out.strip() == f"{letter}.p7s"
    # nothing but the signature was written, and it holds no key material
    assert sorted(f.name for f in tmp_path.iterdir()) == ["letter.txt", "letter.txt.p7s"]
    d = opened(KEY6).keys[0][0].d
    signature = (tmp_path / "letter.txt.p7s").read_bytes()
    assert d.to_bytes(32, "little") not in signature and d.to_bytes(32, "big") not in signature
    code, out, err = _run(capsys, "verify", "--json", "--offline", "--trust", str(seal_cert[1]),
                          "--detached", str(letter), f"{letter}.p7s")
    report = json.loads(out)
    sig = report["signatures"][0]
    assert sig["algorithm"] == {"digest": "gost34311", "signature": "dstu4145"}
    assert sig["signer"]["edrpou"] == "04056612"
    assert report["indication"] == "TOTAL_PASSED", out
    _no_secrets(out, err)


def test_jks_alone_refuses_its_key_agreement_certificate(capsys, tmp_path, jks_env):
    letter = tmp_path / "a.txt"
    letter.write_bytes(b"a")
    code, out, err = _run(capsys, "sign", "--format", "cades", "--key", str(JKS), "--key-password-env",
                          "STORE_PW", "--key-entry-password-env", "ENTRY_PW", str(letter))
    assert code == 2
    assert err.splitlines() == [
        f"gateway: error: {JKS}: the container's certificate is for key agreement only, not for signing: "
        "give the signing certificate (--cert or [signing] cert)"]
    assert not (tmp_path / "a.txt.p7s").exists()


def test_certificate_of_another_key_is_refused(capsys, tmp_path, jks_env):
    other = certificate_for(generate_private_key(opened(KEY6).keys[0][0].curve), name="Somebody else")
    cert = write_pem(tmp_path / "other.pem", other)
    letter = tmp_path / "a.txt"
    letter.write_bytes(b"a")
    code, _out, err = _run(capsys, "sign", "--format", "cades", "--key", str(JKS), "--key-password-env",
                           "STORE_PW", "--key-entry-password-env", "ENTRY_PW", "--cert", str(cert),
                           str(letter))
    assert code == 2
    assert err.splitlines() == [f"gateway: error: {JKS}: the given certificate does not match any of the 2 "
                                "keys in the container (wrong certificate for this key)"]


def test_wrong_password_and_truncated_file_are_one_line(capsys, tmp_path, monkeypatch, seal_cert):
    monkeypatch.setenv("PW", "tect5")
    letter = tmp_path / "a.txt"
    letter.write_bytes(b"a")
    code, _out, err = _run(capsys, "sign", "--format", "cades", "--key", str(KEY6),
                           "--key-password-env", "PW", "--cert", str(seal_cert[0]), str(letter))
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith(f"gateway: error: {KEY6}: wrong password")
    broken = tmp_path / "key.jks"
    broken.write_bytes(JKS.read_bytes()[:3000])
    code, _out, err = _run(capsys, "sign", "--format", "cades", "--key", str(broken),
                           "--key-password-env", "PW", str(letter))
    assert err.splitlines() == [
        f"gateway: error: {broken}: wrong store password (or a damaged Java key store)"]
    broken = tmp_path / "Key-6.dat"
    broken.write_bytes(KEY6.read_bytes()[:500])
    code, _out, err = _run(capsys, "sign", "--format", "cades", "--key", str(broken),
                           "--key-password-env", "PW", str(letter))
    assert code == 2
    assert err.splitlines() == [f"gateway: error: {broken}: not a key file the gateway reads (PKCS#12, "
                                "IIT Key-6.dat, JKS, DSTU PEM bundle), or damaged"]
    _no_secrets(err)


def test_expired_certificate_refused_unless_allowed(capsys, tmp_path, jks_env):
    now = datetime.now(UTC).replace(microsecond=0)
    expired = certificate_for(opened(KEY6).keys[0][0], not_before=now - timedelta(days=400),
                              not_after=now - timedelta(days=35))
    cert = write_pem(tmp_path / "expired.pem", expired, dstu_root()[1])
    letter = tmp_path / "a.txt"
    letter.write_bytes(b"a")
    args = ["sign", "--format", "cades", "--level", "B-B", "--key", str(JKS), "--key-password-env",
            "STORE_PW", "--key-entry-password-env", "ENTRY_PW", "--cert", str(cert), str(letter)]
    code, _out, err = _run(capsys, *args)
    assert code == 2 and len(err.splitlines()) == 1
    assert "expired on" in err and "refusing to sign (--allow-expired to sign anyway)" in err
    assert not (tmp_path / "a.txt.p7s").exists()
    code, out, err = _run(capsys, *args[:-1], "--allow-expired", str(letter))
    assert code == 0, err
    assert err.startswith("gateway: warning: the signing certificate of") and "signing anyway" in err
    assert (tmp_path / "a.txt.p7s").exists()


def test_not_yet_valid_certificate_is_named(seal_cert):
    key = load_key_file(JKS, PASSWORDS[JKS], key_password=JKS_KEY_PASSWORD, cert=seal_cert[0])
    assert certificate_validity_problem(key) is None
    early = key.certificate.not_valid_before - timedelta(days=1)
    assert "is not valid before" in certificate_validity_problem(key, early)


def test_configured_key6_seal_with_cert_and_startup_check(tmp_path, monkeypatch, seal_cert, jks_env):
    """[signing] key = "Key-6.dat" + cert, as `gateway serve` loads the seal; an expired seal
    certificate (here with the same key from the faster JKS) stops the start-up unless
    [signing] allow_expired."""
    (tmp_path / "Key-6.dat").write_bytes(KEY6.read_bytes())
    (tmp_path / "key.jks").write_bytes(JKS.read_bytes())
    (tmp_path / "seal.pem").write_bytes(seal_cert[0].read_bytes())
    (tmp_path / "pw.txt").write_text("tect4\n")
    config = tmp_path / "gateway.toml"
    config.write_text('[signing]\nkey = "Key-6.dat"\ncert = "seal.pem"\nkey_password_file = "pw.txt"\n')
    seal = Seal.from_config(load_config(config))
    assert seal.key.certificate.subject.native["common_name"] == "Test seal of a container key"
    now = datetime.now(UTC).replace(microsecond=0)
    expired = certificate_for(opened(KEY6).keys[0][0], not_before=now - timedelta(days=400),
                              not_after=now - timedelta(days=1))
    write_pem(tmp_path / "expired.pem", expired)
    config.write_text('[signing]\nkey = "key.jks"\ncert = "expired.pem"\nkey_password_env = "STORE_PW"\n'
                      'key_entry_password_env = "ENTRY_PW"\n')
    with pytest.raises(KeyLoadError, match=r"expired on .* \(\[signing\] allow_expired = true to seal"):
        Seal.from_config(load_config(config))
    monkeypatch.setenv("GATEWAY_SIGNING__ALLOW_EXPIRED", "true")
    assert Seal.from_config(load_config(config)).key.certificate.dump() == expired.dump()


def test_serve_refuses_an_expired_seal_in_one_line(tmp_path, jks_env):
    now = datetime.now(UTC).replace(microsecond=0)
    expired = certificate_for(opened(KEY6).keys[0][0], not_before=now - timedelta(days=400),
                              not_after=now - timedelta(days=2))
    write_pem(tmp_path / "seal.pem", expired, dstu_root()[1])
    (tmp_path / "seal.jks").write_bytes(JKS.read_bytes())
    config = tmp_path / "gateway.toml"
    config.write_text('[server]\nport = 0\n[database]\nurl = "sqlite:///gw.db"\n'
                      '[signing]\nkey = "seal.jks"\ncert = "seal.pem"\nkey_password_env = "STORE_PW"\n'
                      'key_entry_password_env = "ENTRY_PW"\ntsa_url = "http://127.0.0.1:9/tsa"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    run = subprocess.run([sys.executable, "-m", "gateway", "serve", "--config", str(config)],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
                         stdin=subprocess.DEVNULL)
    assert run.returncode == 2, run.stdout + run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    [line] = run.stderr.strip().splitlines()
    assert line.startswith("gateway: error: the signing certificate of ") and "expired on" in line
    assert line.endswith("([signing] allow_expired = true to seal anyway)")


def test_container_key_signs_pades_b_t_through_the_cli(capsys, tmp_path, jks_env, seal_cert, dev_pki):
    pdf = tmp_path / "order.pdf"
    pdf.write_bytes(minimal_pdf())
    code, out, err = _run(capsys, "sign", "--format", "pades", "--level", "B-T", "--tsa",
                          dev_pki.tsa_url, "--key", str(JKS), "--key-password-env", "STORE_PW",
                          "--key-entry-password-env", "ENTRY_PW", "--cert", str(seal_cert[0]),
                          "--out", str(tmp_path / "signed.pdf"), str(pdf))
    assert code == 0, err
    roots = write_pem(tmp_path / "roots.pem", dstu_root()[1], *load_certificates(dev_pki.root_cert))
    code, out, err = _run(capsys, "verify", "--json", "--trust", str(roots), str(tmp_path / "signed.pdf"))
    report = json.loads(out)
    [sig] = report["signatures"]
    assert (report["indication"], sig["format"]) == ("TOTAL_PASSED", "PAdES-BASELINE-T"), out
    assert sig["algorithm"] == {"digest": "gost34311", "signature": "dstu4145"}
    assert [t["type"] for t in sig["timestamps"]] == ["signature"]
