/*
 * b64.c — a strict, fast base64 decoder for bytes this program encoded
 * itself (sealed events: Nettle's base64 encoder, standard alphabet, '='
 * padding, no line breaks). Four characters at a time through one table;
 * anything else (another alphabet, whitespace, bad padding) is refused,
 * and the caller falls back to a general decoder. Nettle's decoder takes
 * one character per call (~2.5 µs for a 500-character seal here), which
 * a point-in-time list opening 100,000 seals pays 100,000 times.
 *
 * Reentrant; no allocation. The fuzz target fuzz_b64 compares it with
 * Nettle's decoder.
 */
#include "common/scim_common.h"

#include <stdint.h>

/* 0-63, or 64 for a character outside the alphabet */
/* clang-format off */
static const unsigned char val[256] = {
#define X 64
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  62, X,  X,  X,  63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X,  X,  X,  X,  X,  X,
    X,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X,  X,  X,  X,  X,
    X,  26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
#undef X
};
/* clang-format on */

long scim_b64_decode_strict(const char *in, size_t n, unsigned char *out)
{
        const unsigned char *p = (const unsigned char *)in;
        size_t o = 0, full;
        unsigned a, b, c, d;

        if (n % 4)
                return -1;
        if (n == 0)
                return 0;
        full = n - 4; /* the last quad may carry padding */
        for (size_t i = 0; i < full; i += 4) {
                a = val[p[i]];
                b = val[p[i + 1]];
                c = val[p[i + 2]];
                d = val[p[i + 3]];
                if ((a | b | c | d) & 64)
                        return -1;
                out[o++] = (unsigned char)(a << 2 | b >> 4);
                out[o++] = (unsigned char)(b << 4 | c >> 2);
                out[o++] = (unsigned char)(c << 6 | d);
        }
        p += full;
        a = val[p[0]];
        b = val[p[1]];
        if ((a | b) & 64)
                return -1;
        out[o++] = (unsigned char)(a << 2 | b >> 4);
        if (p[2] == '=') {
                if (p[3] != '=' || (b & 15))
                        return -1; /* bits a canonical encoder leaves 0 */
                return (long)o;
        }
        c = val[p[2]];
        if (c & 64)
                return -1;
        out[o++] = (unsigned char)(b << 4 | c >> 2);
        if (p[3] == '=') {
                if (c & 3)
                        return -1;
                return (long)o;
        }
        d = val[p[3]];
        if (d & 64)
                return -1;
        out[o++] = (unsigned char)(c << 6 | d);
        return (long)o;
}
