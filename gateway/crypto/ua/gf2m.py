"""Arithmetic in GF(2^m), polynomial basis, elements as Python ints (bit i = coefficient of x^i).

Multiplication is a 4-bit windowed carry-less product (16-entry table of the first operand, the
second consumed a byte at a time), squaring spreads bits with two byte-translation tables, and
reduction folds the high half through the trinomial / pentanomial's low terms.
"""

from __future__ import annotations

_SPREAD = [sum(((x >> i) & 1) << (2 * i) for i in range(8)) for x in range(256)]
_SPREAD_LO = bytes(_SPREAD[x & 15] for x in range(256))
_SPREAD_HI = bytes(_SPREAD[x >> 4] for x in range(256))


class Field:
    """GF(2^m) with f(x) = x^m + sum(x^k for k in ks) + 1 (ks: one or three exponents)."""

    def __init__(self, m: int, ks: tuple[int, ...]) -> None:
        if len(ks) not in (1, 3) or not all(0 < k < m for k in ks):
            raise ValueError("the field polynomial must be a trinomial or a pentanomial")
        self.m = m
        self.ks = tuple(sorted(ks, reverse=True))
        self.poly = (1 << m) | 1 | sum(1 << k for k in ks)
        self.mask = (1 << m) - 1
        self.nbytes = (m + 7) // 8
        self._bind()
        self._trace_mask = self._compute_trace_mask()

    # --- basic operations ------------------------------------------------------------------
    # mul / sqr / reduce are closures over the field's constants (set in _bind), with the reduction
    # inlined: they run a few thousand times per scalar multiplication.

    def _bind(self) -> None:
        m, mask, nbytes = self.m, self.mask, self.nbytes
        ks = self.ks
        k1 = ks[0]
        k2, k3 = (ks[1], ks[2]) if len(ks) == 3 else (0, 0)
        penta = len(ks) == 3
        lo_t, hi_t = _SPREAD_LO, _SPREAD_HI

        def reduce(r: int) -> int:
            if penta:
                while r >> m:
                    h = r >> m
                    r = (r & mask) ^ h ^ (h << k1) ^ (h << k2) ^ (h << k3)
            else:
                while r >> m:
                    h = r >> m
                    r = (r & mask) ^ h ^ (h << k1)
            return r

        def mul(a: int, b: int) -> int:
            if not a or not b:
                return 0
            a2 = a << 1
            a3 = a2 ^ a
            a4 = a << 2
            a8 = a << 3
            t = (0, a, a2, a3, a4, a4 ^ a, a4 ^ a2, a4 ^ a3,
                 a8, a8 ^ a, a8 ^ a2, a8 ^ a3, a8 ^ a4, a8 ^ a4 ^ a, a8 ^ a4 ^ a2, a8 ^ a4 ^ a3)
            r = 0
            for x in b.to_bytes((b.bit_length() + 7) >> 3, "big"):
                r = (r << 8) ^ (t[x >> 4] << 4) ^ t[x & 15]
            if penta:
                while r >> m:
                    h = r >> m
                    r = (r & mask) ^ h ^ (h << k1) ^ (h << k2) ^ (h << k3)
            else:
                while r >> m:
                    h = r >> m
                    r = (r & mask) ^ h ^ (h << k1)
            return r

        def sqr(a: int) -> int:
            raw = a.to_bytes(nbytes, "little")
            out = bytearray(2 * nbytes)
            out[0::2] = raw.translate(lo_t)
            out[1::2] = raw.translate(hi_t)
            r = int.from_bytes(out, "little")
            if penta:
                while r >> m:
                    h = r >> m
                    r = (r & mask) ^ h ^ (h << k1) ^ (h << k2) ^ (h << k3)
            else:
                while r >> m:
                    h = r >> m
                    r = (r & mask) ^ h ^ (h << k1)
            return r

        self.reduce = reduce
        self.mul = mul
        self.sqr = sqr

    def const_mul(self, c: int):
        """Multiplication by the fixed element c, with a 256-entry table of c (e.g. the curve's b)."""
        t16 = [0] * 16
        for i in range(1, 16):
            t16[i] = t16[i >> 1] << 1 if not i & 1 else t16[i - 1] ^ c
        table = tuple((t16[x >> 4] << 4) ^ t16[x & 15] for x in range(256))
        reduce = self.reduce

        def mul_c(b: int) -> int:
            r = 0
            for x in b.to_bytes((b.bit_length() + 7) >> 3, "big"):
                r = (r << 8) ^ table[x]
            return reduce(r)

        return mul_c

    def inv(self, a: int) -> int:
        """Inverse by the extended Euclidean algorithm on polynomials."""
        if a == 0:
            raise ZeroDivisionError("0 has no inverse in GF(2^m)")
        u, v = a, self.poly
        g1, g2 = 1, 0
        while u != 1:
            j = u.bit_length() - v.bit_length()
            if j < 0:
                u, v = v, u
                g1, g2 = g2, g1
                j = -j
            u ^= v << j
            g1 ^= g2 << j
        return self.reduce(g1)

    # --- trace, half-trace, quadratic equations ---------------------------------------------

    def _compute_trace_mask(self) -> int:
        mask = 0
        for i in range(self.m):
            if self._trace_slow(1 << i):
                mask |= 1 << i
        return mask

    def _trace_slow(self, a: int) -> int:
        t = a
        x = a
        for _ in range(self.m - 1):
            x = self.sqr(x)
            t ^= x
        return t & 1

    def trace(self, a: int) -> int:
        return (a & self._trace_mask).bit_count() & 1

    def half_trace(self, a: int) -> int:
        """For odd m: z with z^2 + z = a + tr(a)."""
        t = a
        for _ in range((self.m - 1) // 2):
            a = self.sqr(self.sqr(a))
            t ^= a
        return t

    def solve_quadratic(self, w: int) -> int | None:
        """One root z of z^2 + z = w, None when there is none (tr(w) = 1)."""
        if self.m % 2 == 0:
            raise ValueError("only odd m is supported")
        if self.trace(w):
            return None
        return self.half_trace(w)
