"""The C kernels of the national algorithms (gateway/crypto/ua/_native.c) against the pure Python
reference they replace, on random inputs, every chunking and every standard curve.

The standards' vectors, dstu-core and gost89 (tests/test_ua_hash.py, test_ua_dstu4145.py) already
run through the kernels, since the modules use them whenever they are built; here each kernel is
held against the pure code directly, so a fallback installation computes the same results.
"""

from __future__ import annotations

import os
import random

import pytest

from gateway.crypto.ua import ec, gost34311, kupyna
from gateway.crypto.ua.curves import all_curve_oids, named_curve
from gateway.crypto.ua.gost28147 import DKE1_UNPACKED

native = ec._native


def test_the_kernels_are_built():
    """`make install` compiles them (setup.py); without them national validation is ~100x slower."""
    assert native is not None, "gateway.crypto.ua._native was not built: is a C compiler installed?"


@pytest.mark.parametrize("blocks", [1, 2, 7, 64])
def test_gost34311_blocks_match_the_pure_steps(blocks):
    rnd = random.Random(blocks)
    data = rnd.randbytes(32 * blocks)
    h, total = rnd.getrandbits(256), rnd.getrandbits(256)
    sbox = bytes(rnd.randrange(16) for _ in range(128))  # any S-box a certificate may name
    for box in (DKE1_UNPACKED, sbox):
        assert gost34311._native_compress_blocks(h, total, data, box) == gost34311.compress_blocks(
            h, total, data, box
        )


def test_gost34311_rejects_a_bad_sbox():
    with pytest.raises(ValueError, match="S-box"):
        native.gost34311_blocks(bytes(32), bytes(32), bytes(32), bytes([16]) + bytes(127))


@pytest.mark.parametrize("bits", [256, 384, 512])
def test_kupyna_kernels_match_the_pure_rounds(bits):
    rnd = random.Random(bits)
    h = kupyna.Kupyna(bits)
    state = [rnd.getrandbits(64) for _ in range(h._columns)]
    blocks = rnd.randbytes(h.block_size * 5)
    assert kupyna._native_absorb_blocks(state, blocks, h._rounds) == kupyna.absorb_blocks(
        state, blocks, h._rounds
    )
    assert kupyna._native_output_transform(state, h._rounds) == kupyna.output_transform(state, h._rounds)


@pytest.mark.parametrize("chunk", [1, 31, 33, 64, 127, 1000])
def test_incremental_hashing_at_any_chunk_size(chunk):
    """npm gost89's incremental update is wrong at some chunk sizes: ours must not be."""
    data = os.urandom(5000)
    for make in (gost34311.gost34311, kupyna.kupyna256, kupyna.kupyna512):
        whole = make(data).digest()
        h = make()
        for off in range(0, len(data), chunk):
            h.update(data[off: off + chunk])
        assert h.digest() == whole, (make.__name__, chunk)


def _pure_mul_add(curve: ec.Curve, s: int, r: int, q) -> ec.Point:
    acc = curve._naf_mul_ld(r, q) if r else None
    return curve._to_affine(curve._base_mul_ld(s % curve.n, acc))


@pytest.mark.parametrize("oid", all_curve_oids())
def test_scalar_multiplication_matches_the_pure_code_on_every_curve(oid):
    curve = named_curve(oid)
    rnd = random.Random(oid)
    for _ in range(3):
        k, s, r = (rnd.randrange(1, curve.n) for _ in range(3))
        q = curve._to_affine(curve._base_mul_ld(k, None))
        assert curve.on_curve(q)
        assert curve.mul_base(k) == q
        assert curve.mul(s, q) == curve._to_affine(curve._naf_mul_ld(s, q))
        assert curve.mul_add_base(s, r, q) == _pure_mul_add(curve, s, r, q)


def test_scalar_multiplication_edge_cases():
    curve = named_curve(all_curve_oids()[0])
    g = curve.g
    assert curve.mul(curve.n, g) is None  # the group order: infinity
    assert curve.mul_base(0) is None
    assert curve.mul(1, g) == g
    assert curve.mul_add_base(1, 1, curve.neg(g)) is None  # G + (-G)
    assert curve.mul_add_base(1, 1, g) == curve.double(g)  # G + G: the joint addition doubles
    assert curve.mul_add_base(0, 2, g) == curve.double(g)
