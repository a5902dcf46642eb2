/*
 * casefold.c — Unicode caseless matching for case-insensitive SCIM values
 * (caseExact=false: userName, displayName, emails.value, ...): the
 * uniqueness and index keys the fold writes, and the filter operators eq,
 * ne, co, sw, ew, gt, ge, lt, le.
 *
 * The key of a string is NFKC(full case folding(s)) from libunistring
 * (u8_casefold with UNINORM_NFKC, no language tailoring): "Straße",
 * "STRASSE" and "strasse" share a key, as do "ǅ"/"Ǆ"/"ǆ", "Ω"/"ω",
 * fullwidth "ＡＢＣ" and "abc", and "é" precomposed or as e + U+0301.
 * Compatibility normalisation (K) is deliberate: two user names that look
 * alike must not both be taken. Folding is idempotent, so a key folded
 * again is the same key.
 *
 * Fast path: for a string that is all ASCII, NFKC is the identity and full
 * case folding is tolower, so the key is computed without libunistring and
 * (with a caller buffer) without allocation. Most SCIM values are ASCII;
 * the README says so under "What the server does".
 *
 * Reentrant; no locks.
 */
#include "common/scim_common.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <uninorm.h>

static int all_ascii(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)s[i] & 0x80)
                        return 0;
        return 1;
}

/* tolower of every byte, into buf when it fits, else malloc'd */
static char *ascii_fold(const char *s, size_t n, char *buf, size_t cap,
                        size_t *outlen)
{
        char *out = (buf && n < cap) ? buf : malloc(n + 1);

        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i++)
                out[i] = (char)tolower((unsigned char)s[i]);
        out[n] = '\0';
        if (outlen)
                *outlen = n;
        return out;
}

char *scim_casefold_n(const char *s, size_t n, char *buf, size_t cap,
                      size_t *outlen)
{
        uint8_t *r;
        size_t len;

        if (all_ascii(s, n))
                return ascii_fold(s, n, buf, cap, outlen);
        /* u8_casefold writes into buf when the result fits (cap - 1 leaves
         * room for the NUL), else returns fresh memory */
        len = (buf && cap) ? cap - 1 : 0;
        r = u8_casefold((const uint8_t *)s, n, NULL, UNINORM_NFKC,
                        len ? (uint8_t *)buf : NULL, &len);
        if (!r) {
                if (errno == ENOMEM)
                        return NULL;
                /* libunistring maps ill-formed bytes to U+FFFD; should a
                 * version refuse them instead, fold the ASCII letters */
                return ascii_fold(s, n, buf, cap, outlen);
        }
        if ((char *)r == buf) {
                buf[len] = '\0';
        } else {
                uint8_t *g = realloc(r, len + 1);

                if (!g) {
                        free(r);
                        return NULL;
                }
                r = g;
                r[len] = '\0';
        }
        if (outlen)
                *outlen = len;
        return (char *)r;
}

char *scim_casefold(const char *s)
{
        return scim_casefold_n(s, strlen(s), NULL, 0, NULL);
}

int scim_caseeq(const char *a, const char *b)
{
        char ba[128], bb[128];
        char *fa, *fb;
        size_t na, nb, la = 0, lb = 0;
        int eq;

        if (!a || !b)
                return a == b;
        na = strlen(a);
        nb = strlen(b);
        if (all_ascii(a, na) && all_ascii(b, nb))
                return na == nb && scim_strcaseeq(a, b);
        fa = scim_casefold_n(a, na, ba, sizeof(ba), &la);
        fb = scim_casefold_n(b, nb, bb, sizeof(bb), &lb);
        eq = fa && fb && la == lb && memcmp(fa, fb, la) == 0;
        if (fa != ba)
                free(fa);
        if (fb != bb)
                free(fb);
        return eq;
}
