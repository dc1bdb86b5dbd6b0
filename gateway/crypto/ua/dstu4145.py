"""DSTU 4145-2002 digital signatures over binary curves in polynomial basis.

- hash -> field element: the digest read as a little-endian integer, cut to m bits; 0 becomes 1;
- signing: e random in [1, n), F = x(e*G) != 0, y = h*F, r = y cut to L(n)-1 bits, s = (e + d*r) mod n;
- the public key is Q = -d*G; verification: R = s*G + r*Q, r == (h * x(R)) cut to L(n)-1 bits;
- encodings: in the little-endian family (OID 1.2.804.2.1.1.1.1.3.1.1) the signature octets are
  r || s and keys / curve parameters little-endian; the big-endian family (...3.1.1.1.1) stores s || r
  and everything big-endian;
- point compression: x with its lowest bit replaced by tr(y/x); decompression recovers that bit of x
  from tr(x) = tr(a) and solves z^2 + z = x + a + b/x^2 with the half-trace.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from gateway.crypto.ua.ec import Curve


class DSTUError(ValueError):
    """Malformed DSTU 4145 key, parameters or signature."""


def hash_to_field(curve: Curve, digest: bytes) -> int:
    h = int.from_bytes(digest, "little")
    m = curve.m
    if h.bit_length() > m:
        h &= (1 << m) - 1
    return h or 1


def _field_to_int(curve: Curve, y: int) -> int:
    bits = curve.n.bit_length() - 1
    return y & ((1 << bits) - 1)


# --- points --------------------------------------------------------------------------------

def compress(curve: Curve, point: tuple[int, int]) -> int:
    x, y = point
    if x == 0:
        return 0
    f = curve.field
    bit = f.trace(f.mul(y, f.inv(x)))
    return (x & ~1) | bit


def decompress(curve: Curve, packed: int) -> tuple[int, int]:
    f = curve.field
    if packed >> f.m:
        raise DSTUError("compressed point is longer than the field")
    if packed == 0:
        raise DSTUError("the public key is a point of order 2")
    k = packed & 1
    x = packed & ~1
    if f.trace(x) != curve.a:
        x ^= 1
    if x == 0:
        raise DSTUError("the public key is a point of order 2")
    # z^2 + z = x + a + b / x^2, y = z * x
    w = x ^ curve.a ^ f.mul(curve.b, f.inv(f.sqr(x)))
    z = f.solve_quadratic(w)
    if z is None:
        raise DSTUError("compressed point is not on the curve")
    if f.trace(z) != k:
        z ^= 1
    point = (x, f.mul(z, x))
    if not curve.on_curve(point):
        raise DSTUError("compressed point is not on the curve")
    return point


def field_bytes(curve: Curve) -> int:
    return (curve.m + 7) // 8


def encode_point(curve: Curve, point: tuple[int, int], little_endian: bool = True) -> bytes:
    return compress(curve, point).to_bytes(field_bytes(curve), "little" if little_endian else "big")


def decode_point(curve: Curve, data: bytes, little_endian: bool = True) -> tuple[int, int]:
    return decompress(curve, int.from_bytes(data, "little" if little_endian else "big"))


# --- signatures ----------------------------------------------------------------------------

def encode_signature(curve: Curve, r: int, s: int, little_endian: bool = True) -> bytes:
    size = (curve.n.bit_length() + 7) // 8
    if little_endian:
        return r.to_bytes(size, "little") + s.to_bytes(size, "little")
    return s.to_bytes(size, "big") + r.to_bytes(size, "big")


def decode_signature(data: bytes, little_endian: bool = True) -> tuple[int, int]:
    if not data or len(data) % 2:
        raise DSTUError("a DSTU 4145 signature has two halves of equal length")
    half = len(data) // 2
    if little_endian:
        return int.from_bytes(data[:half], "little"), int.from_bytes(data[half:], "little")
    return int.from_bytes(data[half:], "big"), int.from_bytes(data[:half], "big")


@dataclass(frozen=True)
class PublicKey:
    curve: Curve
    point: tuple[int, int]

    def verify(self, digest: bytes, r: int, s: int) -> bool:
        return verify(self.curve, self.point, digest, r, s)


@dataclass(frozen=True)
class PrivateKey:
    curve: Curve
    d: int

    def __post_init__(self) -> None:
        if not 0 < self.d < self.curve.n:
            raise DSTUError("the private key is out of range")

    def __repr__(self) -> str:  # never show the secret
        return f"PrivateKey({self.curve.name})"

    @property
    def public_point(self) -> tuple[int, int]:
        p = self.curve.mul_base(self.curve.n - self.d)  # Q = -d*G
        assert p is not None
        return p

    def public_key(self) -> PublicKey:
        return PublicKey(self.curve, self.public_point)

    def sign(self, digest: bytes) -> tuple[int, int]:
        return sign(self.curve, self.d, digest)


def generate_private_key(curve: Curve) -> PrivateKey:
    return PrivateKey(curve, secrets.randbelow(curve.n - 1) + 1)


def sign(curve: Curve, d: int, digest: bytes, *, nonce: int | None = None) -> tuple[int, int]:
    """(r, s). The nonce is fresh from `secrets` for every attempt; `nonce` exists for the
    standard's known-answer example only."""
    n = curve.n
    h = hash_to_field(curve, digest)
    while True:
        e = nonce if nonce is not None else secrets.randbelow(n - 1) + 1
        point = curve.mul_base(e)
        if point is None or point[0] == 0:
            if nonce is not None:
                raise DSTUError("unusable nonce")
            continue
        r = _field_to_int(curve, curve.field.mul(h, point[0]))
        if r == 0:
            if nonce is not None:
                raise DSTUError("unusable nonce")
            continue
        s = (e + d * r) % n
        if s == 0:
            if nonce is not None:
                raise DSTUError("unusable nonce")
            continue
        return r, s


def verify(curve: Curve, q: tuple[int, int], digest: bytes, r: int, s: int) -> bool:
    n = curve.n
    if not (0 < r < n and 0 < s < n):
        return False
    h = hash_to_field(curve, digest)
    point = curve.mul_add_base(s, r, q)
    if point is None:
        return False
    return _field_to_int(curve, curve.field.mul(h, point[0])) == r
