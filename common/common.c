/*
 * common.c — the shared toolbox: errors, time, ids, hashing, text, buffers.
 * Everything here is reentrant; no locks.
 */
#include "common/scim_common.h"

#include <ctype.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/random.h>
#include <time.h>

/* ------------------------------------------------------------------ errors */

void scim_err_clear(scim_err_t *e)
{
        if (e)
                memset(e, 0, sizeof(*e));
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
        size_t len = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2
                     : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4
                                                                   : 0;

        if (!len || len > n || !scim_utf8_valid((const char *)s, len))
                return 0;
        return len;
}

/* Makes buf (NUL-terminated, size cap) valid UTF-8: every byte that
 * starts no valid sequence becomes '?' (details quote client input, such
 * as an id, and must survive JSON and Avro). */
static void utf8_scrub(char *buf, size_t cap)
{
        unsigned char *p = (unsigned char *)buf;
        size_t n = strnlen(buf, cap);

        for (size_t i = 0; i < n;) {
                size_t k = utf8_seq(p + i, n - i);

                if (k) {
                        i += k;
                } else {
                        p[i] = '?';
                        i++;
                }
        }
}

__attribute__((format(printf, 5, 0))) static void
err_vset(scim_err_t *e, int status, const char *scim_type, int retriable,
         const char *fmt, va_list ap)
{
        e->status = status;
        e->retriable = retriable;
        snprintf(e->scim_type, sizeof(e->scim_type), "%s",
                 scim_type ? scim_type : "");
        vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
        utf8_scrub(e->detail, sizeof(e->detail));
}

int scim_err_set(scim_err_t *e, int status, const char *scim_type,
                 const char *fmt, ...)
{
        va_list ap;

        if (!e)
                return -1;
        va_start(ap, fmt);
        err_vset(e, status, scim_type, 0, fmt, ap);
        va_end(ap);
        return -1;
}

int scim_err_set_retry(scim_err_t *e, int status, const char *fmt, ...)
{
        va_list ap;

        if (!e)
                return -1;
        va_start(ap, fmt);
        err_vset(e, status ? status : 503, NULL, 1, fmt, ap);
        va_end(ap);
        return -1;
}

/* -------------------------------------------------------------------- time */

int64_t scim_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *put_digits(char *o, int v, int n)
{
        for (int i = n - 1; i >= 0; i--) {
                o[i] = (char)('0' + v % 10);
                v /= 10;
        }
        return o + n;
}

void scim_time_format(int64_t ms, char out[32])
{
        time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
        int frac = (int)(ms - (int64_t)secs * 1000);
        struct tm tm;
        char *o = out;

        gmtime_r(&secs, &tm);
        if (tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
                /* outside what RFC 3339 can say: keep snprintf's output */
                char tmp[96];

                snprintf(tmp, sizeof(tmp),
                         "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                         tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
                memcpy(out, tmp, 31);
                out[31] = '\0';
                return;
        }
        o = put_digits(o, tm.tm_year + 1900, 4);
        *o++ = '-';
        o = put_digits(o, tm.tm_mon + 1, 2);
        *o++ = '-';
        o = put_digits(o, tm.tm_mday, 2);
        *o++ = 'T';
        o = put_digits(o, tm.tm_hour, 2);
        *o++ = ':';
        o = put_digits(o, tm.tm_min, 2);
        *o++ = ':';
        o = put_digits(o, tm.tm_sec, 2);
        *o++ = '.';
        o = put_digits(o, frac, 3);
        *o++ = 'Z';
        *o = '\0';
}

static int digits(const char **p, int n, int *out)
{
        int v = 0;

        for (int i = 0; i < n; i++) {
                if (!isdigit((unsigned char)(*p)[i]))
                        return -1;
                v = v * 10 + ((*p)[i] - '0');
        }
        *p += n;
        *out = v;
        return 0;
}

/* Days from civil date (proleptic Gregorian), valid for all int years. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        int64_t yoe = y - era * 400;
        int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

        return era * 146097 + doe - 719468;
}

int scim_time_parse(const char *s, int64_t *ms_out)
{
        const char *p = s;
        int y, mo, d, h = 0, mi = 0, se = 0, ms = 0, off = 0;

        if (!s || digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) ||
            *p++ != '-' || digits(&p, 2, &d))
                return -1;
        if (mo < 1 || mo > 12 || d < 1 || d > 31)
                return -1;
        if (*p == 'T' || *p == 't' || *p == ' ') {
                p++;
                if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
                        return -1;
                if (*p == ':') {
                        p++;
                        if (digits(&p, 2, &se))
                                return -1;
                }
                if (*p == '.') {
                        int scale = 100;

                        p++;
                        if (!isdigit((unsigned char)*p))
                                return -1;
                        while (isdigit((unsigned char)*p)) {
                                ms += (*p - '0') * scale;
                                scale /= 10;
                                p++;
                        }
                }
                if (h > 23 || mi > 59 || se > 60)
                        return -1;
        }
        if (*p == 'Z' || *p == 'z') {
                p++;
        } else if (*p == '+' || *p == '-') {
                int sign = *p == '-' ? -1 : 1, oh, om;

                p++;
                if (digits(&p, 2, &oh))
                        return -1;
                if (*p == ':')
                        p++;
                if (digits(&p, 2, &om) || oh > 23 || om > 59)
                        return -1;
                off = sign * (oh * 60 + om);
        }
        if (*p != '\0')
                return -1;
        *ms_out = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 +
                    se - (int64_t)off * 60) *
                   1000) +
                  ms;
        return 0;
}

/* --------------------------------------------------------------- ids, hash */

void scim_random_bytes(void *buf, size_t n)
{
        unsigned char *p = buf;

        while (n > 0) {
                ssize_t r = getrandom(p, n, 0);

                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        abort();
                }
                p += r;
                n -= (size_t)r;
        }
}

/* Random bytes for ids, drawn from a per-thread buffer refilled by
 * getrandom 512 bytes at a time: one syscall per 32 UUIDs instead of one
 * each. Only ids use it; secrets call scim_random_bytes directly. */
static void id_random(unsigned char *out, size_t n)
{
        static __thread unsigned char pool[512];
        static __thread size_t avail;

        if (n > sizeof(pool)) {
                scim_random_bytes(out, n);
                return;
        }
        if (avail < n) {
                scim_random_bytes(pool, sizeof(pool));
                avail = sizeof(pool);
        }
        memcpy(out, pool + sizeof(pool) - avail, n);
        memset(pool + sizeof(pool) - avail, 0, n);
        avail -= n;
}

static void uuid_text(const unsigned char b[16], char out[37])
{
        static const char hx[] = "0123456789abcdef";
        char *o = out;

        for (int i = 0; i < 16; i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                        *o++ = '-';
                *o++ = hx[b[i] >> 4];
                *o++ = hx[b[i] & 15];
        }
        *o = '\0';
}

void scim_uuid4(char out[37])
{
        unsigned char b[16];

        id_random(b, sizeof(b));
        b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
        b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
        uuid_text(b, out);
}

/* The time-ordered part of the last v7 id: unix ms << 12 | a 12-bit
 * counter (RFC 9562 6.2, method 1), shared by every thread so that ids
 * from one process only ever increase, also within a millisecond and when
 * the clock steps back. In a new millisecond the counter starts at a
 * random value below 2,048 (RFC 9562 6.2), so an id does not tell how many
 * others (of any tenant) were made in its millisecond before it. */
static _Atomic uint64_t uuid7_last;

void scim_uuid7(char out[37])
{
        unsigned char b[16];
        struct timespec ts;
        uint64_t now, last, next;

        id_random(b + 6, 10);
        clock_gettime(CLOCK_REALTIME, &ts);
        now = ((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u)
              << 12;
        now |= ((uint64_t)b[6] << 8 | b[7]) & 0x7ff;
        last = atomic_load_explicit(&uuid7_last, memory_order_relaxed);
        do
                next = (now >> 12) > (last >> 12) ? now : last + 1;
        while (!atomic_compare_exchange_weak_explicit(&uuid7_last, &last, next,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed));
        for (int i = 0; i < 6; i++) /* 48 bits of ms, big-endian */
                b[i] = (unsigned char)(next >> (12 + 8 * (5 - i)));
        b[6] = (unsigned char)(0x70 | ((next >> 8) & 0x0f));
        b[7] = (unsigned char)(next & 0xff);
        b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
        uuid_text(b, out);
}

void scim_sha256_hex(const void *data, size_t n, char out[65])
{
        unsigned char md[32];

        gnutls_hash_fast(GNUTLS_DIG_SHA256, data, n, md);
        scim_hex_encode(md, sizeof(md), out);
}

int scim_ct_equal(const void *a, const void *b, size_t n)
{
        /* eight bytes a step, every byte looked at whatever differs: the
         * time depends on n only (a token hash is compared per request) */
        const unsigned char *x = a, *y = b;
        volatile uint64_t acc = 0;
        size_t i = 0;

        for (; i + 8 <= n; i += 8) {
                uint64_t u, v;

                memcpy(&u, x + i, 8);
                memcpy(&v, y + i, 8);
                acc |= u ^ v;
        }
        for (; i < n; i++)
                acc |= (uint64_t)(x[i] ^ y[i]);
        return acc == 0;
}

/* ------------------------------------------------------------------ text */

int scim_utf8_valid(const char *s, size_t n)
{
        const unsigned char *p = (const unsigned char *)s, *end = p + n;

        while (p < end) {
                unsigned c = *p;
                size_t len;
                uint32_t cp;
                uint64_t w;

                /* eight ASCII bytes at a time (a location, an id) */
                if (end - p >= 8 &&
                    (memcpy(&w, p, 8), !(w & 0x8080808080808080ULL))) {
                        p += 8;
                        continue;
                }
                if (c < 0x80) {
                        p++;
                        continue;
                } else if ((c & 0xe0) == 0xc0) {
                        len = 2;
                        cp = c & 0x1f;
                } else if ((c & 0xf0) == 0xe0) {
                        len = 3;
                        cp = c & 0x0f;
                } else if ((c & 0xf8) == 0xf0) {
                        len = 4;
                        cp = c & 0x07;
                } else {
                        return 0;
                }
                if ((size_t)(end - p) < len)
                        return 0;
                for (size_t i = 1; i < len; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return 0;
                        cp = (cp << 6) | (p[i] & 0x3f);
                }
                if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
                    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
                    (cp >= 0xd800 && cp <= 0xdfff))
                        return 0;
                p += len;
        }
        return 1;
}

int scim_strcaseeq(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        for (; *a && *b; a++, b++)
                if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
                        return 0;
        return *a == *b;
}

size_t scim_strjoin(char *dst, size_t cap, ...)
{
        va_list ap;
        const char *s;
        size_t n = 0;

        if (!cap)
                return 0;
        va_start(ap, cap);
        while ((s = va_arg(ap, const char *)) != NULL) {
                size_t l = strlen(s);

                if (l > cap - 1 - n)
                        l = cap - 1 - n;
                memcpy(dst + n, s, l);
                n += l;
        }
        va_end(ap);
        dst[n] = '\0';
        return n;
}

/* --------------------------------------------------------------- buffers */

int scim_buf_reserve(scim_buf_t *b, size_t extra)
{
        size_t cap;
        char *p;

        if (b->data && b->len + extra + 1 <= b->cap)
                return 0;
        cap = b->cap ? b->cap : 256;
        while (cap < b->len + extra + 1)
                cap *= 2;
        p = realloc(b->data, cap);
        if (!p)
                return -1;
        b->data = p;
        b->cap = cap;
        return 0;
}

int scim_buf_append(scim_buf_t *b, const void *data, size_t n)
{
        if (scim_buf_reserve(b, n) < 0)
                return -1;
        if (n)
                memcpy(b->data + b->len, data, n);
        b->len += n;
        b->data[b->len] = '\0';
        return 0;
}

int scim_buf_puts(scim_buf_t *b, const char *s)
{
        return scim_buf_append(b, s, strlen(s));
}

int scim_buf_printf(scim_buf_t *b, const char *fmt, ...)
{
        va_list ap;
        char small[256];
        int n;

        va_start(ap, fmt);
        n = vsnprintf(small, sizeof(small), fmt, ap);
        va_end(ap);
        if (n < 0)
                return -1;
        if ((size_t)n < sizeof(small))
                return scim_buf_append(b, small, (size_t)n);
        if (scim_buf_append(b, NULL, 0) < 0)
                return -1;
        {
                char *big = malloc((size_t)n + 1);
                int rc;

                if (!big)
                        return -1;
                va_start(ap, fmt);
                vsnprintf(big, (size_t)n + 1, fmt, ap);
                va_end(ap);
                rc = scim_buf_append(b, big, (size_t)n);
                free(big);
                return rc;
        }
}

void scim_buf_free(scim_buf_t *b)
{
        if (!b)
                return;
        free(b->data);
        memset(b, 0, sizeof(*b));
}

void scim_put_be64(unsigned char out[8], uint64_t v)
{
        for (int i = 7; i >= 0; i--) {
                out[i] = (unsigned char)(v & 0xff);
                v >>= 8;
        }
}

uint64_t scim_get_be64(const unsigned char in[8])
{
        uint64_t v = 0;

        for (int i = 0; i < 8; i++)
                v = (v << 8) | in[i];
        return v;
}

/* ---------------------------------------------------------------- tenants */

int scim_tenant_name_ok(const char *t)
{
        /* with their lengths: only a name of the same length is compared
         * (every request's route checks its tenant segment) */
        static const struct {
                const char *name;
                size_t len;
        } endpoints[] = {
            {"Users", sizeof("Users") - 1},
            {"Groups", sizeof("Groups") - 1},
            {"Schemas", sizeof("Schemas") - 1},
            {"ResourceTypes", sizeof("ResourceTypes") - 1},
            {"ServiceProviderConfig", sizeof("ServiceProviderConfig") - 1},
            {"serviceConfiguration", sizeof("serviceConfiguration") - 1},
            {"Bulk", sizeof("Bulk") - 1},
            {"Me", sizeof("Me") - 1},
            {".search", sizeof(".search") - 1},
        };
        size_t n = t ? strlen(t) : 0;

        if (n == 0 || n > SCIM_MAX_TENANT_LEN)
                return 0;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)t[i]) && t[i] != '-' &&
                    t[i] != '_' && t[i] != '.')
                        return 0;
        if (strspn(t, ".") == n) /* "." and ".." would be path segments */
                return 0;
        for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++)
                if (n == endpoints[i].len && !strcasecmp(t, endpoints[i].name))
                        return 0; /* /scim/v2/Users is the token's tenant */
        return 1;
}

int scim_secret_equal(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b);
        unsigned char d = (unsigned char)(la != lb);

        /* time depends on the length of a only, never on where they differ */
        for (size_t i = 0; i < la; i++)
                d |= (unsigned char)(a[i] ^ b[i < lb ? i : 0]);
        return d == 0;
}

/* ------------------------------------------------------------- page cap */

static _Thread_local size_t tl_page_bytes;

size_t scim_page_bytes(void)
{
        return tl_page_bytes ? tl_page_bytes : SCIM_MAX_PAGE_BYTES;
}

void scim_page_bytes_set(size_t n)
{
        tl_page_bytes = n > SCIM_MAX_PAGE_BYTES ? SCIM_MAX_PAGE_BYTES : n;
}

/* --------------------------------------------------------- server events */

static int g_events_json;

void scim_events_json(int on) { g_events_json = on; }

void scim_event(const char *level, const char *event, const char *fmt, ...)
{
        char msg[1024], line[2400], ts[32];
        va_list ap;
        int n;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (!g_events_json) {
                n = snprintf(line, sizeof(line), "scimlog: %s\n", msg);
        } else {
                /* the message as a JSON string: escape quotes, backslashes
                 * and control bytes; the caller's text is UTF-8 or bytes */
                char esc[2100];
                size_t o = 0;

                for (const char *p = msg; *p && o + 7 < sizeof(esc); p++) {
                        unsigned char c = (unsigned char)*p;

                        if (c == '"' || c == '\\') {
                                esc[o++] = '\\';
                                esc[o++] = (char)c;
                        } else if (c < 0x20) {
                                o += (size_t)snprintf(esc + o, sizeof(esc) - o,
                                                      "\\u%04x", c);
                        } else {
                                esc[o++] = (char)c;
                        }
                }
                esc[o] = '\0';
                scim_time_format(scim_now_ms(), ts);
                n = snprintf(line, sizeof(line),
                             "{\"time\":\"%s\",\"level\":\"%s\",\"event\":"
                             "\"%s\",\"msg\":\"%s\"}\n",
                             ts, level, event, esc);
        }
        if (n > 0)
                fwrite(line, 1, (size_t)n < sizeof(line) ? (size_t)n
                                                          : sizeof(line) - 1,
                       stderr);
}
