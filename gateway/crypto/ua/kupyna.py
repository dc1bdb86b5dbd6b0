"""Kupyna hash function (DSTU 7564:2014): 256 (512-bit state) and 384 / 512 (1024-bit state) bits.

hashlib-like objects. The state is a list of 64-bit little-endian column words (byte i of a word is
row i); a round (add constant, S-boxes, row shifts, MDS mix) is done with eight 256-entry T-tables
that fold the S-box of row i and column i of the MDS matrix into one 64-bit word.
S-boxes, MDS row and test vectors: DSTU 7564:2014 (reference implementation by R. Oliynykov et al.).

When the C kernels were built (`gateway.crypto.ua._native`) whole blocks and the output
transformation go through them; this module keeps the padding and stays the reference.
"""

from __future__ import annotations

from functools import lru_cache

try:
    from gateway.crypto.ua import _native
except ImportError:  # installed without a C compiler: the pure Python rounds below do the work
    _native = None

_SBOXES_HEX = (
    "a8435f066b756c5971df879517f0d8096df31dcbc94d2caf79e097fd6f4b45393edda34fb4b69a0e1fbf15e149d293c6"
    "92729e61d163faeef419d5ad58a4bba1dcf2833742e47a329cccab4a8f6e04272ee7e25a9616232bc265660fbca94741"
    "3448fcb76a88a55386f95bdb387bc31e2233242836c7b23b8e77baf5149f08559b4cfe605cda1846cd7d21b03f1b89ff"
    "eb84693a9dd7d3706740b5de5d3091b1781101e5006898a0c502a6742d0ba276b3becebdaee98a311cecf19994aaf626"
    "2fefe88c3503d47ffb05c15e90203d82f7ea0a0d7ef8501ac40757b83c62e3c8ac526410d0d9130c122951b9cfd6738d"
    "8154c0ed4e44a72a8525e6ca7c8b5680cebbeb92eacb13c1e93ad6b2d29017f8421556b4651c8843c55c36baf557678d"
    "31f664589ef422aa750f02b1df6d734d7c262ef7085d443e9f14c8ae5410d8bc1a6b69f3bd33abfad19b684e169591ee"
    "4c638e5bcc3c19a181497bd96f3760cae72b48fd9645fc41120d79e5898ce32030dcb76c4ab53f97d4622d06a4a5835f"
    "2adac9007ea255bf11d59ccf0e0a3d517d931bfec44709860b8f9d6a07b9b0981832714bef3b70a0e440ffc3a9e678f9"
    "8b46801e38e1b8a8e00c23761d252405f16e94289a84e8a34f77d385e252f282507a2f7453b361af3935decd1f99acad"
    "722cddd087be5ea6ec04c60334fbdb59b6c201f05aeda766217f8a27c7c029d793d99ab5982245fcba6adf029fdc5159"
    "4a172bc294f4bba362e471d4cd7016e1493cc0d85c9bad8553a17ac82de0d172a62cc4e37678b7b4093b0e414cdeb290"
    "25a5d7031100c32e92ef4e129d7dcb3510d54f9e4da955c6d07b1897d336e64856818f77cc9cb9e2acb82f15a47cda38"
    "1e0b05d6146e6c7e66fdb1e560af5e3387c9f05d6d3f888dc7f71de9eced802927cf99a8500f3724283095d23e5b4083"
    "b369571f071c8abc20ebce8eabee31a273f9ca3a1afb0dc1fefaf26fbd96dd4352b608f3aebe19893226b0ea4b648482"
    "6bf579bf015f75631b233d682a65e891f6ff1358f1470a7fc5a7e7615a0646444204a0db398654aa8c34218bf80c7467"
    "688dca4d734b4e2ad45226b3541e191f2203463d2d4a5383138ab7d52579f5bd582f0d02ed519e11f23e555ed1163c66"
    "705df34540cce8945608ce1a3ad2e1dfb5386e0ee5f4f986e94fd68523cf32993114aeeec848d330a19241b118c42c71"
    "724415fd37be5faa9b88d8ab899cfa60eabc620c24a6a8ec6720db7c28ddac5b347e10f17b8f63a0059a437721bf2709"
    "c39fb6d729c2ebc0a48b8c1dfbffc1b2972ef865f67507044933e4d9b9d042c76c90008e6f5001c5da473fcd69a2e27a"
    "a7c6930f0a06e62b96a31caf6a128439e7b082f7fe9d875c8135deb4a5fc80efcbbb6b76ba5a7d780b95e3ad74983b36"
    "646ddcf059a94c177f91b8c9571be061"
)
SBOXES = bytes.fromhex(_SBOXES_HEX)
assert len(SBOXES) == 1024  # noqa: S101 - a broken table must fail at import
#: first row of the circulant MDS matrix (row r is this row rotated right by r)
MDS_ROW = (0x01, 0x01, 0x05, 0x01, 0x08, 0x06, 0x07, 0x04)
M64 = (1 << 64) - 1
_Q_CONST = 0x00F0F0F0F0F0F0F3


def _gf_mul(x: int, y: int) -> int:
    r = 0
    for _ in range(8):
        if y & 1:
            r ^= x
        hbit = x & 0x80
        x = (x << 1) & 0xFF
        if hbit:
            x ^= 0x1D  # x^8 + x^4 + x^3 + x^2 + 1
        y >>= 1
    return r


def _mds(row: int, col: int) -> int:
    return MDS_ROW[(col - row) % 8]


def _t_tables() -> tuple[tuple[int, ...], ...]:
    tables = []
    for i in range(8):  # input row i
        sbox = SBOXES[256 * (i % 4): 256 * (i % 4) + 256]
        tables.append(tuple(
            sum(_gf_mul(sbox[x], _mds(r, i)) << (8 * r) for r in range(8)) for x in range(256)
        ))
    return tuple(tables)


@lru_cache(maxsize=1)
def _tables() -> tuple[tuple[int, ...], ...]:
    return _t_tables()


def _rounds(state: list[int], columns: int, rounds: int, q: bool) -> list[int]:
    t0, t1, t2, t3, t4, t5, t6, t7 = _tables()
    shift7 = 11 if columns == 16 else 7
    c = columns
    rng = range(c)
    for rnd in range(rounds):
        if q:
            state = [(state[j] + (_Q_CONST ^ ((((c - j - 1) << 4) ^ rnd) << 56))) & M64 for j in rng]
        else:
            state = [state[j] ^ ((j << 4) ^ rnd) for j in rng]
        state = [
            t0[state[j] & 255]
            ^ t1[(state[(j - 1) % c] >> 8) & 255]
            ^ t2[(state[(j - 2) % c] >> 16) & 255]
            ^ t3[(state[(j - 3) % c] >> 24) & 255]
            ^ t4[(state[(j - 4) % c] >> 32) & 255]
            ^ t5[(state[(j - 5) % c] >> 40) & 255]
            ^ t6[(state[(j - 6) % c] >> 48) & 255]
            ^ t7[state[(j - shift7) % c] >> 56]
            for j in rng
        ]
    return state


def _words(data: bytes, columns: int) -> list[int]:
    return [int.from_bytes(data[8 * j: 8 * j + 8], "little") for j in range(columns)]


def _bytes(words: list[int]) -> bytes:
    return b"".join(w.to_bytes(8, "little") for w in words)


def absorb_blocks(state: list[int], blocks: bytes, rounds: int) -> list[int]:
    """The compression function over whole blocks (8 bytes per state column): pure Python."""
    c = len(state)
    for off in range(0, len(blocks), 8 * c):
        words = _words(blocks[off: off + 8 * c], c)
        p = _rounds([s ^ w for s, w in zip(state, words, strict=True)], c, rounds, False)
        q = _rounds(words, c, rounds, True)
        state = [s ^ a ^ b for s, a, b in zip(state, p, q, strict=True)]
    return state


def output_transform(state: list[int], rounds: int) -> bytes:
    """T(+)(h) ^ h, the whole state (the digest is its tail): pure Python."""
    out = _rounds(list(state), len(state), rounds, False)
    return b"".join((s ^ o).to_bytes(8, "little") for s, o in zip(state, out, strict=True))


def _native_absorb_blocks(state: list[int], blocks: bytes, rounds: int) -> list[int]:
    return _words(_native.kupyna_blocks(_bytes(state), blocks, rounds), len(state))


def _native_output_transform(state: list[int], rounds: int) -> bytes:
    return _native.kupyna_output(_bytes(state), rounds)


if _native is not None:
    _native.kupyna_init(SBOXES)
    _absorb_blocks, _output_transform = _native_absorb_blocks, _native_output_transform
else:
    _absorb_blocks, _output_transform = absorb_blocks, output_transform


class Kupyna:
    """hashlib-style Kupyna-256/384/512."""

    def __init__(self, bits: int = 256, data: bytes = b"") -> None:
        if bits not in (256, 384, 512):
            raise ValueError("Kupyna output is 256, 384 or 512 bits")
        self.digest_size = bits // 8
        self.name = f"kupyna{bits}"
        self.block_size = 64 if bits <= 256 else 128
        self._columns = self.block_size // 8
        self._rounds = 10 if bits <= 256 else 14
        self._state = [self.block_size] + [0] * (self._columns - 1)
        self._buf = b""
        self._length = 0
        if data:
            self.update(data)

    def update(self, data: bytes) -> None:
        data = bytes(data)
        self._length += len(data)
        if self._buf:
            data = self._buf + data
        size = self.block_size
        full = len(data) - len(data) % size
        if full:
            self._state = _absorb_blocks(self._state, data[:full], self._rounds)
        self._buf = data[full:]

    def copy(self) -> Kupyna:
        other = Kupyna.__new__(Kupyna)
        other.__dict__.update(self.__dict__)
        other._state = list(self._state)
        return other

    def digest(self) -> bytes:
        size = self.block_size
        nbits = self._length * 8
        zeros = ((-nbits - 97) % (size * 8)) // 8
        tail = self._buf + b"\x80" + bytes(zeros) + nbits.to_bytes(12, "little")
        state = _absorb_blocks(self._state, tail, self._rounds)
        return _output_transform(state, self._rounds)[-self.digest_size:]

    def hexdigest(self) -> str:
        return self.digest().hex()


def kupyna256(data: bytes = b"") -> Kupyna:
    return Kupyna(256, data)


def kupyna384(data: bytes = b"") -> Kupyna:
    return Kupyna(384, data)


def kupyna512(data: bytes = b"") -> Kupyna:
    return Kupyna(512, data)
