"""GOST 34.311-95 and Kupyna (DSTU 7564:2014): known answers and independent implementations."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_ua_support import dstu_core, gost89_hashes

from gateway.crypto.ua.gost28147 import DKE1_PACKED, DKE1_UNPACKED, pack_dke, unpack_dke
from gateway.crypto.ua.gost34311 import GOST34311, gost34311
from gateway.crypto.ua.kupyna import Kupyna

# --- GOST 34.311-95 --------------------------------------------------------------------------

#: source: npm gost89 test suite (test/test-hash.js), DKE No.1 S-box
GOST_KATS = [
    (b"12345678901234567890123456789011", "7686f3f4b113aadc97bca9ea054f41821f0676c5c28ffb987e41797a568e1ed4"),
    (bytes(range(32)), "811cb06a8ee423182d9cc9d281f783908f4cfbaf47a68be8415d3499674a3063"),
    (b"123123", "34d4da2c04e9c1ceb933282069c864617d94ed7cc5c0a9840c0c1a99629df637"),
    (b"IGNORE THIS FILE. This file does nothing, contains no useful data, and might go away in future "
     b"releases.  Do not depend on this file or its contents.",
     "e9312d13d0e0d39aa4a00c77dcfb661883dd0ed8218af48a146168fc60f014dc"),
]


@pytest.mark.parametrize(("message", "expected"), GOST_KATS)
def test_gost34311_known_answers(message: bytes, expected: str) -> None:
    assert gost34311(message).hexdigest() == expected


def test_dke_in_certificates_is_dke1() -> None:
    # the 64-byte DKE that Ukrainian certificates carry in their DSTU 4145 parameters
    assert DKE1_PACKED.hex().upper() == (
        "A9D6EB45F13C708280C4967B231F5EADF658EBA4C037291D38D96BF025CA4E17"
        "F8E9720DC615B43A28975F0BC1DEA36438B564EA2C179FD0123E6DB8FAC57904")
    assert unpack_dke(DKE1_PACKED) == DKE1_UNPACKED
    assert GOST34311(b"abc", sbox=DKE1_PACKED).digest() == gost34311(b"abc").digest()


def test_other_sbox_changes_the_digest() -> None:
    rows = bytearray(DKE1_UNPACKED)
    rows[0:16] = rows[16:32]
    rows[16:32] = DKE1_UNPACKED[0:16]
    other = pack_dke(bytes(rows))
    assert GOST34311(b"abc", sbox=other).digest() != gost34311(b"abc").digest()


def test_gost34311_matches_npm_gost89() -> None:
    sizes = [0, 1, 31, 32, 33, 63, 64, 65, 100, 1000]
    messages = [os.urandom(n) for n in sizes]
    assert [gost34311(m).digest() for m in messages] == gost89_hashes(messages)


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=4))
def test_gost34311_streaming_equals_one_shot(data: bytes, cuts: list[int]) -> None:
    h = GOST34311()
    start = 0
    for cut in sorted(c for c in cuts if c <= len(data)):
        h.update(data[start:cut])
        start = cut
    copy = h.copy()
    h.update(data[start:])
    copy.update(data[start:])
    assert h.digest() == copy.digest() == gost34311(data).digest()


# --- Kupyna ---------------------------------------------------------------------------------

TEST = bytes(range(256))
#: source: DSTU 7564:2014 examples as printed by the reference implementation (Oliynykov et al.,
#: Kupyna-reference main.c); messages are prefixes of 00 01 02 ... FF, or the byte FF
KUPYNA_KATS = [
    (256, TEST[:64], "08F4EE6F1BE6903B324C4E27990CB24EF69DD58DBE84813EE0A52F6631239875"),
    (256, TEST[:128], "0A9474E645A7D25E255E9E89FFF42EC7EB31349007059284F0B182E452BDA882"),
    (256, TEST, "D305A32B963D149DC765F68594505D4077024F836C1BF03806E1624CE176C08F"),
    (256, b"\xff", "EA7677CA4526555680441C117982EA14059EA6D0D7124D6ECDB3DEEC49E890F4"),
    (256, TEST[:95], "1075C8B0CB910F116BDA5FA1F19C29CF8ECC75CAFF7208BA2994B68FC56E8D16"),
    (256, b"", "CD5101D1CCDF0D1D1F4ADA56E888CD724CA1A0838A3521E7131D4FB78D0F5EB6"),
    (512, TEST[:64], "3813E2109118CDFB5A6D5E72F7208DCCC80A2DFB3AFDFB02F46992B5EDBE536B"
                     "3560DD1D7E29C6F53978AF58B444E37BA685C0DD910533BA5D78EFFFC13DE62A"),
    (512, TEST[:128], "76ED1AC28B1D0143013FFA87213B4090B356441263C13E03FA060A8CADA32B97"
                      "9635657F256B15D5FCA4A174DE029F0B1B4387C878FCC1C00E8705D783FD7FFE"),
    (512, TEST, "0DD03D7350C409CB3C29C25893A0724F6B133FA8B9EB90A64D1A8FA93B565566"
                "11EB187D715A956B107E3BFC76482298133A9CE8CBC0BD5E1436A5B197284F7E"),
    (512, b"\xff", "871B18CF754B72740307A97B449ABEB32B64444CC0D5A4D65830AE5456837A72"
                   "D8458F12C8F06C98C616ABE11897F86263B5CB77C420FB375374BEC52B6D0292"),
    (512, TEST[:192], "B189BFE987F682F5F167F0D7FA565330E126B6E592B1C55D44299064EF95B1A5"
                      "7F3C2D0ECF17869D1D199EBBD02E8857FB8ADD67A8C31F56CD82C016CF743121"),
    (512, b"", "656B2F4CD71462388B64A37043EA55DBE445D452AECD46C3298343314EF04019"
               "BCFA3F04265A9857F91BE91FCE197096187CEDA78C9C1C021C294A0689198538"),
    (384, TEST[:95], "D9021692D84E5175735654846BA751E6D0ED0FAC36DFBC0841287DCB0B5584C7"
                     "5016C3DECC2A6E47C50B2F3811E351B8"),
]


@pytest.mark.parametrize(("bits", "message", "expected"), KUPYNA_KATS)
def test_kupyna_known_answers(bits: int, message: bytes, expected: str) -> None:
    assert Kupyna(bits, message).hexdigest().upper() == expected


@settings(max_examples=15, deadline=None)
@given(st.binary(max_size=300))
def test_kupyna_matches_dstu_core(data: bytes) -> None:
    oracle = dstu_core()
    assert Kupyna(256, data).digest() == oracle.kupyna256(data)
    assert Kupyna(512, data).digest() == oracle.kupyna512(data)


@settings(max_examples=15, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 300), st.sampled_from([256, 384, 512]))
def test_kupyna_streaming(data: bytes, cut: int, bits: int) -> None:
    h = Kupyna(bits)
    h.update(data[:cut])
    snapshot = h.copy()
    h.update(data[cut:])
    snapshot.update(data[cut:])
    assert h.digest() == snapshot.digest() == Kupyna(bits, data).digest()
