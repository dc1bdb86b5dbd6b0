"""Key sources: PKCS#12 files and a real SoftHSM2 token; weak keys and digests refused; clean errors.

A tiny throw-away CA (made here with cryptography) gives keys of chosen sizes; openssl checks the
signatures made through the PKCS#11 token.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from gateway.config import SigningConfig
from gateway.errors import KeyLoadError, SigningError
from gateway.signing.keys import key_password, load_signing_key
from gateway.signing.pkcs11 import parse_pkcs11_uri

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PASSWORD = b"correct horse"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_identity(tmp: Path, *, key=None, name: str = "seal") -> dict[str, Path]:
    """Root CA + end-entity certificate for `key` (RSA-2048 by default); files in tmp."""
    now = datetime.now(UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = (x509.CertificateBuilder().subject_name(_name("Test Root")).issuer_name(_name("Test Root"))
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .sign(ca_key, hashes.SHA256()))
    files = {"p12": tmp / f"{name}.p12", "root": tmp / f"{name}-root.pem", "cert": tmp / f"{name}.pem",
             "key_der": tmp / f"{name}.key.der", "cert_der": tmp / f"{name}.der"}
    files["p12"].write_bytes(pkcs12.serialize_key_and_certificates(
        name.encode(), key, cert, [ca], serialization.BestAvailableEncryption(PASSWORD)))
    files["root"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files["cert_der"].write_bytes(cert.public_bytes(serialization.Encoding.DER))
    files["key_der"].write_bytes(key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return files


@pytest.fixture(scope="module")
def ident(tmp_path_factory) -> dict[str, Path]:
    return make_identity(tmp_path_factory.mktemp("keys"))


def test_pkcs12_loads_once_and_signs(ident):
    key = load_signing_key(str(ident["p12"]), PASSWORD)
    assert key.key_algorithm == "rsa" and key.key_size == 2048
    assert key.certificate.subject.native["common_name"] == "seal"
    assert [c.subject.native["common_name"] for c in key.chain] == ["Test Root"]
    sig = key.sign_raw(b"hello", "sha256")
    public = x509.load_pem_x509_certificate(ident["cert"].read_bytes()).public_key()
    public.verify(sig, b"hello", padding.PKCS1v15(), hashes.SHA256())  # raises if wrong
    assert "correct horse" not in repr(key)


def test_ecdsa_key_signs(tmp_path):
    files = make_identity(tmp_path, key=ec.generate_private_key(ec.SECP256R1()), name="ec")
    key = load_signing_key(str(files["p12"]), PASSWORD)
    assert key.key_algorithm == "ecdsa"
    sig = key.sign_raw(b"data", "sha256")
    x509.load_pem_x509_certificate(files["cert"].read_bytes()).public_key().verify(
        sig, b"data", ec.ECDSA(hashes.SHA256()))


def test_wrong_password_is_one_clean_line(ident):
    with pytest.raises(KeyLoadError) as err:
        load_signing_key(str(ident["p12"]), b"wrong")
    msg = str(err.value)
    assert "wrong password" in msg and "\n" not in msg and "wrong" in msg
    assert "correct horse" not in msg


def test_missing_file(tmp_path):
    with pytest.raises(KeyLoadError, match="not found"):
        load_signing_key(str(tmp_path / "nope.p12"), PASSWORD)


def test_rsa_1024_refused(tmp_path):
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - must be refused
    files = make_identity(tmp_path, key=weak, name="weak")
    with pytest.raises(KeyLoadError, match="1024 bits is too weak"):
        load_signing_key(str(files["p12"]), PASSWORD)


@pytest.mark.parametrize("digest", ["sha1", "SHA-1", "md5"])
def test_sha1_refused(ident, digest):
    key = load_signing_key(str(ident["p12"]), PASSWORD)
    with pytest.raises(SigningError, match="too weak"):
        key.sign_raw(b"x", digest)
    with pytest.raises(SigningError, match="too weak"):
        key.signer.sign_raw(b"x", digest)


def test_key_password_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("SEAL_PW", "from-env")
    assert key_password(None, "SEAL_PW") == b"from-env"
    (tmp_path / "pw.txt").write_text("from-file\n")
    cfg = SigningConfig(key="seal.p12", key_password_file="pw.txt", key_password_env="SEAL_PW")
    assert key_password(cfg, None, resolve=lambda p: tmp_path / p) == b"from-file"
    assert key_password(SigningConfig(key_password_env="SEAL_PW"), None) == b"from-env"
    with pytest.raises(KeyLoadError, match="NOT_SET"):
        key_password(None, "NOT_SET")
    monkeypatch.setattr(sys, "stdin", open(os.devnull))  # noqa: SIM115 - not a terminal
    with pytest.raises(KeyLoadError, match="--key-password-env"):
        key_password(None, None)


def test_pkcs11_uri_parsing():
    uri = parse_pkcs11_uri("pkcs11:token=my%20seal;object=org-seal;id=%01%02"
                           "?module-path=/usr/lib/x.so&pin-source=env:PIN")
    assert uri.path["token"] == "my seal" and uri.key_id == b"\x01\x02"
    assert uri.query == {"module-path": "/usr/lib/x.so", "pin-source": "env:PIN"}
    with pytest.raises(KeyLoadError, match="unsupported"):
        parse_pkcs11_uri("pkcs11:token=a;object=b?bogus=1")
    with pytest.raises(KeyLoadError, match="object="):
        parse_pkcs11_uri("pkcs11:token=a")


# --- SoftHSM2 ------------------------------------------------------------------------------------

needs_softhsm = pytest.mark.skipif(
    not (shutil.which("softhsm2-util") and shutil.which("pkcs11-tool") and Path(SOFTHSM_MODULE).exists()),
    reason="softhsm2 / pkcs11-tool (opensc) not installed",
)


@pytest.fixture(scope="module")
def softhsm(tmp_path_factory, ident):
    """A SoftHSM2 token 'seal' in a private SOFTHSM2_CONF holding the test key and certificate."""
    d = tmp_path_factory.mktemp("softhsm")
    (d / "tokens").mkdir()
    conf = d / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {d / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "seal", "--pin", "1234",
                    "--so-pin", "5678"], env=env, check=True, capture_output=True)
    for path, kind in ((ident["key_der"], "privkey"), (ident["cert_der"], "cert")):
        subprocess.run(["pkcs11-tool", "--module", SOFTHSM_MODULE, "--token-label", "seal", "--login",
                        "--pin", "1234", "--write-object", str(path), "--type", kind, "--label", "org-seal",
                        "--id", "01"], env=env, check=True, capture_output=True)
    return env


URI = f"pkcs11:token=seal;object=org-seal?module-path={SOFTHSM_MODULE}&pin-source=env:SEAL_PIN"

_PKCS11_SCRIPT = """
import sys
from gateway.signing.keys import load_signing_key
from gateway.errors import GatewayError
try:
    key = load_signing_key(sys.argv[1], None)
except GatewayError as exc:
    print("ERROR", exc)
    sys.exit(2)
sys.stdout.buffer.write(key.sign_raw(open(sys.argv[2], "rb").read(), "sha256"))
"""


@needs_softhsm
def test_pkcs11_signature_verified_by_openssl(softhsm, ident, tmp_path):
    data = tmp_path / "data.txt"
    data.write_bytes(b"signed on a token\n")
    run = subprocess.run([sys.executable, "-c", _PKCS11_SCRIPT, URI, str(data)], capture_output=True,
                         env={**softhsm, "SEAL_PIN": "1234"}, check=True)
    (tmp_path / "sig.bin").write_bytes(run.stdout)
    pub = tmp_path / "pub.pem"
    subprocess.run(["openssl", "x509", "-in", str(ident["cert"]), "-pubkey", "-noout", "-out", str(pub)],
                   check=True)
    check = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(pub), "-signature",
                            str(tmp_path / "sig.bin"), str(data)], capture_output=True, text=True)
    assert "Verified OK" in check.stdout


@needs_softhsm
def test_pkcs11_wrong_pin_clean_error(softhsm, tmp_path):
    data = tmp_path / "d"
    data.write_bytes(b"x")
    run = subprocess.run([sys.executable, "-c", _PKCS11_SCRIPT, URI, str(data)], capture_output=True,
                         text=True, env={**softhsm, "SEAL_PIN": "9999"})
    assert run.returncode == 2
    assert run.stdout.strip() == "ERROR pkcs11:token=seal;object=org-seal: wrong PIN"
    assert "9999" not in run.stdout + run.stderr


@needs_softhsm
def test_pkcs11_unknown_object(softhsm, tmp_path):
    data = tmp_path / "d"
    data.write_bytes(b"x")
    run = subprocess.run([sys.executable, "-c", _PKCS11_SCRIPT, URI.replace("org-seal", "other"), str(data)],
                         capture_output=True, text=True, env={**softhsm, "SEAL_PIN": "1234"})
    assert run.returncode == 2 and "not found on the token" in run.stdout
