/*
 * fuzz_reports.c — libFuzzer target: the reports API's parsers. The input
 * is read as a raw query string (parameters, times, cursors), as a saved
 * report definition (JSON), as a base64url cursor, and as one CSV cell;
 * accepted cursors must re-encode to the same text, refusals must be
 * 400s, and no CSV cell may start with a formula character.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/http_internal.h"
#include "api/reports_internal.h"
#include "ingest/scim_ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static int ready;
        char *s = malloc(size + 1);
        json_t *params = NULL, *def = NULL, *norm = NULL, *recs;
        scim_change_query_t q;
        scim_buf_t cur = {0}, out = {0}, enc = {0};
        scim_err_t err;
        int64_t ms;

        if (!ready) {
                char e[256];

                if (scim_schemas_init(e, sizeof(e)) < 0)
                        abort();
                ready = 1;
        }
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        if (scim_query_parse(s, &params, &err) == 0) {
                if (scim_reports_parse_query(params, 1700000000000LL, 0, &q,
                                             &cur, &err) == 0) {
                        if (q.count < 1 || q.count > SCIM_CHANGES_MAX_COUNT ||
                            (q.cursor &&
                             q.cursor_len > SCIM_CHANGES_MAX_CURSOR))
                                abort();
                } else if (err.status != 400) {
                        abort();
                }
                json_decref(params);
        }
        scim_reports_parse_time(s, 1700000000000LL, &ms);
        cur.len = 0;
        if (scim_b64url_decode(s, &cur, SCIM_CHANGES_MAX_CURSOR) == 0) {
                /* canonical: re-encoding gives the input back */
                scim_b64url_encode((const unsigned char *)cur.data, cur.len,
                                   &enc);
                if (enc.len != strlen(s) || memcmp(enc.data, s, enc.len))
                        abort();
        }
        if (scim_json_parse(s, size, &def, &err) == 0) {
                if (scim_reports_check_definition(def, &norm, &err) == 0) {
                        recs = json_pack("[{s:s, s:s}]", "userName", s,
                                         "detail", "=x");
                        scim_reports_csv(recs, json_object_get(norm, "columns"),
                                         &out);
                        json_decref(recs);
                } else if (err.status != 400) {
                        abort();
                }
                json_decref(def);
                json_decref(norm);
        }
        out.len = 0;
        scim_csv_cell(&out, s);
        if (out.data && strchr("=+-@\t\r", out.data[0]) && out.data[0])
                abort(); /* a formula would reach the spreadsheet */
        scim_buf_free(&cur);
        scim_buf_free(&out);
        scim_buf_free(&enc);
        free(s);
        return 0;
}
