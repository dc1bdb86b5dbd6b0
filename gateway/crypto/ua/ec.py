"""Elliptic curves y^2 + xy = x^3 + a*x^2 + b over GF(2^m) (a in {0, 1}): the group law for DSTU 4145.

Affine points are `(x, y)` tuples, the point at infinity is `None`. Scalar multiplication runs in
Lopez-Dahab projective coordinates (x = X/Z, y = Y/Z^2) with mixed additions of affine points:
- any point: width-5 NAF over the precomputed odd multiples P, 3P, ..., 15P;
- the base point: fixed-base windows (table of j * 2^(5i) * G, built once per curve on first use), so
  k*G costs about m/5 additions and no doubling;
- s*G + r*Q (verification) shares one accumulator: the doublings for r*Q, then the table additions.
Not constant-time: verification works on public data; signing uses the same code on a fresh nonce.

When the C kernels were built (`gateway.crypto.ua._native`), `mul`, `mul_base` and `mul_add_base`
run there (a joint double-and-add in the same coordinates); the Python code stays the reference.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from gateway.crypto.ua.gf2m import Field

try:
    from gateway.crypto.ua import _native
except ImportError:  # installed without a C compiler: the pure Python arithmetic does the work
    _native = None

Point = tuple[int, int] | None
_W = 5  # window of the fixed-base table and of the NAF


@dataclass(eq=False)
class Curve:
    field: Field
    a: int
    b: int
    n: int
    gx: int
    gy: int
    name: str = ""
    oid: str = ""
    _table: list[list[tuple[int, int]]] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._mul_b = self.field.const_mul(self.b)

    @property
    def m(self) -> int:
        return self.field.m

    @property
    def g(self) -> tuple[int, int]:
        return (self.gx, self.gy)

    def same_as(self, other: Curve) -> bool:
        return (self.field.poly, self.a, self.b, self.n, self.gx, self.gy) == (
            other.field.poly, other.a, other.b, other.n, other.gx, other.gy)

    # --- affine arithmetic ------------------------------------------------------------------

    def on_curve(self, p: Point) -> bool:
        if p is None:
            return True
        f = self.field
        x, y = p
        if x >> f.m or y >> f.m:
            return False
        x2 = f.sqr(x)
        lhs = f.sqr(y) ^ f.mul(x, y)
        rhs = f.mul(x2, x) ^ (x2 if self.a else 0) ^ self.b
        return lhs == rhs

    def neg(self, p: Point) -> Point:
        return None if p is None else (p[0], p[0] ^ p[1])

    def add(self, p: Point, q: Point) -> Point:
        if p is None:
            return q
        if q is None:
            return p
        f = self.field
        x1, y1 = p
        x2, y2 = q
        if x1 == x2:
            if y1 ^ y2 == x1:  # q = -p (also covers x = 0 doubling)
                return None
            return self.double(p)
        lam = f.mul(y1 ^ y2, f.inv(x1 ^ x2))
        x3 = f.sqr(lam) ^ lam ^ x1 ^ x2 ^ self.a
        y3 = f.mul(lam, x1 ^ x3) ^ x3 ^ y1
        return (x3, y3)

    def double(self, p: Point) -> Point:
        if p is None or p[0] == 0:
            return None
        f = self.field
        x1, y1 = p
        lam = x1 ^ f.mul(y1, f.inv(x1))
        x3 = f.sqr(lam) ^ lam ^ self.a
        y3 = f.sqr(x1) ^ f.mul(lam, x3) ^ x3
        return (x3, y3)

    # --- Lopez-Dahab ------------------------------------------------------------------------

    def _ld_double(self, p):
        if p is None:
            return None
        f = self.field
        x1, y1, z1 = p
        if x1 == 0:
            return None
        sqr, mul = f.sqr, f.mul
        x1s = sqr(x1)
        z1s = sqr(z1)
        z3 = mul(x1s, z1s)
        bz4 = self._mul_b(sqr(z1s))
        x3 = sqr(x1s) ^ bz4
        t = sqr(y1) ^ bz4
        if self.a:
            t ^= z3
        y3 = mul(bz4, z3) ^ mul(x3, t)
        return (x3, y3, z3)

    def _ld_add(self, p, q: tuple[int, int]):
        """p (Lopez-Dahab or None) + q (affine, not infinity)."""
        x2, y2 = q
        if p is None:
            return (x2, y2, 1)
        f = self.field
        sqr, mul = f.sqr, f.mul
        x1, y1, z1 = p
        z1s = sqr(z1)
        a_ = y1 ^ mul(y2, z1s)
        b_ = x1 ^ mul(x2, z1)
        if b_ == 0:
            if a_ == 0:
                return self._ld_double(p)
            return None
        c = mul(b_, z1)
        d = mul(sqr(b_), c ^ z1s if self.a else c)
        z3 = sqr(c)
        e = mul(a_, c)
        x3 = sqr(a_) ^ d ^ e
        ff = x3 ^ mul(x2, z3)
        g = mul(x2 ^ y2, sqr(z3))
        y3 = mul(e ^ z3, ff) ^ g
        return (x3, y3, z3)

    def _to_affine(self, p) -> Point:
        if p is None:
            return None
        f = self.field
        x, y, z = p
        zi = f.inv(z)
        return (f.mul(x, zi), f.mul(y, f.sqr(zi)))

    def _batch_affine(self, pts: list) -> list[tuple[int, int]]:
        """Montgomery's trick: one inversion for many points (none may be infinity)."""
        f = self.field
        prefix = []
        acc = 1
        for _x, _y, z in pts:
            acc = f.mul(acc, z)
            prefix.append(acc)
        inv = f.inv(acc)
        out: list[tuple[int, int]] = [None] * len(pts)  # type: ignore[list-item]
        for i in range(len(pts) - 1, -1, -1):
            x, y, z = pts[i]
            zi = f.mul(inv, prefix[i - 1]) if i else inv
            inv = f.mul(inv, z)
            out[i] = (f.mul(x, zi), f.mul(y, f.sqr(zi)))
        return out

    # --- scalar multiplication --------------------------------------------------------------

    @staticmethod
    def _naf(k: int) -> list[int]:
        digits = []
        half, full = 1 << (_W - 1), 1 << _W
        while k:
            if k & 1:
                d = k & (full - 1)
                if d >= half:
                    d -= full
                k -= d
            else:
                d = 0
            digits.append(d)
            k >>= 1
        return digits

    def _odd_multiples(self, p: tuple[int, int]) -> list[tuple[int, int]]:
        """p, 3p, ..., 15p in affine coordinates (two inversions in all)."""
        two = self.double(p)
        if two is None:
            raise ValueError("the point has a tiny order")
        ld = [(p[0], p[1], 1)]
        for _ in range((1 << (_W - 2)) - 1):
            nxt = self._ld_add(ld[-1], two)
            if nxt is None:
                raise ValueError("the point has a tiny order")
            ld.append(nxt)
        return self._batch_affine(ld)

    def _naf_mul_ld(self, k: int, p: tuple[int, int]):
        odd = self._odd_multiples(p)
        negs = [self.neg(q) for q in odd]
        acc = None
        dbl, add = self._ld_double, self._ld_add
        for d in reversed(self._naf(k)):
            acc = dbl(acc)
            if d > 0:
                acc = add(acc, odd[d >> 1])
            elif d < 0:
                acc = add(acc, negs[(-d) >> 1])
        return acc

    def mul_slow(self, k: int, p: Point) -> Point:
        """Plain double-and-add in affine coordinates (for checks and tiny-order cases)."""
        r: Point = None
        while k:
            if k & 1:
                r = self.add(r, p)
            p = self.double(p)
            k >>= 1
        return r

    def mul(self, k: int, p: Point) -> Point:
        if p is None or k == 0:
            return None
        if k < 0:
            return self.neg(self.mul(-k, p))
        if _native is not None:
            return self.native_combined(k, p, 0, p)
        return self._to_affine(self._naf_mul_ld(k, p))

    def native_combined(self, s: int, p1: tuple[int, int], r: int, p2: tuple[int, int]) -> Point:
        """s*P1 + r*P2 (s, r >= 0) in the C kernel."""
        f = self.field
        nb = f.nbytes
        out = _native.ec_combined(
            f.m, f.ks, self.a, self.b.to_bytes(nb, "little"),
            p1[0].to_bytes(nb, "little"), p1[1].to_bytes(nb, "little"),
            s.to_bytes((s.bit_length() + 7) // 8, "little"),
            p2[0].to_bytes(nb, "little"), p2[1].to_bytes(nb, "little"),
            r.to_bytes((r.bit_length() + 7) // 8, "little"),
        )
        if out is None:
            return None
        return int.from_bytes(out[:nb], "little"), int.from_bytes(out[nb:], "little")

    def _base_table(self) -> list[list[tuple[int, int]]]:
        if self._table is None:
            with self._lock:
                if self._table is None:
                    self._table = self._build_table()
        return self._table

    def _build_table(self) -> list[list[tuple[int, int]]]:
        rows = []
        base: tuple[int, int] = self.g
        for _ in range((self.n.bit_length() + _W - 1) // _W):
            ld = [(base[0], base[1], 1)]
            for _j in range(2, 1 << _W):
                ld.append(self._ld_add(ld[-1], base))
            row = self._batch_affine(ld)
            rows.append(row)
            nxt = self._ld_add(ld[-1], base)  # 2^W * base
            base = self._to_affine(nxt)
        return rows

    def _base_mul_ld(self, k: int, acc):
        table = self._base_table()
        mask = (1 << _W) - 1
        add = self._ld_add
        i = 0
        while k:
            d = k & mask
            if d:
                acc = add(acc, table[i][d - 1])
            k >>= _W
            i += 1
        return acc

    def mul_base(self, k: int) -> Point:
        """k*G with the fixed-base table (k reduced mod n)."""
        k %= self.n
        if _native is not None:
            return self.native_combined(k, self.g, 0, self.g) if k else None
        return self._to_affine(self._base_mul_ld(k, None))

    def mul_add_base(self, s: int, r: int, q: tuple[int, int]) -> Point:
        """s*G + r*Q."""
        if _native is not None and r >= 0:
            return self.native_combined(s % self.n, self.g, r, q)
        acc = self._naf_mul_ld(r, q) if r else None
        return self._to_affine(self._base_mul_ld(s % self.n, acc))
