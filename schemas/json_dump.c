/*
 * json_dump.c — compact JSON serialisation of jansson values, byte for byte
 * what json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) writes.
 *
 * Why not json_dumps: jansson's dumper spends most of its time on
 * bookkeeping (a loop check that formats every container's address with
 * snprintf into a hash table, and a callback per fragment). Every write
 * serialises the resource three or four times (event, stored view, change
 * record, response), and a callgrind profile of POST /Users put json_dumps
 * at a fifth of all instructions. This writer appends runs of plain bytes
 * to one growable buffer. Reals (rare in SCIM) are delegated to jansson so
 * their formatting stays identical. The unit test 0150-json-dump and the
 * json fuzz target compare both writers on every input.
 *
 * Thread safety: reentrant, no shared state.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/scim_schemas.h"

#define DUMP_MAX_DEPTH 128 /* stored JSON is parsed at depth <= 32 */

/* The bytes among the 8 at p that a JSON string escapes (below 0x20,
 * '"' or '\\'), as the high bit of each byte (little-endian: the lowest
 * set bit marks the first). Zero exactly when there is none: the "has a
 * byte less than n" and "has a zero byte" word tricks have no false
 * positives for n <= 128. Exact up to the first such byte: a borrow can
 * only mark later bytes falsely, so ctz/8 is the first one's index. */
static inline uint64_t escape_mask8(const char *p)
{
        const uint64_t ones = 0x0101010101010101ULL;
        const uint64_t high = 0x8080808080808080ULL;
        uint64_t x, q, bs;

        memcpy(&x, p, 8);
        q = x ^ (ones * '"');
        bs = x ^ (ones * '\\');
        return (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) |
                ((bs - ones) & ~bs)) &
               high;
}

/* Makes room for `extra` more bytes and the NUL after them. */
static int room(scim_buf_t *b, size_t extra)
{
        return scim_buf_reserve(b, extra);
}

/* The escape of each byte: 0 plain, else the letter after the backslash
 * ('u' for \u00XX). */
static const unsigned char ESC[256] = {
    ['\0'] = 'u', [1] = 'u',  [2] = 'u',  [3] = 'u',  [4] = 'u',
    [5] = 'u',    [6] = 'u',  [7] = 'u',  ['\b'] = 'b', ['\t'] = 't',
    ['\n'] = 'n', [11] = 'u', ['\f'] = 'f', ['\r'] = 'r', [14] = 'u',
    [15] = 'u',   [16] = 'u', [17] = 'u', [18] = 'u', [19] = 'u',
    [20] = 'u',   [21] = 'u', [22] = 'u', [23] = 'u', [24] = 'u',
    [25] = 'u',   [26] = 'u', [27] = 'u', [28] = 'u', [29] = 'u',
    [30] = 'u',   [31] = 'u', ['"'] = '"', ['\\'] = '\\'};

/* s as a JSON string, written straight into b: room for the plain case is
 * made once, and again only when escapes (up to 6 bytes for 1) use it up
 * (a stored resource escaped inside a sealed payload or change record has
 * a quote every few bytes; two appends per escape cost ~26 instructions a
 * byte). */
static int put_string(scim_buf_t *b, const char *s, size_t n)
{
        static const char hx[] = "0123456789ABCDEF";
        char *o;
        size_t i = 0;

        if (room(b, n + 2) < 0)
                return -1;
        o = b->data + b->len;
        *o++ = '"';
        while (i < n) {
                size_t end;

                /* eight plain bytes at a time (replay profile: this loop
                 * was ~9% of all instructions one byte at a time); in a
                 * block with something to escape, its plain bytes before
                 * the first such one are copied at once (a stored
                 * resource escaped in a sealed payload has a quote every
                 * few bytes) and the escape is written below */
                if (i + 8 <= n) {
                        uint64_t m = escape_mask8(s + i);
                        size_t k;

                        memcpy(o, s + i, 8); /* room: n - i >= 8 left */
                        if (!m) {
                                o += 8;
                                i += 8;
                                continue;
                        }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                        k = (size_t)__builtin_ctzll(m) >> 3;
#else
                        k = 0; /* mask bits not in address order */
#endif
                        o += k;
                        i += k;
                        end = i + 1; /* the escape, then blocks again */
                } else if (n >= 8 && !escape_mask8(s + n - 8)) {
                        /* the tail of a longer string: its last eight
                         * bytes (overlapping what is done) at once */
                        memcpy(o, s + i, n - i);
                        o += n - i;
                        break;
                } else {
                        end = n; /* a short tail: byte by byte */
                }
                for (; i < end; i++) {
                        unsigned char c = (unsigned char)s[i], e = ESC[c];

                        if (!e) {
                                *o++ = (char)c;
                                continue;
                        }
                        /* this escape, the rest unescaped, the quote */
                        if ((size_t)(o - b->data) + 6 + (n - i - 1) + 2 >
                            b->cap) {
                                b->len = (size_t)(o - b->data);
                                if (room(b, 6 + (n - i - 1) + 1) < 0)
                                        return -1;
                                o = b->data + b->len;
                        }
                        *o++ = '\\';
                        *o++ = (char)e;
                        if (e == 'u') {
                                *o++ = '0';
                                *o++ = '0';
                                *o++ = hx[c >> 4];
                                *o++ = hx[c & 15];
                        }
                }
        }
        *o++ = '"';
        b->len = (size_t)(o - b->data);
        b->data[b->len] = '\0';
        return 0;
}

static int put_integer(scim_buf_t *b, json_int_t v)
{
        char d[24];
        int i = (int)sizeof(d);
        unsigned long long u =
            v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

        do {
                d[--i] = (char)('0' + u % 10);
                u /= 10;
        } while (u);
        if (v < 0)
                d[--i] = '-';
        return scim_buf_put(b, d + i, sizeof(d) - (size_t)i);
}

static int put_value(scim_buf_t *b, const json_t *j, int depth)
{
        if (depth > DUMP_MAX_DEPTH)
                return -1;
        switch (json_typeof(j)) {
        case JSON_OBJECT: {
                const char *k;
                json_t *v;
                int first = 1;

                if (scim_buf_put(b, "{", 1) < 0)
                        return -1;
                json_object_foreach((json_t *)j, k, v)
                {
                        if (!first && scim_buf_put(b, ",", 1) < 0)
                                return -1;
                        first = 0;
                        if (put_string(b, k, strlen(k)) < 0 ||
                            scim_buf_put(b, ":", 1) < 0 ||
                            put_value(b, v, depth + 1) < 0)
                                return -1;
                }
                return scim_buf_put(b, "}", 1);
        }
        case JSON_ARRAY: {
                size_t n = json_array_size(j);

                if (scim_buf_put(b, "[", 1) < 0)
                        return -1;
                for (size_t i = 0; i < n; i++) {
                        if (i && scim_buf_put(b, ",", 1) < 0)
                                return -1;
                        if (put_value(b, json_array_get(j, i), depth + 1) < 0)
                                return -1;
                }
                return scim_buf_put(b, "]", 1);
        }
        case JSON_STRING:
                return put_string(b, json_string_value(j),
                                  json_string_length(j));
        case JSON_INTEGER:
                return put_integer(b, json_integer_value(j));
        case JSON_REAL: {
                char *t = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
                int rc = t ? scim_buf_puts(b, t) : -1;

                free(t);
                return rc;
        }
        case JSON_TRUE:
                return scim_buf_put(b, "true", 4);
        case JSON_FALSE:
                return scim_buf_put(b, "false", 5);
        case JSON_NULL:
                return scim_buf_put(b, "null", 4);
        }
        return -1;
}

int scim_json_dump(const json_t *j, scim_buf_t *out)
{
        size_t mark = out->len;

        if (!j || put_value(out, j, 0) < 0) {
                out->len = mark;
                if (out->data)
                        out->data[mark] = '\0';
                return -1;
        }
        return 0;
}

char *scim_json_dumps(const json_t *j)
{
        scim_buf_t b = {0};

        if (scim_json_dump(j, &b) < 0) {
                scim_buf_free(&b);
                return NULL;
        }
        return b.data;
}

int scim_json_dump_string(const char *s, size_t n, scim_buf_t *out)
{
        size_t len = out->len;

        if (!scim_utf8_valid(s, n))
                return -1;
        if (put_string(out, s, n) < 0) {
                out->len = len;
                if (out->data)
                        out->data[len] = '\0';
                return -1;
        }
        return 0;
}
