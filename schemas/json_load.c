/*
 * json_load.c — a JSON parser that builds jansson values, accepting and
 * building exactly what json_loadb(text, len, 0, ...) does, several times
 * faster.
 *
 * Why: jansson's lexer reads through a per-character stream callback and
 * copies every token through a growable buffer; a callgrind profile put
 * json_loadb at ~60k instructions for one stored User, and every list
 * page, filter, member lookup and fold parses stored resources. This parser
 * walks the bytes once, copies ASCII runs in bulk, and hands the values to
 * jansson's own constructors (json_object_set_new_nocheck, ...), so
 * duplicate keys, insertion order and numbers behave as in jansson.
 *
 * Same rules as jansson with flags 0: the text is one object or array with
 * nothing but white space after it; strings are valid UTF-8 with no raw
 * control characters and no \u0000; \u escapes pair surrogates; integers
 * that overflow json_int_t and reals that overflow a double are errors;
 * nesting counts every value and stops at 2048, as JSON_PARSER_MAX_DEPTH.
 * The fuzz target fuzz_jsonload checks both parsers agree on every input,
 * but one: jansson silently skips a NUL byte right after a number or a
 * literal (a quirk of its unget), which this parser refuses.
 *
 * Error messages are not offered: callers that must explain a rejection
 * (the request-body parser) ask jansson again for its line and column.
 *
 * Thread safety: reentrant, no shared state.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/scim_schemas.h"

#define LOAD_MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH */

typedef struct lexer {
        const unsigned char *p, *end;
        scim_buf_t tmp; /* scratch for strings and number tokens */
        int max_nest;   /* containers nested deeper are refused */
} lexer_t;

static void skip_ws(lexer_t *l)
{
        while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' ||
                                 *l->p == '\n' || *l->p == '\r'))
                l->p++;
}

/* Length of the well-formed UTF-8 sequence at s (lead byte >= 0x80), or 0
 * if it is not one (overlong, surrogate, past U+10FFFF, truncated). */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
        unsigned c = s[0];
        size_t n;
        unsigned cp;

        if (c >= 0xC2 && c <= 0xDF) {
                n = 2;
                cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
                n = 3;
                cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
                n = 4;
                cp = c & 0x07;
        } else {
                return 0;
        }
        if (avail < n)
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xC0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3F);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
            (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
                return 0;
        return n;
}

static int hex4(lexer_t *l, unsigned *out)
{
        unsigned v = 0;

        if (l->end - l->p < 4)
                return -1;
        for (int i = 0; i < 4; i++) {
                unsigned char c = *l->p++;

                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= (unsigned)(c - '0');
                else if (c >= 'a' && c <= 'f')
                        v |= (unsigned)(c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        v |= (unsigned)(c - 'A' + 10);
                else
                        return -1;
        }
        *out = v;
        return 0;
}

static int put_utf8(scim_buf_t *b, unsigned cp)
{
        char u[4];
        size_t n;

        if (cp < 0x80) {
                u[0] = (char)cp;
                n = 1;
        } else if (cp < 0x800) {
                u[0] = (char)(0xC0 | (cp >> 6));
                u[1] = (char)(0x80 | (cp & 0x3F));
                n = 2;
        } else if (cp < 0x10000) {
                u[0] = (char)(0xE0 | (cp >> 12));
                u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                u[2] = (char)(0x80 | (cp & 0x3F));
                n = 3;
        } else {
                u[0] = (char)(0xF0 | (cp >> 18));
                u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
                u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
                u[3] = (char)(0x80 | (cp & 0x3F));
                n = 4;
        }
        return scim_buf_append(b, u, n);
}

/* The bytes of the 8 at p that end a plain run: a flag (0x80) in the
 * byte of each one below 0x20 or above 0x7f, '"' or '\\'. The lowest flag
 * is exact (the "has a byte less than n" and "has a zero byte" word tests
 * flag a false byte only above a true one), so on a little-endian
 * machine its position is the first such byte. */
static inline uint64_t special8(const unsigned char *p)
{
        const uint64_t ones = 0x0101010101010101ULL;
        const uint64_t high = 0x8080808080808080ULL;
        uint64_t x, q, bs;

        memcpy(&x, p, 8);
        q = x ^ (ones * '"');
        bs = x ^ (ones * '\\');
        return (((x - ones * 0x20) & ~x) | x | ((q - ones) & ~q) |
                ((bs - ones) & ~bs)) &
               high;
}

/* Moves l->p past the plain bytes (ASCII 0x20-0x7f other than '"' and
 * '\\') at it: eight at a time where the machine allows (issue 13: the
 * byte loop was ~5 instructions a byte of every stored resource the fold
 * parses). */
static void skip_plain(lexer_t *l)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        while (l->end - l->p >= 8) {
                uint64_t m = special8(l->p);

                if (m) {
                        l->p += __builtin_ctzll(m) >> 3;
                        return;
                }
                l->p += 8;
        }
#endif
        while (l->p < l->end && *l->p >= 0x20 && *l->p < 0x80 &&
               *l->p != '"' && *l->p != '\\')
                l->p++;
}

/* Reads the string whose opening quote is at l->p into l->tmp (NUL
 * terminated, no NUL inside). Returns 0 or -1. */
static int lex_string(lexer_t *l)
{
        scim_buf_t *b = &l->tmp;

        b->len = 0;
        l->p++; /* opening quote */
        for (;;) {
                const unsigned char *run = l->p;
                unsigned char c;

                skip_plain(l);
                if (l->p > run && scim_buf_put(b, run, (size_t)(l->p - run)) < 0)
                        return -1;
                if (l->p >= l->end)
                        return -1;
                c = *l->p;
                if (c == '"') {
                        l->p++;
                        /* terminate here: len may be 0 over old text */
                        if (!b->data && scim_buf_append(b, "", 0) < 0)
                                return -1;
                        b->data[b->len] = '\0';
                        return 0;
                }
                if (c < 0x20)
                        return -1;
                if (c >= 0x80) {
                        size_t n = utf8_seq(l->p, (size_t)(l->end - l->p));

                        if (!n || scim_buf_append(b, l->p, n) < 0)
                                return -1;
                        l->p += n;
                        continue;
                }
                /* backslash */
                if (++l->p >= l->end)
                        return -1;
                c = *l->p++;
                switch (c) {
                case '"':
                case '\\':
                case '/':
                        if (scim_buf_append(b, &c, 1) < 0)
                                return -1;
                        break;
                case 'b':
                case 'f':
                case 'n':
                case 'r':
                case 't': {
                        char e = c == 'b'   ? '\b'
                                 : c == 'f' ? '\f'
                                 : c == 'n' ? '\n'
                                 : c == 'r' ? '\r'
                                            : '\t';

                        if (scim_buf_append(b, &e, 1) < 0)
                                return -1;
                        break;
                }
                case 'u': {
                        unsigned cp, lo;

                        if (hex4(l, &cp) < 0)
                                return -1;
                        if (cp >= 0xDC00 && cp <= 0xDFFF)
                                return -1; /* lone low surrogate */
                        if (cp >= 0xD800 && cp <= 0xDBFF) {
                                if (l->end - l->p < 2 || l->p[0] != '\\' ||
                                    l->p[1] != 'u')
                                        return -1;
                                l->p += 2;
                                if (hex4(l, &lo) < 0 || lo < 0xDC00 ||
                                    lo > 0xDFFF)
                                        return -1;
                                cp = 0x10000 + ((cp - 0xD800) << 10) +
                                     (lo - 0xDC00);
                        }
                        if (cp == 0 || put_utf8(b, cp) < 0)
                                return -1; /* \u0000: jansson refuses it */
                        break;
                }
                default:
                        return -1;
                }
        }
}

static int is_digit(const lexer_t *l)
{
        return l->p < l->end && *l->p >= '0' && *l->p <= '9';
}

static json_t *lex_number(lexer_t *l)
{
        const unsigned char *start = l->p;
        int real = 0;

        if (*l->p == '-')
                l->p++;
        if (!is_digit(l))
                return NULL;
        if (*l->p == '0') {
                l->p++;
                if (is_digit(l))
                        return NULL; /* leading zero */
        } else {
                while (is_digit(l))
                        l->p++;
        }
        if (l->p < l->end && *l->p == '.') {
                l->p++;
                if (!is_digit(l))
                        return NULL;
                while (is_digit(l))
                        l->p++;
                real = 1;
        }
        if (l->p < l->end && (*l->p == 'e' || *l->p == 'E')) {
                l->p++;
                if (l->p < l->end && (*l->p == '+' || *l->p == '-'))
                        l->p++;
                if (!is_digit(l))
                        return NULL;
                while (is_digit(l))
                        l->p++;
                real = 1;
        }
        l->tmp.len = 0;
        if (scim_buf_append(&l->tmp, start, (size_t)(l->p - start)) < 0)
                return NULL;
        errno = 0;
        if (!real) {
                long long v = strtoll(l->tmp.data, NULL, 10);

                if (errno == ERANGE)
                        return NULL;
                return json_integer((json_int_t)v);
        } else {
                double d = strtod(l->tmp.data, NULL);

                if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL))
                        return NULL;
                return json_real(d);
        }
}

static int lex_word(lexer_t *l, const char *w, size_t n)
{
        if ((size_t)(l->end - l->p) < n || memcmp(l->p, w, n) != 0)
                return -1;
        l->p += n;
        return 0;
}

static json_t *parse_value(lexer_t *l, int depth);

static json_t *parse_object(lexer_t *l, int depth)
{
        json_t *o = json_object();

        l->p++; /* { */
        skip_ws(l);
        if (l->p < l->end && *l->p == '}') {
                l->p++;
                return o;
        }
        for (;;) {
                /* the key outlives l->tmp (the value reuses it): on the
                 * stack when short, as member names are */
                char kb[64], *key;
                size_t kl;
                json_t *v;
                int rc;

                if (l->p >= l->end || *l->p != '"' || lex_string(l) < 0)
                        goto fail;
                kl = l->tmp.len;
                key = kl < sizeof(kb) ? kb : malloc(kl + 1);
                if (!key)
                        goto fail;
                memcpy(key, l->tmp.data, kl + 1);
                skip_ws(l);
                if (l->p >= l->end || *l->p != ':') {
                        if (key != kb)
                                free(key);
                        goto fail;
                }
                l->p++;
                skip_ws(l);
                v = parse_value(l, depth);
                /* no NUL inside: lex_string refuses \u0000 */
                rc = v ? json_object_setn_new_nocheck(o, key, kl, v) : -1;
                if (key != kb)
                        free(key);
                if (rc < 0)
                        goto fail;
                skip_ws(l);
                if (l->p >= l->end)
                        goto fail;
                if (*l->p == '}') {
                        l->p++;
                        return o;
                }
                if (*l->p != ',')
                        goto fail;
                l->p++;
                skip_ws(l);
        }
fail:
        json_decref(o);
        return NULL;
}

static json_t *parse_array(lexer_t *l, int depth)
{
        json_t *a = json_array();

        l->p++; /* [ */
        skip_ws(l);
        if (l->p < l->end && *l->p == ']') {
                l->p++;
                return a;
        }
        for (;;) {
                json_t *v = parse_value(l, depth);

                if (!v || json_array_append_new(a, v) < 0)
                        goto fail;
                skip_ws(l);
                if (l->p >= l->end)
                        goto fail;
                if (*l->p == ']') {
                        l->p++;
                        return a;
                }
                if (*l->p != ',')
                        goto fail;
                l->p++;
                skip_ws(l);
        }
fail:
        json_decref(a);
        return NULL;
}

/* l->p is at the first byte of a value (white space skipped). Like
 * jansson, every value counts one level of depth. */
static json_t *parse_value(lexer_t *l, int depth)
{
        if (++depth > LOAD_MAX_DEPTH || l->p >= l->end)
                return NULL;
        switch (*l->p) {
        case '{':
                return depth > l->max_nest ? NULL : parse_object(l, depth);
        case '[':
                return depth > l->max_nest ? NULL : parse_array(l, depth);
        case '"':
                if (lex_string(l) < 0)
                        return NULL;
                return json_stringn_nocheck(l->tmp.data, l->tmp.len);
        case 't':
                return lex_word(l, "true", 4) < 0 ? NULL : json_true();
        case 'f':
                return lex_word(l, "false", 5) < 0 ? NULL : json_false();
        case 'n':
                return lex_word(l, "null", 4) < 0 ? NULL : json_null();
        default:
                if (*l->p == '-' || (*l->p >= '0' && *l->p <= '9'))
                        return lex_number(l);
                return NULL;
        }
}

json_t *scim_json_load_nested(const char *text, size_t len, int max_nest)
{
        lexer_t l;
        json_t *j = NULL;

        if (!text)
                return NULL;
        memset(&l, 0, sizeof(l));
        l.p = (const unsigned char *)text;
        l.end = l.p + len;
        l.max_nest = max_nest;
        skip_ws(&l);
        if (l.p < l.end && (*l.p == '{' || *l.p == '['))
                j = parse_value(&l, 0);
        if (j) {
                skip_ws(&l);
                if (l.p != l.end) {
                        json_decref(j);
                        j = NULL;
                }
        }
        scim_buf_free(&l.tmp);
        return j;
}

json_t *scim_json_load(const char *text, size_t len)
{
        return scim_json_load_nested(text, len, LOAD_MAX_DEPTH);
}
