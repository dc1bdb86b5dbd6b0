"""GOST 28147-89 modes and GOST 34.311 key derivation as Ukrainian key containers use them.

- ECB decryption (the old IIT store), CFB ("gamming with feedback", PBES2 key bags), both with a
  GOST 28147 S-box given packed (64 bytes, as in ASN.1 parameters) or unpacked (128 nibbles);
- HMAC-GOST34.311 (RFC 2104 with the 32-byte block of GOST 34.311) and PBKDF2 over it;
- the IIT password hash: GOST 34.311 of the password, re-hashed to 10,000 hashes in all;
- the PKCS#12 key derivation of RFC 7292 appendix B with GOST 34.311 (u = v = 32).

The block core is `gost28147.round_tables` (its public function); the hash is `gost34311.GOST34311`.
"""

from __future__ import annotations

import struct

from gateway.crypto.ua.gost28147 import DKE1_UNPACKED, round_tables, unpack_dke
from gateway.crypto.ua.gost34311 import GOST34311

M32 = 0xFFFFFFFF
_KEY = struct.Struct("<8I")
_IPAD = bytes(0x36 for _ in range(32))
_OPAD = bytes(0x5C for _ in range(32))


def _sbox(sbox: bytes | None) -> bytes:
    if sbox is None:
        return DKE1_UNPACKED
    return unpack_dke(sbox) if len(sbox) == 64 else bytes(sbox)


class Gost28147:
    """One GOST 28147-89 key with its S-box; blocks are 8 bytes."""

    def __init__(self, key: bytes, sbox: bytes | None = None) -> None:
        if len(key) != 32:
            raise ValueError("a GOST 28147 key is 32 bytes")
        k = _KEY.unpack(key)
        self._enc = k * 3 + k[::-1]
        self._dec = k + k[::-1] * 3
        self._tables = round_tables(_sbox(sbox))

    def _rounds(self, schedule: tuple[int, ...], block: bytes) -> bytes:
        lo, hi = self._tables
        n0, n1 = struct.unpack("<2I", block)
        for i, k in enumerate(schedule):
            if i & 1:
                t = n1 + k
                n0 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
            else:
                t = n0 + k
                n1 ^= lo[t & 0xFFFF] ^ hi[t >> 16]
        return struct.pack("<2I", n1, n0)

    def encrypt_block(self, block: bytes) -> bytes:
        return self._rounds(self._enc, block)

    def decrypt_block(self, block: bytes) -> bytes:
        return self._rounds(self._dec, block)

    def ecb_decrypt(self, data: bytes) -> bytes:
        if len(data) % 8:
            raise ValueError("ECB data is not a whole number of blocks")
        return b"".join(self.decrypt_block(data[i:i + 8]) for i in range(0, len(data), 8))

    def cfb_decrypt(self, iv: bytes, data: bytes) -> bytes:
        out = bytearray()
        feedback = iv
        for i in range(0, len(data), 8):
            chunk = data[i:i + 8]
            gamma = self.encrypt_block(feedback)
            out += bytes(a ^ b for a, b in zip(chunk, gamma, strict=False))
            feedback = chunk
        return bytes(out)


def gost34311(data: bytes) -> bytes:
    return GOST34311(data).digest()


def iit_password_key(password: bytes, iterations: int = 10_000) -> bytes:
    """The old IIT store's key: GOST 34.311 of the password, hashed again `iterations` - 1 times."""
    key = gost34311(password)
    for _ in range(iterations - 1):
        key = gost34311(key)
    return key


class HmacGost34311:
    """HMAC-GOST34.311 with the keyed inner/outer states computed once (PBKDF2 reuses them)."""

    def __init__(self, key: bytes) -> None:
        if len(key) > 32:
            key = gost34311(key)
        key = key.ljust(32, b"\0")
        self._inner = GOST34311(bytes(a ^ b for a, b in zip(key, _IPAD, strict=True)))
        self._outer = GOST34311(bytes(a ^ b for a, b in zip(key, _OPAD, strict=True)))

    def mac(self, data: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(data)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


def pbkdf2_gost34311(password: bytes, salt: bytes, iterations: int, length: int = 32) -> bytes:
    """PBKDF2 (RFC 8018) with HMAC-GOST34.311 as the PRF."""
    prf = HmacGost34311(password)
    out = b""
    block = 1
    while len(out) < length:
        u = prf.mac(salt + block.to_bytes(4, "big"))
        acc = int.from_bytes(u, "big")
        for _ in range(iterations - 1):
            u = prf.mac(u)
            acc ^= int.from_bytes(u, "big")
        out += acc.to_bytes(32, "big")
        block += 1
    return out[:length]


def pkcs12_kdf_gost34311(password_bmp: bytes, salt: bytes, iterations: int, key_id: int = 3,
                         length: int = 32) -> bytes:
    """RFC 7292 appendix B.2 with GOST 34.311 (u = v = 32); `password_bmp` is UTF-16BE with the
    two-byte terminator. Only the first u bytes are needed for a 32-byte MAC key."""
    v = 32

    def stretch(data: bytes) -> bytes:
        if not data:
            return b""
        n = v * ((len(data) + v - 1) // v)
        return (data * (n // len(data) + 1))[:n]

    if length > 32:
        raise ValueError("only 32-byte PKCS#12 keys are derived")
    a = bytes([key_id]) * v + stretch(salt) + stretch(password_bmp)
    for _ in range(iterations):
        a = gost34311(a)
    return a[:length]
