"""PKCS#11 tokens and DSTU 4145: the Ukrainian vendor mechanisms, the choice among them, the token
listing, and the clear refusal of a token that holds a DSTU key but cannot sign DSTU (SoftHSM2)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pkcs11
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from pkcs11 import Attribute, KeyType, Mechanism
from pkcs11._pkcs11 import MechanismWithParam
from test_ua_keys_support import certificate_for

from gateway.crypto.ua.curves import curve_by_m
from gateway.crypto.ua.dstu4145 import generate_private_key
from gateway.errors import SigningError
from gateway.signing.pkcs11 import (
    CKK_DSTU4145,
    CKM_DSTU4145,
    CKM_DSTU4145_WITH_GOST34311,
    CKM_DSTU4145_WITH_KUPYNA256,
    attribute_mapper,
    can_sign_dstu,
    mechanism_name,
    select_dstu_mechanism,
    vendor_mechanism,
)

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
#: what an Алмаз-1К token lists (ua-pki.md): DSTU 4145 raw and with GOST 34.311
ALMAZ = [0x80420031, 0x80420032, int(Mechanism.SHA256)]


def test_vendor_mechanism_values():
    assert CKM_DSTU4145 == 0x80420031 and CKM_DSTU4145_WITH_GOST34311 == 0x80420032
    assert CKM_DSTU4145_WITH_KUPYNA256 == 0x80420033
    assert mechanism_name(0x80420032) == "CKM_DSTU4145_WITH_GOST34311"
    assert mechanism_name(int(Mechanism.ECDSA)) == "CKM_ECDSA"
    assert mechanism_name(0x80991234) == "0x80991234"


def test_vendor_mechanisms_pass_python_pkcs11s_checks():
    """python-pkcs11 refuses plain ints as mechanisms; the vendor pseudo-member is accepted."""
    with pytest.raises(pkcs11.exceptions.ArgumentsBad):
        MechanismWithParam(None, {}, CKM_DSTU4145)
    mechanism = vendor_mechanism(CKM_DSTU4145_WITH_GOST34311)
    assert isinstance(mechanism, Mechanism) and int(mechanism) == 0x80420032
    assert repr(mechanism) == "<Mechanism.DSTU4145_WITH_GOST34311>"
    assert MechanismWithParam(None, {}, mechanism) is not None


def test_dstu_key_type_is_kept_as_a_number():
    """python-pkcs11's KeyType enum has no CKK_DSTU4145: the gateway's mapper keeps the number."""
    pack, unpack = attribute_mapper().attribute_types[Attribute.KEY_TYPE]
    assert unpack(pack(CKK_DSTU4145)) == 0x80420131
    assert unpack(pack(KeyType.EC)) is KeyType.EC


def test_mechanism_selection():
    assert select_dstu_mechanism(ALMAZ, "gost34311") == (CKM_DSTU4145_WITH_GOST34311, True)
    assert select_dstu_mechanism(ALMAZ, "kupyna256") == (CKM_DSTU4145, False)  # hashed here
    assert select_dstu_mechanism([CKM_DSTU4145_WITH_KUPYNA256], "kupyna256") == (CKM_DSTU4145_WITH_KUPYNA256,
                                                                                  True)
    with pytest.raises(SigningError, match=r"cannot sign DSTU 4145 with gost34311 \(it offers "
                                           r"CKM_DSTU4145_WITH_KUPYNA256\)"):
        select_dstu_mechanism([CKM_DSTU4145_WITH_KUPYNA256], "gost34311")
    softhsm_like = [int(Mechanism.ECDSA), int(Mechanism.RSA_PKCS), int(Mechanism.SHA256_RSA_PKCS)]
    assert not can_sign_dstu(softhsm_like) and can_sign_dstu(ALMAZ)
    with pytest.raises(SigningError, match=r"^the token cannot sign with DSTU 4145 \(it offers none of"):
        select_dstu_mechanism(softhsm_like, "gost34311")


needs_softhsm = pytest.mark.skipif(
    not (shutil.which("softhsm2-util") and shutil.which("pkcs11-tool") and Path(SOFTHSM_MODULE).exists()),
    reason="softhsm2 / pkcs11-tool (opensc) not installed",
)


@pytest.fixture(scope="module")
def token(tmp_path_factory):
    """A SoftHSM2 token 'ua-seal' holding an EC key labelled 'seal' with a DSTU 4145 certificate of
    the same label (what a DSTU token looks like to a module that cannot sign DSTU)."""
    d = tmp_path_factory.mktemp("softhsm-ua")
    (d / "tokens").mkdir()
    conf = d / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {d / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "ua-seal", "--pin", "1234",
                    "--so-pin", "5678"], env=env, check=True, capture_output=True)
    key_der = d / "key.der"
    key_der.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        Encoding.DER, PrivateFormat.PKCS8, NoEncryption()))
    cert_der = d / "cert.der"
    cert_der.write_bytes(certificate_for(generate_private_key(curve_by_m(257)), name="Token seal").dump())
    for path, kind in ((key_der, "privkey"), (cert_der, "cert")):
        subprocess.run(["pkcs11-tool", "--module", SOFTHSM_MODULE, "--token-label", "ua-seal", "--login",
                        "--pin", "1234", "--write-object", str(path), "--type", kind, "--label", "seal",
                        "--id", "0a"], env=env, check=True, capture_output=True)
    return env


_SCRIPT = """
import json, sys
from gateway.errors import GatewayError
from gateway.signing.keys import load_signing_key
from gateway.signing.pkcs11 import list_tokens
tokens = list_tokens(sys.argv[1], pin="1234")
print(json.dumps({"lines": [line for t in tokens for line in t.lines()], "dstu": [t.dstu for t in tokens],
                  "keys": [[k.key_type, k.certificate] for t in tokens for k in t.keys]}))
try:
    load_signing_key(sys.argv[2], None)
except GatewayError as exc:
    print("ERROR", exc)
"""


@needs_softhsm
def test_softhsm_token_listed_and_its_dstu_key_refused_clearly(token):
    uri = f"pkcs11:token=ua-seal;object=seal?module-path={SOFTHSM_MODULE}&pin-value=1234"
    run = subprocess.run([sys.executable, "-c", _SCRIPT, SOFTHSM_MODULE, uri], capture_output=True, text=True,
                         env=token, timeout=120)
    assert run.returncode == 0, run.stderr
    listing, error = run.stdout.strip().splitlines()
    report = json.loads(listing)
    assert report["dstu"] == [False]
    subject = "Organization Identifier: NTRUA-04056612, Common Name: Token seal, Country: UA"
    assert report["keys"] == [["EC", subject]]
    lines = report["lines"]
    assert lines[0].startswith("slot ") and "token 'ua-seal' (SoftHSM project SoftHSM v2" in lines[0]
    assert lines[1] == ("  DSTU 4145: cannot sign with DSTU 4145 (it offers none of the vendor mechanisms "
                        "CKM_DSTU4145 / CKM_DSTU4145_WITH_GOST34311 / CKM_DSTU4145_WITH_KUPYNA*)")
    assert "CKM_ECDSA" in lines[2]
    assert error == ("ERROR pkcs11:token=ua-seal;object=seal: the token holds a DSTU 4145 key but cannot "
                     "sign with DSTU 4145 (it offers none of the vendor mechanisms CKM_DSTU4145 / "
                     "CKM_DSTU4145_WITH_GOST34311 / CKM_DSTU4145_WITH_KUPYNA*)")
