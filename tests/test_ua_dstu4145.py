"""DSTU 4145-2002: the named curves, the standard's examples, round trips, encodings, oracle."""

from __future__ import annotations

import pytest
from asn1crypto import core
from asn1crypto import keys as asn1_keys
from hypothesis import given, settings
from hypothesis import strategies as st
from test_ua_support import dstu_core

from gateway.crypto.ua import dstu4145 as D
from gateway.crypto.ua.asn1 import DSTU4145Params
from gateway.crypto.ua.curves import all_curve_oids, curve_by_m, named_curve
from gateway.crypto.ua.ec import Curve
from gateway.crypto.ua.gf2m import Field
from gateway.crypto.ua.gost28147 import DKE1_PACKED
from gateway.crypto.ua.gost34311 import gost34311
from gateway.crypto.ua.keys import (
    load_private_key,
    load_public_key,
    private_key_to_pkcs8,
    public_key_info,
)
from gateway.crypto.ua.kupyna import Kupyna
from gateway.crypto.ua.verify import verify_signature

CURVE_MS = [163, 167, 173, 179, 191, 233, 257, 307, 367, 431]


@pytest.mark.parametrize("oid", all_curve_oids())
def test_named_curve_is_sound(oid: str) -> None:
    curve = named_curve(oid)
    assert curve.on_curve(curve.g)
    assert curve.mul(curve.n, curve.g) is None
    assert curve.mul(curve.n - 1, curve.g) == curve.neg(curve.g)
    # the fixed-base table agrees with the generic multiplication
    k = 0x1234567890ABCDEF1234567890ABCDEF % curve.n
    assert curve.mul_base(k) == curve.mul(k, curve.g) == curve.mul_slow(k, curve.g)


def test_curve_sizes() -> None:
    assert [named_curve(oid).m for oid in all_curve_oids()] == CURVE_MS


# Known answers. Source: DSTU 4145-2002 Annex B (example B.1, m = 163, with the annex's own base point),
# the same values in Bouncy Castle's DSTU4145Test (test163, test173, test283, test431, testTruncation).
# `hash_int` is the hash value as the annex prints it (an integer); e is the signing nonce.
KATS = [
    dict(m=163, ks=(3, 6, 7), a=1, b="5FF6108462A2DC8210AB403925E638A19C1455D21",
         px="72d867f93a93ac27df9ff01affe74885c8c540420", py="0224a9c3947852b97c5599d5f4ab81122adc3fd9b",
         n="400000000000000000002BEC12BE2262D39BCF14D", d="183f60fdf7951ff47d67193f8d073790c1c9b5a3e",
         e="01025e40bd97db012b7a1d79de8e12932d247f61c6",
         hash_int="09c9c44277910c9aaee486883a2eb95b7180166ddf73532eeb76edaef52247ff",
         r="274ea2c0caa014a0d80a424f59ade7a93068d08a7", s="2100d86957331832b8e8c230f5bd6a332b3615aca"),
    dict(m=173, ks=(1, 2, 10), a=0, b="108576C80499DB2FC16EDDF6853BBB278F6B6FB437D9",
         px="BE6628EC3E67A91A4E470894FBA72B52C515F8AEE9", py="D9DEEDF655CF5412313C11CA566CDC71F4DA57DB45C",
         n="800000000000000000000189B4E67606E3825BB2831", d="955CD7E344303D1034E66933DC21C8044D42ADB8",
         e="0000137449348C1249971759D99C252FFE1E14D8B31F",
         hash_int="0137187EA862117EF1484289470ECAC802C5A651FDA8",
         r="13ae89746386709cdbd237cc5ec20ca30004a82ead8", s="3597912cdd093b3e711ccb74a79d3c4ab4c7cccdc60"),
    dict(m=283, ks=(5, 7, 12), a=1,
         b="27B680AC8B8596DA5A4AF8A19A0303FCA97FD7645309FA2A581485AF6263E313B79A2F5",
         px="4D95820ACE761110824CE425C8089129487389B7F0E0A9D043DDC0BB0A4CC9EB25",
         py="954C9C4029B2C62DE35C2B9C2A164984BF1101951E3A68ED03DF234DDE5BB2013152F2",
         n="3FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEF90399660FC938A90165B042A7CEFADB307",
         d="B844EEAF15213E4BAD4FB84796D68F2448DB8EB7B4621EC0D51929874892C43E",
         e="245383CB3AD41BF30F5F7E8FBA858509B2D5558C92D539A6D994BFA98BC6940E",
         hash_int="0137187EA862117EF1484289470ECAC802C5A651FDA8",
         r="12a5edcc38d92208ff23036d75b000c7e4bc0f9af2d40b35f15d6fd15e01234e67781a8",
         s="2de0775577f75b643cf5afc80d4fe10b21100690f17e2cab7bdc9b50ec87c5727aeb515"),
    dict(m=431, ks=(1, 3, 5), a=1,
         b="3CE10490F6A708FC26DFE8C3D27C4F94E690134D5BFF988D8D28AAEAEDE975936C66BAC536B18AE2DC312CA493117DAA469C640CAF3",
         px="9548BCDF314CEEEAF099C780FFEFBF93F9FE5B5F55547603C9C8FC1A2774170882B3BE35E892C6D4296B8DEA282EC30FB344272791",
         py="4C6CBD7C62A8EEEFDE17A8B5E196E49A22CE6DE128ABD9FBD81FA4411AD5A38E2A810BEDE09A7C6226BCDCB4A4A5DA37B4725E00AA74",
         n="3FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFBA3175458009A8C0A724F02F81AA8A1FCBAF80D90C7A95110504CF",
         d="D0F97354E314191FD773E2404F478C8AEE0FF5109F39E6F37D1FEEC8B2ED1691D84C9882CC729E716A71CC013F66CAC60E29E22C",
         e="C4224DBBD800988DBAA39DE838294C345CDA5F5929D1174AA8D9340A5E79D10ACADE6B53CF873E7301A3871C2073AD75AB530457",
         hash_int="0137187EA862117EF1484289470ECAC802C5A651FDA8",
         r="1911fefb1f494bebcf8dffdf5276946ff9c9f662192ee18c718db47310a439c784fe07577b16e1edbe16179876e0792a634f1c9c3a2e",
         s="3852170ee801c2083c52f1ea77b987a5432acecd9c654f064e87bf179e0a397151edbca430082e43bd38a67b55424b5bbc7f2713f620"),
    # truncation: a 208-bit all-ones hash on the 173-bit field
    dict(m=173, ks=(1, 2, 10), a=0, b="108576C80499DB2FC16EDDF6853BBB278F6B6FB437D9",
         px="BE6628EC3E67A91A4E470894FBA72B52C515F8AEE9", py="D9DEEDF655CF5412313C11CA566CDC71F4DA57DB45C",
         n="800000000000000000000189B4E67606E3825BB2831", d="955CD7E344303D1034E66933DC21C8044D42ADB8",
         e="C4224DBBD800988DBAA39DE838294C345CDA5F59", hash_int="FF" * 26,
         r="6bb5c0cb82e5067485458ebfe81025f03b687c63a27", s="34d6b1868969b86ecf934167c8fe352c63d1074bd"),
]


@pytest.mark.parametrize("kat", KATS, ids=lambda k: f"m{k['m']}-{k['hash_int'][:4]}")
def test_known_answers(kat: dict) -> None:
    curve = Curve(Field(kat["m"], kat["ks"]), kat["a"], int(kat["b"], 16), int(kat["n"], 16),
                  int(kat["px"], 16), int(kat["py"], 16))
    assert curve.on_curve(curve.g)
    digest = bytes.fromhex(kat["hash_int"])[::-1]  # the hash is read as a little-endian integer
    d = int(kat["d"], 16)
    expected = (int(kat["r"], 16), int(kat["s"], 16))
    assert D.sign(curve, d, digest, nonce=int(kat["e"], 16)) == expected
    q = curve.neg(curve.mul(d, curve.g))
    assert D.verify(curve, q, digest, *expected)
    assert not D.verify(curve, q, digest, expected[0], expected[1] ^ 1)
    assert not D.verify(curve, q, bytes([digest[0] ^ 1]) + digest[1:], *expected)


@pytest.mark.parametrize("m", CURVE_MS)
@settings(max_examples=3, deadline=None)
@given(message=st.binary(max_size=64), little_endian=st.booleans())
def test_sign_verify_round_trip(m: int, message: bytes, little_endian: bool) -> None:
    curve = curve_by_m(m)
    key = D.generate_private_key(curve)
    digest = Kupyna(256, message).digest()
    r, s = key.sign(digest)
    pub = key.public_key()
    assert pub.verify(digest, r, s)
    encoded = D.encode_signature(curve, r, s, little_endian)
    assert D.decode_signature(encoded, little_endian) == (r, s)
    assert not pub.verify(Kupyna(256, message + b"x").digest(), r, s)
    assert not pub.verify(digest, r, (s + 1) % curve.n)
    point = D.decode_point(curve, D.encode_point(curve, pub.point, little_endian), little_endian)
    assert point == pub.point


def test_nonces_are_fresh() -> None:
    key = D.generate_private_key(curve_by_m(163))
    digest = bytes(32)
    assert len({key.sign(digest) for _ in range(5)}) == 5


def test_signature_encodings_differ_by_family() -> None:
    curve = curve_by_m(257)
    le = D.encode_signature(curve, 1, 2, True)
    be = D.encode_signature(curve, 1, 2, False)
    assert le[:32] == (1).to_bytes(32, "little") and le[32:] == (2).to_bytes(32, "little")
    assert be[:32] == (2).to_bytes(32, "big") and be[32:] == (1).to_bytes(32, "big")


@pytest.mark.parametrize("little_endian", [True, False])
def test_pkcs8_and_certificate_key_round_trip(little_endian: bool) -> None:
    key = D.generate_private_key(curve_by_m(257))
    loaded, le = load_private_key(private_key_to_pkcs8(key, little_endian=little_endian))
    assert le is little_endian and loaded.d == key.d and loaded.curve is key.curve
    info = public_key_info(key.public_key(), little_endian=little_endian)
    assert info.algorithm == ("dstu4145le" if little_endian else "dstu4145be")
    assert info.bit_size == 257
    assert load_public_key(type(info).load(info.dump())).key.point == key.public_point
    sig_oid = "1.2.804.2.1.1.1.1.3.1.1" if little_endian else "1.2.804.2.1.1.1.1.3.1.1.1.1"
    r, s = key.sign(gost34311(b"data").digest())
    sig = D.encode_signature(key.curve, r, s, little_endian)
    assert verify_signature(info, sig, b"data", "gost34311", sig_oid)
    assert not verify_signature(info, sig, b"datA", "gost34311", sig_oid)


def test_bad_keys_are_refused() -> None:
    curve = curve_by_m(257)
    with pytest.raises(D.DSTUError):
        D.decompress(curve, 0)
    with pytest.raises(D.DSTUError):
        D.decompress(curve, 1 << 300)
    with pytest.raises(D.DSTUError):
        load_private_key(b"\x30\x03\x02\x01\x00")
    with pytest.raises(D.DSTUError):
        D.decode_signature(b"\x01\x02\x03")


@pytest.mark.parametrize("m", [163, 257])
def test_dstu_core_oracle(m: int) -> None:
    """PyPI dstu-core signs with Kupyna-256 and a deterministic nonce; big-endian key, x||y, r||s (each
    as long as a field element) and the digest read big-endian. Its m=163 curve uses the Annex B
    base point."""
    oracle = dstu_core()
    prefix = "sign" if m == 163 else "sign257"
    keygen, vk, sign, verify = (getattr(oracle, f"{prefix}_{name}")
                                for name in ("keygen", "verifying_key", "message", "verify"))
    curve = curve_by_m(m)
    if m == 163:
        curve = Curve(curve.field, curve.a, curve.b, curve.n,
                      int("72d867f93a93ac27df9ff01affe74885c8c540420", 16),
                      int("0224a9c3947852b97c5599d5f4ab81122adc3fd9b", 16))
    size = (m + 7) // 8
    secret = keygen()
    d = int.from_bytes(secret, "big")
    q = curve.mul_base(curve.n - d)
    assert vk(secret) == q[0].to_bytes(size, "big") + q[1].to_bytes(size, "big")
    message = b"oracle message"
    digest = Kupyna(256, message).digest()[::-1]
    theirs = sign(secret, message)
    r, s = int.from_bytes(theirs[:size], "big"), int.from_bytes(theirs[size:], "big")
    assert D.verify(curve, q, digest, r, s)
    r2, s2 = D.sign(curve, d, digest)
    ours = r2.to_bytes(size, "big") + s2.to_bytes(size, "big")
    assert verify(vk(secret), message, ours)
    assert not verify(vk(secret), message + b"!", ours)


@pytest.mark.parametrize("m", [163, 257])
@pytest.mark.parametrize("little_endian", [True, False])
def test_explicit_parameters_as_in_certificates(m: int, little_endian: bool) -> None:
    """ECBinary parameters (field, a, b, n, compressed base point; octets in the OID's byte order) with
    the DKE S-box, as Ukrainian CAs write them: they resolve to the named curve."""
    curve = curve_by_m(m)
    order = "little" if little_endian else "big"
    size = (m + 7) // 8
    ks = curve.field.ks
    poly = {"trinomial": ks[0]} if len(ks) == 1 else {"pentanomial": {"k": ks[2], "j": ks[1], "l": ks[0]}}
    params = DSTU4145Params({
        "curve": {"ecbinary": {"f": {"m": m, "poly": poly}, "a": curve.a, "b": curve.b.to_bytes(size, order),
                               "n": curve.n, "bp": D.encode_point(curve, curve.g, little_endian)}},
        "dke": DKE1_PACKED,
    })
    key = D.generate_private_key(curve)
    oid = "1.2.804.2.1.1.1.1.3.1.1" if little_endian else "1.2.804.2.1.1.1.1.3.1.1.1.1"
    point = core.OctetString(D.encode_point(curve, key.public_point, little_endian)).dump()
    algorithm = {"algorithm": oid, "parameters": params}
    info = asn1_keys.PublicKeyInfo({"algorithm": algorithm, "public_key": point})
    loaded = load_public_key(asn1_keys.PublicKeyInfo.load(info.dump()))
    assert loaded.key.curve is curve  # explicit parameters of a named curve share its tables
    assert loaded.key.point == key.public_point
    assert loaded.dke == DKE1_PACKED and loaded.little_endian is little_endian
    assert info.bit_size == m


def test_explicit_parameters_of_an_unknown_curve_are_refused() -> None:
    """Unvalidated domain parameters (here: a changed order n) are not used for verification."""
    curve = curve_by_m(257)
    params = DSTU4145Params({
        "curve": {"ecbinary": {"f": {"m": 257, "poly": {"trinomial": 12}}, "a": curve.a,
                               "b": curve.b.to_bytes(33, "little"), "n": curve.n ^ 2,
                               "bp": D.encode_point(curve, curve.g, True)}},
    })
    key = D.generate_private_key(curve)
    point = core.OctetString(D.encode_point(curve, key.public_point, True)).dump()
    algorithm = {"algorithm": "1.2.804.2.1.1.1.1.3.1.1", "parameters": params}
    info = asn1_keys.PublicKeyInfo({"algorithm": algorithm, "public_key": point})
    with pytest.raises(D.DSTUError, match="not one of the standard's curves"):
        load_public_key(asn1_keys.PublicKeyInfo.load(info.dump()))
    r, s = key.sign(gost34311(b"m").digest())
    assert not verify_signature(info, D.encode_signature(curve, r, s), b"m", "gost34311",
                                "1.2.804.2.1.1.1.1.3.1.1")
