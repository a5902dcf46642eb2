/*
 * 0600-changes.c — change records and reports below HTTP: the attribute
 * diff and action classification, order-preserving time keys, path
 * matching, CSV cells (quoting, formula injection), base64url cursors,
 * query parameter parsing; and against a real store: records written by
 * the fold, pages in key order with cursors both ways (no gaps, no dups,
 * tenant-bounded), summary counters, asOf rebuilt from the log, saved
 * reports, and replay giving the same digest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "api/http_internal.h"
#include "api/reports_internal.h"
#include "projector/changes_internal.h"
#include "projector/scim_projector.h"
#include "tests/unit/unit_harness.h"

static char dir[512];
static scim_store_t *st;

static int setup(void **state)
{
        (void)state;
        unit_store_setup(dir, sizeof(dir), "changes", &st);
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        unit_store_teardown(dir, st);
        unit_rmtree_sibling(dir, ".replay");
        return 0;
}

/* --------------------------------------------------- 1. the diff */

static json_t *J(const char *s)
{
        json_t *j = json_loads(s, 0, NULL);

        assert_non_null(j);
        return j;
}

static void assert_json(const json_t *got, const char *want)
{
        json_t *w = J(want);

        if (!json_equal(got, w)) {
                char *g = json_dumps(got, JSON_COMPACT);

                fail_msg("got %s\nwant %s", g, want);
        }
        json_decref(w);
}

static void test_diff_paths(void **state)
{
        json_t *a = J("{\"schemas\":[\"x\"],\"id\":\"1\",\"userName\":\"a\","
                      "\"active\":true,\"name\":{\"givenName\":\"Al\"},"
                      "\"emails\":[{\"type\":\"work\",\"value\":\"a@x\"},"
                      "{\"type\":\"home\",\"value\":\"h@x\"}],"
                      "\"phoneNumbers\":[{\"value\":\"1\"}],"
                      "\"urn:ietf:params:scim:schemas:extension:enterprise:"
                      "2.0:User\":{\"department\":\"IT\",\"manager\":{"
                      "\"value\":\"m1\"}},"
                      "\"meta\":{\"version\":\"W/\\\"1\\\"\"}}");
        json_t *b = J("{\"schemas\":[\"y\"],\"id\":\"1\",\"userName\":\"a\","
                      "\"active\":false,\"name\":{\"givenName\":\"Alice\","
                      "\"familyName\":\"S\"},"
                      "\"emails\":[{\"type\":\"home\",\"value\":\"h@x\"},"
                      "{\"type\":\"work\",\"value\":\"b@x\"}],"
                      "\"phoneNumbers\":[{\"value\":\"2\"}],"
                      "\"urn:ietf:params:scim:schemas:extension:enterprise:"
                      "2.0:User\":{\"department\":\"IT\",\"manager\":{"
                      "\"value\":\"m2\"}},"
                      "\"meta\":{\"version\":\"W/\\\"2\\\"\"}}");
        json_t *d = changes_diff(a, b);

        (void)state;
        /* sorted by path; meta, id, schemas never listed; typed elements
         * addressed by type whatever their order; untyped by index */
        assert_json(
            d, "[{\"path\":\"active\",\"old\":true,\"new\":false},"
               "{\"path\":\"emails[type eq \\\"work\\\"].value\",\"old\":"
               "\"a@x\",\"new\":\"b@x\"},"
               "{\"path\":\"name.familyName\",\"old\":null,\"new\":\"S\"},"
               "{\"path\":\"name.givenName\",\"old\":\"Al\",\"new\":"
               "\"Alice\"},"
               "{\"path\":\"phoneNumbers[0].value\",\"old\":\"1\",\"new\":"
               "\"2\"},"
               "{\"path\":\"urn:ietf:params:scim:schemas:extension:"
               "enterprise:2.0:User:manager.value\",\"old\":\"m1\",\"new\":"
               "\"m2\"}]");
        json_decref(d);
        /* create: everything new; delete side: everything old */
        json_decref(b);
        b = J("{\"userName\":\"x\",\"roles\":[\"a\",\"b\"]}");
        d = changes_diff(NULL, b);
        assert_json(d, "[{\"path\":\"roles\",\"old\":null,\"new\":[\"a\","
                       "\"b\"]},{\"path\":\"userName\",\"old\":null,\"new\":"
                       "\"x\"}]");
        json_decref(d);
        d = changes_diff(a, a);
        assert_int_equal(json_array_size(d), 0);
        json_decref(d);
        json_decref(a);
        json_decref(b);
}

/* Edge cases of the diff, with what it printed before its leaves were
 * kept in sorted arrays instead of a JSON object keyed by path (issue 13):
 * a path set twice (the later wins), elements addressed by a type that
 * needs escaping or is all they have, empty containers, arrays mixing
 * objects and values, nesting past the depth limit, extension blocks and
 * an empty key. Each case: old, cur, diff(old, cur), diff(NULL, cur),
 * diff(old, NULL). */
/* The second flatten of a diff reuses the first one's equal attributes
 * by (value, value) pair: one value object under two keys of the new
 * resource, equal to the old value of one key only, is a change of the
 * other key (a lookup by the single value would miss it). */
static void test_diff_shared_value(void **state)
{
        json_t *old = json_pack("{s:s, s:s, s:s}", "a", "x", "b", "y", "c",
                                "z");
        json_t *cur = json_object(), *x = json_string("x");
        json_t *d;
        char *txt;

        (void)state;
        json_object_set(cur, "a", x);
        json_object_set(cur, "b", x);
        json_object_set_new(cur, "c", json_string("z"));
        d = changes_diff(old, cur);
        txt = json_dumps(d, JSON_COMPACT);
        assert_string_equal(txt, "[{\"path\":\"b\",\"old\":\"y\",\"new\":\"x\"}]");
        free(txt);
        json_decref(d);
        d = changes_diff(cur, old); /* and the other way round */
        txt = json_dumps(d, JSON_COMPACT);
        assert_string_equal(txt, "[{\"path\":\"b\",\"old\":\"x\",\"new\":\"y\"}]");
        free(txt);
        json_decref(d);
        json_decref(x);
        json_decref(old);
        json_decref(cur);
}

static void test_diff_edges(void **state)
{
        static const char *const cases[][5] = {
            {"{\"a.b\":1,\"a\":{\"b\":2},\"x\":1}",
             "{\"a\":{\"b\":3},\"a.b\":1}",
             "[{\"path\":\"a.b\",\"old\":2,\"new\":3},{\"path\":\"x\",\"old\":"
             "1,\"new\":null}]",
             "[{\"path\":\"a.b\",\"old\":null,\"new\":1}]",
             "[{\"path\":\"a.b\",\"old\":2,\"new\":null},{\"path\":\"x\","
             "\"old\":1,\"new\":null}]"},
            {"{\"emails\":[{\"type\":\"work\"},{\"type\":\"ho\\\"me\",\"v\":1,"
             "\"w\":{}}]}",
             "{\"emails\":[{\"type\":\"work\",\"v\":2},{\"type\":\"ho\\\"me\"}]"
             "}",
             "[{\"path\":\"emails[type eq "
             "\\\"ho\\\\\\\"me\\\"].type\",\"old\":null,\"new\":\"ho\\\"me\"},{"
             "\"path\":\"emails[type eq "
             "\\\"ho\\\\\\\"me\\\"].v\",\"old\":1,\"new\":null},{\"path\":"
             "\"emails[type eq "
             "\\\"ho\\\\\\\"me\\\"].w\",\"old\":{},\"new\":null},{\"path\":"
             "\"emails[type eq "
             "\\\"work\\\"].type\",\"old\":\"work\",\"new\":null},{\"path\":"
             "\"emails[type eq \\\"work\\\"].v\",\"old\":null,\"new\":2}]",
             "[{\"path\":\"emails[type eq "
             "\\\"ho\\\\\\\"me\\\"].type\",\"old\":null,\"new\":\"ho\\\"me\"},{"
             "\"path\":\"emails[type eq "
             "\\\"work\\\"].v\",\"old\":null,\"new\":2}]",
             "[{\"path\":\"emails[type eq "
             "\\\"ho\\\\\\\"me\\\"].v\",\"old\":1,\"new\":null},{\"path\":"
             "\"emails[type eq "
             "\\\"ho\\\\\\\"me\\\"].w\",\"old\":{},\"new\":null},{\"path\":"
             "\"emails[type eq "
             "\\\"work\\\"].type\",\"old\":\"work\",\"new\":null}]"},
            {"{\"e\":[],\"o\":{},\"m\":[1,{\"a\":1}],\"n\":[{},{\"a\":[1]}]}",
             "{\"e\":[1],\"o\":{\"k\":null},\"m\":[{\"a\":1}],\"n\":[{\"a\":{}}"
             "]}",
             "[{\"path\":\"e\",\"old\":null,\"new\":[1]},{\"path\":\"m\","
             "\"old\":[1,{\"a\":1}],\"new\":null},{\"path\":\"m[0].a\",\"old\":"
             "null,\"new\":1},{\"path\":\"n[0]\",\"old\":{},\"new\":null},{"
             "\"path\":\"n[0].a\",\"old\":null,\"new\":{}},{\"path\":\"n[1]."
             "a\",\"old\":[1],\"new\":null},{\"path\":\"o\",\"old\":{},\"new\":"
             "null},{\"path\":\"o.k\",\"old\":null,\"new\":null}]",
             "[{\"path\":\"e\",\"old\":null,\"new\":[1]},{\"path\":\"m[0].a\","
             "\"old\":null,\"new\":1},{\"path\":\"n[0].a\",\"old\":null,"
             "\"new\":{}},{\"path\":\"o.k\",\"old\":null,\"new\":null}]",
             "[{\"path\":\"m\",\"old\":[1,{\"a\":1}],\"new\":null},{\"path\":"
             "\"n[0]\",\"old\":{},\"new\":null},{\"path\":\"n[1].a\",\"old\":["
             "1],\"new\":null},{\"path\":\"o\",\"old\":{},\"new\":null}]"},
            {"{\"d\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{"
             "\"i\":{\"j\":1}}}}}}}}}}}",
             "{\"d\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{"
             "\"i\":{\"j\":2}}}}}}}}}}}",
             "[{\"path\":\"d.a.b.c.d.e.f.g.h.i\",\"old\":{\"j\":1},\"new\":{"
             "\"j\":2}}]",
             "[{\"path\":\"d.a.b.c.d.e.f.g.h.i\",\"old\":null,\"new\":{\"j\":2}"
             "}]",
             "[{\"path\":\"d.a.b.c.d.e.f.g.h.i\",\"old\":{\"j\":1},\"new\":"
             "null}]"},
            {"{\"urn:x:2.0:User\":{\"k\":{\"s\":[{\"type\":\"a\",\"v\":1}]},"
             "\"z\":1},\"urn:x:2.0:User:k.s[type eq \\\"a\\\"].v\":5}",
             "{\"urn:x:2.0:User\":{\"k\":{\"s\":[{\"type\":\"a\",\"v\":2}]}}}",
             "[{\"path\":\"urn:x:2.0:User:k.s[type eq "
             "\\\"a\\\"].v\",\"old\":5,\"new\":2},{\"path\":\"urn:x:2.0:User:"
             "z\",\"old\":1,\"new\":null}]",
             "[{\"path\":\"urn:x:2.0:User:k.s[type eq "
             "\\\"a\\\"].v\",\"old\":null,\"new\":2}]",
             "[{\"path\":\"urn:x:2.0:User:k.s[type eq "
             "\\\"a\\\"].v\",\"old\":5,\"new\":null},{\"path\":\"urn:x:2.0:"
             "User:z\",\"old\":1,\"new\":null}]"},
            {"{\"\":{\"k\":1},\"t\":[{\"type\":\"a\"},{\"type\":\"A\"}]}",
             "{\"\":{\"k\":2},\"t\":[{\"type\":\"a\",\"q\":\"\\u00e9\"}]}",
             "[{\"path\":\".k\",\"old\":1,\"new\":2},{\"path\":\"t[0].type\","
             "\"old\":\"a\",\"new\":null},{\"path\":\"t[1].type\",\"old\":"
             "\"A\",\"new\":null},{\"path\":\"t[type eq "
             "\\\"a\\\"].q\",\"old\":null,\"new\":\"é\"}]",
             "[{\"path\":\".k\",\"old\":null,\"new\":2},{\"path\":\"t[type eq "
             "\\\"a\\\"].q\",\"old\":null,\"new\":\"é\"}]",
             "[{\"path\":\".k\",\"old\":1,\"new\":null},{\"path\":\"t[0]."
             "type\",\"old\":\"a\",\"new\":null},{\"path\":\"t[1].type\","
             "\"old\":\"A\",\"new\":null}]"},
            {"{\"urn:y\":5,\"n\":1.5,\"i\":-0}",
             "{\"urn:y\":{\"p\":1},\"n\":1.50,\"i\":0}",
             "[{\"path\":\"urn:y\",\"old\":5,\"new\":null},{\"path\":\"urn:y:"
             "p\",\"old\":null,\"new\":1}]",
             "[{\"path\":\"i\",\"old\":null,\"new\":0},{\"path\":\"n\",\"old\":"
             "null,\"new\":1.5},{\"path\":\"urn:y:p\",\"old\":null,\"new\":1}]",
             "[{\"path\":\"i\",\"old\":0,\"new\":null},{\"path\":\"n\",\"old\":"
             "1.5,\"new\":null},{\"path\":\"urn:y\",\"old\":5,\"new\":null}]"},
        };

        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                json_t *a = J(cases[i][0]), *b = J(cases[i][1]);
                json_t *d[3] = {changes_diff(a, b), changes_diff(NULL, b),
                                changes_diff(a, NULL)};

                for (int k = 0; k < 3; k++) {
                        char *got = json_dumps(d[k], JSON_COMPACT);

                        if (strcmp(got, cases[i][2 + k]))
                                fail_msg("case %zu/%d:\ngot  %s\nwant %s", i, k,
                                         got, cases[i][2 + k]);
                        free(got);
                        json_decref(d[k]);
                }
                json_decref(a);
                json_decref(b);
        }
}

static void test_classify(void **state)
{
        scim_event_t ev;
        json_t *on = J("{\"active\":true}"), *off = J("{\"active\":false}");
        json_t *none = J("{}");

        (void)state;
        memset(&ev, 0, sizeof(ev));
        ev.rtype = SCIM_RT_USER;
        ev.action = SCIM_ACT_CREATE;
        assert_string_equal(changes_classify(&ev, NULL, on, 1, 0, 0), "create");
        ev.action = SCIM_ACT_PATCH;
        assert_string_equal(changes_classify(&ev, on, off, 1, 0, 0), "disable");
        assert_string_equal(changes_classify(&ev, off, on, 1, 0, 0), "enable");
        assert_string_equal(changes_classify(&ev, none, on, 1, 0, 0),
                            "update"); /* absent -> true is not enable */
        assert_string_equal(changes_classify(&ev, none, off, 1, 0, 0),
                            "disable"); /* absent counts as active */
        assert_string_equal(changes_classify(&ev, on, on, 2, 0, 0), "update");
        ev.action = SCIM_ACT_DELETE;
        assert_string_equal(changes_classify(&ev, on, NULL, 0, 0, 0), "delete");
        ev.rtype = SCIM_RT_GROUP;
        ev.action = SCIM_ACT_PATCH;
        assert_string_equal(changes_classify(&ev, none, none, 0, 2, 0),
                            "member_add");
        assert_string_equal(changes_classify(&ev, none, none, 0, 0, 1),
                            "member_remove");
        assert_string_equal(changes_classify(&ev, none, none, 0, 1, 1),
                            "update");
        assert_string_equal(changes_classify(&ev, none, none, 1, 1, 0),
                            "update");
        json_decref(on);
        json_decref(off);
        json_decref(none);
}

/* ------------------------------------ 2b. the record's text (issue 13) */

/* The change record as changes_record built it before its text was
 * written member by member: a jansson object dumped compact (the oracle
 * the direct writer must match byte for byte). */
static void ref_str(json_t *o, const char *k, const char *s)
{
        json_object_set_new(o, k, s && *s ? json_string(s) : json_null());
}

static const char *ref_action_name(scim_action_t a)
{
        static const char *const n[] = {
            "create",        "replace",        "patch",
            "delete",        "refused",        "tenant_create",
            "token_issue",   "token_revoke",   "report_save",
            "report_delete", "schema_put",     "schema_delete",
            "tenant_update", "tenant_disable", "tenant_enable",
            "tenant_delete", "token_rotate",   "client_register",
            "client_revoke", "key_rotate"};

        return (unsigned)a < sizeof(n) / sizeof(n[0]) ? n[a] : "unknown";
}

static char *ref_record(uint64_t seq, const scim_event_t *ev,
                        const scim_verdict_t *v, const changes_pre_t *pre,
                        int64_t itime)
{
        json_t *o = json_object(), *modified = json_array(), *req = NULL;
        const json_t *cur = v->resource, *old = pre ? pre->old : NULL;
        const json_t *names;
        int applied = v->status > 0 && v->status < 400;
        const char *action = "refused";
        char ts[32], *txt;

        json_object_set_new(o, "seq", json_integer((json_int_t)seq));
        if (!ev) {
                json_object_set_new(o, "time", json_null());
                json_object_set_new(o, "tenant", json_null());
                json_object_set_new(o, "action", json_string("refused"));
                json_object_set_new(o, "eventAction", json_null());
                goto verdict;
        }
        scim_time_format(ev->time_ms, ts);
        json_object_set_new(o, "time", json_string(ts));
        if (ev->tenant && *ev->tenant &&
            strlen(ev->tenant) <= SCIM_MAX_TENANT_LEN) {
                scim_time_format(itime, ts);
                json_object_set_new(o, "appliedAt", json_string(ts));
        }
        ref_str(o, "tenant", ev->tenant);
        json_object_set_new(o, "resourceType",
                            ev->rtype == SCIM_RT_USER    ? json_string("User")
                            : ev->rtype == SCIM_RT_GROUP ? json_string("Group")
                            : (scim_rtype_is_tenant(ev->rtype) ||
                               ev->rtype == SCIM_RT_CUSTOM) &&
                                    ev->resource_type_name
                                ? json_string(ev->resource_type_name)
                                : json_null());
        ref_str(o, "id", ev->rtype ? ev->resource_id : NULL);
        if (ev->action == SCIM_ACT_REFUSED && ev->resource_json)
                req = json_loads(ev->resource_json, 0, NULL);
        names = cur ? cur : old ? old : req;
        ref_str(o, "userName",
                ev->rtype == SCIM_RT_USER
                    ? json_string_value(json_object_get(names, "userName"))
                    : NULL);
        ref_str(o, "displayName",
                json_string_value(json_object_get(names, "displayName")));
        if (ev->action == SCIM_ACT_REFUSED) {
                char lower[32];
                const char *a = ev->attempted_action;
                size_t i = 0;

                for (; a && a[i] && i + 1 < sizeof(lower); i++)
                        lower[i] =
                            (char)((a[i] >= 'A' && a[i] <= 'Z') ? a[i] + 32
                                                                : a[i]);
                lower[i] = '\0';
                ref_str(o, "eventAction", a ? lower : "refused");
        } else {
                json_object_set_new(o, "eventAction",
                                    json_string(ref_action_name(ev->action)));
        }
        if (applied &&
            (ev->rtype == SCIM_RT_USER || ev->rtype == SCIM_RT_GROUP ||
             scim_rtype_is_tenant(ev->rtype))) {
                json_t *added = json_array(), *removed = json_array();
                size_t n_attr;

                json_decref(modified);
                modified = ev->action == SCIM_ACT_DELETE
                               ? json_array()
                               : changes_diff(old, cur);
                n_attr = json_array_size(modified);
                if (ev->rtype == SCIM_RT_GROUP &&
                    ev->action != SCIM_ACT_DELETE && pre)
                        changes_member_delta(ev, pre, added, removed);
                if (json_array_size(added) || json_array_size(removed))
                        json_array_append_new(
                            modified,
                            json_pack("{s:s, s:O, s:O}", "path", "members",
                                      "added", added, "removed", removed));
                action = changes_classify(ev, old, cur, n_attr,
                                          json_array_size(added),
                                          json_array_size(removed));
                json_decref(added);
                json_decref(removed);
        } else if (applied) {
                action = ref_action_name(ev->action);
        }
        json_object_set_new(o, "action", json_string(action));
verdict:
        json_object_set_new(o, "verdict",
                            json_string(applied ? "applied" : "refused"));
        json_object_set_new(o, "status",
                            json_integer(applied && ev &&
                                                 ev->action == SCIM_ACT_PATCH &&
                                                 v->status == 200
                                             ? 204
                                             : v->status));
        if (applied && ev && ev->action == SCIM_ACT_DELETE && pre &&
            json_array_size(pre->holders)) {
                json_t *fx = json_array(), *g;
                size_t i;

                json_array_foreach(pre->holders, i, g) json_array_append_new(
                    fx, json_pack("{s:O, s:s, s:s}", "group", g, "member",
                                  ev->resource_id, "effect", "removed"));
                json_object_set_new(o, "membershipEffects", fx);
        }
        if (applied && ev &&
            (ev->action == SCIM_ACT_CREATE || ev->action == SCIM_ACT_REPLACE ||
             ev->action == SCIM_ACT_PATCH)) {
                json_t *a =
                    ev->admin_json ? json_loads(ev->admin_json, 0, NULL) : NULL;
                json_t *d = json_array(), *x;
                size_t i;

                json_array_foreach(json_object_get(a, "droppedAttributes"), i,
                                   x) if (json_is_string(x))
                    json_array_append(d, x);
                json_array_foreach(v->dropped, i, x) json_array_append(d, x);
                if (json_array_size(d))
                        json_object_set_new(o, "droppedAttributes", d);
                else
                        json_decref(d);
                json_decref(a);
        }
        ref_str(o, "scimType", applied ? NULL : v->scim_type);
        ref_str(o, "detail", applied ? NULL : v->detail);
        ref_str(o, "actor", ev ? ev->actor : NULL);
        ref_str(o, "requestId", ev ? ev->request_id : NULL);
        ref_str(o, "eventId", ev ? ev->event_id : NULL);
        json_object_set_new(o, "modified", modified);
        txt = json_dumps(o, JSON_COMPACT);
        json_decref(req);
        json_decref(o);
        return txt;
}

/* One case: the direct text equals the oracle's. */
static void record_case(const char *what, uint64_t seq, const scim_event_t *ev,
                        const scim_verdict_t *v, const changes_pre_t *pre)
{
        txn_t t;
        scim_buf_t b = {0};
        const char *action = NULL;
        int64_t itime = 0;
        char *want;

        txn_begin(&t, st);
        assert_int_equal(
            changes_record_text(&b, &t, seq, ev, v, pre, &action, &itime), 0);
        txn_end(&t); /* never written */
        want = ref_record(seq, ev, v, pre, itime);
        assert_non_null(want);
        if (strcmp(b.data, want))
                fail_msg("%s:\ngot  %s\nwant %s", what, b.data, want);
        free(want);
        scim_buf_free(&b);
}

/* The record writers' string fast path (8 bytes at a time) writes what
 * scim_json_dump_string writes, and refuses what it refuses, wherever a
 * byte that needs escaping or checking sits. */
static void test_json_str(void **state)
{
        static const unsigned char special[] = {
            0x00, 0x01, 0x1f, 0x20, '"', '\\', '/',  0x7e,
            0x7f, 0x80, 0xc3, 0xff, 'a', 0x21, 0x5b, 0x5d};
        char s[40];

        (void)state;
        for (size_t n = 0; n <= 33; n++)
                for (size_t at = 0; at < (n ? n : 1); at++)
                        for (size_t k = 0; k < sizeof(special); k++) {
                                scim_buf_t a = {0}, b = {0};
                                int ra, rb;

                                for (size_t i = 0; i < n; i++)
                                        s[i] = (char)('a' + i % 26);
                                if (n)
                                        s[at] = (char)special[k];
                                if (n > at + 1 && special[k] == 0xc3)
                                        s[at + 1] = (char)0xa9; /* é */
                                ra = changes_json_str(&a, s, n);
                                rb = scim_json_dump_string(s, n, &b);
                                assert_int_equal(ra < 0, rb < 0);
                                if (ra == 0) {
                                        assert_int_equal(a.len, b.len);
                                        assert_memory_equal(a.data, b.data,
                                                            a.len);
                                }
                                scim_buf_free(&a);
                                scim_buf_free(&b);
                        }
}

static void test_record_text(void **state)
{
        scim_event_t e;
        scim_verdict_t v;
        changes_pre_t pre;
        static const char bad_utf8[] = "bad \xff\xfe utf8";
        static const char tricky[] =
            "Zo\xc3\xab \"q\" \\ / \t\n\x01 \xe2\x80\xa8 \xf0\x9f\x98\x80 <>&'";
        char longt[SCIM_MAX_TENANT_LEN + 8];

        (void)state;
        memset(&pre, 0, sizeof(pre));
        /* undecodable: no event at all */
        memset(&v, 0, sizeof(v));
        v.status = 400;
        snprintf(v.scim_type, sizeof(v.scim_type), "invalidSyntax");
        snprintf(v.detail, sizeof(v.detail), "undecodable: %s", tricky);
        record_case("undecodable", 7, NULL, &v, NULL);
        v.seq = 0;
        record_case("huge seq", UINT64_MAX - 3, NULL, &v, NULL);

        /* a refusal answered by ingest, names from the request */
        memset(&e, 0, sizeof(e));
        snprintf(e.event_id, sizeof(e.event_id), "%s",
                 "00000000-0000-4000-8000-000000000001");
        e.tenant = (char *)"t\xc3\xa9nant \"x\"";
        e.rtype = SCIM_RT_USER;
        e.resource_id = (char *)"id/\xe2\x98\x83";
        e.action = SCIM_ACT_REFUSED;
        e.attempted_action = (char *)"PATCH";
        e.time_ms = -86400000LL * 400 + 123; /* before 1970 */
        e.actor = (char *)tricky;
        e.request_id = (char *)"";
        e.resource_json = (char *)"{\"userName\":\"u\\u00e9\\\"\\\\\\n\","
                                  "\"displayName\":\"\\ud83d\\ude00 d\"}";
        memset(&v, 0, sizeof(v));
        v.status = 409;
        snprintf(v.scim_type, sizeof(v.scim_type), "uniqueness");
        snprintf(v.detail, sizeof(v.detail), "%s", tricky);
        record_case("refused by ingest", 12, &e, &v, NULL);
        e.attempted_action = (char *)"";
        record_case("empty attempted action", 13, &e, &v, NULL);
        e.attempted_action = NULL;
        e.actor = (char *)bad_utf8; /* not UTF-8: the member goes */
        record_case("actor not UTF-8", 14, &e, &v, NULL);

        /* an applied create: numbers, nulls, nested, typed arrays */
        e.action = SCIM_ACT_CREATE;
        e.actor = (char *)"\xe2\x80\xa8";
        e.request_id = (char *)"req-1";
        e.admin_json =
            (char *)"{\"droppedAttributes\":[\"x:y\",3,\"a\\u0001\"]}";
        e.time_ms = 1767225600000LL;
        memset(&v, 0, sizeof(v));
        v.status = 201;
        v.resource = J("{\"schemas\":[\"urn:ietf:params:scim:schemas:core:"
                       "2.0:User\"],\"id\":\"x\",\"userName\":\"Zo\\u00eb\","
                       "\"displayName\":\"\\u2028\\\"\\\\\",\"n\":-0,"
                       "\"r\":1.5e300,\"f\":0.1,\"i\":-9223372036854775807,"
                       "\"z\":null,\"t\":true,\"emails\":[{\"type\":\"work\","
                       "\"value\":\"a@b\"},{\"type\":\"home\",\"value\":"
                       "\"\\ud834\\udd1e\"}],\"addresses\":[{\"a\":1},{}],"
                       "\"urn:x:ext:2.0:User\":{\"k\":{\"deep\":[1,2,3]}},"
                       "\"meta\":{\"version\":\"W/\\\"1\\\"\"}}");
        v.dropped = J("[\"q\\\"uote\", \"\\u00ff\"]");
        record_case("applied create", 20, &e, &v, &pre);
        /* a patch: 200 in the fold, 204 to the client; from an old state */
        e.action = SCIM_ACT_PATCH;
        e.admin_json = NULL;
        pre.old = J("{\"userName\":\"old \\u00e9\",\"active\":true,"
                    "\"n\":1,\"emails\":[{\"type\":\"work\",\"value\":"
                    "\"a@b\"}]}");
        v.status = 200;
        record_case("applied patch", 21, &e, &v, &pre);
        json_decref(v.dropped);
        v.dropped = NULL;
        /* a custom type with an empty name; the tenant too long to index */
        e.rtype = SCIM_RT_CUSTOM;
        e.resource_type_name = (char *)"";
        memset(longt, 'a', sizeof(longt) - 1);
        longt[sizeof(longt) - 1] = '\0';
        e.tenant = longt;
        v.status = 400;
        json_decref(v.resource);
        v.resource = NULL;
        record_case("custom type, long tenant", 22, &e, &v, &pre);
        e.resource_type_name = (char *)bad_utf8;
        record_case("type name not UTF-8", 23, &e, &v, &pre);
        /* a delete of a member: membership effects */
        e.tenant = (char *)"t1";
        e.rtype = SCIM_RT_USER;
        e.resource_type_name = NULL;
        e.action = SCIM_ACT_DELETE;
        memset(&v, 0, sizeof(v));
        v.status = 204;
        pre.holders = J("[\"g\\u00e9\", \"g2\"]");
        record_case("delete with effects", 30, &e, &v, &pre);
        json_decref(pre.holders);
        pre.holders = NULL;
        /* a group: members added (one already there) and removed */
        e.rtype = SCIM_RT_GROUP;
        e.action = SCIM_ACT_PATCH;
        e.added = calloc(3, sizeof(*e.added));
        e.added[0].value = (char *)"m\xc3\xa9";
        e.added[1].value = (char *)"m2";
        e.added[2].value = (char *)"m\xc3\xa9";
        e.n_added = 3;
        e.removed = calloc(1, sizeof(*e.removed));
        e.removed[0] = (char *)"gone\"";
        e.n_removed = 1;
        pre.added_was = calloc(3, 1);
        pre.added_was[1] = 1;
        pre.removed_was = calloc(1, 1);
        pre.removed_was[0] = 1;
        json_decref(pre.old);
        pre.old = J("{\"displayName\":\"G \\u00e9\"}");
        v.status = 200;
        v.resource = J("{\"displayName\":\"G \\u00e9\",\"id\":\"g\"}");
        record_case("group members", 31, &e, &v, &pre);
        /* an administration event (no resource) */
        free(e.added);
        free(e.removed);
        e.added = NULL;
        e.removed = NULL;
        e.n_added = e.n_removed = 0;
        e.rtype = 0;
        e.resource_id = NULL;
        e.action = SCIM_ACT_TENANT_CREATE;
        json_decref(v.resource);
        v.resource = NULL;
        v.status = 201;
        record_case("tenant create", 40, &e, &v, NULL);
        e.action = SCIM_ACT_KEY_ROTATE;
        v.status = 501;
        snprintf(v.detail, sizeof(v.detail), "%s", bad_utf8);
        record_case("detail not UTF-8", 41, &e, &v, NULL);
        free(pre.added_was);
        free(pre.removed_was);
        pre.added_was = pre.removed_was = NULL;
        changes_pre_free(&pre);
}

/* ------------------------------------------- 2. keys, paths, parsers */

static void test_time_keys_order(void **state)
{
        int64_t v[] = {INT64_MIN, -86400000,       -1,       0,
                       1,         1700000000000LL, INT64_MAX};
        unsigned char a[8], b[8];

        (void)state;
        for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
                changes_put_time(a, v[i]);
                assert_true(changes_get_time(a) == v[i]);
                if (i) {
                        changes_put_time(b, v[i - 1]);
                        assert_true(memcmp(b, a, 8) < 0);
                }
        }
}

static void test_path_matches(void **state)
{
        (void)state;
        assert_true(changes_path_matches("name.givenName", "name"));
        assert_true(changes_path_matches("name.givenName", "NAME.givenname"));
        assert_true(
            changes_path_matches("emails[type eq \"work\"].value", "emails"));
        assert_true(changes_path_matches(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:"
            "department",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
        assert_true(changes_path_matches("active", "active"));
        assert_false(changes_path_matches("userName", "user"));
        assert_false(changes_path_matches("displayName", "name"));
        assert_true(changes_path_matches("x", NULL));
}

static void cell(const char *in, const char *want)
{
        scim_buf_t b = {0};

        scim_csv_cell(&b, in);
        scim_buf_append(&b, "", 0);
        assert_string_equal(b.data, want);
        scim_buf_free(&b);
}

static void test_csv_cells(void **state)
{
        (void)state;
        cell("plain", "plain");
        cell("a,b", "\"a,b\"");
        cell("say \"hi\"", "\"say \"\"hi\"\"\"");
        cell("two\nlines", "\"two\nlines\"");
        cell("=1+2", "'=1+2");
        cell("+1", "'+1");
        cell("-1", "'-1");
        cell("@SUM(A1)", "'@SUM(A1)");
        cell("\tx", "\"'\tx\"");
        /* ; and TAB separate cells in other locales: quoted, one cell */
        cell("x;=1+1;y", "\"x;=1+1;y\"");
        cell("x\t=1+1", "\"x\t=1+1\"");
        cell("\rx", "\"'\rx\"");
        cell("=HYPERLINK(\"u\",\"x\")", "\"'=HYPERLINK(\"\"u\"\",\"\"x\"\")\"");
        cell("", "");
        cell(NULL, "");
        cell("a=b", "a=b");
}

static void test_b64url(void **state)
{
        unsigned char raw[40];
        scim_buf_t enc = {0}, dec = {0};

        (void)state;
        for (size_t n = 0; n <= sizeof(raw); n++) {
                for (size_t i = 0; i < n; i++)
                        raw[i] = (unsigned char)(i * 37 + n);
                enc.len = dec.len = 0;
                scim_b64url_encode(raw, n, &enc);
                assert_null(strpbrk(enc.data, "+/="));
                assert_int_equal(scim_b64url_decode(enc.data, &dec, 100), 0);
                assert_int_equal(dec.len, n);
                assert_memory_equal(dec.data, raw, n);
        }
        dec.len = 0;
        assert_int_equal(scim_b64url_decode("a", &dec, 100), -1);
        assert_int_equal(scim_b64url_decode("ab+/", &dec, 100), -1);
        assert_int_equal(scim_b64url_decode("AB", &dec, 100), -1); /* bits */
        assert_int_equal(scim_b64url_decode("AAAAAAAA", &dec, 3), -1);
        scim_buf_free(&enc);
        scim_buf_free(&dec);
}

static int parse(const char *qs, scim_change_query_t *q, scim_buf_t *cur)
{
        json_t *p = NULL;
        scim_err_t e;
        int rc;

        assert_int_equal(scim_query_parse(qs, &p, &e), 0);
        rc = scim_reports_parse_query(p, 1000000000000LL, 0, q, cur, &e);
        if (rc < 0)
                assert_int_equal(e.status, 400);
        json_decref(p);
        return rc;
}

static void test_parse_query(void **state)
{
        scim_change_query_t q;
        scim_buf_t cur = {0};
        int64_t ms;

        (void)state;
        assert_int_equal(parse("", &q, &cur), 0);
        assert_true(q.from_ms == INT64_MIN && q.to_ms == INT64_MAX);
        assert_int_equal(q.count, 100);
        assert_int_equal(parse("from=2026-11-01T00:00:00Z&to=1800000000000"
                               "&count=5000&verdict=refused&order=asc",
                               &q, &cur),
                         0);
        assert_true(q.from_ms == 1793491200000LL);
        assert_true(q.to_ms == 1800000000000LL);
        assert_int_equal(q.count, SCIM_CHANGES_MAX_COUNT);
        assert_int_equal(q.verdict, 2);
        assert_int_equal(q.desc, 0);
        assert_int_equal(parse("from=-2h", &q, &cur), 0);
        assert_true(q.from_ms == 1000000000000LL - 7200000);
        assert_int_equal(scim_reports_parse_time("-7d", 0, &ms), 0);
        assert_true(ms == -7 * 86400000LL);
        const char *bad[] = {
            "from=nope",         "count=0",        "count=x",
            "action=create,,",   "action=boom",    "status=700",
            "verdict=x",         "order=sideways", "cursor=%25",
            "format=xml",        "resourceType=x", "from=2&to=1",
            "from=-99999999999d"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (parse(bad[i], &q, &cur) != -1)
                        fail_msg("accepted %s", bad[i]);
        scim_buf_free(&cur);
}

/* --------------------------------------------- 3. against a store */

static void append(scim_store_t *s, scim_event_t *e, int want)
{
        scim_buf_t enc = {0};
        scim_verdict_t v;
        scim_err_t err;

        assert_int_equal(scim_event_encode(e, &enc, &err), 0);
        assert_int_equal(scim_store_append_fold(s, &enc, e, 1, &v, &err), 0);
        if (v.status != want)
                fail_msg("status %d, want %d (%s)", v.status, want, v.detail);
        scim_verdict_clear(&v);
        scim_buf_free(&enc);
        scim_event_clear(e);
}

#define T0 1699999200000LL /* 2023-11-14T22:00:00Z, an hour boundary */

/* Pages through q with count n; returns all seqs in order (new array). */
static json_t *all_pages(const char *tenant, scim_change_query_t q, size_t n)
{
        json_t *seqs = json_array();
        scim_buf_t next = {0}, cur = {0};
        scim_err_t e;
        int pages = 0;

        q.count = n;
        for (;;) {
                json_t *recs = NULL, *r;
                size_t i;

                next.len = 0;
                assert_int_equal(
                    scim_changes_query(st, tenant, &q, &recs, &next, &e), 0);
                assert_true(json_array_size(recs) <= n);
                json_array_foreach(recs, i, r)
                {
                        assert_string_equal(
                            json_string_value(json_object_get(r, "tenant")),
                            tenant);
                        json_array_append_new(seqs,
                                              json_integer(json_integer_value(
                                                  json_object_get(r, "seq"))));
                }
                json_decref(recs);
                if (!next.len)
                        break;
                cur.len = 0;
                scim_buf_append(&cur, next.data, next.len);
                q.cursor = (const unsigned char *)cur.data;
                q.cursor_len = cur.len;
                assert_true(++pages < 1000);
        }
        scim_buf_free(&next);
        scim_buf_free(&cur);
        return seqs;
}

static void test_store_records_pages_asof(void **state)
{
        scim_event_t e;
        scim_change_query_t q;
        json_t *seqs, *rec = NULL, *res = NULL, *sum = NULL;
        scim_err_t err;
        char d1[65], d2[65], e2[256];
        scim_store_t *rep;
        char rdir[600];

        (void)state;
        e = unit_event(SCIM_ACT_TENANT_CREATE, 0, "a", NULL, NULL, T0);
        append(st, &e, 201);
        e = unit_event(SCIM_ACT_TENANT_CREATE, 0, "ab", NULL, NULL, T0);
        append(st, &e, 201); /* "a" is a prefix of "ab": keys must not mix */
        /* 30 users in a, one per minute; 10 in ab interleaved */
        for (int i = 0; i < 30; i++) {
                char id[16], js[64];

                snprintf(id, sizeof(id), "u%02d", i);
                snprintf(js, sizeof(js), "{\"userName\":\"user%d\"}", i);
                e = unit_event(SCIM_ACT_CREATE, SCIM_RT_USER, "a", id, js,
                               T0 + i * 60000);
                append(st, &e, 201);
                if (i % 3 == 0) {
                        e = unit_event(SCIM_ACT_CREATE, SCIM_RT_USER, "ab", id,
                                       js, T0 + i * 60000);
                        append(st, &e, 201);
                }
        }
        /* u05 over time: update, disable, refused (fold: 409), delete */
        e = unit_event(
            SCIM_ACT_REPLACE, SCIM_RT_USER, "a", "u05",
            "{\"userName\":\"user5\",\"active\":true,\"title\":\"x\"}",
            T0 + 3600000);
        append(st, &e, 200);
        e = unit_event(
            SCIM_ACT_PATCH, SCIM_RT_USER, "a", "u05",
            "{\"userName\":\"user5\",\"active\":false,\"title\":\"x\"}",
            T0 + 2 * 3600000);
        append(st, &e, 200);
        e = unit_event(SCIM_ACT_PATCH, SCIM_RT_USER, "a", "u05",
                       "{\"userName\":\"user6\"}", T0 + 2 * 3600000 + 1);
        append(st, &e, 409);
        /* a group with members, then a membership-only change */
        e = unit_event(SCIM_ACT_CREATE, SCIM_RT_GROUP, "a", "g1",
                       "{\"displayName\":\"G\"}", T0 + 3600000);
        e.added = calloc(2, sizeof(*e.added));
        e.added[0].value = strdup("u01");
        e.added[1].value = strdup("u05");
        e.n_added = 2;
        append(st, &e, 201);
        e = unit_event(SCIM_ACT_PATCH, SCIM_RT_GROUP, "a", "g1", NULL,
                       T0 + 2 * 3600000);
        e.removed = calloc(1, sizeof(*e.removed));
        e.removed[0] = strdup("u01");
        e.n_removed = 1;
        append(st, &e, 200);
        /* u05 deleted after the group was built around it */
        e = unit_event(SCIM_ACT_DELETE, SCIM_RT_USER, "a", "u05", NULL,
                       T0 + 3 * 3600000);
        append(st, &e, 204);
        /* saved report, then a refused one (bad name) */
        e = unit_event(SCIM_ACT_REPORT_SAVE, 0, "a", "r1",
                       "{\"format\":\"csv\"}", T0 + 4 * 3600000);
        append(st, &e, 201);
        e = unit_event(SCIM_ACT_REPORT_SAVE, 0, "a", "bad name", "{}",
                       T0 + 4 * 3600000);
        append(st, &e, 400);

        /* time order, desc and asc, pages of 7: 1 tenant + 30 + 4 + 2 + 2
         * records of a, each exactly once, in order */
        memset(&q, 0, sizeof(q));
        q.from_ms = INT64_MIN;
        q.to_ms = INT64_MAX;
        q.desc = 1;
        seqs = all_pages("a", q, 7);
        assert_int_equal(json_array_size(seqs), 39);
        for (size_t i = 1; i < json_array_size(seqs); i++)
                assert_true(json_integer_value(json_array_get(seqs, i)) !=
                            json_integer_value(json_array_get(seqs, i - 1)));
        json_decref(seqs);
        q.desc = 0;
        seqs = all_pages("ab", q, 3);
        assert_int_equal(json_array_size(seqs), 11);
        for (size_t i = 1; i < json_array_size(seqs); i++)
                assert_true(json_integer_value(json_array_get(seqs, i)) >
                            json_integer_value(json_array_get(seqs, i - 1)));
        json_decref(seqs);
        /* time range [T0 + 10 min, T0 + 20 min): users 10..19 */
        q.from_ms = T0 + 600000;
        q.to_ms = T0 + 1200000;
        seqs = all_pages("a", q, 4);
        assert_int_equal(json_array_size(seqs), 10);
        json_decref(seqs);
        q.desc = 1;
        seqs = all_pages("a", q, 4);
        assert_int_equal(json_array_size(seqs), 10);
        json_decref(seqs);
        /* one action: the time index's values name each record's action,
         * so the others are skipped unread: 31 creates in a (30 users and
         * the group), 10 in ab, any case, either order, any page size */
        memset(&q, 0, sizeof(q));
        q.from_ms = INT64_MIN;
        q.to_ms = INT64_MAX;
        q.actions = "CREATE";
        q.desc = 1;
        seqs = all_pages("a", q, 4);
        assert_int_equal(json_array_size(seqs), 31);
        json_decref(seqs);
        q.desc = 0;
        seqs = all_pages("ab", q, 3);
        assert_int_equal(json_array_size(seqs), 10);
        json_decref(seqs);
        q.from_ms = T0 + 600000; /* users 10..19 */
        q.to_ms = T0 + 1200000;
        seqs = all_pages("a", q, 3);
        assert_int_equal(json_array_size(seqs), 10);
        json_decref(seqs);
        q.actions = " delete ";
        seqs = all_pages("a", q, 3);
        assert_int_equal(json_array_size(seqs), 0);
        json_decref(seqs);
        q.from_ms = INT64_MIN;
        q.to_ms = INT64_MAX;
        seqs = all_pages("a", q, 3);
        assert_int_equal(json_array_size(seqs), 1);
        json_decref(seqs);
        q.actions = "delete,Create";
        q.desc = 1;
        seqs = all_pages("a", q, 5);
        assert_int_equal(json_array_size(seqs), 32);
        json_decref(seqs);
        q.desc = 0;
        /* one resource: its 5 records, oldest first */
        memset(&q, 0, sizeof(q));
        q.from_ms = INT64_MIN;
        q.to_ms = INT64_MAX;
        q.resource = "u05";
        seqs = all_pages("a", q, 2);
        assert_int_equal(json_array_size(seqs), 5);
        json_decref(seqs);
        q.actions = "disable";
        seqs = all_pages("a", q, 2);
        assert_int_equal(json_array_size(seqs), 1);
        assert_int_equal(
            scim_changes_get(
                st, "a", (uint64_t)json_integer_value(json_array_get(seqs, 0)),
                &rec, &err),
            0);
        assert_json(json_object_get(rec, "modified"),
                    "[{\"path\":\"active\",\"old\":true,\"new\":false}]");
        /* the same seq is not visible from tenant ab */
        assert_int_equal(
            scim_changes_get(
                st, "ab", (uint64_t)json_integer_value(json_array_get(seqs, 0)),
                &res, &err),
            -1);
        assert_int_equal(err.status, 404);
        json_decref(rec);
        json_decref(seqs);
        /* a cursor of a time query does not fit a resource query */
        {
                unsigned char bogus[17] = {'T'};
                json_t *recs = NULL;
                scim_buf_t next = {0};

                q.cursor = bogus;
                q.cursor_len = sizeof(bogus);
                assert_int_equal(
                    scim_changes_query(st, "a", &q, &recs, &next, &err), -1);
                assert_int_equal(err.status, 400);
                scim_buf_free(&next);
        }

        /* asOf: u05 at creation, after update, after disable, deleted */
        assert_int_equal(scim_changes_as_of(st, "a", SCIM_RT_USER, "u05",
                                            T0 + 5 * 60000, NULL, &res, &err),
                         0);
        assert_null(json_object_get(res, "title"));
        assert_string_equal(json_string_value(json_object_get(
                                json_object_get(res, "meta"), "version")),
                            "W/\"1\"");
        json_decref(res);
        assert_int_equal(scim_changes_as_of(st, "a", SCIM_RT_USER, "u05",
                                            T0 + 2 * 3600000 + 5, NULL, &res,
                                            &err),
                         0);
        assert_true(json_is_false(json_object_get(res, "active")));
        assert_string_equal(json_string_value(json_object_get(
                                json_object_get(res, "meta"), "version")),
                            "W/\"3\""); /* the 409 is not a version */
        json_decref(res);
        assert_int_equal(scim_changes_as_of(st, "a", SCIM_RT_USER, "u05",
                                            T0 + 3 * 3600000, NULL, &res, &err),
                         -1);
        assert_int_equal(err.status, 404);
        assert_int_equal(scim_changes_as_of(st, "a", SCIM_RT_USER, "u05",
                                            T0 - 1, NULL, &res, &err),
                         -1);
        /* group: both members, then u01 removed; u05 deleted later */
        assert_int_equal(scim_changes_as_of(st, "a", SCIM_RT_GROUP, "g1",
                                            T0 + 3600000, NULL, &res, &err),
                         0);
        assert_int_equal(json_array_size(json_object_get(res, "members")), 2);
        json_decref(res);
        assert_int_equal(scim_changes_as_of(st, "a", SCIM_RT_GROUP, "g1",
                                            T0 + 2 * 3600000, NULL, &res, &err),
                         0);
        assert_json(json_object_get(res, "members"),
                    "[{\"value\":\"u05\",\"type\":\"User\"}]");
        json_decref(res);
        assert_int_equal(scim_changes_as_of(st, "a", SCIM_RT_GROUP, "g1",
                                            T0 + 3 * 3600000, NULL, &res, &err),
                         0);
        assert_null(json_object_get(res, "members"));
        json_decref(res);
        /* a time limit: a generous one changes nothing; one that has
         * passed stops the read in its first loop (400 tooMany, nothing
         * returned, nothing leaked) */
        {
                scim_deadline_t dl, gone;
                json_t *list = NULL;
                size_t total = 0;
                struct timespec nap = {0, 20 * 1000000L};

                scim_deadline_start(&dl, 60000);
                assert_int_equal(scim_changes_as_of(st, "a", SCIM_RT_GROUP,
                                                    "g1", T0 + 3600000, &dl,
                                                    &res, &err),
                                 0);
                assert_int_equal(
                    json_array_size(json_object_get(res, "members")), 2);
                json_decref(res);
                assert_int_equal(scim_changes_list_as_of(
                                     st, "a", SCIM_RT_USER, T0 + 3600000, NULL,
                                     1, 100, &dl, &total, &list, &err),
                                 0);
                assert_true(total > 0);
                assert_int_equal(json_array_size(list), total);
                json_decref(list);
                assert_int_equal(scim_deadline_passed(&dl), 0);

                scim_deadline_start(&gone, 1);
                nanosleep(&nap, NULL);
                res = NULL;
                scim_err_clear(&err);
                assert_int_equal(scim_changes_as_of(st, "a", SCIM_RT_GROUP,
                                                    "g1", T0 + 3600000, &gone,
                                                    &res, &err),
                                 -1);
                assert_int_equal(err.status, 400);
                assert_string_equal(err.scim_type, "tooMany");
                assert_null(res);
                assert_int_equal(scim_deadline_passed(&gone), 1);
                list = NULL;
                total = 99;
                scim_err_clear(&err);
                assert_int_equal(scim_changes_list_as_of(
                                     st, "a", SCIM_RT_GROUP, T0 + 3600000, NULL,
                                     1, 100, &gone, &total, &list, &err),
                                 -1);
                assert_int_equal(err.status, 400);
                assert_string_equal(err.scim_type, "tooMany");
                assert_int_equal(json_array_size(list), 0);
                assert_int_equal(total, 0);
                json_decref(list);
        }
        /* users are not groups, and tenant ab has no u05 history */
        assert_int_equal(scim_changes_as_of(st, "a", SCIM_RT_GROUP, "u01",
                                            T0 + 3600000, NULL, &res, &err),
                         -1);
        assert_int_equal(scim_changes_as_of(st, "ab", SCIM_RT_USER, "u05",
                                            T0 + 3600000, NULL, &res, &err),
                         -1);

        /* summary: hour buckets from counters */
        assert_int_equal(scim_changes_summary(st, "a", T0 - 3600000,
                                              T0 + 5 * 3600000, 1, &sum, &err),
                         0);
        assert_json(json_object_get(sum, "totals"),
                    "{\"total\":39,\"byVerdict\":{\"applied\":37,"
                    "\"refused\":2},\"byAction\":{\"tenant_create\":1,"
                    "\"create\":31,\"update\":1,\"disable\":1,\"refused\":2,"
                    "\"delete\":1,\"member_remove\":1,\"report_save\":1}}");
        json_decref(sum);
        assert_int_equal(scim_changes_summary(st, "a", T0 + 3600000,
                                              T0 + 2 * 3600000, 24, &sum, &err),
                         0);
        /* one hour, [1h, 2h): the update and the group create */
        assert_int_equal(json_integer_value(json_object_get(
                             json_object_get(sum, "totals"), "total")),
                         2);
        json_decref(sum);

        /* saved report */
        assert_int_equal(scim_reports_saved_get(st, "a", "r1", &res, &err), 0);
        assert_string_equal(json_string_value(json_object_get(res, "format")),
                            "csv");
        json_decref(res);
        assert_int_equal(scim_reports_saved_get(st, "ab", "r1", &res, &err),
                         -1);

        /* replay gives the same digest, change indexes included */
        snprintf(rdir, sizeof(rdir), "%s.replay", dir);
        assert_int_equal(scim_store_open(rdir, &rep, e2, sizeof(e2)), 0);
        assert_int_equal(scim_store_replay(st, rep, 0, NULL, &err), 0);
        assert_int_equal(scim_store_digest(st, d1, &err), 0);
        assert_int_equal(scim_store_digest(rep, d2, &err), 0);
        assert_string_equal(d1, d2);
        scim_store_close(rep);
}

/* The record's numbers and times: changes_int_text writes what
 * snprintf("%" JSON_INTEGER_FORMAT) wrote, changes_time_text what
 * scim_time_format writes, also when the time changes back and forth. */
static void test_int_time_text(void **state)
{
        static const json_int_t nums[] = {0,  1,  -1, 9, 10, -10, 99, 100,
                                          123456789, -987654321,
                                          INT64_MAX, INT64_MIN,
                                          INT64_MIN + 1, 1000000000000LL};
        static const int64_t times[] = {0, 1, 999, -1, -1000, 1767225600123LL,
                                        1767225600123LL, 253402300799999LL,
                                        0, 1767225600124LL};
        char a[32], b[32];

        (void)state;
        for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
                size_t n = changes_int_text(a, nums[i]);

                snprintf(b, sizeof(b), "%" JSON_INTEGER_FORMAT, nums[i]);
                assert_string_equal(a, b);
                assert_int_equal(n, strlen(b));
        }
        for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
                changes_time_text(times[i], a);
                scim_time_format(times[i], b);
                assert_string_equal(a, b);
        }
        /* times in the day of the last one formatted are written from its
         * date: every boundary of a day (before and after the epoch, the
         * first and last days RFC 3339 can say, one past them), then
         * random times near each, in and out of the remembered day */
        static const int64_t days[] = {0,
                                       -86400000LL,
                                       1767225600000LL,
                                       951782400000LL, /* 2000-02-29 */
                                       -62167219200000LL,
                                       253402214400000LL,
                                       253402300800000LL,
                                       -62167305600000LL};
        uint64_t x = 88172645463325252ULL;

        for (size_t d = 0; d < sizeof(days) / sizeof(days[0]); d++) {
                static const int64_t offs[] = {0,        1,        999,
                                               1000,     59999,    60000,
                                               3599999,  3600000,  43200000,
                                               86399999, 86400000, -1};

                for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
                        int64_t t = days[d] + offs[i];

                        changes_time_text(t, a);
                        scim_time_format(t, b);
                        assert_string_equal(a, b);
                }
                for (int i = 0; i < 2000; i++) {
                        int64_t t;

                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        t = days[d] + (int64_t)(x % (3 * 86400000ULL)) -
                            86400000LL;
                        changes_time_text(t, a);
                        scim_time_format(t, b);
                        assert_string_equal(a, b);
                }
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_diff_paths),
            cmocka_unit_test(test_diff_edges),
            cmocka_unit_test(test_diff_shared_value),
            cmocka_unit_test(test_classify),
            cmocka_unit_test(test_json_str),
            cmocka_unit_test(test_int_time_text),
            cmocka_unit_test(test_record_text),
            cmocka_unit_test(test_time_keys_order),
            cmocka_unit_test(test_path_matches),
            cmocka_unit_test(test_csv_cells),
            cmocka_unit_test(test_b64url),
            cmocka_unit_test(test_parse_query),
            cmocka_unit_test(test_store_records_pages_asof),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
