"""Ukrainian key containers on public vectors: IIT Key-6.dat (old store, PBES2), PKCS#12 with the
national MAC, PrivatBank JKS; the signing key picked and matched to its certificate; one-line errors."""

from __future__ import annotations

import pytest
from asn1crypto import pem
from test_ua_keys_support import (
    DATA,
    JKS,
    KEY6,
    PASSWORDS,
    PFX,
    STORE_A040,
    cfb_encrypt,
    opened,
    pbes2_container,
)

from gateway.crypto.ua.containers import (
    ContainerError,
    WrongPassword,
    open_container,
    password_candidates,
)
from gateway.crypto.ua.containers.gost_modes import Gost28147
from gateway.crypto.ua.containers.iit import decrypt_pbes2_der
from gateway.crypto.ua.containers.pkcs8 import keys_from_key_info
from gateway.crypto.ua.gost28147 import DKE1_UNPACKED, encrypt_block, round_tables
from gateway.crypto.ua.keys import load_public_key


def _le(d: int, m: int) -> str:
    return d.to_bytes((m + 7) // 8, "little").hex()


def test_gost28147_decryption_inverts_the_reference_encryption() -> None:
    key = bytes(range(32))
    cipher = Gost28147(key)
    block = bytes.fromhex("0123456789abcdef")
    reference = encrypt_block(tuple(int.from_bytes(key[i:i + 4], "little") for i in range(0, 32, 4)),
                              int.from_bytes(block, "little"), round_tables(DKE1_UNPACKED))
    assert cipher.encrypt_block(block) == reference.to_bytes(8, "little")
    assert cipher.decrypt_block(cipher.encrypt_block(block)) == block
    data = bytes(range(29))
    assert cipher.cfb_decrypt(b"\1" * 8, cfb_encrypt(cipher, b"\1" * 8, data)) == data


def test_old_iit_store_gives_two_keys_signing_key_first() -> None:
    container = opened(KEY6)
    assert container.kind == "iit" and not container.certificates
    (sign_key, le), (agreement, _) = container.keys
    assert le is True
    assert sign_key.curve.m == 257 and _le(sign_key.d, 257).startswith("77922e2f")
    assert agreement.curve.m == 431


def test_jks_holds_the_same_keys_and_a_key_agreement_certificate() -> None:
    jks, key6 = opened(JKS), opened(KEY6)
    assert jks.kind == "jks"
    assert [k.d for k, _ in jks.keys] == [k.d for k, _ in key6.keys]
    assert len(jks.certificates) == 3
    taxpayer = [c for c in jks.certificates if not c.ca]
    assert len(taxpayer) == 1 and taxpayer[0].key_usage_value.native == {"key_agreement"}
    assert load_public_key(taxpayer[0].public_key).key.point == jks.keys[1][0].public_point


def test_pfx_mac_and_pbes2_key_bags() -> None:
    """The MAC (HMAC-GOST34.311, PKCS#12 KDF) verifies and both PBES2 bags decrypt. Unlike the
    vectors' description says, this file holds two other keys than Key-6.dat / key.jks."""
    container = opened(PFX)
    assert container.kind == "pkcs12" and not container.certificates
    assert [k.curve.m for k, _ in container.keys] == [257, 431]
    assert container.keys[0][0].d != opened(KEY6).keys[0][0].d


def test_pbes2_store_decrypts_to_jkurwa_reference() -> None:
    """jkurwa's STORE_A040.dat decrypts exactly to its Key40A0.pem (padding cut, nothing more)."""
    plain = decrypt_pbes2_der(STORE_A040.read_bytes(), b"password")
    _kind, _headers, expected = pem.unarmor((DATA / "Key40A0.pem").read_bytes())
    assert plain == expected
    [(key, _le)] = keys_from_key_info(plain)
    assert key.curve.m == 257


def _key40a0() -> bytes:
    return pem.unarmor((DATA / "Key40A0.pem").read_bytes())[2]


def test_password_that_fails_as_utf8_is_tried_as_cp1251() -> None:
    text = "Пароль-ЦСК"
    assert password_candidates(text.encode()) == [text.encode(), text.encode("cp1251")]
    container = open_container(pbes2_container(_key40a0(), text.encode("cp1251")), text.encode())
    assert container.kind == "pbes2" and container.keys[0][0].curve.m == 257


@pytest.mark.parametrize(("path", "password", "message"), [
    (KEY6, b"tect5", "wrong password"),
    (JKS, b"654321", "wrong store password"),
    (PFX, b"testplat2022", "wrong password or damaged file (the PKCS#12 MAC does not verify)"),
])
def test_wrong_password_is_named(path, password, message) -> None:
    with pytest.raises(WrongPassword, match=r"^" + message.replace("(", r"\(").replace(")", r"\)")):
        open_container(path.read_bytes(), password, key_password=b"qwerty")


def test_wrong_jks_key_password() -> None:
    with pytest.raises(WrongPassword, match="^wrong key password for the Java key store entry$"):
        open_container(JKS.read_bytes(), PASSWORDS[JKS], key_password=b"qwertz")


@pytest.mark.parametrize("path", [KEY6, JKS, STORE_A040])
def test_truncated_container(path) -> None:
    data = path.read_bytes()
    with pytest.raises(ContainerError) as info:
        open_container(data[: len(data) // 2], b"password")
    assert "\n" not in str(info.value)
    assert "damaged" in str(info.value) or "wrong" in str(info.value) or "not a supported" in str(info.value)


def test_damaged_pfx_mac_and_oversized_and_unknown() -> None:
    data = bytearray(PFX.read_bytes())
    data[-40] ^= 1  # inside the MAC value
    with pytest.raises(WrongPassword, match="MAC does not verify"):
        open_container(bytes(data), PASSWORDS[PFX])
    with pytest.raises(ContainerError, match="^too large for a key container"):
        open_container(b"\0" * 300_000, b"x")
    with pytest.raises(ContainerError, match="^not a supported key container"):
        open_container(b"0\x03\x02\x01\x00", b"x")


def test_unsupported_variant_is_named() -> None:
    """A PBES2 file whose PRF is hmacWithSHA256 (not the national one)."""
    forged = pbes2_container(_key40a0(), b"password", prf="1.2.840.113549.2.9")
    with pytest.raises(ContainerError, match=r"^unsupported PBKDF2 function 1\.2\.840\.113549\.2\.9"):
        open_container(forged, b"password")
