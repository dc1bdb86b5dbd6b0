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
        self._trace_mask = self._compute_trace_mask()

    # --- basic operations ------------------------------------------------------------------

    def reduce(self, r: int) -> int:
        m, mask = self.m, self.mask
        ks = self.ks
        if len(ks) == 3:
            k1, k2, k3 = ks
            while r >> m:
                h = r >> m
                r = (r & mask) ^ h ^ (h << k1) ^ (h << k2) ^ (h << k3)
        else:
            k1 = ks[0]
            while r >> m:
                h = r >> m
                r = (r & mask) ^ h ^ (h << k1)
        return r

    def mul(self, a: int, b: int) -> int:
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
        return self.reduce(r)

    def sqr(self, a: int) -> int:
        raw = a.to_bytes(self.nbytes, "little")
        out = bytearray(2 * self.nbytes)
        out[0::2] = raw.translate(_SPREAD_LO)
        out[1::2] = raw.translate(_SPREAD_HI)
        return self.reduce(int.from_bytes(out, "little"))

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
