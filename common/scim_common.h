/*
 * scim_common.h — the small shared toolbox every component uses: the one
 * project-wide error type (carrying its SCIM meaning), time, ids, hashing,
 * UTF-8 checks, case folding and a growable byte buffer.
 *
 * Thread safety: every function here is reentrant; none takes a lock.
 */
#ifndef SCIM_COMMON_H
#define SCIM_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------ errors */

/*
 * The one error type. `status` is the HTTP status a client should see
 * (400, 401, 404, 409, 412, 413, 500, 503 ...), `scim_type` the RFC 7644
 * scimType keyword ("" when none applies: "uniqueness", "invalidFilter",
 * "invalidValue", "invalidSyntax", "invalidPath", "noTarget", "mutability",
 * "tooMany", "invalidVers"), `detail` a readable sentence. `retriable` is set
 * for failures the client should retry (answered 503 + Retry-After).
 */
typedef struct scim_err {
        int status;
        int retriable;
        char scim_type[32];
        char detail[512];
} scim_err_t;

/* Clears *e to "no error" (status 0). NULL-safe. */
void scim_err_clear(scim_err_t *e);

/* Fills *e; detail is printf-formatted and truncated to fit. NULL-safe.
 * Always returns -1 so callers can `return scim_err_set(...)`. */
int scim_err_set(scim_err_t *e, int status, const char *scim_type,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Same, with retriable set (503 unless status given otherwise). */
int scim_err_set_retry(scim_err_t *e, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------ limits */

/* Ceilings on growable input (STYLE: every growable input has one).
 * The body cap is configurable at run time (serve --max-body); the others
 * are fixed. */
#define SCIM_MAX_BODY_DEFAULT (1024 * 1024) /* bytes */
#define SCIM_MAX_JSON_DEPTH 32
#define SCIM_MAX_FILTER_LEN 4096           /* bytes */
#define SCIM_MAX_FILTER_NODES 256
#define SCIM_MAX_PATCH_OPS 1000
#define SCIM_MAX_MEMBERS_PER_REQUEST 20000
#define SCIM_MAX_LIST_COUNT 1000 /* largest page a list returns */
#define SCIM_MAX_ID_LEN 128
#define SCIM_MAX_TENANT_LEN 64
/* One resource as stored (users; groups without their members): */
#define SCIM_MAX_STRING_BYTES 32768      /* one string value (400) */
#define SCIM_MAX_VALUES 200              /* one multi-valued attribute (400) */
#define SCIM_MAX_RESOURCE_BYTES 131072   /* the whole resource's JSON (413) */
#define SCIM_MAX_RESOURCE_DEPTH 8        /* objects/arrays nested (400) */
/* One answer page (lists, reports): items stop being added past this many
 * bytes; the page says so (fewer items, a next cursor). */
#define SCIM_MAX_PAGE_BYTES (4 * 1024 * 1024)

/* The page byte cap for the calling thread's request: SCIM_MAX_PAGE_BYTES
 * unless the HTTP layer lowered it (while slow readers hold most of the
 * server's budget of unsent answers, pages shrink instead of being built
 * only to be refused). _set(0) restores the default. Thread-local: set by
 * the http pool thread before it handles a request. */
size_t scim_page_bytes(void);
void scim_page_bytes_set(size_t n);

/* 1 if name may name a tenant: 1-SCIM_MAX_TENANT_LEN characters of
 * A-Z a-z 0-9 . _ -, not dots only, and not a resource endpoint's name
 * (Users, Groups, Schemas, ... in any case: /scim/v2/Users belongs to the
 * token-implied URL). */
int scim_tenant_name_ok(const char *name);

/* 1 if two secrets are equal, comparing in time independent of where
 * they differ. */
int scim_secret_equal(const char *a, const char *b);

/* ----------------------------------------------------------------- config */

struct option;

/*
 * A command's arguments with its settings file and environment folded in
 * (common/config.c): a new NULL-terminated argv of argv[0], then the
 * options of `--config FILE` (or $SCIMLOG_CONFIG; lines `key = value`,
 * keys are the long option names), then SCIMLOG_<NAME> environment
 * variables, then the command line minus --config — so getopt_long over
 * it lets flags override the environment, which overrides the file.
 * Unknown keys and bad lines fail with FILE:LINE in err. Free the result
 * with scim_config_free.
 */
int scim_config_expand(const struct option *opts, int argc, char **argv,
                       int *out_argc, char ***out_argv, char *err,
                       size_t errlen);
void scim_config_free(char **argv);

/* -------------------------------------------------------------------- time */

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t scim_now_ms(void);

/* Formats ms as RFC 3339 UTC with milliseconds: "2026-11-22T14:46:12.123Z".
 * out must hold 32 bytes. */
void scim_time_format(int64_t ms, char out[32]);

/* Parses RFC 3339 / xsd:dateTime ("2015-10-10T14:38:21.8617979-07:00",
 * "...Z", no zone = UTC, any number of fraction digits) into ms since the
 * epoch. Returns 0 on success, -1 if s is not a dateTime. */
int scim_time_parse(const char *s, int64_t *ms_out);

/* -------------------------------------------------------------- deadlines */

/*
 * A time limit for one piece of work that may run on several threads (a
 * point-in-time read; common/deadline.c). Long loops call
 * scim_deadline_tick with their iteration count: every
 * SCIM_DEADLINE_EVERY-th call reads CLOCK_MONOTONIC_COARSE (a vDSO read,
 * ~20 ns; its resolution is the kernel tick, 1-10 ms), the others only
 * the flag. Once a check finds the time past, every later check on any
 * thread says so (sticky), so all the threads sharing it stop. A NULL
 * deadline, or one started with 0 ms, never passes.
 */
typedef struct scim_deadline {
        int64_t at_ns;     /* CLOCK_MONOTONIC_COARSE; 0: no limit */
        unsigned limit_ms; /* as started (for the answer's detail) */
        int passed;        /* atomic; sticky */
} scim_deadline_t;

#define SCIM_DEADLINE_EVERY 64 /* iterations between clock reads */

/* Starts d: it passes limit_ms from now (0: never). Before any thread
 * shares it. */
void scim_deadline_start(scim_deadline_t *d, unsigned limit_ms);

/* Reads the clock: 1 when d has passed (and from then on), else 0.
 * NULL-safe; any thread. */
int scim_deadline_check(scim_deadline_t *d);

/* 1 when a check found d passed (no clock read). NULL-safe; any thread. */
static inline int scim_deadline_passed(const scim_deadline_t *d)
{
        return d && __atomic_load_n(&d->passed, __ATOMIC_RELAXED);
}

/* The check for a loop's i-th iteration: the clock every
 * SCIM_DEADLINE_EVERY iterations (i = 0 included), else the flag. */
static inline int scim_deadline_tick(scim_deadline_t *d, size_t i)
{
        if (!d)
                return 0;
        if (i % SCIM_DEADLINE_EVERY)
                return scim_deadline_passed(d);
        return scim_deadline_check(d);
}

/* --------------------------------------------------------------- ids, hash */

/* Fills buf with n cryptographically random bytes (getrandom). Aborts on
 * failure: there is no safe fallback. */
void scim_random_bytes(void *buf, size_t n);

/* Writes a random (v4) UUID, lower-case, 36 chars + NUL. */
void scim_uuid4(char out[37]);

/* Writes a time-ordered (v7, RFC 9562) UUID: 48 bits of unix ms, a 12-bit
 * counter that starts each millisecond at a random value, 62 random bits. Ids from one process strictly increase (also
 * within a millisecond and if the clock steps back), so a resource created
 * now sorts after the ones before it: its view keys go to the end of the
 * memtable's skiplist instead of a random place. Thread-safe. */
void scim_uuid7(char out[37]);

/* SHA-256 of data as 64 lower-case hex chars + NUL. */
void scim_sha256_hex(const void *data, size_t n, char out[65]);

/* Constant-time comparison of n bytes; returns 1 when equal. */
int scim_ct_equal(const void *a, const void *b, size_t n);

/* ------------------------------------------------------------------ text */

/* 1 if s[0..n) is well-formed UTF-8 (no overlongs, no surrogates). */
int scim_utf8_valid(const char *s, size_t n);

/* Case-insensitive ASCII comparison (SCIM attribute names, keywords;
 * values use scim_caseeq below). */
int scim_strcaseeq(const char *a, const char *b);

/* Writes the concatenation of the strings given (a NULL ends the list)
 * into dst, truncated to cap - 1 bytes and NUL-terminated when cap > 0:
 * what snprintf(dst, cap, "%s%s...", ...) writes, without stdio (about a
 * thousand instructions a call on the request path). Returns the length
 * written. */
size_t scim_strjoin(char *dst, size_t cap, ...);

/* Unicode caseless matching (common/casefold.c) for values whose
 * attribute is caseExact=false (userName, displayName, emails.value...):
 * the key is NFKC(full case folding), so "Straße" and "STRASSE" share one.
 * ASCII-only strings take a fast path (plain tolower, no allocation).
 *
 * scim_casefold: the key of s, malloc'd, caller frees; NULL when out of
 * memory. Index and uniqueness keys are built with it. */
char *scim_casefold(const char *s);

/* The key of s[0..n): written into buf when it fits in cap bytes
 * (NUL-terminated), else malloc'd — the caller frees the result when it is
 * not buf. *outlen (may be NULL) gets the key's length. NULL when out of
 * memory. */
char *scim_casefold_n(const char *s, size_t n, char *buf, size_t cap,
                      size_t *outlen);

/* 1 if a and b have the same caseless key (NULL-safe: equal only if both
 * are NULL). Out of memory compares unequal. */
int scim_caseeq(const char *a, const char *b);

/* Decodes standard base64 with '=' padding (n a multiple of 4, no other
 * character, unused bits zero: what an encoder writes) into out (room
 * for n / 4 * 3 bytes). Returns the byte count, or -1 for anything else
 * (decode that with a general decoder). common/b64.c. */
long scim_b64_decode_strict(const char *in, size_t n, unsigned char *out);

/* Hexadecimal (common/hex.c). scim_hex_digit: the value of one hex digit
 * (either case), or -1. scim_hex_encode: n bytes as 2n lower-case digits
 * and a NUL into out (room for 2n + 1). scim_hex_decode: 2n digits of s
 * into n bytes of out; -1 (out partly written) if any is not a hex digit
 * (s must hold 2n characters, or a NUL that stops it early as a non-digit). */
int scim_hex_digit(int c);
void scim_hex_encode(const void *data, size_t n, char *out);
int scim_hex_decode(const char *s, size_t n, unsigned char *out);

/* --------------------------------------------------------------- buffers */

/* A growable byte buffer. Zero-initialise ({0}) before use. */
typedef struct scim_buf {
        char *data; /* NUL-terminated after every append */
        size_t len;
        size_t cap;
} scim_buf_t;

/* Makes room for extra more bytes and the NUL (data is then never NULL);
 * 0 or -1 on allocation failure. */
int scim_buf_reserve(scim_buf_t *b, size_t extra);
/* Appends; returns 0 or -1 on allocation failure. */
int scim_buf_append(scim_buf_t *b, const void *data, size_t n);

/* scim_buf_append with the common case (room left) inlined: the JSON
 * reader and writer call it per token. */
static inline int scim_buf_put(scim_buf_t *b, const void *s, size_t n)
{
        if (b->data && b->len + n + 1 <= b->cap) {
                memcpy(b->data + b->len, s, n);
                b->len += n;
                b->data[b->len] = '\0';
                return 0;
        }
        return scim_buf_append(b, s, n);
}
int scim_buf_puts(scim_buf_t *b, const char *s);
int scim_buf_printf(scim_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Frees the storage and zeroes *b. NULL-safe. */
void scim_buf_free(scim_buf_t *b);

/* Big-endian u64 helpers for keys. */
void scim_put_be64(unsigned char out[8], uint64_t v);
uint64_t scim_get_be64(const unsigned char in[8]);

/* ------------------------------------------------------ server events */

/* Server events (start, stop, Kafka trouble, damaged data) go to stderr,
 * one line each: "scimlog: MESSAGE" (text, the default) or, after
 * scim_events_json(1), {"time":..,"level":..,"event":..,"msg":..}
 * (serve --log-format json). level: "info", "warn", "error"; event: a
 * short stable name ("listening", "stopping", "kafka_error", ...).
 * Thread-safe (one write per line). */
void scim_events_json(int on);
__attribute__((format(printf, 3, 4))) void
scim_event(const char *level, const char *event, const char *fmt, ...);

#endif /* SCIM_COMMON_H */
