/*
 * json_parse.c — the request-body parser: UTF-8, nesting and syntax checks
 * before jansson builds anything. Reentrant (http pool threads).
 */
#include <stdio.h>

#include "ingest/scim_ingest.h"

/* Depth of [ and { outside strings; stops counting past the cap. */
static int too_deep(const char *s, size_t n)
{
        int depth = 0, in_str = 0;

        for (size_t i = 0; i < n; i++) {
                char c = s[i];

                if (in_str) {
                        if (c == '\\')
                                i++;
                        else if (c == '"')
                                in_str = 0;
                } else if (c == '"') {
                        in_str = 1;
                } else if (c == '[' || c == '{') {
                        if (++depth > SCIM_MAX_JSON_DEPTH)
                                return 1;
                } else if (c == ']' || c == '}') {
                        depth--;
                }
        }
        return 0;
}

int scim_json_parse(const char *body, size_t len, json_t **out,
                    scim_err_t *err)
{
        json_error_t je;
        json_t *j;

        *out = NULL;
        if (!body || len == 0)
                return scim_err_set(err, 400, "invalidSyntax",
                                    "request body is empty");
        /* a body the fast parser accepts within the nesting limit is valid
         * UTF-8 and not too deep: the checks below would pass, so only a
         * body it refuses (or not an object) pays them, and they answer
         * as before (issue 13: ~2.4k instructions of a POST) */
        j = scim_json_load_nested(body, len, SCIM_MAX_JSON_DEPTH);
        if (json_is_object(j)) {
                *out = j;
                return 0;
        }
        json_decref(j);
        if (!scim_utf8_valid(body, len))
                return scim_err_set(err, 400, "invalidSyntax",
                                    "request body is not valid UTF-8");
        if (too_deep(body, len))
                return scim_err_set(err, 400, "invalidSyntax",
                                    "JSON nesting deeper than %d",
                                    SCIM_MAX_JSON_DEPTH);
        /* the fast parser accepts exactly what jansson accepts; jansson
         * is asked again only to explain a rejection */
        j = scim_json_load(body, len);
        if (!j && !(j = json_loadb(body, len, 0, &je)))
                return scim_err_set(err, 400, "invalidSyntax",
                                    "malformed JSON at line %d column %d: %s",
                                    je.line, je.column, je.text);
        if (!json_is_object(j)) {
                json_decref(j);
                return scim_err_set(err, 400, "invalidSyntax",
                                    "request body must be a JSON object");
        }
        *out = j;
        return 0;
}
