"""GOST 28147-89 block cipher core (simple-substitution mode, one 64-bit block), as GOST 34.311-95 uses it.

Only encryption of single blocks is needed by the hash. The S-box is a parameter; the default is the
one fixed by DKE No.1 (ДКЕ №1, the "default Ukrainian" table also used by gost89 / UAPKI).

Blocks and key words are little-endian integers: a block is `n0 | n1 << 32`.
"""

from __future__ import annotations

from functools import lru_cache

#: DKE No.1 in the "unpacked" layout: 8 rows of 16 nibbles, row 0 substitutes the top nibble (k8)
DKE1_UNPACKED = bytes.fromhex(
    "0102030E060D0B080F0A0C050709000403080B0506040E0A020C0107090F0D00"
    "02080907050F000B0C010D0E0A0306040F080E090702000D0C0601050B04030A"
    "03080D09060B0F0002050C0A040E01070F0605080E0B0A040C0003070209010D"
    "08000C040906070B0203010F050E0A0D0A090D060E0B04050F01030C07000802"
)


def unpack_dke(packed: bytes) -> bytes:
    """The 64-byte packed DKE of DSTU 4145 parameters (as in certificates) -> 128-byte unpacked rows."""
    if len(packed) != 64:
        raise ValueError("a DKE S-box is 64 bytes")
    out = bytearray(128)
    for idx in range(0, 128, 2):
        ret = (112 - (idx & 0xF0)) | (idx & 0x0F)
        byte = packed[ret >> 1]
        out[idx], out[idx + 1] = byte >> 4, byte & 0x0F
    return bytes(out)


def pack_dke(unpacked: bytes) -> bytes:
    if len(unpacked) != 128:
        raise ValueError("an unpacked S-box is 128 nibbles")
    out = bytearray(64)
    for idx in range(0, 128, 2):
        ret = (112 - (idx & 0xF0)) | (idx & 0x0F)
        out[ret >> 1] = unpacked[idx] << 4 | unpacked[idx + 1]
    return bytes(out)


DKE1_PACKED = pack_dke(DKE1_UNPACKED)

M32 = 0xFFFFFFFF


@lru_cache(maxsize=8)
def round_tables(sbox: bytes = DKE1_UNPACKED) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Substitution of the low / high 16 bits followed by the 11-bit rotation (see encrypt_block)."""
    if len(sbox) != 128 or any(v > 15 for v in sbox):
        raise ValueError("bad GOST 28147 S-box")
    rows = [sbox[16 * i: 16 * i + 16] for i in range(8)]  # rows[0] = k8 (top nibble) ... rows[7] = k1

    def sub_rot(x: int, shift: int) -> int:
        v = 0
        for nib in range(4):
            pos = shift + 4 * nib
            v |= rows[7 - pos // 4][(x >> (4 * nib)) & 15] << pos
        return ((v << 11) | (v >> 21)) & M32

    low = tuple(sub_rot(x, 0) for x in range(65536))
    high = tuple(sub_rot(x, 16) for x in range(65536))
    return low, high + high


def encrypt_block(key: tuple[int, ...], block: int, tables: tuple[tuple[int, ...], tuple[int, ...]]) -> int:
    """Encrypt one 64-bit block (little-endian int) with eight 32-bit key words: 32 rounds, unrolled.

    `n + k` is not reduced mod 2^32: the high table has 2^17 entries, its upper half repeating the
    lower, so the carry out of bit 31 is dropped by the lookup itself.
    """
    lo, hi = tables
    k0, k1, k2, k3, k4, k5, k6, k7 = key
    n0 = block & M32
    n1 = block >> 32
    t = n0 + k0
    n1 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n1 + k1
    n0 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n0 + k2
    n1 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n1 + k3
    n0 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n0 + k4
    n1 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n1 + k5
    n0 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n0 + k6
    n1 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n1 + k7
    n0 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n0 + k0
    n1 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n1 + k1
    n0 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n0 + k2
    n1 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n1 + k3
    n0 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n0 + k4
    n1 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n1 + k5
    n0 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n0 + k6
    n1 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n1 + k7
    n0 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n0 + k0
    n1 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n1 + k1
    n0 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n0 + k2
    n1 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n1 + k3
    n0 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n0 + k4
    n1 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n1 + k5
    n0 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n0 + k6
    n1 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n1 + k7
    n0 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n0 + k7
    n1 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n1 + k6
    n0 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n0 + k5
    n1 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n1 + k4
    n0 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n0 + k3
    n1 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n1 + k2
    n0 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n0 + k1
    n1 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    t = n1 + k0
    n0 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
    return n1 | (n0 << 32)
