/*
 * changes.c — the audit side of the projector: full change records written
 * by the fold for every event, their key-ordered indexes in column family
 * `chidx` (its hourly counters and apply times: counters.c), saved report
 * definitions, and the readers the reports API serves (pages in time or
 * per-resource order, one record, summaries, point-in-time views rebuilt
 * from the log).
 *
 * Writer side (changes_pre_load, changes_record, changes_fold_report) runs
 * on the single writer thread inside a fold transaction and is
 * deterministic: it reads only the event, the verdict and the view state as
 * it stands at that point of the log, so a replay writes identical records.
 * Reader side (scim_changes_*, scim_reports_saved_*) runs on any thread.
 *
 * Trade-off: index entries carry small values only (the time index the
 * record's action, the resource index its time and kind); a page does one
 * point read of the record per entry it returns (records live once, in
 * `change`, keyed by seq). One index in time order serves every action
 * (views_format 0010: there was a second one per action, one more memtable
 * insert per event for a query that now skips entries by their value).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "projector/changes_internal.h"

#define DIFF_MAX_DEPTH 8
/* Time-index entries of other actions a page skips by their value (no
 * record read, ~0.3 us each) before it ends with a cursor. */
#define CHANGES_SKIP_LIMIT (16 * SCIM_CHANGES_SCAN_LIMIT)

static const char *const event_action_names[] = {
    "create",      "replace",       "patch",       "delete",
    "refused",     "tenant_create", "token_issue", "token_revoke",
    "report_save", "report_delete", "schema_put",  "schema_delete",
    "tenant_update", "tenant_disable", "tenant_enable", "tenant_delete",
    "token_rotate", "client_register", "client_revoke", "key_rotate"};
_Static_assert(sizeof(event_action_names) / sizeof(event_action_names[0]) ==
                   SCIM_ACT_LAST + 1,
               "a name for every event action");

static const char *event_action_name(scim_action_t a)
{
        if ((unsigned)a <
            sizeof(event_action_names) / sizeof(event_action_names[0]))
                return event_action_names[a];
        return "unknown";
}

/* ------------------------------------------------------------ keys */

void changes_put_time(unsigned char out[8], int64_t ms)
{
        scim_put_be64(out, (uint64_t)ms ^ (1ULL << 63));
}

int64_t changes_get_time(const unsigned char in[8])
{
        return (int64_t)(scim_get_be64(in) ^ (1ULL << 63));
}

/* tenant \0 kind */
void changes_key_start(scim_buf_t *b, const char *tenant, char kind)
{
        b->len = 0;
        scim_buf_append(b, tenant, strlen(tenant) + 1);
        scim_buf_append(b, &kind, 1);
}

void changes_key_be(scim_buf_t *b, uint64_t v)
{
        unsigned char x[8];

        scim_put_be64(x, v);
        scim_buf_append(b, x, 8);
}

void changes_key_time(scim_buf_t *b, int64_t ms)
{
        unsigned char x[8];

        changes_put_time(x, ms);
        scim_buf_append(b, x, 8);
}

int64_t changes_floor_div(int64_t a, int64_t b)
{
        int64_t q = a / b;

        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int changes_attr_skipped(const char *k)
{
        switch (k[0]) { /* one byte decides for nearly every key */
        case 's':
                return !strcmp(k, "schemas");
        case 'i':
                return k[1] == 'd' && !k[2];
        case 'm':
                return !strcmp(k, "meta") || !strcmp(k, "members");
        default:
                return 0;
        }
}

/* --------------------------------------------------------- the diff */

/*
 * The diff flattens each side into leaves (path -> value) and walks both
 * lists in path order. A leaf list is an array of (path, value, order):
 * paths live in one buffer, values are borrowed from the resource, and
 * when two leaves share a path the later one counts (as a JSON object
 * keyed by path kept the last value set: e.g. a key "a.b" and a.b).
 */
typedef struct leaf {
        size_t off;        /* path: offset in the leaves' text */
        const json_t *v;   /* borrowed */
        size_t order;      /* insertion order (the later of a path wins) */
} leaf_t;

typedef struct leaves {
        scim_buf_t text; /* NUL-terminated paths */
        leaf_t *l;
        size_t n, cap;
        int oom;
} leaves_t;

static void leaf_add(leaves_t *acc, const char *path, size_t plen,
                     const json_t *v)
{
        if (acc->n == acc->cap) {
                size_t cap = acc->cap ? 2 * acc->cap : 32;
                leaf_t *l = realloc(acc->l, cap * sizeof(*l));

                if (!l) {
                        acc->oom = 1;
                        return;
                }
                acc->l = l;
                acc->cap = cap;
        }
        acc->l[acc->n].off = acc->text.len;
        if (scim_buf_append(&acc->text, path, plen) < 0 ||
            scim_buf_append(&acc->text, "", 1) < 0) {
                acc->oom = 1;
                return;
        }
        acc->l[acc->n].v = v;
        acc->l[acc->n].order = acc->n;
        acc->n++;
}

static void flat(leaves_t *acc, scim_buf_t *p, const json_t *v, int depth);

/* A multi-valued attribute whose elements are objects with distinct string
 * "type" values is addressed by type; returns 1 when that holds. */
static int typed_array(const json_t *arr)
{
        size_t i, j;
        json_t *e, *f;

        if (json_array_size(arr) == 0)
                return 0;
        json_array_foreach(arr, i, e)
        {
                if (!json_is_string(json_object_get(e, "type")))
                        return 0;
                for (j = 0; j < i; j++) {
                        f = json_array_get(arr, j);
                        if (scim_strcaseeq(
                                json_string_value(json_object_get(e, "type")),
                                json_string_value(json_object_get(f, "type"))))
                                return 0;
                }
        }
        return 1;
}

/* Members of o under prefix p (p->len restored after each); skip: a key
 * left out ("type" of an element addressed by type). */
static void flat_object(leaves_t *acc, scim_buf_t *p, char sep,
                        const json_t *o, const char *skip, int depth)
{
        const char *k;
        json_t *v;
        size_t mark = p->len;

        json_object_foreach((json_t *)o, k, v)
        {
                if (skip && !strcmp(k, skip))
                        continue;
                p->len = mark;
                scim_buf_append(p, &sep, 1);
                scim_buf_puts(p, k);
                if (p->data)
                        flat(acc, p, v, depth + 1);
        }
        p->len = mark;
}

/* The leaves of v at path p (p->data[0 .. p->len)). */
static void flat(leaves_t *acc, scim_buf_t *p, const json_t *v, int depth)
{
        size_t i, mark = p->len;
        json_t *e;

        if (depth > DIFF_MAX_DEPTH ||
            (!json_is_object(v) && !json_is_array(v))) {
                leaf_add(acc, p->data, p->len, v);
                return;
        }
        if (json_is_object(v)) {
                if (json_object_size(v) == 0)
                        leaf_add(acc, p->data, p->len, v);
                else
                        flat_object(acc, p, '.', v, NULL, depth);
                return;
        }
        if (typed_array(v)) {
                json_array_foreach(v, i, e)
                {
                        json_t *ty = json_object_get(e, "type");

                        p->len = mark;
                        scim_buf_puts(p, "[type eq ");
                        if (scim_json_dump(ty, p) < 0)
                                scim_buf_puts(p, "\"\"");
                        scim_buf_puts(p, "]");
                        if (!p->data)
                                continue;
                        /* the element without its type, or {"type"} when
                         * that is all it has */
                        flat_object(acc, p, '.', e,
                                    json_object_size(e) > 1 ? "type" : NULL,
                                    depth);
                }
                p->len = mark;
                return;
        }
        json_array_foreach(v, i, e) if (!json_is_object(e))
        {
                leaf_add(acc, p->data, p->len, v);
                return;
        }
        json_array_foreach(v, i, e)
        {
                char num[32];

                p->len = mark;
                snprintf(num, sizeof(num), "[%zu]", i);
                scim_buf_puts(p, num);
                if (!p->data)
                        continue;
                if (json_object_size(e) == 0)
                        leaf_add(acc, p->data, p->len, e);
                else
                        flat_object(acc, p, '.', e, NULL, depth);
        }
        p->len = mark;
}

static int leaf_cmp(const void *a, const void *b, void *ctx)
{
        const leaf_t *x = a, *y = b;
        const char *t = ctx;
        int c = strcmp(t + x->off, t + y->off);

        return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* Flattens the attributes of stored resource res whose value differs
 * from other's (other NULL or not an object: all of them; an extension
 * block present in both keeps only its differing sub-attributes) into
 * acc: its leaves sorted by path, one per path (the last set). Leaves
 * under an equal attribute are equal, so the diff of these is the diff of
 * the whole resources, at the cost of the changed attributes only. */
/* The attribute values found equal by the first flatten of a diff, as
 * (value in the second resource, value in the first) pairs: the second
 * flatten asks the same questions the other way round, and equality is
 * symmetric (pairs, not single values: one value may sit under two
 * keys). */
#define DIFF_SAME_MAX 64

typedef struct same {
        const json_t *a[DIFF_SAME_MAX], *b[DIFF_SAME_MAX];
        size_t n;
        int full; /* more than fit: not a complete list */
} same_t;

static int same_has(const same_t *sm, const json_t *v, const json_t *w)
{
        for (size_t i = 0; i < sm->n; i++)
                if (sm->a[i] == v && sm->b[i] == w)
                        return 1;
        return 0;
}

/* A cursor over an object's members for lookups by the keys of another
 * object: a resource printed and parsed again keeps its key order, so the
 * member after the last one found is nearly always the one asked for (a
 * key compare, not a hash of the key). Answers as json_object_get. */
typedef struct near {
        json_t *o; /* NULL: every key absent */
        void *it;  /* the member after the last one found, or NULL */
} near_t;

static json_t *near_get(near_t *c, const char *k)
{
        size_t kl;
        void *f;
        json_t *v;

        if (!c->o)
                return NULL;
        kl = strlen(k);
        f = c->it;
        if (!f || json_object_iter_key_len(f) != kl ||
            memcmp(json_object_iter_key(f), k, kl) != 0)
                f = json_object_iter_at(c->o, k); /* the hash lookup */
        if (!f)
                return NULL; /* the cursor stays */
        v = json_object_iter_value(f);
        c->it = json_object_iter_next(c->o, f);
        return v;
}

/* out (optional): collects the (other's, res's) value pairs found equal;
 * known (optional): a complete such list from the other direction
 * (flatten(other, res)), which then answers instead of json_equal. */
static void flatten(leaves_t *acc, const json_t *res, const json_t *other,
                    same_t *out, const same_t *known)
{
        const char *k;
        json_t *v, *w;
        scim_buf_t p = {0};
        size_t o = 0;
        near_t near; /* other's members, by res's keys */

        if (!json_is_object(res))
                return;
        near.o = json_is_object(other) ? (json_t *)other : NULL;
        near.it = NULL;
        json_object_foreach((json_t *)res, k, v)
        {
                if (changes_attr_skipped(k))
                        continue;
                w = near_get(&near, k);
                if (w && (known && !known->full ? same_has(known, v, w)
                                                 : json_equal(v, w))) {
                        if (out && out->n < DIFF_SAME_MAX) {
                                out->a[out->n] = w;
                                out->b[out->n++] = v;
                        } else if (out) {
                                out->full = 1;
                        }
                        continue;
                }
                p.len = 0;
                scim_buf_puts(&p, k);
                if (!p.data)
                        continue;
                if (!strncmp(k, "urn:", 4) && json_is_object(v)) {
                        /* extension block: urn:...:User:attr[.sub] */
                        const char *sk;
                        json_t *sv, *sw;

                        if (!json_is_object(w))
                                w = NULL;
                        json_object_foreach(v, sk, sv)
                        {
                                sw = w ? json_object_get(w, sk) : NULL;
                                if (sw && json_equal(sv, sw))
                                        continue;
                                p.len = strlen(k);
                                scim_buf_puts(&p, ":");
                                scim_buf_puts(&p, sk);
                                if (p.data)
                                        flat(acc, &p, sv, 1);
                        }
                        continue;
                }
                flat(acc, &p, v, 0);
        }
        scim_buf_free(&p);
        if (acc->n > 1)
                qsort_r(acc->l, acc->n, sizeof(*acc->l), leaf_cmp,
                        acc->text.data);
        /* one per path: the last */
        for (size_t i = 0; i < acc->n; i++) {
                if (o && !strcmp(acc->text.data + acc->l[o - 1].off,
                                 acc->text.data + acc->l[i].off))
                        o--;
                acc->l[o++] = acc->l[i];
        }
        acc->n = o;
}

static void leaves_free(leaves_t *acc)
{
        scim_buf_free(&acc->text);
        free(acc->l);
}

/* Calls fn for each attribute change of old -> cur in path order: path,
 * old value, new value (either NULL when absent). Returns -1 when out of
 * memory (fn not called), else 0. */
static int diff_walk(const json_t *old, const json_t *cur,
                     void (*fn)(void *ctx, const char *path, const json_t *x,
                                const json_t *y),
                     void *ctx)
{
        leaves_t a = {0}, b = {0};
        size_t i = 0, j = 0;
        int rc = 0;
        same_t sm; /* what the first flatten found equal */

        sm.n = 0;
        sm.full = 0;
        flatten(&a, old, cur, &sm, NULL);
        flatten(&b, cur, old, NULL, &sm);
        if (a.oom || b.oom) {
                rc = -1;
                goto out;
        }
        while (i < a.n || j < b.n) {
                const char *pa = i < a.n ? a.text.data + a.l[i].off : NULL;
                const char *pb = j < b.n ? b.text.data + b.l[j].off : NULL;
                int c = !pa ? 1 : !pb ? -1 : strcmp(pa, pb);
                const json_t *x = c <= 0 ? a.l[i].v : NULL;
                const json_t *y = c >= 0 ? b.l[j].v : NULL;

                if (!(x && y && json_equal((json_t *)x, (json_t *)y)))
                        fn(ctx, c <= 0 ? pa : pb, x, y);
                if (c <= 0)
                        i++;
                if (c >= 0)
                        j++;
        }
out:
        leaves_free(&a);
        leaves_free(&b);
        return rc;
}

static void diff_json_one(void *ctx, const char *path, const json_t *x,
                          const json_t *y)
{
        json_array_append_new(ctx, json_pack("{s:s, s:O, s:O}", "path", path,
                                             "old", x ? x : json_null(), "new",
                                             y ? y : json_null()));
}

json_t *changes_diff(const json_t *old, const json_t *cur)
{
        json_t *out = json_array();

        diff_walk(old, cur, diff_json_one, out);
        return out;
}

/* The diff as the text changes_diff's array dumps to, without brackets:
 * elements appended to b, counted in n; err set when one cannot be
 * printed. */
typedef struct diff_text {
        scim_buf_t *b;
        size_t n;
        int err;
} diff_text_t;

static void diff_text_one(void *ctx, const char *path, const json_t *x,
                          const json_t *y)
{
        diff_text_t *d = ctx;
        size_t mark = d->b->len;

        if (d->n)
                scim_buf_puts(d->b, ",");
        scim_buf_puts(d->b, "{\"path\":");
        if (changes_json_str(d->b, path, strlen(path)) < 0) {
                /* json_pack refused it: no element */
                d->b->len = mark;
                if (d->b->data)
                        d->b->data[mark] = '\0';
                return;
        }
        scim_buf_puts(d->b, ",\"old\":");
        if (x ? scim_json_dump(x, d->b) < 0 : scim_buf_puts(d->b, "null") < 0)
                d->err = 1;
        scim_buf_puts(d->b, ",\"new\":");
        if (y ? scim_json_dump(y, d->b) < 0 : scim_buf_puts(d->b, "null") < 0)
                d->err = 1;
        scim_buf_puts(d->b, "}");
        d->n++;
}

const char *changes_classify(const scim_event_t *ev, const json_t *old,
                             const json_t *cur, size_t n_attr_changes,
                             size_t n_added, size_t n_removed)
{
        if (ev->action == SCIM_ACT_CREATE)
                return "create";
        if (ev->action == SCIM_ACT_DELETE)
                return "delete";
        if (ev->rtype == SCIM_RT_USER) {
                json_t *a = json_object_get(old, "active");
                json_t *b = json_object_get(cur, "active");

                /* absent counts as active (absent -> true is no enable) */
                if ((!a || json_is_true(a)) && json_is_false(b))
                        return "disable";
                if (json_is_false(a) && json_is_true(b))
                        return "enable";
                return "update";
        }
        if (n_attr_changes == 0 && n_added > 0 && n_removed == 0)
                return "member_add";
        if (n_attr_changes == 0 && n_removed > 0 && n_added == 0)
                return "member_remove";
        return "update";
}

int changes_path_matches(const char *path, const char *attribute)
{
        size_t n;

        if (!attribute || !*attribute)
                return 1;
        if (!path)
                return 0;
        n = strlen(attribute);
        if (strncasecmp(path, attribute, n) != 0)
                return 0;
        return path[n] == '\0' || path[n] == '.' || path[n] == '[' ||
               path[n] == ':';
}

/* ------------------------------------------------------ writer side */

/* The stored resource (new reference, or NULL) and its text in *text
 * (malloc'd, NULL with it) when it parses. */
static json_t *load_stored(txn_t *t, const char *tenant, char rt,
                           const char *id, char **text, size_t *tlen)
{
        scim_buf_t b = {0};
        size_t vlen = 0;
        char *v;
        json_t *j = NULL;

        b.len = 0;
        scim_buf_append(&b, tenant, strlen(tenant) + 1);
        scim_buf_append(&b, &rt, 1);
        scim_buf_puts(&b, id);
        v = txn_get(t, CF_RES, b.data, b.len, &vlen);
        if (v)
                j = scim_json_load(v, vlen);
        if (j) {
                *text = v;
                *tlen = vlen;
        } else {
                free(v);
        }
        scim_buf_free(&b);
        return j;
}

static int is_member(txn_t *t, const char *tenant, const char *gid,
                     const char *mid)
{
        scim_buf_t b = {0};
        size_t vl;
        char *v;

        key_make(&b, tenant, 'G', gid, mid);
        v = txn_get(t, CF_MEM, b.data, b.len, &vl);
        scim_buf_free(&b);
        free(v);
        return v != NULL;
}

void changes_pre_load(txn_t *t, const scim_event_t *ev, changes_pre_t *pre)
{
        memset(pre, 0, sizeof(*pre));
        if (!ev || !ev->tenant || !*ev->tenant || !ev->resource_id ||
            !*ev->resource_id || strlen(ev->resource_id) > SCIM_MAX_ID_LEN ||
            (ev->rtype != SCIM_RT_USER && ev->rtype != SCIM_RT_GROUP &&
             !scim_rtype_is_tenant(ev->rtype)))
                return;
        pre->old = load_stored(t, ev->tenant, (char)ev->rtype, ev->resource_id,
                               &pre->old_text, &pre->old_len);
        if (ev->action == SCIM_ACT_DELETE && pre->old) {
                scim_buf_t p = {0};

                key_make(&p, ev->tenant, 'R', ev->resource_id, NULL);
                pre->holders = txn_children(t, p.data, p.len);
                scim_buf_free(&p);
        }
        if (ev->rtype != SCIM_RT_GROUP || !pre->old ||
            ev->action == SCIM_ACT_REFUSED)
                return;
        /* a deleted group's members (the member-history index) */
        if (ev->members_replace || ev->action == SCIM_ACT_DELETE) {
                scim_buf_t p = {0};
                json_t *ids, *mid;
                size_t i;

                pre->old_members = json_object();
                key_make(&p, ev->tenant, 'G', ev->resource_id, NULL);
                ids = txn_children(t, p.data, p.len);
                json_array_foreach(ids, i, mid)
                    json_object_set_new(pre->old_members,
                                        json_string_value(mid), json_true());
                json_decref(ids);
                scim_buf_free(&p);
        }
        if (ev->action == SCIM_ACT_DELETE)
                return;
        if (ev->n_added)
                pre->added_was = calloc(ev->n_added, 1);
        if (ev->n_removed)
                pre->removed_was = calloc(ev->n_removed, 1);
        for (size_t i = 0; pre->added_was && i < ev->n_added; i++)
                pre->added_was[i] = ev->added[i].value &&
                                    is_member(t, ev->tenant, ev->resource_id,
                                              ev->added[i].value);
        for (size_t i = 0; pre->removed_was && i < ev->n_removed; i++)
                pre->removed_was[i] =
                    ev->removed[i] &&
                    is_member(t, ev->tenant, ev->resource_id, ev->removed[i]);
}

void changes_pre_free(changes_pre_t *pre)
{
        if (!pre)
                return;
        json_decref(pre->holders);
        json_decref(pre->cur);
        json_decref(pre->old);
        free(pre->old_text);
        json_decref(pre->old_members);
        free(pre->added_was);
        free(pre->removed_was);
        memset(pre, 0, sizeof(*pre));
}

/* Member ids really added / removed by an applied group event. */
void changes_member_delta(const scim_event_t *ev, const changes_pre_t *pre,
                          json_t *added, json_t *removed)
{
        json_t *in_added = json_object();
        const char *k;
        json_t *v;

        for (size_t i = 0; i < ev->n_added; i++) {
                const char *mid = ev->added[i].value;

                if (!mid || json_object_get(in_added, mid))
                        continue;
                json_object_set_new(in_added, mid, json_true());
                if (ev->members_replace) {
                        if (!json_object_get(pre->old_members, mid))
                                json_array_append_new(added, json_string(mid));
                } else if (!pre->added_was || !pre->added_was[i]) {
                        json_array_append_new(added, json_string(mid));
                } else {
                        /* already a member: removed then re-added? */
                        for (size_t j = 0; j < ev->n_removed; j++)
                                if (ev->removed[j] &&
                                    !strcmp(ev->removed[j], mid)) {
                                        json_array_append_new(added,
                                                              json_string(mid));
                                        break;
                                }
                }
        }
        if (ev->members_replace) {
                json_object_foreach(pre->old_members, k,
                                    v) if (!json_object_get(in_added, k))
                    json_array_append_new(removed, json_string(k));
        } else {
                json_t *seen = json_object();

                for (size_t i = 0; i < ev->n_removed; i++) {
                        const char *mid = ev->removed[i];

                        if (!mid || !pre->removed_was || !pre->removed_was[i] ||
                            json_object_get(seen, mid))
                                continue;
                        json_object_set_new(seen, mid, json_true());
                        if (!json_object_get(in_added, mid))
                                json_array_append_new(removed,
                                                      json_string(mid));
                }
                json_decref(seen);
        }
        json_decref(in_added);
}

/*
 * The record's text is written member by member (issue 13: building a
 * jansson object of ~20 members and dumping it cost ~30k instructions of a
 * POST), as stream.c's stream_record does: the bytes scim_json_dumps wrote
 * of the object this function built before, members in the same order; a
 * string member that is not UTF-8 is left out as json_string's NULL left
 * it out. The rare nested parts (modified, membershipEffects,
 * droppedAttributes) are still jansson values, dumped in place. Unit 0600
 * compares the text with the old object's dump for tricky values.
 */
static void rec_key(scim_buf_t *b, const char *k)
{
        changes_json_key(b, k);
}

/* 1 when none of the 8 bytes of x needs escaping or checking: each is
 * printable ASCII (0x20-0x7e) other than '"' and '\\' (exact presence
 * tests: "has a byte below n", "has a zero byte"). */
static int plain8(uint64_t x)
{
        const uint64_t ones = 0x0101010101010101ULL;
        const uint64_t high = 0x8080808080808080ULL;
        uint64_t q = x ^ (ones * '"'), s = x ^ (ones * '\\');

        return !(((x - ones * 0x20) & ~x & high) | (x & high) |
                 (((x & ~high) + ones) & high) | ((q - ones) & ~q & high) |
                 ((s - ones) & ~s & high));
}

/* Room for extra bytes and the NUL after them: the common case (room
 * left) inline, else scim_buf_reserve. */
static inline int room(scim_buf_t *b, size_t extra)
{
        if (b->data && b->len + extra + 1 <= b->cap)
                return 0;
        return scim_buf_reserve(b, extra);
}

int changes_json_str(scim_buf_t *b, const char *s, size_t n)
{
        size_t i = 0;
        char *o;

        for (; i + 8 <= n; i += 8) {
                uint64_t x;

                memcpy(&x, s + i, 8);
                if (!plain8(x))
                        return scim_json_dump_string(s, n, b);
        }
        if (i < n && n >= 8) {
                /* the tail as the string's last eight bytes (some checked
                 * twice): one word instead of a byte loop */
                uint64_t x;

                memcpy(&x, s + n - 8, 8);
                if (!plain8(x))
                        return scim_json_dump_string(s, n, b);
                i = n;
        }
        for (; i < n; i++) {
                unsigned char c = (unsigned char)s[i];

                if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
                        return scim_json_dump_string(s, n, b);
        }
        /* printable ASCII without quote or backslash: written as is */
        if (room(b, n + 2) < 0)
                return -1;
        o = b->data + b->len;
        o[0] = '"';
        memcpy(o + 1, s, n);
        o[n + 1] = '"';
        o[n + 2] = '\0';
        b->len += n + 2;
        return 0;
}

void changes_json_key(scim_buf_t *b, const char *k)
{
        size_t n = strlen(k), o = b->len;
        int comma = b->len > 1; /* after "{": the first member has none */

        if (room(b, n + 4) < 0)
                return;
        if (comma)
                b->data[o++] = ',';
        b->data[o++] = '"';
        memcpy(b->data + o, k, n);
        o += n;
        b->data[o++] = '"';
        b->data[o++] = ':';
        b->data[o] = '\0';
        b->len = o;
}

void changes_json_str_member(scim_buf_t *b, const char *k, const char *s,
                             int keep_empty)
{
        size_t mark = b->len;

        rec_key(b, k);
        if (!s || (!*s && !keep_empty)) {
                scim_buf_puts(b, "null");
        } else if (changes_json_str(b, s, strlen(s)) < 0) {
                b->len = mark; /* not UTF-8: no member */
                if (b->data)
                        b->data[mark] = '\0';
        }
}

static void rec_str(scim_buf_t *b, const char *k, const char *s)
{
        changes_json_str_member(b, k, s, 0);
}

size_t changes_int_text(char out[24], json_int_t n)
{
        char tmp[24];
        size_t len = 0, i = 0;
        /* the magnitude as unsigned: -INT64_MIN does not fit */
        uint64_t u = n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n;

        do {
                tmp[i++] = (char)('0' + u % 10);
                u /= 10;
        } while (u);
        if (n < 0)
                out[len++] = '-';
        while (i)
                out[len++] = tmp[--i];
        out[len] = '\0';
        return len;
}

/* The ms range scim_time_format writes as YYYY-MM-DDTHH:MM:SS.mmmZ (years
 * 0000-9999): inside it a day's text is its date and the time of day. */
#define TT_DAY_MS 86400000LL
#define TT_MIN_MS (-62167219200000LL) /* 0000-01-01T00:00:00.000Z */
#define TT_END_MS 253402300800000LL   /* 10000-01-01T00:00:00.000Z */

static void tt_digits(char *o, int64_t v, int n)
{
        for (int i = n - 1; i >= 0; i--) {
                o[i] = (char)('0' + v % 10);
                v /= 10;
        }
}

void changes_time_text(int64_t ms, char out[32])
{
        /* the writer formats an event's time three or four times (record,
         * appliedAt, stream record, meta): the last one is kept per
         * thread; and a new time in the day of the last one formatted is
         * written from that day's date (gmtime_r takes a lock and walks
         * the calendar; replay's events come a few per second) */
        static __thread int64_t last_ms, day_ms = 1;
        static __thread char last[32], day[16];

        if (!last[0] || ms != last_ms) {
                if (day_ms != 1 && ms >= day_ms && ms - day_ms < TT_DAY_MS) {
                        int64_t r = ms - day_ms;

                        memcpy(last, day, 11); /* YYYY-MM-DDT */
                        tt_digits(last + 11, r / 3600000, 2);
                        last[13] = ':';
                        tt_digits(last + 14, r / 60000 % 60, 2);
                        last[16] = ':';
                        tt_digits(last + 17, r / 1000 % 60, 2);
                        last[19] = '.';
                        tt_digits(last + 20, r % 1000, 3);
                        last[23] = 'Z';
                        last[24] = '\0';
                } else {
                        scim_time_format(ms, last);
                        if (ms >= TT_MIN_MS && ms < TT_END_MS) {
                                /* the day's start: ms floored to a day */
                                int64_t d = ms / TT_DAY_MS;

                                if (ms % TT_DAY_MS < 0)
                                        d--;
                                day_ms = d * TT_DAY_MS;
                                memcpy(day, last, 11);
                        }
                }
                last_ms = ms;
        }
        memcpy(out, last, 32);
}

static void rec_int(scim_buf_t *b, const char *k, json_int_t n)
{
        char num[24];
        size_t len = changes_int_text(num, n);

        rec_key(b, k);
        scim_buf_append(b, num, len);
}

/* A JSON value member; -1 when it cannot be written (the record is then
 * not written, as a failed dump of the whole object was not). */
static int rec_json(scim_buf_t *b, const char *k, const json_t *val)
{
        rec_key(b, k);
        return scim_json_dump(val, b);
}

/* An array of strings (changes_member_delta's) as scim_json_dump writes
 * it; -1 when one cannot be written. */
static int id_array_text(scim_buf_t *b, const json_t *a)
{
        size_t i;
        json_t *e;
        int rc = 0;

        scim_buf_append(b, "[", 1);
        json_array_foreach(a, i, e)
        {
                if (i)
                        scim_buf_append(b, ",", 1);
                if (!json_is_string(e) ||
                    changes_json_str(b, json_string_value(e),
                                     json_string_length(e)) < 0)
                        rc = -1;
        }
        scim_buf_append(b, "]", 1);
        return rc;
}

int changes_record_text(scim_buf_t *b, txn_t *t, uint64_t seq,
                        const scim_event_t *ev, const scim_verdict_t *v,
                        const changes_pre_t *pre, const char **action_out,
                        int64_t *itime_out)
{
        json_t *req = NULL;
        scim_buf_t mod = {0}; /* the elements of "modified" */
        int have_mod = 0;
        const json_t *cur = v->resource ? v->resource
                            : pre       ? pre->cur
                                        : NULL,
                     *old = pre ? pre->old : NULL;
        const json_t *names;
        int applied = v->status > 0 && v->status < 400, rc = 0;
        const char *action = "refused";
        char ts[32];

        *itime_out = 0;
        scim_buf_puts(b, "{");
        rec_int(b, "seq", (json_int_t)seq);
        if (!ev) {
                rec_str(b, "time", NULL);
                rec_str(b, "tenant", NULL);
                changes_json_str_member(b, "action", "refused", 1);
                rec_str(b, "eventAction", NULL);
                goto verdict;
        }
        changes_time_text(ev->time_ms, ts);
        changes_json_str_member(b, "time", ts, 1);
        if (ev->tenant && *ev->tenant &&
            strlen(ev->tenant) <= SCIM_MAX_TENANT_LEN) {
                *itime_out = changes_apply_time(t, ev->tenant, seq, ev->time_ms);
                changes_time_text(*itime_out, ts);
                changes_json_str_member(b, "appliedAt", ts, 1);
        }
        rec_str(b, "tenant", ev->tenant);
        if (ev->rtype == SCIM_RT_USER)
                changes_json_str_member(b, "resourceType", "User", 1);
        else if (ev->rtype == SCIM_RT_GROUP)
                changes_json_str_member(b, "resourceType", "Group", 1);
        else if ((scim_rtype_is_tenant(ev->rtype) ||
                  ev->rtype == SCIM_RT_CUSTOM) &&
                 ev->resource_type_name)
                changes_json_str_member(b, "resourceType", ev->resource_type_name, 1);
        else
                rec_str(b, "resourceType", NULL);
        rec_str(b, "id", ev->rtype ? ev->resource_id : NULL);
        /* userName / displayName: new state, else old, else the request */
        if (ev->action == SCIM_ACT_REFUSED && ev->resource_json)
                req = scim_json_load(ev->resource_json,
                                     strlen(ev->resource_json));
        names = cur ? cur : old ? old : req;
        rec_str(b, "userName",
                ev->rtype == SCIM_RT_USER
                    ? json_string_value(json_object_get(names, "userName"))
                    : NULL);
        rec_str(b, "displayName",
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
                rec_str(b, "eventAction", a ? lower : "refused");
        } else {
                changes_json_str_member(b, "eventAction", event_action_name(ev->action), 1);
        }
        if (applied &&
            (ev->rtype == SCIM_RT_USER || ev->rtype == SCIM_RT_GROUP ||
             scim_rtype_is_tenant(ev->rtype))) {
                json_t *added = json_array(), *removed = json_array();
                diff_text_t d = {&mod, 0, 0};
                size_t n_attr;

                have_mod = 1;
                /* old == cur (a group's membership-only change in
                 * replay: the stored attributes as they were) has no
                 * attribute change to look for */
                if (ev->action != SCIM_ACT_DELETE && old != cur)
                        diff_walk(old, cur, diff_text_one, &d);
                if (d.err)
                        rc = -1;
                n_attr = d.n;
                if (ev->rtype == SCIM_RT_GROUP &&
                    ev->action != SCIM_ACT_DELETE && pre)
                        changes_member_delta(ev, pre, added, removed);
                if (json_array_size(added) || json_array_size(removed)) {
                        /* {"path":"members","added":[..],"removed":[..]}
                         * as scim_json_dump wrote the json_pack of it */
                        if (d.n)
                                scim_buf_append(&mod, ",", 1);
                        scim_buf_puts(&mod,
                                      "{\"path\":\"members\",\"added\":");
                        if (id_array_text(&mod, added) < 0)
                                rc = -1;
                        scim_buf_puts(&mod, ",\"removed\":");
                        if (id_array_text(&mod, removed) < 0)
                                rc = -1;
                        scim_buf_append(&mod, "}", 1);
                }
                action = changes_classify(ev, old, cur, n_attr,
                                          json_array_size(added),
                                          json_array_size(removed));
                json_decref(added);
                json_decref(removed);
        } else if (applied) {
                action = event_action_name(ev->action);
        }
        changes_json_str_member(b, "action", action, 1);
verdict:
        changes_json_str_member(b, "verdict", applied ? "applied" : "refused", 1);
        /* the status the client got: PATCH answers 204 (the fold's
         * verdict says 200 because it carries the resource) */
        rec_int(b, "status",
                applied && ev && ev->action == SCIM_ACT_PATCH &&
                        v->status == 200
                    ? 204
                    : v->status);
        if (applied && ev && ev->action == SCIM_ACT_DELETE && pre &&
            json_array_size(pre->holders)) {
                /* a deleted member leaves its groups: each group's history
                 * carries this record (the group's version went up) */
                json_t *fx = json_array(), *g;
                size_t i;

                json_array_foreach(pre->holders, i, g) json_array_append_new(
                    fx, json_pack("{s:O, s:s, s:s}", "group", g, "member",
                                  ev->resource_id, "effect", "removed"));
                if (rec_json(b, "membershipEffects", fx) < 0)
                        rc = -1;
                json_decref(fx);
        }
        if (applied && ev &&
            (ev->action == SCIM_ACT_CREATE || ev->action == SCIM_ACT_REPLACE ||
             ev->action == SCIM_ACT_PATCH) &&
            (ev->admin_json || json_array_size(v->dropped))) {
                /* what the tenant's model dropped (unknownAttributes:
                 * drop): at ingest (in the event) and in the fold */
                json_t *a =
                    ev->admin_json
                        ? scim_json_load(ev->admin_json, strlen(ev->admin_json))
                        : NULL;
                json_t *d = json_array(), *x;
                size_t i;

                json_array_foreach(json_object_get(a, "droppedAttributes"), i,
                                   x) if (json_is_string(x))
                    json_array_append(d, x);
                json_array_foreach(v->dropped, i, x) json_array_append(d, x);
                if (json_array_size(d) &&
                    rec_json(b, "droppedAttributes", d) < 0)
                        rc = -1;
                json_decref(d);
                json_decref(a);
        }
        rec_str(b, "scimType", applied ? NULL : v->scim_type);
        rec_str(b, "detail", applied ? NULL : v->detail);
        rec_str(b, "actor", ev ? ev->actor : NULL);
        rec_str(b, "requestId", ev ? ev->request_id : NULL);
        rec_str(b, "eventId", ev ? ev->event_id : NULL);
        rec_key(b, "modified");
        scim_buf_puts(b, "[");
        if (have_mod && mod.len)
                scim_buf_append(b, mod.data, mod.len);
        scim_buf_puts(b, "]}");
        if (!b->data || (have_mod && mod.len && !mod.data))
                rc = -1;
        *action_out = action;
        scim_buf_free(&mod);
        json_decref(req);
        return rc;
}

void changes_record(txn_t *t, uint64_t seq, const scim_event_t *ev,
                    const scim_verdict_t *v, const changes_pre_t *pre)
{
        int applied = v->status > 0 && v->status < 400;
        const char *action = "refused";
        unsigned char k8[8];
        scim_buf_t key = {0}, txt = {0};
        int64_t itime = 0; /* apply time: the time indexes' order */

        scim_put_be64(k8, seq);
        /* one buffer for the record (~0.6-1.5 KB), not one grown from 256
         * bytes by doubling */
        scim_buf_reserve(&txt, 2048);
        if (changes_record_text(&txt, t, seq, ev, v, pre, &action, &itime) == 0)
                txn_append(t, CF_CHANGE, (char *)k8, 8, txt.data, txt.len);
        scim_buf_free(&txt);
        if (!ev || !ev->tenant || !*ev->tenant ||
            strlen(ev->tenant) > SCIM_MAX_TENANT_LEN)
                goto out;
        /* time order (apply order: see changes_apply_time); the value is the
         * record's action, so a query for some actions (who was deleted
         * last week) skips the others without reading their records */
        changes_key_start(&key, ev->tenant, 'T');
        changes_key_time(&key, itime);
        changes_key_be(&key, seq);
        txn_append(t, CF_CHIDX, key.data, key.len, action, strlen(action));
        /* one resource's history; the value says what asOf needs without
         * reading the record: the event's time and its kind */
        if (ev->rtype && ev->resource_id && *ev->resource_id &&
            strlen(ev->resource_id) <= SCIM_MAX_ID_LEN) {
                unsigned char rv[CHANGES_RVAL_LEN];
                char kind = CHANGES_R_REFUSED;

                if (applied && ev->action == SCIM_ACT_DELETE)
                        kind = CHANGES_R_DELETE;
                else if (applied && (ev->action == SCIM_ACT_CREATE ||
                                     ev->action == SCIM_ACT_REPLACE ||
                                     ev->action == SCIM_ACT_PATCH))
                        /* 'U', 'G' or a tenant type's storage code */
                        kind = (char)ev->rtype;
                changes_put_time(rv, ev->time_ms);
                rv[8] = (unsigned char)kind;
                changes_key_start(&key, ev->tenant, 'R');
                scim_buf_append(&key, ev->resource_id,
                                strlen(ev->resource_id) + 1);
                changes_key_be(&key, seq);
                txn_append(t, CF_CHIDX, key.data, key.len, (char *)rv,
                           sizeof(rv));
        }
        if (applied && ev->action == SCIM_ACT_DELETE && pre) {
                size_t i;
                json_t *g;

                json_array_foreach(pre->holders, i, g)
                {
                        const char *gid = json_string_value(g);
                        unsigned char rv[CHANGES_RVAL_LEN];

                        changes_put_time(rv, ev->time_ms);
                        rv[8] = CHANGES_R_EFFECT;
                        changes_key_start(&key, ev->tenant, 'R');
                        scim_buf_append(&key, gid, strlen(gid) + 1);
                        changes_key_be(&key, seq);
                        txn_append(t, CF_CHIDX, key.data, key.len, (char *)rv,
                                   sizeof(rv));
                }
        }
        memhist_record(t, seq, ev, v, pre); /* memhist.c */
        changes_count_hour(t, ev->tenant, ev->time_ms, action, applied);
out:
        scim_buf_free(&key);
}

/* --------------------------------------------------- saved reports */

static int report_name_ok(const char *n)
{
        size_t l = n ? strlen(n) : 0;

        if (l == 0 || l > 64)
                return 0;
        for (size_t i = 0; i < l; i++)
                if (!((n[i] >= 'a' && n[i] <= 'z') ||
                      (n[i] >= 'A' && n[i] <= 'Z') ||
                      (n[i] >= '0' && n[i] <= '9') || n[i] == '.' ||
                      n[i] == '_' || n[i] == '-'))
                        return 0;
        return 1;
}

static void refuse_report(scim_verdict_t *v, int status, const char *type,
                          const char *detail)
{
        v->status = status;
        snprintf(v->scim_type, sizeof(v->scim_type), "%s", type ? type : "");
        snprintf(v->detail, sizeof(v->detail), "%s", detail);
}

void changes_fold_report(txn_t *t, const scim_event_t *ev, scim_verdict_t *v)
{
        scim_buf_t k = {0};
        size_t vl = 0;
        char *prev = NULL, *txt = NULL, ts[32];
        json_t *def = NULL, *old = NULL;

        {
                size_t tl = 0;
                char *tv =
                    txn_get(t, CF_TENANT, ev->tenant, strlen(ev->tenant), &tl);

                free(tv);
                if (!tv) {
                        refuse_report(v, 404, NULL, "tenant does not exist");
                        goto out;
                }
        }
        if (!report_name_ok(ev->resource_id)) {
                refuse_report(v, 400, "invalidValue",
                              "report names are 1-64 characters of A-Z a-z "
                              "0-9 . _ -");
                goto out;
        }
        changes_key_start(&k, ev->tenant, 'S');
        scim_buf_puts(&k, ev->resource_id);
        prev = txn_get(t, CF_CHIDX, k.data, k.len, &vl);
        if (ev->action == SCIM_ACT_REPORT_DELETE) {
                if (!prev) {
                        refuse_report(v, 404, NULL, "no such saved report");
                        goto out;
                }
                txn_del(t, CF_CHIDX, k.data, k.len);
                v->status = 204;
                goto out;
        }
        def = ev->resource_json ? scim_json_load(ev->resource_json, strlen(ev->resource_json)) : NULL;
        if (!json_is_object(def)) {
                refuse_report(v, 400, "invalidValue",
                              "report definition is not a JSON object");
                goto out;
        }
        old = prev ? scim_json_load(prev, vl) : NULL;
        changes_time_text(ev->time_ms, ts);
        json_object_set_new(def, "name", json_string(ev->resource_id));
        if (json_is_string(json_object_get(old, "created")))
                json_object_set(def, "created",
                                json_object_get(old, "created"));
        else
                json_object_set_new(def, "created", json_string(ts));
        json_object_set_new(def, "updated", json_string(ts));
        json_object_set_new(def, "updatedBy",
                            json_string(ev->actor ? ev->actor : ""));
        txt = json_dumps(def, JSON_COMPACT | JSON_SORT_KEYS);
        if (!txt) {
                refuse_report(v, 400, "invalidValue",
                              "report definition cannot be stored");
                goto out;
        }
        txn_put(t, CF_CHIDX, k.data, k.len, txt, strlen(txt));
        v->status = prev ? 200 : 201;
out:
        free(txt);
        free(prev);
        json_decref(def);
        json_decref(old);
        scim_buf_free(&k);
}

/* ------------------------------------------------------ reader side */

/* The record of seq (new reference, or NULL); *bytes (optional): the
 * size of its stored text. */
static json_t *record_sized(scim_store_t *st, uint64_t seq, size_t *bytes)
{
        unsigned char k[8];
        size_t vl = 0;
        char *v;
        json_t *j;

        scim_put_be64(k, seq);
        v = db_get(st, CF_CHANGE, (char *)k, 8, &vl);
        if (!v)
                return NULL;
        j = scim_json_load(v, vl);
        free(v);
        if (bytes)
                *bytes = vl;
        return j;
}

static json_t *record_at(scim_store_t *st, uint64_t seq)
{
        return record_sized(st, seq, NULL);
}

int scim_changes_get(scim_store_t *st, const char *tenant, uint64_t seq,
                     json_t **out, scim_err_t *err)
{
        json_t *r = record_at(st, seq);

        *out = NULL;
        if (!r || !json_is_string(json_object_get(r, "tenant")) ||
            strcmp(json_string_value(json_object_get(r, "tenant")), tenant)) {
                json_decref(r);
                return scim_err_set(err, 404, NULL,
                                    "no change record %llu in this tenant",
                                    (unsigned long long)seq);
        }
        *out = r;
        return 0;
}

/* 1 if name is in the comma list (case-insensitive). */
static int in_list(const char *list, const char *name)
{
        size_t n = name ? strlen(name) : 0;

        if (!name)
                return 0;
        while (list && *list) {
                const char *e = strchr(list, ',');
                size_t l = e ? (size_t)(e - list) : strlen(list);

                while (l && *list == ' ') {
                        list++;
                        l--;
                }
                while (l && list[l - 1] == ' ')
                        l--;
                if (l == n && strncasecmp(list, name, n) == 0)
                        return 1;
                list = e ? e + 1 : NULL;
        }
        return 0;
}

static int record_matches(const json_t *r, const scim_change_query_t *q)
{
        const char *s;

        if (q->from_ms != INT64_MIN || q->to_ms != INT64_MAX) {
                int64_t ms;

                /* ranges select by apply time (the index order) */
                s = json_string_value(json_object_get(r, "appliedAt"));
                if (!s)
                        s = json_string_value(json_object_get(r, "time"));
                if (!s || scim_time_parse(s, &ms) < 0 || ms < q->from_ms ||
                    ms >= q->to_ms)
                        return 0;
        }
        if (q->rtype) {
                s = json_string_value(json_object_get(r, "resourceType"));
                if (!s || s[0] != (q->rtype == 'U' ? 'U' : 'G'))
                        return 0;
        }
        if (q->actions &&
            !in_list(q->actions,
                     json_string_value(json_object_get(r, "action"))))
                return 0;
        if (q->verdict) {
                s = json_string_value(json_object_get(r, "verdict"));
                if (!s || strcmp(s, q->verdict == 1 ? "applied" : "refused"))
                        return 0;
        }
        if (q->status &&
            json_integer_value(json_object_get(r, "status")) != q->status)
                return 0;
        if (q->actor) {
                s = json_string_value(json_object_get(r, "actor"));
                if (!s || strcmp(s, q->actor))
                        return 0;
        }
        if (q->user_name) {
                s = json_string_value(json_object_get(r, "userName"));
                if (!s || !scim_caseeq(s, q->user_name))
                        return 0;
        }
        if (q->attribute && *q->attribute) {
                size_t i;
                json_t *m;
                int hit = 0;

                json_array_foreach(json_object_get(r, "modified"), i, m)
                {
                        if (changes_path_matches(
                                json_string_value(json_object_get(m, "path")),
                                q->attribute)) {
                                hit = 1;
                                break;
                        }
                }
                if (!hit)
                        return 0;
        }
        return 1;
}

int scim_changes_query(scim_store_t *st, const char *tenant,
                       const scim_change_query_t *q, json_t **out,
                       scim_buf_t *next, scim_err_t *err)
{
        scim_buf_t pre = {0}, lo = {0}, hi = {0}, ck = {0};
        rocksdb_iterator_t *it = NULL;
        size_t tlen = strlen(tenant) + 1, examined = 0;
        size_t count = q->count ? q->count : 100;
        int rc = -1, by_res = q->resource != NULL;
        size_t suffix = by_res ? 8 : 16; /* seq, or time + seq */
        size_t page_bytes = 0, rbytes = 0, skipped = 0;

        *out = json_array();
        if (count > SCIM_CHANGES_MAX_COUNT)
                count = SCIM_CHANGES_MAX_COUNT;
        if (by_res &&
            (!*q->resource || strlen(q->resource) > SCIM_MAX_ID_LEN)) {
                scim_err_set(err, 400, "invalidValue", "resource id invalid");
                goto out;
        }
        changes_key_start(&pre, tenant, by_res ? 'R' : 'T');
        if (by_res)
                scim_buf_append(&pre, q->resource, strlen(q->resource) + 1);
        scim_buf_append(&lo, pre.data, pre.len);
        scim_buf_append(&hi, pre.data, pre.len);
        if (by_res) {
                scim_buf_append(&hi, "\xff\xff\xff\xff\xff\xff\xff\xff\xff", 9);
        } else {
                changes_key_time(&lo, q->from_ms);
                changes_key_time(&hi, q->to_ms);
        }
        if (q->cursor) {
                /* the cursor is the key after "tenant\0" */
                size_t want = pre.len - tlen + suffix;

                if (q->cursor_len != want ||
                    memcmp(q->cursor, pre.data + tlen, pre.len - tlen) != 0) {
                        scim_err_set(err, 400, "invalidValue",
                                     "cursor does not belong to this query");
                        goto out;
                }
                scim_buf_append(&ck, tenant, tlen);
                scim_buf_append(&ck, q->cursor, q->cursor_len);
        }
        it = rocksdb_create_iterator_cf(st->db, st->ro, st->cf[CF_CHIDX]);
        if (q->desc) {
                if (ck.len)
                        rocksdb_iter_seek_for_prev(it, ck.data, ck.len);
                else
                        rocksdb_iter_seek_for_prev(it, hi.data, hi.len);
        } else {
                rocksdb_iter_seek(it, ck.len ? ck.data : lo.data,
                                  ck.len ? ck.len : lo.len);
        }
        for (; rocksdb_iter_valid(it);
             q->desc ? rocksdb_iter_prev(it) : rocksdb_iter_next(it)) {
                size_t kl;
                const char *k = rocksdb_iter_key(it, &kl);
                json_t *r;

                if (kl != pre.len + suffix || memcmp(k, pre.data, pre.len) != 0)
                        break;
                if (ck.len && kl == ck.len && !memcmp(k, ck.data, kl))
                        continue; /* the cursor's own entry */
                if (!by_res) {
                        /* exclusive upper bound, inclusive lower bound */
                        if (memcmp(k, hi.data, hi.len) >= 0) {
                                if (q->desc)
                                        continue;
                                break;
                        }
                        if (memcmp(k, lo.data, lo.len) < 0)
                                break;
                }
                if (json_array_size(*out) >= count ||
                    examined >= SCIM_CHANGES_SCAN_LIMIT ||
                    skipped >= CHANGES_SKIP_LIMIT ||
                    page_bytes >= scim_page_bytes()) {
                        /* more to come: the cursor is the last key we
                         * returned or examined */
                        break;
                }
                if (!by_res && q->actions) {
                        /* the time index's value is the action: skip
                         * the others without reading their records */
                        size_t vl;
                        const char *v = rocksdb_iter_value(it, &vl);
                        char an[32];

                        if (vl && vl < sizeof(an)) {
                                memcpy(an, v, vl);
                                an[vl] = '\0';
                                if (!in_list(q->actions, an)) {
                                        skipped++;
                                        next->len = 0;
                                        scim_buf_append(next, k + tlen,
                                                        kl - tlen);
                                        continue;
                                }
                        }
                }
                examined++;
                next->len = 0;
                scim_buf_append(next, k + tlen, kl - tlen);
                r = record_sized(
                    st, scim_get_be64((const unsigned char *)k + kl - 8),
                    &rbytes);
                if (r && record_matches(r, q)) {
                        json_array_append(*out, r);
                        page_bytes += rbytes; /* the page stops past
                                                 SCIM_MAX_PAGE_BYTES */
                }
                json_decref(r);
        }
        if (!rocksdb_iter_valid(it) ||
            (json_array_size(*out) < count &&
             examined < SCIM_CHANGES_SCAN_LIMIT &&
             skipped < CHANGES_SKIP_LIMIT && page_bytes < scim_page_bytes()))
                next->len = 0; /* reached the end of the range */
        else {
                /* is there really another entry in range? */
                size_t kl;
                const char *k = rocksdb_iter_key(it, &kl);

                if (kl != pre.len + suffix ||
                    memcmp(k, pre.data, pre.len) != 0 ||
                    (!by_res && !q->desc && memcmp(k, hi.data, hi.len) >= 0) ||
                    (!by_res && q->desc && memcmp(k, lo.data, lo.len) < 0))
                        next->len = 0;
        }
        rc = 0;
out:
        if (it)
                rocksdb_iter_destroy(it);
        if (rc < 0) {
                json_decref(*out);
                *out = NULL;
        }
        scim_buf_free(&pre);
        scim_buf_free(&lo);
        scim_buf_free(&hi);
        scim_buf_free(&ck);
        return rc;
}

int changes_has_history(scim_store_t *st, const char *tenant, const char *id,
                       size_t idl)
{
        scim_buf_t pre = {0};
        rocksdb_iterator_t *it;
        int found = 0;

        changes_key_start(&pre, tenant, 'R');
        scim_buf_append(&pre, id, idl);
        scim_buf_append(&pre, "", 1);
        it = rocksdb_create_iterator_cf(st->db, st->ro, st->cf[CF_CHIDX]);
        rocksdb_iter_seek(it, pre.data, pre.len);
        if (rocksdb_iter_valid(it)) {
                size_t kl;
                const char *k = rocksdb_iter_key(it, &kl);

                found = kl == pre.len + 8 && !memcmp(k, pre.data, pre.len);
        }
        rocksdb_iter_destroy(it);
        scim_buf_free(&pre);
        return found;
}

int scim_changes_resource_known(scim_store_t *st, const char *tenant,
                                const char *id)
{
        scim_buf_t k = {0};
        size_t vl = 0;
        char *v;

        if (changes_has_history(st, tenant, id, strlen(id)))
                return 1;
        /* all its records pruned: retention kept a base */
        changes_base_key(&k, tenant, id);
        v = db_get(st, CF_CHIDX, k.data, k.len, &vl);
        scim_buf_free(&k);
        free(v);
        return v != NULL;
}

/* ---------------------------------------------------------- summary */

static void bump(json_t *o, const char *k, json_int_t n)
{
        json_t *v = json_object_get(o, k);

        if (v)
                json_integer_set(v, json_integer_value(v) + n);
        else
                json_object_set_new(o, k, json_integer(n));
}

static json_t *new_bucket(const char *start)
{
        json_t *b = json_object();

        if (start)
                json_object_set_new(b, "start", json_string(start));
        json_object_set_new(b, "total", json_integer(0));
        json_object_set_new(b, "byVerdict", json_object());
        json_object_set_new(b, "byAction", json_object());
        if (start)
                json_object_set_new(b, "counts", json_array());
        return b;
}

/* Adds n to a bucket. idx maps "action/verdict" to the bucket's element of
 * "counts" (borrowed), so a 30-day summary needs no linear searches. */
static void add_count(json_t *b, json_t *idx, const char *action,
                      const char *verdict, json_int_t n)
{
        json_t *counts = json_object_get(b, "counts");

        bump(b, "total", n);
        bump(json_object_get(b, "byVerdict"), verdict, n);
        bump(json_object_get(b, "byAction"), action, n);
        if (counts && idx) {
                char key[96];
                json_t *c;

                snprintf(key, sizeof(key), "%s/%s", action, verdict);
                c = json_object_get(idx, key);
                if (c) {
                        bump(c, "count", n);
                        return;
                }
                c = json_pack("{s:s, s:s, s:I}", "action", action, "verdict",
                              verdict, "count", (json_int_t)n);
                json_array_append_new(counts, c);
                json_object_set(idx, key, c);
        }
}

int scim_changes_summary(scim_store_t *st, const char *tenant, int64_t from_ms,
                         int64_t to_ms, int bucket_hours, json_t **out,
                         scim_err_t *err)
{
        scim_buf_t lo = {0}, pre = {0};
        rocksdb_iterator_t *it;
        int64_t from_h = changes_floor_div(from_ms, HOUR_MS);
        int64_t to_h = changes_floor_div(to_ms - 1, HOUR_MS); /* inclusive */
        int64_t cur_bucket = INT64_MIN;
        json_t *series = json_array(), *totals = new_bucket(NULL);
        json_t *bucket = NULL, *idx = json_object();
        char ts[32];

        *out = NULL;
        if (bucket_hours != 1 && bucket_hours != 24) {
                json_decref(series);
                json_decref(totals);
                json_decref(idx);
                return scim_err_set(err, 400, "invalidValue",
                                    "bucket must be hour or day");
        }
        changes_key_start(&pre, tenant, 'H');
        scim_buf_append(&lo, pre.data, pre.len);
        changes_key_time(&lo, from_h);
        it = rocksdb_create_iterator_cf(st->db, st->ro, st->cf[CF_CHIDX]);
        for (rocksdb_iter_seek(it, lo.data, lo.len); rocksdb_iter_valid(it);
             rocksdb_iter_next(it)) {
                size_t kl, vl;
                const char *k = rocksdb_iter_key(it, &kl);
                const char *v = rocksdb_iter_value(it, &vl);
                int64_t hour, b;
                const char *action;
                size_t al;
                char verdict;

                if (kl < pre.len + 8 + 3 || memcmp(k, pre.data, pre.len))
                        break;
                hour = changes_get_time((const unsigned char *)k + pre.len);
                if (hour > to_h)
                        break;
                action = k + pre.len + 8;
                al = strnlen(action, kl - pre.len - 8);
                if (pre.len + 8 + al + 2 != kl || vl != 8)
                        continue;
                verdict = k[kl - 1];
                b = changes_floor_div(hour, bucket_hours) * bucket_hours;
                if (b != cur_bucket) {
                        scim_time_format(b * HOUR_MS, ts);
                        bucket = new_bucket(ts);
                        json_array_append_new(series, bucket);
                        json_object_clear(idx);
                        cur_bucket = b;
                }
                {
                        char *an = strndup(action, al);
                        json_int_t n =
                            (json_int_t)scim_get_be64((const unsigned char *)v);

                        if (an) {
                                add_count(
                                    bucket, idx, an,
                                    verdict == 'a' ? "applied" : "refused", n);
                                add_count(
                                    totals, NULL, an,
                                    verdict == 'a' ? "applied" : "refused", n);
                        }
                        free(an);
                }
        }
        rocksdb_iter_destroy(it);
        *out = json_object();
        json_object_set_new(*out, "bucket",
                            json_string(bucket_hours == 1 ? "hour" : "day"));
        scim_time_format(from_h * HOUR_MS, ts);
        json_object_set_new(*out, "from", json_string(ts));
        scim_time_format((to_h + 1) * HOUR_MS, ts);
        json_object_set_new(*out, "to", json_string(ts));
        json_object_set_new(*out, "series", series);
        json_object_set_new(*out, "totals", totals);
        json_decref(idx);
        scim_buf_free(&lo);
        scim_buf_free(&pre);
        return 0;
}

/* --------------------------------------------------- saved reports */

int scim_reports_saved_get(scim_store_t *st, const char *tenant,
                           const char *name, json_t **out, scim_err_t *err)
{
        scim_buf_t k = {0};
        size_t vl = 0;
        char *v;

        *out = NULL;
        changes_key_start(&k, tenant, 'S');
        scim_buf_puts(&k, name);
        v = db_get(st, CF_CHIDX, k.data, k.len, &vl);
        scim_buf_free(&k);
        if (v)
                *out = scim_json_load(v, vl);
        free(v);
        if (!*out)
                return scim_err_set(err, 404, NULL, "no saved report '%.64s'",
                                    name);
        return 0;
}

int scim_reports_saved_room(scim_store_t *st, const char *tenant,
                            const char *name, scim_err_t *err)
{
        scim_buf_t pre = {0}, k = {0};
        rocksdb_iterator_t *it;
        size_t n = 0, vl = 0;
        char *v;

        changes_key_start(&k, tenant, 'S');
        scim_buf_puts(&k, name);
        v = db_get(st, CF_CHIDX, k.data, k.len, &vl);
        scim_buf_free(&k);
        free(v);
        if (v) /* a replacement takes no more room */
                return 0;
        changes_key_start(&pre, tenant, 'S');
        it = rocksdb_create_iterator_cf(st->db, st->ro, st->cf[CF_CHIDX]);
        for (rocksdb_iter_seek(it, pre.data, pre.len);
             rocksdb_iter_valid(it) && n < SCIM_REPORTS_MAX_SAVED;
             rocksdb_iter_next(it)) {
                size_t kl;
                const char *key = rocksdb_iter_key(it, &kl);

                if (kl < pre.len || memcmp(key, pre.data, pre.len))
                        break;
                n++;
        }
        rocksdb_iter_destroy(it);
        scim_buf_free(&pre);
        if (n < SCIM_REPORTS_MAX_SAVED)
                return 0;
        return scim_err_set(err, 409, NULL,
                            "tenant '%.64s' has %d saved reports, the most "
                            "it may keep; delete one or replace one by its "
                            "name",
                            tenant, SCIM_REPORTS_MAX_SAVED);
}

int scim_reports_saved_list(scim_store_t *st, const char *tenant, json_t **out,
                            scim_err_t *err)
{
        scim_buf_t pre = {0};
        rocksdb_iterator_t *it;

        *out = json_array();
        changes_key_start(&pre, tenant, 'S');
        it = rocksdb_create_iterator_cf(st->db, st->ro, st->cf[CF_CHIDX]);
        for (rocksdb_iter_seek(it, pre.data, pre.len); rocksdb_iter_valid(it);
             rocksdb_iter_next(it)) {
                size_t kl, vl;
                const char *k = rocksdb_iter_key(it, &kl);
                const char *v = rocksdb_iter_value(it, &vl);
                json_t *d;

                if (kl < pre.len || memcmp(k, pre.data, pre.len))
                        break;
                d = scim_json_load(v, vl);
                if (d)
                        json_array_append_new(*out, d);
        }
        rocksdb_iter_destroy(it);
        scim_buf_free(&pre);
        return 0;
}

