/*
 * stream.c — change stream records: what a consumer following one tenant
 * receives (api/stream.c serves them over HTTP). The fold writes one
 * record per resource event into column family `stream`, keyed
 * tenant \0 position (u64 BE), in the same WriteBatch as the views, so a
 * record exists exactly when its event is folded, in apply order, and a
 * consumer resumes exactly after the last position it saw.
 *
 * A record (compact JSON, shape in README "Change stream"):
 *   {"position","time","op","resourceType","id","eventId","requestId",
 *    "actor","applied", "before"?, "after"?, "tombstone"?, "members"?,
 *    "membershipEffects"?, "refused"?}
 * before/after are the stored resources (groups without members); a
 * group's membership change is the delta that really happened (checked
 * against the rows before and after the fold: "apply removed, then
 * added" gives the new member list); a delete lists the groups whose
 * membership rows went with the resource.
 *
 * Trade-off: records repeat the full state (before and after), so the
 * stream costs about two resources of disk per event; in exchange a
 * consumer never replays or diffs anything, and a read is one seek.
 *
 * Threads: stream_pre_load / stream_record run on the single writer inside
 * a fold transaction; scim_store_stream_read on any thread;
 * store_notify_folded on the writer after each durable batch, under
 * watch_mu (so scim_store_unwatch returns only once no call is in
 * flight).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/scim_model.h"
#include "projector/stream_internal.h"

static pthread_mutex_t watch_mu = PTHREAD_MUTEX_INITIALIZER;


/* ------------------------------------------------------------ writer */

static int resource_event(const scim_event_t *ev)
{
        if (!ev || !ev->tenant || !*ev->tenant ||
            strlen(ev->tenant) > SCIM_MAX_TENANT_LEN)
                return 0;
        if (!scim_rtype_row(ev->rtype) &&
            !(scim_rtype_is_tenant(ev->rtype) && ev->resource_type_name))
                return 0;
        return store_resource_action(ev->action);
}

static int valid_id(const char *id)
{
        return id && *id && strlen(id) <= SCIM_MAX_ID_LEN;
}

void stream_pre_load(txn_t *t, const scim_event_t *ev,
                     const changes_pre_t *pre, stream_pre_t *spre)
{
        scim_buf_t p = {0};

        memset(spre, 0, sizeof(*spre));
        if (!resource_event(ev) || ev->action != SCIM_ACT_DELETE ||
            !valid_id(ev->resource_id))
                return;
        if (pre && json_is_array(pre->holders)) {
                /* the same rows, just read by changes_pre_load */
                spre->held_by = json_incref(pre->holders);
                return;
        }
        /* the groups holding the resource: a CF_MEM parent's children
         * (the overlay's per-parent list merged with the database range;
         * a full batch iterator here cost ~45% of a replay) */
        key_make(&p, ev->tenant, 'R', ev->resource_id, NULL);
        spre->held_by = txn_children(t, p.data, p.len);
        scim_buf_free(&p);
}

/* The membership row of mid in group gid after the fold ({"type",
 * "display"?}, new reference), or NULL when mid is not a member. */
static json_t *member_row(txn_t *t, const char *tenant, const char *gid,
                          const char *mid)
{
        scim_buf_t k = {0};
        size_t vl = 0;
        char *v;
        json_t *row = NULL;

        key_make(&k, tenant, 'G', gid, mid);
        v = txn_get(t, CF_MEM, k.data, k.len, &vl);
        if (v) {
                row = scim_json_load(v, vl);
                if (!row)
                        row = json_object();
        }
        free(v);
        scim_buf_free(&k);
        return row;
}

static int in_removed(const scim_event_t *ev, const char *mid)
{
        for (size_t i = 0; i < ev->n_removed; i++)
                if (ev->removed[i] && !strcmp(ev->removed[i], mid))
                        return 1;
        return 0;
}

/* {"replaced", "added":[{"value","display"?,"type"}], "removed":[id]}: the
 * membership delta of an applied group event as it really happened, or
 * NULL when the event changed no membership. */
static json_t *member_delta(txn_t *t, const scim_event_t *ev,
                            const changes_pre_t *pre)
{
        const char *gid = ev->resource_id;
        json_t *added = json_array(), *removed = json_array();
        json_t *seen = json_object(), *out = NULL;

        for (size_t i = 0; i < ev->n_added; i++) {
                const char *mid = ev->added[i].value;
                int before;
                json_t *row, *m;

                if (!mid || json_object_get(seen, mid))
                        continue;
                json_object_set_new(seen, mid, json_true());
                before = ev->members_replace
                             ? json_object_get(pre->old_members, mid) != NULL
                             : pre->added_was && pre->added_was[i];
                row = member_row(t, ev->tenant, gid, mid);
                if (row && (!before || in_removed(ev, mid))) {
                        m = json_pack("{s:s}", "value", mid);
                        if (json_object_get(row, "display"))
                                json_object_set(m, "display",
                                                json_object_get(row,
                                                                "display"));
                        json_object_set(m, "type",
                                        json_object_get(row, "type"));
                        json_array_append_new(added, m);
                }
                json_decref(row);
        }
        json_object_clear(seen);
        if (ev->members_replace) {
                const char *mid;
                json_t *x;

                json_object_foreach(pre->old_members, mid, x)
                {
                        json_t *row = member_row(t, ev->tenant, gid, mid);

                        if (!row)
                                json_array_append_new(removed,
                                                      json_string(mid));
                        json_decref(row);
                }
        } else {
                for (size_t i = 0; i < ev->n_removed; i++) {
                        const char *mid = ev->removed[i];
                        json_t *row;

                        if (!mid || !pre->removed_was ||
                            !pre->removed_was[i] || json_object_get(seen, mid))
                                continue;
                        json_object_set_new(seen, mid, json_true());
                        row = member_row(t, ev->tenant, gid, mid);
                        if (!row)
                                json_array_append_new(removed,
                                                      json_string(mid));
                        json_decref(row);
                }
        }
        if (ev->members_replace || json_array_size(added) ||
            json_array_size(removed))
                out = json_pack("{s:b, s:O, s:O}", "replaced",
                                ev->members_replace ? 1 : 0, "added", added,
                                "removed", removed);
        json_decref(added);
        json_decref(removed);
        json_decref(seen);
        return out;
}

static void set_str(json_t *o, const char *k, const char *s)
{
        json_object_set_new(o, k, s && *s ? json_string(s) : json_null());
}

static const char *op_name(const scim_event_t *ev, char *buf, size_t len)
{
        static const char *const names[] = {"create", "replace", "patch",
                                            "delete"};
        const char *a = ev->attempted_action;
        size_t i = 0;

        if (ev->action != SCIM_ACT_REFUSED)
                return (unsigned)ev->action < 4 ? names[ev->action] : "unknown";
        /* a refusal answered by ingest: what the client attempted */
        for (; a && a[i] && i + 1 < len; i++)
                buf[i] = (char)(a[i] >= 'A' && a[i] <= 'Z' ? a[i] + 32 : a[i]);
        buf[i] = '\0';
        return i ? buf : "refused";
}

/* The record's text is written member by member (issue 13: building a
 * jansson object of it and dumping it cost ~12k instructions of a POST):
 * the bytes scim_json_dumps of the same object wrote, a string member
 * that is not UTF-8 left out as jansson left it out. */
static void rec_key(scim_buf_t *b, const char *k)
{
        changes_json_key(b, k);
}


static void rec_str(scim_buf_t *b, const char *k, const char *s)
{
        changes_json_str_member(b, k, s, 0);
}

/* A value member; takes val. -1 when it cannot be written (the record is
 * then not written, as a failed dump of the whole object was not). */
static int rec_json(scim_buf_t *b, const char *k, json_t *val)
{
        int rc;

        rec_key(b, k);
        rc = scim_json_dump(val, b);
        json_decref(val);
        return rc;
}

void stream_record(txn_t *t, uint64_t seq, const scim_event_t *ev,
                   const scim_verdict_t *v, const changes_pre_t *pre,
                   stream_pre_t *spre)
{
        scim_buf_t k = {0}, b = {0};
        unsigned char be[8];
        char ts[32], opbuf[16], num[32];
        const char *rtn;
        int applied;

        if (!resource_event(ev))
                goto out;
        applied = ev->action != SCIM_ACT_REFUSED && v->status > 0 &&
                  v->status < 400;
        {
                /* one buffer of the record's size (both texts and ~0.5 KB
                 * of members), not one grown from 256 bytes by doubling */
                size_t tl = 0;

                txn_text(t, &tl);
                scim_buf_reserve(&b, (pre ? pre->old_len : 0) + tl + 768);
        }
        scim_buf_puts(&b, "{");
        rec_key(&b, "position");
        scim_buf_append(&b, num, changes_int_text(num, (json_int_t)seq));
        changes_time_text(ev->time_ms, ts);
        changes_json_str_member(&b, "time", ts, 1);
        changes_json_str_member(&b, "op", op_name(ev, opbuf, sizeof(opbuf)), 1);
        rtn = scim_rtype_name(ev->rtype) ? scim_rtype_name(ev->rtype)
                                          : ev->resource_type_name;
        if (rtn) /* json_string(NULL) was no member */
                changes_json_str_member(&b, "resourceType", rtn, 1);
        rec_str(&b, "id", valid_id(ev->resource_id) ? ev->resource_id : NULL);
        rec_str(&b, "eventId", ev->event_id);
        rec_str(&b, "requestId", ev->request_id);
        rec_str(&b, "actor", ev->actor);
        rec_key(&b, "applied");
        scim_buf_puts(&b, applied ? "true" : "false");
        if (!applied) {
                json_t *r = json_pack("{s:i}", "status", v->status);

                set_str(r, "scimType", v->scim_type);
                set_str(r, "detail", v->detail);
                if (rec_json(&b, "refused", r) < 0)
                        goto out;
                goto write;
        }
        if (ev->action != SCIM_ACT_CREATE && pre && pre->old) {
                /* the stored text, as read: the bytes the parsed resource
                 * printed (stored texts are what scim_json_dumps wrote) */
                if (pre->old_text) {
                        rec_key(&b, "before");
                        scim_buf_append(&b, pre->old_text, pre->old_len);
                } else if (rec_json(&b, "before", json_incref(pre->old)) < 0)
                        goto out;
        }
        if (ev->action == SCIM_ACT_DELETE) {
                json_t *fx = json_array();
                size_t i;
                json_t *gid;

                rec_key(&b, "tombstone");
                scim_buf_puts(&b, "true");
                json_array_foreach(spre->held_by, i, gid)
                {
                        /* the group's meta after: its version went up */
                        scim_buf_t gk = {0};
                        size_t vl = 0;
                        char *gv;
                        json_t *g;

                        key_make(&gk, ev->tenant, (char)SCIM_RT_GROUP,
                                 json_string_value(gid), NULL);
                        gk.len--; /* res keys carry no trailing NUL */
                        gv = txn_get(t, CF_RES, gk.data, gk.len, &vl);
                        g = gv ? scim_json_load(gv, vl) : NULL;
                        json_array_append_new(
                            fx, json_pack("{s:O, s:s, s:s, s:O?}", "group", gid,
                                          "member", ev->resource_id, "effect",
                                          "removed", "meta",
                                          json_object_get(g, "meta")));
                        json_decref(g);
                        free(gv);
                        scim_buf_free(&gk);
                }
                if (rec_json(&b, "membershipEffects", fx) < 0)
                        goto out;
                goto write;
        }
        if (v->resource || (pre && pre->cur)) {
                /* the text the fold stored for it (fold.c store_res; in
                 * replay pre->cur, no tree) */
                size_t tl = 0;
                const char *tx = txn_text(t, &tl);

                if (tx) {
                        rec_key(&b, "after");
                        scim_buf_append(&b, tx, tl);
                } else if (!v->resource ||
                           rec_json(&b, "after", json_incref(v->resource)) < 0)
                        goto out;
        }
        if (ev->rtype == SCIM_RT_GROUP && pre) {
                json_t *d = member_delta(t, ev, pre);

                if (d && rec_json(&b, "members", d) < 0)
                        goto out;
        }
write:
        scim_buf_puts(&b, "}");
        if (!b.data)
                goto out;
        scim_buf_append(&k, ev->tenant, strlen(ev->tenant) + 1);
        scim_put_be64(be, seq);
        scim_buf_append(&k, be, 8);
        txn_put(t, CF_STREAM, k.data, k.len, b.data, b.len);
out:
        scim_buf_free(&b);
        scim_buf_free(&k);
        json_decref(spre->held_by);
        spre->held_by = NULL;
}

/* ------------------------------------------------------------ reader */

long scim_store_stream_read(scim_store_t *st, const char *tenant,
                            uint64_t after, size_t max_records,
                            size_t max_bytes,
                            int (*fn)(void *ctx, uint64_t pos,
                                      const char *json, size_t len),
                            void *ctx, scim_err_t *err)
{
        scim_buf_t pre = {0}, k = {0};
        rocksdb_iterator_t *it;
        unsigned char be[8];
        size_t bytes = 0;
        long n = 0;
        char *e = NULL;

        if (after == UINT64_MAX)
                return 0;
        scim_buf_append(&pre, tenant, strlen(tenant) + 1);
        scim_buf_append(&k, pre.data, pre.len);
        scim_put_be64(be, after + 1);
        scim_buf_append(&k, be, 8);
        it = rocksdb_create_iterator_cf(st->db, st->ro, st->cf[CF_STREAM]);
        for (rocksdb_iter_seek(it, k.data, k.len);
             rocksdb_iter_valid(it) && (size_t)n < max_records &&
             bytes < max_bytes;
             rocksdb_iter_next(it)) {
                size_t kl, vl;
                const char *key = rocksdb_iter_key(it, &kl);
                const char *v = rocksdb_iter_value(it, &vl);

                if (kl != pre.len + 8 || memcmp(key, pre.data, pre.len) != 0)
                        break;
                n++;
                bytes += vl;
                if (fn(ctx,
                       scim_get_be64((const unsigned char *)key + pre.len), v,
                       vl))
                        break;
        }
        rocksdb_iter_get_error(it, &e);
        if (e) {
                scim_err_set_retry(err, 503, "stream read failed: %.400s", e);
                free(e);
                n = -1;
        }
        rocksdb_iter_destroy(it);
        scim_buf_free(&pre);
        scim_buf_free(&k);
        return n;
}

/* ----------------------------------------------------------- watcher */

int scim_store_watch(scim_store_t *st, void (*fn)(void *ctx), void *ctx)
{
        int rc = -1;

        pthread_mutex_lock(&watch_mu);
        for (int i = 0; i < 4 && rc < 0; i++)
                if (!st->watch_fn[i]) {
                        st->watch_fn[i] = fn;
                        st->watch_ctx[i] = ctx;
                        rc = 0;
                }
        pthread_mutex_unlock(&watch_mu);
        return rc;
}

void scim_store_unwatch(scim_store_t *st, void (*fn)(void *ctx), void *ctx)
{
        pthread_mutex_lock(&watch_mu);
        for (int i = 0; i < 4; i++)
                if (st->watch_fn[i] == fn && st->watch_ctx[i] == ctx) {
                        st->watch_fn[i] = NULL;
                        st->watch_ctx[i] = NULL;
                }
        pthread_mutex_unlock(&watch_mu);
}

void store_notify_folded(scim_store_t *st)
{
        pthread_mutex_lock(&watch_mu);
        for (int i = 0; i < 4; i++)
                if (st->watch_fn[i])
                        st->watch_fn[i](st->watch_ctx[i]);
        pthread_mutex_unlock(&watch_mu);
}
