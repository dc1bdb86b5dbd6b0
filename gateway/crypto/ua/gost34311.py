"""GOST 34.311-95 hash (the Ukrainian adoption of GOST R 34.11-94): zero starting value, 256-bit output.

A hashlib-like object: `update`, `digest`, `hexdigest`, `copy`. The S-box of the GOST 28147 core
defaults to DKE No.1; a certificate's DSTU 4145 parameters may name another one (64-byte packed DKE).

The state is kept as little-endian 256-bit integers; the mixing transformation psi is linear, so
psi^61(H ^ psi(M ^ psi^12(S))) is evaluated as one precomputed linear map over 48 16-bit words: for
each input word, the pattern of output words it is XORed into (a multiplication spreads it).

When the C kernels were built (`gateway.crypto.ua._native`, see setup.py) whole blocks go through
them; this module keeps the buffering and padding and stays the reference implementation.
"""

from __future__ import annotations

import struct
from functools import lru_cache

from gateway.crypto.ua.gost28147 import DKE1_UNPACKED, encrypt_block, round_tables, unpack_dke

try:
    from gateway.crypto.ua import _native
except ImportError:  # installed without a C compiler: the pure Python steps below do the work
    _native = None

M64 = (1 << 64) - 1
M256 = (1 << 256) - 1
#: bytes of U inverted before the third key (the constant C3 of the standard)
_C3 = sum(0xFF << (8 * i) for i in (1, 3, 5, 7, 8, 10, 12, 14, 17, 18, 20, 23, 24, 28, 29, 31))


def _psi_power(power: int) -> tuple[int, ...]:
    """For each input 16-bit word i, the pattern sum(1 << 16*j) of output words j it lands in."""
    # words as sets of input indices: start with identity
    words = [1 << i for i in range(16)]
    for _ in range(power):
        new = words[0] ^ words[1] ^ words[2] ^ words[3] ^ words[12] ^ words[15]
        words = words[1:] + [new]
    return tuple(
        sum(1 << (16 * j) for j in range(16) if words[j] >> i & 1) for i in range(16)
    )


#: psi^61(H) ^ psi^62(M) ^ psi^74(S) as one linear map over the 48 words of H || M || S
_PATTERNS = _psi_power(61) + _psi_power(62) + _psi_power(74)
_WORDS = struct.Struct("<48H")
_KEY = struct.Struct("<8I")
_BLOCKS = struct.Struct("<4Q")


def _a(x: int) -> int:
    return (x >> 64) | (((x ^ (x >> 64)) & M64) << 192)


def _key(w: int) -> tuple[int, ...]:
    """The transformation P: key word t is made of bytes t, 8+t, 16+t, 24+t of w."""
    b = w.to_bytes(32, "little")
    return _KEY.unpack(b[0::8] + b[1::8] + b[2::8] + b[3::8] + b[4::8] + b[5::8] + b[6::8] + b[7::8])


@lru_cache(maxsize=8)
def _tables(sbox: bytes):
    return round_tables(sbox)


def compress(h: int, m: int, m_bytes: bytes, tables) -> int:
    """One step H(i) = f(H(i-1), M(i)) on 256-bit little-endian integers (m_bytes: m's 32 bytes)."""
    s0 = encrypt_block(_key(h ^ m), h & M64, tables)
    u = _a(h)
    v = _a(_a(m))
    s1 = encrypt_block(_key(u ^ v), (h >> 64) & M64, tables)
    u = _a(u) ^ _C3
    v = _a(_a(v))
    s2 = encrypt_block(_key(u ^ v), (h >> 128) & M64, tables)
    u = _a(u)
    v = _a(_a(v))
    s3 = encrypt_block(_key(u ^ v), h >> 192, tables)
    r = 0
    words = _WORDS.unpack(h.to_bytes(32, "little") + m_bytes + _BLOCKS.pack(s0, s1, s2, s3))
    for w, p in zip(words, _PATTERNS, strict=True):
        r ^= w * p
    return r


def compress_blocks(h: int, total: int, blocks: bytes | memoryview, sbox: bytes) -> tuple[int, int]:
    """Hash whole 32-byte blocks into the state (h, sum of blocks mod 2^256): the pure Python steps."""
    tables = _tables(sbox)
    mv = memoryview(blocks)
    for off in range(0, len(mv), 32):
        block = bytes(mv[off: off + 32])
        m = int.from_bytes(block, "little")
        h = compress(h, m, block, tables)
        total += m
    return h, total & M256


def _native_compress_blocks(h: int, total: int, blocks: bytes | memoryview, sbox: bytes) -> tuple[int, int]:
    """The same steps in the C kernel."""
    hb, sb = _native.gost34311_blocks(h.to_bytes(32, "little"), total.to_bytes(32, "little"), blocks, sbox)
    return int.from_bytes(hb, "little"), int.from_bytes(sb, "little")


_compress_blocks = _native_compress_blocks if _native is not None else compress_blocks


class GOST34311:
    """hashlib-style GOST 34.311-95 object."""

    name = "gost34311"
    digest_size = 32
    block_size = 32

    def __init__(self, data: bytes = b"", *, sbox: bytes | None = None) -> None:
        if sbox is None:
            sbox = DKE1_UNPACKED
        elif len(sbox) == 64:
            sbox = unpack_dke(sbox)
        self._sbox = bytes(sbox)
        self._h = 0
        self._sum = 0
        self._length = 0
        self._buf = b""
        if data:
            self.update(data)

    def update(self, data: bytes) -> None:
        data = bytes(data)
        self._length += len(data)
        if self._buf:
            data = self._buf + data
        full = len(data) - len(data) % 32
        if full:
            self._h, self._sum = _compress_blocks(self._h, self._sum, memoryview(data)[:full], self._sbox)
        self._buf = data[full:]

    def copy(self) -> GOST34311:
        other = GOST34311.__new__(GOST34311)
        other.__dict__.update(self.__dict__)
        return other

    def digest(self) -> bytes:
        h, total = self._h, self._sum
        if self._buf:
            h, total = _compress_blocks(h, total, self._buf.ljust(32, b"\0"), self._sbox)
        length = (self._length * 8) & M256
        h, _ = _compress_blocks(h, 0, length.to_bytes(32, "little"), self._sbox)
        h, _ = _compress_blocks(h, 0, total.to_bytes(32, "little"), self._sbox)
        return h.to_bytes(32, "little")

    def hexdigest(self) -> str:
        return self.digest().hex()


def gost34311(data: bytes = b"", *, sbox: bytes | None = None) -> GOST34311:
    return GOST34311(data, sbox=sbox)
