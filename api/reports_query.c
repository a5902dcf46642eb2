/*
 * reports_query.c — the parsers and writers of the reports API: query
 * parameters into a change query, times (absolute and relative), opaque
 * cursors (base64url), saved report definitions, and CSV output that is
 * safe to open in a spreadsheet. Pure functions: reentrant, no locks.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/reports_internal.h"

static const char *const known_actions[] = {
    "create",          "update",        "disable",       "enable",
    "delete",          "member_add",    "member_remove", "refused",
    "tenant_create",   "token_issue",   "token_revoke",  "report_save",
    "report_delete",   "schema_put",    "schema_delete", "tenant_update",
    "tenant_disable",  "tenant_enable", "tenant_delete", "token_rotate",
    "client_register", "client_revoke", "key_rotate",    NULL};

const char *const scim_reports_columns[] = {
    "seq",      "time",        "resourceType", "id",
    "userName", "displayName", "action",       "eventAction",
    "verdict",  "status",      "scimType",     "detail",
    "actor",    "requestId",   "modified",     NULL};

/* Parameters a change query understands (lower-cased). */
static const char *const known_params[] = {
    "from",    "to",     "resource", "resourcetype", "action",
    "verdict", "status", "actor",    "attribute",    "username",
    "count",   "cursor", "order",    "format",       NULL};

int scim_reports_in_set(const char *const *set, const char *s, int ci)
{
        for (size_t i = 0; set[i]; i++)
                if (ci ? scim_strcaseeq(set[i], s) : !strcmp(set[i], s))
                        return 1;
        return 0;
}

/* ------------------------------------------------------------ time */

int scim_reports_parse_time(const char *s, int64_t now_ms, int64_t *out)
{
        size_t n = s ? strlen(s) : 0;
        int digits = n > 0;

        if (n == 0 || n > 64)
                return -1;
        if (s[0] == '-' && n >= 3 && strchr("mhd", s[n - 1])) {
                /* relative: -N{m,h,d} */
                int64_t v = 0, unit;

                for (size_t i = 1; i + 1 < n; i++) {
                        /* v stays under 1e9, so v * unit fits */
                        if (!isdigit((unsigned char)s[i]) || v > 100000000)
                                return -1;
                        v = v * 10 + (s[i] - '0');
                }
                unit = s[n - 1] == 'm'   ? 60000LL
                       : s[n - 1] == 'h' ? 3600000LL
                                         : 86400000LL;
                *out = now_ms - v * unit;
                return 0;
        }
        for (size_t i = (s[0] == '-'); i < n; i++)
                if (!isdigit((unsigned char)s[i]))
                        digits = 0;
        if (digits && n - (s[0] == '-') > 0 && n <= 16) {
                *out = strtoll(s, NULL, 10);
                return 0;
        }
        return scim_time_parse(s, out);
}

/* ------------------------------------------------------- base64url */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void scim_b64url_encode(const unsigned char *in, size_t n, scim_buf_t *out)
{
        size_t i;
        char q[4];

        for (i = 0; i + 3 <= n; i += 3) {
                q[0] = b64[in[i] >> 2];
                q[1] = b64[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
                q[2] = b64[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
                q[3] = b64[in[i + 2] & 63];
                scim_buf_append(out, q, 4);
        }
        if (n - i == 1) {
                q[0] = b64[in[i] >> 2];
                q[1] = b64[(in[i] & 3) << 4];
                scim_buf_append(out, q, 2);
        } else if (n - i == 2) {
                q[0] = b64[in[i] >> 2];
                q[1] = b64[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
                q[2] = b64[(in[i + 1] & 15) << 2];
                scim_buf_append(out, q, 3);
        }
        if (!out->data)
                scim_buf_append(out, "", 0);
}

static int b64_val(char c)
{
        const char *p = c ? strchr(b64, c) : NULL;

        return p ? (int)(p - b64) : -1;
}

int scim_b64url_decode(const char *in, scim_buf_t *out, size_t max)
{
        size_t n = strlen(in), i;
        unsigned char o[3];

        if (n % 4 == 1 || (n / 4) * 3 + 2 > max + 2)
                return -1;
        for (i = 0; i < n; i += 4) {
                int v[4] = {0, 0, 0, 0};
                size_t k = n - i < 4 ? n - i : 4;

                for (size_t j = 0; j < k; j++)
                        if ((v[j] = b64_val(in[i + j])) < 0)
                                return -1;
                o[0] = (unsigned char)((v[0] << 2) | (v[1] >> 4));
                o[1] = (unsigned char)(((v[1] & 15) << 4) | (v[2] >> 2));
                o[2] = (unsigned char)(((v[2] & 3) << 6) | v[3]);
                /* unused trailing bits must be zero (canonical form) */
                if ((k == 2 && (v[1] & 15)) || (k == 3 && (v[2] & 3)))
                        return -1;
                scim_buf_append(out, o, k - 1);
        }
        if (out->len > max)
                return -1;
        if (!out->data)
                scim_buf_append(out, "", 0);
        return 0;
}

/* ----------------------------------------------------------- query */

static int bad(scim_err_t *err, const char *what, const char *why)
{
        return scim_err_set(err, 400, "invalidValue", "%s: %s", what, why);
}

int scim_reports_parse_query(const json_t *params, int64_t now_ms, int strict,
                             scim_change_query_t *q, scim_buf_t *cursor,
                             scim_err_t *err)
{
        const char *k, *s;
        json_t *v;

        memset(q, 0, sizeof(*q));
        q->from_ms = INT64_MIN;
        q->to_ms = INT64_MAX;
        q->count = 100;
        q->desc = -1; /* caller's default */
        json_object_foreach((json_t *)params, k, v)
        {
                if (!json_is_string(v))
                        return bad(err, k, "must be a string");
                s = json_string_value(v);
                if (json_string_length(v) > SCIM_REPORTS_MAX_PARAM)
                        return bad(err, k, "value too long");
                if (strict && !scim_reports_in_set(known_params, k, 1))
                        return bad(err, k, "unknown parameter");
                if (scim_strcaseeq(k, "from") || scim_strcaseeq(k, "to")) {
                        int64_t ms;

                        if (!*s)
                                continue;
                        if (scim_reports_parse_time(s, now_ms, &ms) < 0)
                                return bad(err, k,
                                           "not a dateTime, ms since the "
                                           "epoch, or -N[mhd]");
                        if (scim_strcaseeq(k, "from"))
                                q->from_ms = ms;
                        else
                                q->to_ms = ms;
                } else if (scim_strcaseeq(k, "resource")) {
                        if (!*s || strlen(s) > SCIM_MAX_ID_LEN)
                                return bad(err, k, "not a resource id");
                        q->resource = s;
                } else if (scim_strcaseeq(k, "resourcetype")) {
                        if (scim_strcaseeq(s, "User"))
                                q->rtype = 'U';
                        else if (scim_strcaseeq(s, "Group"))
                                q->rtype = 'G';
                        else if (*s)
                                return bad(err, k, "User or Group");
                } else if (scim_strcaseeq(k, "action")) {
                        /* comma list of known actions */
                        const char *p = s;

                        while (*p) {
                                char one[32];
                                size_t l = strcspn(p, ",");

                                while (l && *p == ' ') {
                                        p++;
                                        l--;
                                }
                                if (l == 0 || l >= sizeof(one))
                                        return bad(err, k, "unknown action");
                                memcpy(one, p, l);
                                one[l] = '\0';
                                while (l && one[l - 1] == ' ')
                                        one[--l] = '\0';
                                if (!scim_reports_in_set(known_actions, one, 1))
                                        return bad(err, k, "unknown action");
                                p += strcspn(p, ",");
                                if (*p == ',')
                                        p++;
                        }
                        q->actions = *s ? s : NULL;
                } else if (scim_strcaseeq(k, "verdict")) {
                        if (scim_strcaseeq(s, "applied"))
                                q->verdict = 1;
                        else if (scim_strcaseeq(s, "refused"))
                                q->verdict = 2;
                        else if (*s)
                                return bad(err, k, "applied or refused");
                } else if (scim_strcaseeq(k, "status")) {
                        char *end;
                        long st = strtol(s, &end, 10);

                        if (*s && (*end || st < 100 || st > 599))
                                return bad(err, k, "an HTTP status");
                        q->status = *s ? (int)st : 0;
                } else if (scim_strcaseeq(k, "actor")) {
                        q->actor = *s ? s : NULL;
                } else if (scim_strcaseeq(k, "attribute")) {
                        q->attribute = *s ? s : NULL;
                } else if (scim_strcaseeq(k, "username")) {
                        q->user_name = *s ? s : NULL;
                } else if (scim_strcaseeq(k, "count")) {
                        char *end;
                        long c = strtol(s, &end, 10);

                        if (!*s || *end || c < 1)
                                return bad(err, k, "a positive integer");
                        q->count = c > SCIM_CHANGES_MAX_COUNT
                                       ? SCIM_CHANGES_MAX_COUNT
                                       : (size_t)c;
                } else if (scim_strcaseeq(k, "cursor")) {
                        if (!*s)
                                continue;
                        cursor->len = 0;
                        if (scim_b64url_decode(s, cursor,
                                               SCIM_CHANGES_MAX_CURSOR) < 0 ||
                            cursor->len == 0)
                                return bad(err, k, "not a cursor");
                        q->cursor = (const unsigned char *)cursor->data;
                        q->cursor_len = cursor->len;
                } else if (scim_strcaseeq(k, "order")) {
                        if (scim_strcaseeq(s, "asc"))
                                q->desc = 0;
                        else if (scim_strcaseeq(s, "desc"))
                                q->desc = 1;
                        else
                                return bad(err, k, "asc or desc");
                } else if (scim_strcaseeq(k, "format")) {
                        if (!scim_strcaseeq(s, "json") &&
                            !scim_strcaseeq(s, "csv"))
                                return bad(err, k, "json or csv");
                }
        }
        if (q->from_ms >= q->to_ms && q->from_ms != INT64_MIN)
                return bad(err, "from", "must be before to");
        return 0;
}

/* ------------------------------------------------------------- CSV */

void scim_csv_cell(scim_buf_t *out, const char *s)
{
        int quote = 0, guard;

        if (!s)
                s = "";
        guard = s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' ||
                s[0] == '\t' || s[0] == '\r';
        for (const char *p = s; *p; p++)
                /* ; and TAB separate cells in other locales and
                 * importers: quoted, x;=1+1 stays one inert cell */
                if (*p == '"' || *p == ',' || *p == '\n' || *p == '\r' ||
                    *p == ';' || *p == '\t')
                        quote = 1;
        if (quote)
                scim_buf_puts(out, "\"");
        if (guard)
                scim_buf_puts(out, "'");
        for (const char *p = s; *p; p++) {
                if (*p == '"')
                        scim_buf_puts(out, "\"\"");
                else
                        scim_buf_append(out, p, 1);
        }
        if (quote)
                scim_buf_puts(out, "\"");
}

/* A JSON value as cell text: strings as is, null as "", others as JSON. */
static void value_text(const json_t *v, scim_buf_t *out)
{
        char *t;

        if (!v || json_is_null(v))
                return;
        if (json_is_string(v)) {
                scim_buf_puts(out, json_string_value(v));
                return;
        }
        t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (t)
                scim_buf_puts(out, t);
        free(t);
}

/* "path: old -> new; members: +id -id" */
static void modified_text(const json_t *mods, scim_buf_t *out)
{
        size_t i, j;
        json_t *m, *x;

        json_array_foreach(mods, i, m)
        {
                if (i)
                        scim_buf_puts(out, "; ");
                scim_buf_puts(
                    out, json_string_value(json_object_get(m, "path"))
                             ? json_string_value(json_object_get(m, "path"))
                             : "");
                scim_buf_puts(out, ":");
                if (json_object_get(m, "added")) {
                        json_array_foreach(json_object_get(m, "added"), j, x)
                        {
                                scim_buf_puts(out, " +");
                                value_text(x, out);
                        }
                        json_array_foreach(json_object_get(m, "removed"), j, x)
                        {
                                scim_buf_puts(out, " -");
                                value_text(x, out);
                        }
                        continue;
                }
                scim_buf_puts(out, " ");
                value_text(json_object_get(m, "old"), out);
                scim_buf_puts(out, " -> ");
                value_text(json_object_get(m, "new"), out);
        }
}

void scim_reports_csv(const json_t *records, const json_t *columns,
                      scim_buf_t *out)
{
        size_t i, c, ncol = 0;
        json_t *r;
        const char *cols[32];
        scim_buf_t cell = {0};

        if (json_array_size(columns)) {
                for (c = 0; c < json_array_size(columns) && ncol < 32; c++)
                        if (json_string_value(json_array_get(columns, c)))
                                cols[ncol++] = json_string_value(
                                    json_array_get(columns, c));
        } else {
                for (c = 0; scim_reports_columns[c] && ncol < 32; c++)
                        cols[ncol++] = scim_reports_columns[c];
        }
        for (c = 0; c < ncol; c++) {
                if (c)
                        scim_buf_puts(out, ",");
                scim_csv_cell(out, cols[c]);
        }
        scim_buf_puts(out, "\r\n");
        json_array_foreach(records, i, r)
        {
                for (c = 0; c < ncol; c++) {
                        cell.len = 0;
                        scim_buf_append(&cell, "", 0);
                        if (!strcmp(cols[c], "modified"))
                                modified_text(json_object_get(r, "modified"),
                                              &cell);
                        else
                                value_text(json_object_get(r, cols[c]), &cell);
                        if (c)
                                scim_buf_puts(out, ",");
                        scim_csv_cell(out, cell.data);
                }
                scim_buf_puts(out, "\r\n");
        }
        scim_buf_free(&cell);
}

/* ------------------------------------------------- saved definition */

int scim_reports_check_definition(const json_t *def, json_t **out,
                                  scim_err_t *err)
{
        json_t *n = NULL, *filter, *cols, *v, *params = NULL;
        const char *k, *fmt, *desc;
        size_t i;
        scim_change_query_t q;
        scim_buf_t cur = {0};
        int rc = -1;

        *out = NULL;
        if (!json_is_object(def)) {
                bad(err, "definition", "must be a JSON object");
                goto out;
        }
        json_object_foreach((json_t *)def, k, v)
        {
                if (strcmp(k, "name") && strcmp(k, "description") &&
                    strcmp(k, "filter") && strcmp(k, "columns") &&
                    strcmp(k, "format") && strcmp(k, "created") &&
                    strcmp(k, "updated") && strcmp(k, "updatedBy")) {
                        bad(err, k, "unknown member of a report definition");
                        goto out;
                }
        }
        n = json_object();
        desc = json_string_value(json_object_get(def, "description"));
        if (json_object_get(def, "description") &&
            (!desc || strlen(desc) > SCIM_REPORTS_MAX_PARAM)) {
                bad(err, "description", "a string up to 1024 bytes");
                goto out;
        }
        if (desc)
                json_object_set_new(n, "description", json_string(desc));
        filter = json_object_get(def, "filter");
        if (filter && !json_is_object(filter)) {
                bad(err, "filter", "must be an object of strings");
                goto out;
        }
        params = json_object();
        json_object_foreach(filter, k, v)
        {
                char lower[32];
                size_t l = strlen(k);

                if (l >= sizeof(lower)) {
                        bad(err, k, "unknown parameter");
                        goto out;
                }
                for (i = 0; i <= l; i++)
                        lower[i] = (char)tolower((unsigned char)k[i]);
                if (!strcmp(lower, "cursor") || !strcmp(lower, "count") ||
                    !strcmp(lower, "format")) {
                        bad(err, k, "not part of a saved filter");
                        goto out;
                }
                json_object_set(params, lower, v);
        }
        if (scim_reports_parse_query(params, 0, 1, &q, &cur, err) < 0)
                goto out;
        if (filter)
                json_object_set(n, "filter", filter);
        else
                json_object_set_new(n, "filter", json_object());
        cols = json_object_get(def, "columns");
        if (cols) {
                if (!json_is_array(cols) || json_array_size(cols) == 0 ||
                    json_array_size(cols) > 32) {
                        bad(err, "columns", "an array of 1-32 column names");
                        goto out;
                }
                json_array_foreach(cols, i, v)
                {
                        if (!json_is_string(v) ||
                            !scim_reports_in_set(scim_reports_columns,
                                                 json_string_value(v), 0)) {
                                bad(err, "columns", "unknown column");
                                goto out;
                        }
                }
                json_object_set(n, "columns", cols);
        }
        fmt = json_string_value(json_object_get(def, "format"));
        if (json_object_get(def, "format") &&
            (!fmt || (strcmp(fmt, "json") && strcmp(fmt, "csv")))) {
                bad(err, "format", "json or csv");
                goto out;
        }
        json_object_set_new(n, "format", json_string(fmt ? fmt : "json"));
        *out = n;
        n = NULL;
        rc = 0;
out:
        json_decref(n);
        json_decref(params);
        scim_buf_free(&cur);
        return rc;
}
