/*
 * Compiled kernels of the Ukrainian national algorithms (gateway.crypto.ua._native).
 *
 * The pure Python modules (gost34311.py, kupyna.py, gf2m.py, ec.py) are the reference: they keep
 * the buffering, padding and the API, and call these kernels for the bulk work when the extension
 * was built. Every kernel here is checked against the pure code, the standards' vectors, dstu-core
 * and gost89 in tests/test_ua_native.py.
 *
 *   gost34311_blocks(h, sum, data, sbox)  -> (h, sum)   GOST 34.311-95 steps over 32-byte blocks
 *   kupyna_blocks(state, data, rounds)    -> state       DSTU 7564 compression over whole blocks
 *   kupyna_output(state, rounds)          -> bytes       the output transformation T(+)(h) ^ h
 *   ec_combined(m, ks, a, b, p1x, p1y, s, p2x, p2y, r) -> (x||y) | None
 *       s*P1 + r*P2 on y^2 + xy = x^3 + a x^2 + b over GF(2^m) (DSTU 4145 curves), affine result.
 *
 * Integers cross the boundary as little-endian byte strings. Nothing here is constant-time: the
 * EC kernel serves verification (public data) and signing on a fresh nonce, as the Python code.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* GOST 28147-89 (simple substitution, one block) and GOST 34.311-95                           */

typedef struct {
    uint32_t t[4][256]; /* byte j substituted and placed at bits 8j..8j+7, then rotated left 11 */
} gost_tables;

static void gost_build_tables(const unsigned char *sbox /* 128 nibbles, row 0 = k8 */, gost_tables *g)
{
    for (int j = 0; j < 4; j++) {
        const unsigned char *lo_row = sbox + 16 * (7 - 2 * j);     /* nibble 2j   */
        const unsigned char *hi_row = sbox + 16 * (7 - 2 * j - 1); /* nibble 2j+1 */
        for (int x = 0; x < 256; x++) {
            uint32_t v = ((uint32_t)(lo_row[x & 15] | (hi_row[x >> 4] << 4))) << (8 * j);
            g->t[j][x] = (v << 11) | (v >> 21);
        }
    }
}

static inline uint32_t gost_f(const gost_tables *g, uint32_t x)
{
    return g->t[0][x & 255] ^ g->t[1][(x >> 8) & 255] ^ g->t[2][(x >> 16) & 255] ^ g->t[3][x >> 24];
}

/* One block (n0 = low word, n1 = high word); the output is n1 | n0 << 32 as in gost28147.py. */
static uint64_t gost_encrypt(const gost_tables *g, const uint32_t k[8], uint64_t block)
{
    uint32_t n0 = (uint32_t)block, n1 = (uint32_t)(block >> 32);
    for (int pass = 0; pass < 3; pass++) {
        for (int i = 0; i < 8; i += 2) {
            n1 ^= gost_f(g, n0 + k[i]);
            n0 ^= gost_f(g, n1 + k[i + 1]);
        }
    }
    for (int i = 7; i > 0; i -= 2) {
        n1 ^= gost_f(g, n0 + k[i]);
        n0 ^= gost_f(g, n1 + k[i - 1]);
    }
    return (uint64_t)n1 | ((uint64_t)n0 << 32);
}

static inline uint64_t load64(const unsigned char *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
#else
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
#endif
}

static inline void store64(unsigned char *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(p, &v, 8);
#else
    for (int i = 0; i < 8; i++) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
#endif
}

/* A(Y) for Y = y4|y3|y2|y1 (y[0] = y1): (y1 ^ y2) | y4 | y3 | y2 */
static inline void gost_a(uint64_t y[4])
{
    uint64_t y1 = y[0];
    y[0] = y[1];
    y[1] = y[2];
    y[2] = y[3];
    y[3] = y1 ^ y[0];
}

/* P: key word t is made of bytes t, 8+t, 16+t, 24+t of w */
static void gost_p(const uint64_t w[4], uint32_t k[8])
{
    unsigned char b[32];
    for (int i = 0; i < 4; i++)
        store64(b + 8 * i, w[i]);
    for (int t = 0; t < 8; t++)
        k[t] = (uint32_t)b[t] | ((uint32_t)b[8 + t] << 8) | ((uint32_t)b[16 + t] << 16) |
               ((uint32_t)b[24 + t] << 24);
}

/* psi applied `times` times to 16 little-endian 16-bit words, in place */
static void gost_psi(uint16_t y[16], int times)
{
    uint16_t buf[16 + 80];
    memcpy(buf, y, sizeof(uint16_t) * 16);
    for (int i = 0; i < times; i++)
        buf[16 + i] = buf[i] ^ buf[i + 1] ^ buf[i + 2] ^ buf[i + 3] ^ buf[i + 12] ^ buf[i + 15];
    memcpy(y, buf + times, sizeof(uint16_t) * 16);
}

static void words16(const uint64_t v[4], uint16_t out[16])
{
    for (int i = 0; i < 16; i++)
        out[i] = (uint16_t)(v[i / 4] >> (16 * (i % 4)));
}

static void gost_compress(const gost_tables *g, uint64_t h[4], const uint64_t m[4])
{
    static const uint64_t C3[4] = {0xff00ff00ff00ff00ULL, 0x00ff00ff00ff00ffULL, 0xff0000ff00ffff00ULL,
                                   0xff00ffff000000ffULL};
    uint64_t u[4], v[4], w[4], s[4];
    uint32_t k[8];
    memcpy(u, h, sizeof u);
    memcpy(v, m, sizeof v);
    for (int step = 0; step < 4; step++) {
        if (step) {
            gost_a(u);
            if (step == 2)
                for (int i = 0; i < 4; i++)
                    u[i] ^= C3[i];
            gost_a(v);
            gost_a(v);
        }
        for (int i = 0; i < 4; i++)
            w[i] = u[i] ^ v[i];
        gost_p(w, k);
        s[step] = gost_encrypt(g, k, h[step]);
    }
    uint16_t ys[16], ym[16], yh[16];
    words16(s, ys);
    words16(m, ym);
    words16(h, yh);
    gost_psi(ys, 12);
    for (int i = 0; i < 16; i++)
        ys[i] ^= ym[i];
    gost_psi(ys, 1);
    for (int i = 0; i < 16; i++)
        ys[i] ^= yh[i];
    gost_psi(ys, 61);
    for (int i = 0; i < 4; i++)
        h[i] = (uint64_t)ys[4 * i] | ((uint64_t)ys[4 * i + 1] << 16) | ((uint64_t)ys[4 * i + 2] << 32) |
               ((uint64_t)ys[4 * i + 3] << 48);
}

static PyObject *py_gost34311_blocks(PyObject *self, PyObject *args)
{
    Py_buffer hb, sb, data, sbox;
    if (!PyArg_ParseTuple(args, "y*y*y*y*", &hb, &sb, &data, &sbox))
        return NULL;
    PyObject *result = NULL;
    if (hb.len != 32 || sb.len != 32 || sbox.len != 128 || data.len % 32) {
        PyErr_SetString(PyExc_ValueError, "gost34311_blocks: 32-byte state, 128-nibble S-box, whole blocks");
        goto done;
    }
    for (Py_ssize_t i = 0; i < 128; i++)
        if (((const unsigned char *)sbox.buf)[i] > 15) {
            PyErr_SetString(PyExc_ValueError, "bad GOST 28147 S-box");
            goto done;
        }
    gost_tables g;
    gost_build_tables(sbox.buf, &g);
    uint64_t h[4], sum[4], m[4];
    for (int i = 0; i < 4; i++) {
        h[i] = load64((const unsigned char *)hb.buf + 8 * i);
        sum[i] = load64((const unsigned char *)sb.buf + 8 * i);
    }
    const unsigned char *p = data.buf;
    Py_ssize_t nblocks = data.len / 32;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t blk = 0; blk < nblocks; blk++, p += 32) {
        unsigned __int128 carry = 0;
        for (int i = 0; i < 4; i++) {
            m[i] = load64(p + 8 * i);
            carry += (unsigned __int128)sum[i] + m[i];
            sum[i] = (uint64_t)carry;
            carry >>= 64;
        }
        gost_compress(&g, h, m);
    }
    Py_END_ALLOW_THREADS
    unsigned char out_h[32], out_s[32];
    for (int i = 0; i < 4; i++) {
        store64(out_h + 8 * i, h[i]);
        store64(out_s + 8 * i, sum[i]);
    }
    result = Py_BuildValue("(y#y#)", out_h, (Py_ssize_t)32, out_s, (Py_ssize_t)32);
done:
    PyBuffer_Release(&hb);
    PyBuffer_Release(&sb);
    PyBuffer_Release(&data);
    PyBuffer_Release(&sbox);
    return result;
}

/* ------------------------------------------------------------------------------------------ */
/* Kupyna (DSTU 7564:2014)                                                                     */

static uint64_t kupyna_t[8][256];
static int kupyna_ready = 0;
static const unsigned char MDS_ROW[8] = {0x01, 0x01, 0x05, 0x01, 0x08, 0x06, 0x07, 0x04};

static unsigned char gf256_mul(unsigned char x, unsigned char y)
{
    unsigned char r = 0;
    for (int i = 0; i < 8; i++) {
        if (y & 1)
            r ^= x;
        unsigned char hbit = x & 0x80;
        x <<= 1;
        if (hbit)
            x ^= 0x1D;
        y >>= 1;
    }
    return r;
}

static void kupyna_init_tables(const unsigned char *sboxes /* 4 x 256 */)
{
    for (int i = 0; i < 8; i++) {
        const unsigned char *sbox = sboxes + 256 * (i % 4);
        for (int x = 0; x < 256; x++) {
            uint64_t v = 0;
            for (int r = 0; r < 8; r++)
                v |= (uint64_t)gf256_mul(sbox[x], MDS_ROW[((i - r) % 8 + 8) % 8]) << (8 * r);
            kupyna_t[i][x] = v;
        }
    }
    kupyna_ready = 1;
}

/* Inlined for each state width so that the column indices are constants (c is 8 or 16). */
static inline __attribute__((always_inline)) void kupyna_rounds_c(uint64_t *state, const int c, int rounds,
                                                                   int q)
{
    uint64_t tmp[16];
    int shift7 = c == 16 ? 11 : 7;
    for (int rnd = 0; rnd < rounds; rnd++) {
        if (q) {
            for (int j = 0; j < c; j++)
                state[j] += 0x00F0F0F0F0F0F0F3ULL ^ ((uint64_t)((((c - j - 1) << 4) ^ rnd) & 0xFF) << 56);
        } else {
            for (int j = 0; j < c; j++)
                state[j] ^= (uint64_t)((j << 4) ^ rnd);
        }
        for (int j = 0; j < c; j++) {
            tmp[j] = kupyna_t[0][state[j] & 255] ^ kupyna_t[1][(state[(j - 1 + c) % c] >> 8) & 255] ^
                     kupyna_t[2][(state[(j - 2 + c) % c] >> 16) & 255] ^
                     kupyna_t[3][(state[(j - 3 + c) % c] >> 24) & 255] ^
                     kupyna_t[4][(state[(j - 4 + c) % c] >> 32) & 255] ^
                     kupyna_t[5][(state[(j - 5 + c) % c] >> 40) & 255] ^
                     kupyna_t[6][(state[(j - 6 + c) % c] >> 48) & 255] ^
                     kupyna_t[7][state[(j - shift7 + c) % c] >> 56];
        }
        memcpy(state, tmp, sizeof(uint64_t) * c);
    }
}

static void kupyna_rounds(uint64_t *state, int c, int rounds, int q)
{
    if (c == 8)
        kupyna_rounds_c(state, 8, rounds, q);
    else
        kupyna_rounds_c(state, 16, rounds, q);
}

static int kupyna_args(Py_buffer *state, int rounds)
{
    if (!kupyna_ready) {
        PyErr_SetString(PyExc_RuntimeError, "kupyna tables not initialised (call kupyna_init)");
        return 0;
    }
    if (!((state->len == 64 && rounds == 10) || (state->len == 128 && rounds == 14))) {
        PyErr_SetString(PyExc_ValueError, "Kupyna state is 64 bytes (10 rounds) or 128 bytes (14 rounds)");
        return 0;
    }
    return 1;
}

static PyObject *py_kupyna_init(PyObject *self, PyObject *args)
{
    Py_buffer sb;
    if (!PyArg_ParseTuple(args, "y*", &sb))
        return NULL;
    if (sb.len != 1024) {
        PyBuffer_Release(&sb);
        PyErr_SetString(PyExc_ValueError, "Kupyna S-boxes are 4 x 256 bytes");
        return NULL;
    }
    kupyna_init_tables(sb.buf);
    PyBuffer_Release(&sb);
    Py_RETURN_NONE;
}

static PyObject *py_kupyna_blocks(PyObject *self, PyObject *args)
{
    Py_buffer st, data;
    int rounds;
    if (!PyArg_ParseTuple(args, "y*y*i", &st, &data, &rounds))
        return NULL;
    PyObject *result = NULL;
    if (!kupyna_args(&st, rounds))
        goto done;
    int c = (int)(st.len / 8);
    if (data.len % st.len) {
        PyErr_SetString(PyExc_ValueError, "kupyna_blocks: whole blocks only");
        goto done;
    }
    uint64_t h[16], p[16], q[16];
    for (int j = 0; j < c; j++)
        h[j] = load64((const unsigned char *)st.buf + 8 * j);
    const unsigned char *in = data.buf;
    Py_ssize_t nblocks = data.len / st.len;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t blk = 0; blk < nblocks; blk++, in += 8 * c) {
        for (int j = 0; j < c; j++) {
            q[j] = load64(in + 8 * j);
            p[j] = h[j] ^ q[j];
        }
        kupyna_rounds(p, c, rounds, 0);
        kupyna_rounds(q, c, rounds, 1);
        for (int j = 0; j < c; j++)
            h[j] ^= p[j] ^ q[j];
    }
    Py_END_ALLOW_THREADS
    unsigned char out[128];
    for (int j = 0; j < c; j++)
        store64(out + 8 * j, h[j]);
    result = PyBytes_FromStringAndSize((const char *)out, 8 * c);
done:
    PyBuffer_Release(&st);
    PyBuffer_Release(&data);
    return result;
}

static PyObject *py_kupyna_output(PyObject *self, PyObject *args)
{
    Py_buffer st;
    int rounds;
    if (!PyArg_ParseTuple(args, "y*i", &st, &rounds))
        return NULL;
    PyObject *result = NULL;
    if (!kupyna_args(&st, rounds))
        goto done;
    int c = (int)(st.len / 8);
    uint64_t h[16], t[16];
    for (int j = 0; j < c; j++)
        t[j] = h[j] = load64((const unsigned char *)st.buf + 8 * j);
    kupyna_rounds(t, c, rounds, 0);
    unsigned char out[128];
    for (int j = 0; j < c; j++)
        store64(out + 8 * j, h[j] ^ t[j]);
    result = PyBytes_FromStringAndSize((const char *)out, 8 * c);
done:
    PyBuffer_Release(&st);
    return result;
}

/* ------------------------------------------------------------------------------------------ */
/* GF(2^m), polynomial basis, m <= 575, 64-bit limbs (limb 0 least significant)               */

#define MAXL 9

typedef struct {
    int m, nl;
    int p[5]; /* m, k1[, k2, k3], 0 : the exponents of f(x) besides 0, descending */
} field;

typedef uint64_t fe[MAXL];

static void mul1x1(uint64_t *r1, uint64_t *r0, uint64_t a, uint64_t b)
{
    uint64_t h, l, s, tab[16], top3b = a >> 61;
    uint64_t a1 = a & 0x1FFFFFFFFFFFFFFFULL, a2 = a1 << 1, a4 = a2 << 1, a8 = a4 << 1;
    tab[0] = 0;
    tab[1] = a1;
    tab[2] = a2;
    tab[3] = a1 ^ a2;
    tab[4] = a4;
    tab[5] = a1 ^ a4;
    tab[6] = a2 ^ a4;
    tab[7] = a1 ^ a2 ^ a4;
    tab[8] = a8;
    tab[9] = a1 ^ a8;
    tab[10] = a2 ^ a8;
    tab[11] = a1 ^ a2 ^ a8;
    tab[12] = a4 ^ a8;
    tab[13] = a1 ^ a4 ^ a8;
    tab[14] = a2 ^ a4 ^ a8;
    tab[15] = a1 ^ a2 ^ a4 ^ a8;
    l = tab[b & 0xF];
    h = 0;
    for (int sh = 4; sh < 64; sh += 4) {
        s = tab[(b >> sh) & 0xF];
        l ^= s << sh;
        h ^= s >> (64 - sh);
    }
    if (top3b & 1) {
        l ^= b << 61;
        h ^= b >> 3;
    }
    if (top3b & 2) {
        l ^= b << 62;
        h ^= b >> 2;
    }
    if (top3b & 4) {
        l ^= b << 63;
        h ^= b >> 1;
    }
    *r1 = h;
    *r0 = l;
}

/* z (2*nl limbs) reduced modulo f into r (after OpenSSL's BN_GF2m_mod_arr) */
static void f_reduce(const field *F, uint64_t *z, uint64_t *r)
{
    int dN = F->m / 64, j, k, n, d0, d1;
    uint64_t zz;
    for (j = 2 * F->nl - 1; j > dN;) {
        zz = z[j];
        if (zz == 0) {
            j--;
            continue;
        }
        z[j] = 0;
        for (k = 1; F->p[k] != 0; k++) {
            n = F->p[0] - F->p[k];
            d0 = n % 64;
            d1 = 64 - d0;
            n /= 64;
            z[j - n] ^= (zz >> d0);
            if (d0)
                z[j - n - 1] ^= (zz << d1);
        }
        n = dN;
        d0 = F->p[0] % 64;
        d1 = 64 - d0;
        z[j - n] ^= (zz >> d0);
        if (d0)
            z[j - n - 1] ^= (zz << d1);
    }
    while (j == dN) {
        d0 = F->p[0] % 64;
        zz = z[dN] >> d0;
        if (zz == 0)
            break;
        d1 = 64 - d0;
        if (d0)
            z[dN] = (z[dN] << d1) >> d1;
        else
            z[dN] = 0;
        z[0] ^= zz;
        for (k = 1; F->p[k] != 0; k++) {
            uint64_t t;
            n = F->p[k] / 64;
            d0 = F->p[k] % 64;
            d1 = 64 - d0;
            z[n] ^= (zz << d0);
            if (d0 && (t = zz >> d1))
                z[n + 1] ^= t;
        }
    }
    memcpy(r, z, sizeof(uint64_t) * F->nl);
    for (int i = F->nl; i < MAXL; i++)
        r[i] = 0;
}

static void f_mul(const field *F, fe r, const fe a, const fe b)
{
    uint64_t z[2 * MAXL] = {0}, hi, lo;
    for (int i = 0; i < F->nl; i++) {
        if (!a[i])
            continue;
        for (int j = 0; j < F->nl; j++) {
            mul1x1(&hi, &lo, a[i], b[j]);
            z[i + j] ^= lo;
            z[i + j + 1] ^= hi;
        }
    }
    f_reduce(F, z, r);
}

static uint64_t spread32(uint32_t x)
{
    uint64_t v = x;
    v = (v | (v << 16)) & 0x0000FFFF0000FFFFULL;
    v = (v | (v << 8)) & 0x00FF00FF00FF00FFULL;
    v = (v | (v << 4)) & 0x0F0F0F0F0F0F0F0FULL;
    v = (v | (v << 2)) & 0x3333333333333333ULL;
    v = (v | (v << 1)) & 0x5555555555555555ULL;
    return v;
}

static void f_sqr(const field *F, fe r, const fe a)
{
    uint64_t z[2 * MAXL] = {0};
    for (int i = 0; i < F->nl; i++) {
        z[2 * i] = spread32((uint32_t)a[i]);
        z[2 * i + 1] = spread32((uint32_t)(a[i] >> 32));
    }
    f_reduce(F, z, r);
}

static int f_is_zero(const field *F, const fe a)
{
    for (int i = 0; i < F->nl; i++)
        if (a[i])
            return 0;
    return 1;
}

static int f_eq(const field *F, const fe a, const fe b)
{
    return memcmp(a, b, sizeof(uint64_t) * F->nl) == 0;
}

static void f_add(const field *F, fe r, const fe a, const fe b)
{
    for (int i = 0; i < MAXL; i++)
        r[i] = a[i] ^ b[i];
}

/* a^(2^m - 2) = a^-1 (a != 0) */
static void f_inv(const field *F, fe r, const fe a)
{
    fe t;
    memcpy(t, a, sizeof(fe));
    for (int i = 1; i < F->m - 1; i++) { /* t = a^(2^(i+1) - 1) */
        f_sqr(F, t, t);
        f_mul(F, t, t, a);
    }
    f_sqr(F, r, t);
}

/* ------------------------------------------------------------------------------------------ */
/* Curves y^2 + xy = x^3 + a x^2 + b; Lopez-Dahab projective (x = X/Z, y = Y/Z^2)               */

typedef struct {
    field F;
    int a;
    fe b;
} curve;

typedef struct {
    fe x, y, z;
    int inf;
} ldpoint;

typedef struct {
    fe x, y;
    int inf;
} apoint;

static void ld_double(const curve *C, ldpoint *p)
{
    const field *F = &C->F;
    if (p->inf || f_is_zero(F, p->x)) {
        p->inf = 1;
        return;
    }
    fe x1s, z1s, z3, bz4, x3, t, y3, u;
    f_sqr(F, x1s, p->x);
    f_sqr(F, z1s, p->z);
    f_mul(F, z3, x1s, z1s);
    f_sqr(F, u, z1s);
    f_mul(F, bz4, C->b, u);
    f_sqr(F, x3, x1s);
    f_add(F, x3, x3, bz4);
    f_sqr(F, t, p->y);
    f_add(F, t, t, bz4);
    if (C->a)
        f_add(F, t, t, z3);
    f_mul(F, y3, bz4, z3);
    f_mul(F, u, x3, t);
    f_add(F, y3, y3, u);
    memcpy(p->x, x3, sizeof(fe));
    memcpy(p->y, y3, sizeof(fe));
    memcpy(p->z, z3, sizeof(fe));
}

/* p += q (q affine, not infinity) */
static void ld_add(const curve *C, ldpoint *p, const apoint *q)
{
    const field *F = &C->F;
    if (p->inf) {
        memcpy(p->x, q->x, sizeof(fe));
        memcpy(p->y, q->y, sizeof(fe));
        memset(p->z, 0, sizeof(fe));
        p->z[0] = 1;
        p->inf = 0;
        return;
    }
    fe z1s, a_, b_, c, d, z3, e, x3, ff, g, y3, u;
    f_sqr(F, z1s, p->z);
    f_mul(F, u, q->y, z1s);
    f_add(F, a_, p->y, u);
    f_mul(F, u, q->x, p->z);
    f_add(F, b_, p->x, u);
    if (f_is_zero(F, b_)) {
        if (f_is_zero(F, a_))
            ld_double(C, p);
        else
            p->inf = 1;
        return;
    }
    f_mul(F, c, b_, p->z);
    f_sqr(F, u, b_);
    if (C->a) {
        fe cz;
        f_add(F, cz, c, z1s);
        f_mul(F, d, u, cz);
    } else {
        f_mul(F, d, u, c);
    }
    f_sqr(F, z3, c);
    f_mul(F, e, a_, c);
    f_sqr(F, x3, a_);
    f_add(F, x3, x3, d);
    f_add(F, x3, x3, e);
    f_mul(F, u, q->x, z3);
    f_add(F, ff, x3, u);
    f_add(F, u, q->x, q->y);
    fe z3s;
    f_sqr(F, z3s, z3);
    f_mul(F, g, u, z3s);
    f_add(F, u, e, z3);
    f_mul(F, y3, u, ff);
    f_add(F, y3, y3, g);
    memcpy(p->x, x3, sizeof(fe));
    memcpy(p->y, y3, sizeof(fe));
    memcpy(p->z, z3, sizeof(fe));
}

static void ld_to_affine(const curve *C, const ldpoint *p, apoint *r)
{
    const field *F = &C->F;
    if (p->inf) {
        r->inf = 1;
        return;
    }
    fe zi, zi2;
    f_inv(F, zi, p->z);
    f_mul(F, r->x, p->x, zi);
    f_sqr(F, zi2, zi);
    f_mul(F, r->y, p->y, zi2);
    r->inf = 0;
}

/* Bits of a little-endian scalar */
static inline int bit_at(const unsigned char *k, Py_ssize_t len, Py_ssize_t i)
{
    return (i / 8 < len) ? (k[i / 8] >> (i % 8)) & 1 : 0;
}

static int load_fe(const field *F, fe r, Py_buffer *b)
{
    memset(r, 0, sizeof(fe));
    if (b->len > (Py_ssize_t)(8 * F->nl))
        return 0;
    const unsigned char *p = b->buf;
    for (Py_ssize_t i = 0; i < b->len; i++)
        r[i / 8] |= (uint64_t)p[i] << (8 * (i % 8));
    if (F->m % 64 && (r[F->nl - 1] >> (F->m % 64)))
        return 0;
    return 1;
}

static PyObject *py_ec_combined(PyObject *self, PyObject *args)
{
    int m, a;
    PyObject *ks;
    Py_buffer bb, p1x, p1y, s, p2x, p2y, r;
    if (!PyArg_ParseTuple(args, "iOiy*y*y*y*y*y*y*", &m, &ks, &a, &bb, &p1x, &p1y, &s, &p2x, &p2y, &r))
        return NULL;
    PyObject *result = NULL;
    curve C;
    memset(&C, 0, sizeof C);
    Py_ssize_t nks = PyTuple_Check(ks) ? PyTuple_GET_SIZE(ks) : -1;
    if (m < 3 || m > 64 * MAXL - 1 || (nks != 1 && nks != 3) || (a != 0 && a != 1)) {
        PyErr_SetString(PyExc_ValueError, "ec_combined: unsupported field or curve");
        goto done;
    }
    C.F.m = m;
    C.F.nl = (m + 63) / 64;
    C.F.p[0] = m;
    for (Py_ssize_t i = 0; i < nks; i++) {
        long k = PyLong_AsLong(PyTuple_GET_ITEM(ks, i));
        if (k <= 0 || k >= m || (i && k >= C.F.p[i])) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "ec_combined: exponents must descend within (0, m)");
            goto done;
        }
        C.F.p[i + 1] = (int)k;
    }
    C.F.p[nks + 1] = 0;
    C.a = a;
    apoint P1, P2, P12;
    if (!load_fe(&C.F, C.b, &bb) || !load_fe(&C.F, P1.x, &p1x) || !load_fe(&C.F, P1.y, &p1y) ||
        !load_fe(&C.F, P2.x, &p2x) || !load_fe(&C.F, P2.y, &p2y)) {
        PyErr_SetString(PyExc_ValueError, "ec_combined: an element does not fit the field");
        goto done;
    }
    P1.inf = P2.inf = 0;
    {
        /* P1 + P2 for the joint additions (computed in projective, then affine) */
        ldpoint t;
        t.inf = 1;
        ld_add(&C, &t, &P1);
        ld_add(&C, &t, &P2);
        ld_to_affine(&C, &t, &P12);
    }
    Py_ssize_t bits = 8 * (s.len > r.len ? s.len : r.len);
    ldpoint acc;
    acc.inf = 1;
    const unsigned char *sk = s.buf, *rk = r.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = bits - 1; i >= 0; i--) {
        ld_double(&C, &acc);
        int bs = bit_at(sk, s.len, i), br = bit_at(rk, r.len, i);
        if (bs && br) {
            if (!P12.inf)
                ld_add(&C, &acc, &P12);
        } else if (bs) {
            ld_add(&C, &acc, &P1);
        } else if (br) {
            ld_add(&C, &acc, &P2);
        }
    }
    Py_END_ALLOW_THREADS
    apoint out;
    ld_to_affine(&C, &acc, &out);
    if (out.inf) {
        Py_INCREF(Py_None);
        result = Py_None;
        goto done;
    }
    {
        int nb = (m + 7) / 8;
        unsigned char buf[2 * 8 * MAXL];
        for (int i = 0; i < nb; i++) {
            buf[i] = (unsigned char)(out.x[i / 8] >> (8 * (i % 8)));
            buf[nb + i] = (unsigned char)(out.y[i / 8] >> (8 * (i % 8)));
        }
        result = PyBytes_FromStringAndSize((const char *)buf, 2 * nb);
    }
done:
    PyBuffer_Release(&bb);
    PyBuffer_Release(&p1x);
    PyBuffer_Release(&p1y);
    PyBuffer_Release(&s);
    PyBuffer_Release(&p2x);
    PyBuffer_Release(&p2y);
    PyBuffer_Release(&r);
    return result;
}

/* ------------------------------------------------------------------------------------------ */

static PyMethodDef methods[] = {
    {"gost34311_blocks", py_gost34311_blocks, METH_VARARGS, "GOST 34.311 steps over whole blocks."},
    {"kupyna_init", py_kupyna_init, METH_VARARGS, "Load the four Kupyna S-boxes (1024 bytes)."},
    {"kupyna_blocks", py_kupyna_blocks, METH_VARARGS, "Kupyna compression over whole blocks."},
    {"kupyna_output", py_kupyna_output, METH_VARARGS, "Kupyna output transformation."},
    {"ec_combined", py_ec_combined, METH_VARARGS, "s*P1 + r*P2 on a binary curve (affine, or None)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods};

PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&module); }
