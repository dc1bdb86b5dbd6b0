"""IIT `Key-6.dat`: the old IIT store and the PBES2 form (a PKCS#8 EncryptedPrivateKeyInfo).

Old store (OID 1.3.6.1.4.1.19398.1.1.1.2):
    SEQUENCE { SEQUENCE { OID, SEQUENCE { mac OCTET STRING (4), pad OCTET STRING (< 8) } },
               data OCTET STRING }
data || pad is decrypted with GOST 28147 ECB (DKE No.1) under the IIT password hash and cut back
to the PrivateKeyInfo's own length. Like the known implementations the 4-byte MAC is not checked:
a wrong password shows as a plaintext that is not a key.

PBES2: PBKDF2 (HMAC-GOST34.311, salt, iterations) and GOST 28147 CFB with the IV and the S-box of
the cipher parameters.
"""

from __future__ import annotations

from asn1crypto import core

from gateway.crypto.ua.containers.gost_modes import Gost28147, iit_password_key, pbkdf2_gost34311
from gateway.crypto.ua.dstu4145 import DSTUError

IIT_STORE = "1.3.6.1.4.1.19398.1.1.1.2"
PBES2 = "1.2.840.113549.1.5.13"
PBKDF2 = "1.2.840.113549.1.5.12"
HMAC_GOST34311 = "1.2.804.2.1.1.1.1.1.2"
GOST28147_CFB = "1.2.804.2.1.1.1.1.1.1.3"
#: PBKDF2 iteration counts accepted (a huge count from a hostile file would stall the process)
MAX_ITERATIONS = 100_000


class ContainerError(DSTUError):
    """A key container cannot be opened; the message names the problem, never a secret."""


class WrongPassword(ContainerError):
    """Decryption gave no key: the password is wrong (or the data damaged)."""


class _IITParams(core.Sequence):
    _fields = [("mac", core.OctetString), ("pad", core.OctetString, {"optional": True})]


class _IITHeader(core.Sequence):
    _fields = [("type", core.ObjectIdentifier), ("params", _IITParams)]


class IITStore(core.Sequence):
    _fields = [("header", _IITHeader), ("data", core.OctetString)]


class _AlgorithmAny(core.Sequence):
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", core.Any, {"optional": True})]


class _PBKDF2Params(core.Sequence):
    _fields = [("salt", core.OctetString), ("iterations", core.Integer),
               ("key_length", core.Integer, {"optional": True}), ("prf", _AlgorithmAny)]


class _CFBParams(core.Sequence):
    _fields = [("iv", core.OctetString), ("dke", core.OctetString)]


class _PBES2Params(core.Sequence):
    _fields = [("kdf", _AlgorithmAny), ("cipher", _AlgorithmAny)]


class EncryptedKeyInfo(core.Sequence):
    _fields = [("algorithm", _AlgorithmAny), ("data", core.OctetString)]


def _der_length(data: bytes) -> int:
    """The length of the DER element at the start of `data` (a plaintext's own length)."""
    if len(data) < 2 or data[0] != 0x30:
        raise WrongPassword("wrong password")
    first = data[1]
    if first < 0x80:
        return 2 + first
    n = first & 0x7F
    if not 0 < n <= 3 or len(data) < 2 + n:
        raise WrongPassword("wrong password")
    return 2 + n + int.from_bytes(data[2:2 + n], "big")


def trim_der(plain: bytes) -> bytes:
    """The DER element at the start of a decrypted block (block ciphers and writers pad)."""
    size = _der_length(plain)
    if size > len(plain):
        raise WrongPassword("wrong password")
    return plain[:size]


def is_iit_store(data: bytes) -> bool:
    try:
        return IITStore.load(data, strict=True)["header"]["type"].dotted == IIT_STORE
    except (ValueError, TypeError, KeyError):
        return False


def decrypt_iit_store(data: bytes, password: bytes) -> bytes:
    """The PrivateKeyInfo DER of an old IIT store (WrongPassword when it does not decrypt to one)."""
    try:
        store = IITStore.load(data, strict=True)
        params = store["header"]["params"]
        mac = params["mac"].native
        pad = params["pad"].native or b""
        body = store["data"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise ContainerError(f"damaged IIT key store ({type(exc).__name__})") from None
    if len(mac) != 4 or len(pad) >= 8 or (len(body) + len(pad)) % 8:
        raise ContainerError("damaged IIT key store (bad padding)")
    cipher = Gost28147(iit_password_key(password))
    return trim_der(cipher.ecb_decrypt(body + pad))


def is_pbes2(data: bytes) -> bool:
    try:
        return EncryptedKeyInfo.load(data, strict=True)["algorithm"]["algorithm"].dotted == PBES2
    except (ValueError, TypeError, KeyError):
        return False


def decrypt_pbes2(info: EncryptedKeyInfo, password: bytes) -> bytes:
    """Decrypt a PBES2 (PBKDF2 HMAC-GOST34.311, GOST 28147 CFB) EncryptedPrivateKeyInfo."""
    try:
        algorithm = info["algorithm"]
        if algorithm["algorithm"].dotted != PBES2:
            raise ContainerError(f"unsupported key encryption {algorithm['algorithm'].dotted}")
        params = _PBES2Params.load(algorithm["parameters"].dump())
        kdf, cipher = params["kdf"], params["cipher"]
        if kdf["algorithm"].dotted != PBKDF2:
            raise ContainerError(f"unsupported key derivation {kdf['algorithm'].dotted}")
        kdf_params = _PBKDF2Params.load(kdf["parameters"].dump())
        prf = kdf_params["prf"]["algorithm"].dotted
        if prf != HMAC_GOST34311:
            raise ContainerError(f"unsupported PBKDF2 function {prf} (only HMAC-GOST34.311)")
        if cipher["algorithm"].dotted != GOST28147_CFB:
            raise ContainerError(f"unsupported key cipher {cipher['algorithm'].dotted} "
                                 "(only GOST 28147 CFB)")
        cfb = _CFBParams.load(cipher["parameters"].dump())
        salt, iterations = kdf_params["salt"].native, kdf_params["iterations"].native
        iv, dke = cfb["iv"].native, cfb["dke"].native
        body = info["data"].native
    except ContainerError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ContainerError(f"damaged encrypted key ({type(exc).__name__})") from None
    if not 0 < iterations <= MAX_ITERATIONS:
        raise ContainerError(f"unsupported PBKDF2 iteration count {iterations}")
    if len(iv) != 8 or len(dke) != 64:
        raise ContainerError("damaged encrypted key (IV or S-box of a wrong size)")
    key = pbkdf2_gost34311(password, salt, iterations)
    return trim_der(Gost28147(key, dke).cfb_decrypt(iv, body))


def decrypt_pbes2_der(data: bytes, password: bytes) -> bytes:
    try:
        info = EncryptedKeyInfo.load(data, strict=True)
    except (ValueError, TypeError) as exc:
        raise ContainerError(f"damaged encrypted key ({type(exc).__name__})") from None
    return decrypt_pbes2(info, password)
