/*
 * stream_text.c — the stored resource of a change stream record (stream.c
 * writes them: {"position",...,"before"?,"after"?,...}) found in its text
 * without parsing it, for a reader that wants only that: asOf
 * (projector/asof.c) reads the "after" of a write's record, the text the
 * fold stored for the resource. Pure functions on bytes: any thread.
 * Fuzz target tests/fuzz/fuzz_stream_text.c.
 */
#include <string.h>

#include "projector/changes_internal.h"

/* The end of the JSON value at p (< e), or NULL when there is none: a
 * string (escapes skipped), an object or array (nesting counted, strings
 * inside skipped; the last closer must match the first opener), or a
 * scalar up to the next , } ] or space. Lenient inside: it finds spans
 * in text the fold wrote, it does not validate. */
static const char *json_skip(const char *p, const char *e)
{
        int depth = 0;
        char close;

        if (p >= e)
                return NULL;
        close = *p == '{' ? '}' : ']';
        if (*p != '"' && *p != '{' && *p != '[') {
                while (p < e && *p != ',' && *p != '}' && *p != ']' &&
                       *p != ' ' && *p != '\n' && *p != '\t' && *p != '\r')
                        p++;
                return p;
        }
        for (; p < e; p++) {
                if (*p == '"') {
                        for (p++; p < e && *p != '"'; p++)
                                if (*p == '\\')
                                        p++;
                        if (p >= e)
                                return NULL;
                        if (!depth)
                                return p + 1;
                } else if (*p == '{' || *p == '[') {
                        depth++;
                } else if (*p == '}' || *p == ']') {
                        if (--depth == 0)
                                return *p == close ? p + 1 : NULL;
                }
        }
        return NULL;
}

static const char *json_ws(const char *p, const char *e)
{
        while (p < e && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
                p++;
        return p;
}

/* The span of the top-level member "after" (an object) of a change stream
 * record; 0 when it has none (a tombstone, a refusal) or rec is not one. */
int changes_stream_after(const char *rec, size_t n, const char **a,
                         size_t *al)
{
        const char *p = rec, *e = rec + n;

        p = json_ws(p, e);
        if (p >= e || *p++ != '{')
                return 0;
        for (;;) {
                const char *k, *ke, *v, *ve;

                p = json_ws(p, e);
                if (p >= e || *p != '"')
                        return 0;
                k = p;
                ke = json_skip(p, e);
                if (!ke)
                        return 0;
                p = json_ws(ke, e);
                if (p >= e || *p++ != ':')
                        return 0;
                v = json_ws(p, e);
                ve = json_skip(v, e);
                if (!ve)
                        return 0;
                if (ke - k == 7 && !memcmp(k, "\"after\"", 7) && *v == '{') {
                        *a = v;
                        *al = (size_t)(ve - v);
                        return 1;
                }
                p = json_ws(ve, e);
                if (p >= e || *p++ != ',')
                        return 0;
        }
}

/* Where the text from the first `,"after":{` of a stream record on
 * starts, or NULL. That byte string is a key "after" with an object value
 * wherever it occurs (its quotes follow a comma and a letter: neither is
 * escaped, so they delimit a string, and a string followed by `:` is a
 * key); the first one is the record's own "after" or lies inside
 * "before", which precedes it. The record's members before "before" are
 * scalars, and "after" is its last member for a user or a tenant type, so
 * for them the tail holds the whole "after" (and for a group, "members"
 * too): a superset to look for literals in. */
const char *changes_stream_tail(const char *rec, size_t n)
{
        return memmem(rec, n, ",\"after\":{", 10);
}
