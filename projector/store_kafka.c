/*
 * store_kafka.c — the store's entry points for Kafka mode: fold messages
 * that are already durable in the topic, and keep each partition's next
 * offset in the same WriteBatch as the view changes (exactly-once effect
 * without Kafka transactions).
 *
 * Keys (default column family, beside "position" and the counters):
 *   "koff" \0 topic \0 partition (u32 BE)  -> next offset (u64 BE)
 *   "evid" \0 event_id                      -> seq (u64 BE) of its fold
 * and, in column family `log`, seq -> the message value (a per-node copy
 * of the topic's events that asOf, history and the change stream read).
 * The second one lets the fold refuse a re-sent event (an external
 * at-least-once producer, or a retry after a lost acknowledgement) instead
 * of applying it twice.
 *
 * Threads: only the projector thread (or replay) calls
 * scim_store_fold_logged; scim_store_kafka_offset may run anywhere.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "projector/projector_internal.h"

#define MAX_PARTS 1024 /* partitions tracked per batch (ceiling) */

static void koff_key(scim_buf_t *b, const char *topic, int32_t partition)
{
        unsigned char be[4];
        uint32_t p = (uint32_t)partition;

        be[0] = (unsigned char)(p >> 24);
        be[1] = (unsigned char)(p >> 16);
        be[2] = (unsigned char)(p >> 8);
        be[3] = (unsigned char)p;
        b->len = 0;
        scim_buf_append(b, "koff", 5);
        scim_buf_append(b, topic, strlen(topic) + 1);
        scim_buf_append(b, be, 4);
}

int scim_store_kafka_offset(scim_store_t *st, const char *topic,
                            int32_t partition, int64_t *next)
{
        scim_buf_t k = {0};
        char *err = NULL, *v;
        size_t vl = 0;
        int found = 0;

        koff_key(&k, topic, partition);
        v = rocksdb_get_cf(st->db, st->ro, st->cf[CF_DEFAULT], k.data, k.len,
                           &vl, &err);
        free(err);
        if (v && vl == 8) {
                *next = (int64_t)scim_get_be64((unsigned char *)v);
                found = 1;
        }
        free(v);
        scim_buf_free(&k);
        return found;
}

/* The Action symbol, for what a refused message attempted (reports). */
static const char *action_symbol(scim_action_t a)
{
        static const char *const names[] = {
            "CREATE",        "REPLACE",     "PATCH",        "DELETE",
            "REFUSED",       "TENANT_CREATE", "TOKEN_ISSUE", "TOKEN_REVOKE",
            "REPORT_SAVE",   "REPORT_DELETE"};

        return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a]
                                                              : NULL;
}

/* Folds one decoded event, refusing it first when the message breaks the
 * topic contract (key != tenant, a pinned tenant's event on another
 * partition) or repeats an event_id. */
static void fold_one(txn_t *t, uint64_t seq, const scim_logged_t *m,
                     const scim_event_t *ev, const scim_err_t *derr,
                     scim_verdict_t *v)
{
        scim_event_t refused;
        char detail[256];
        scim_buf_t k = {0};
        char *prev;
        size_t pl = 0;

        if (!ev) {
                fold_event(t, seq, NULL, derr, v);
                return;
        }
        refused = *ev; /* shallow: nothing of it is freed here */
        refused.action = SCIM_ACT_REFUSED;
        if (!refused.attempted_action && ev->action != SCIM_ACT_REFUSED)
                refused.attempted_action = (char *)action_symbol(ev->action);
        refused.refused_scim_type = NULL;
        if (m->admin != scim_event_is_admin(ev)) {
                refused.refused_status = m->admin ? 400 : 403;
                refused.refused_scim_type =
                    m->admin ? (char *)"invalidValue" : NULL;
                snprintf(detail, sizeof(detail), "%s",
                         m->admin ? "the admin topic carries only tenant and "
                                    "token events"
                                  : "tenant and token events are accepted "
                                    "only from the admin topic");
                refused.refused_detail = detail;
                fold_event(t, seq, &refused, NULL, v);
                return;
        }
        if (!ev->tenant || m->key_len != strlen(ev->tenant) ||
            memcmp(m->key, ev->tenant, m->key_len) != 0) {
                refused.refused_status = 400;
                refused.refused_scim_type = (char *)"invalidValue";
                snprintf(detail, sizeof(detail),
                         "message key must be the event's tenant");
                refused.refused_detail = detail;
                fold_event(t, seq, &refused, NULL, v);
                return;
        }
        if (!m->admin) {
                /* a pinned tenant's data lives in one partition
                 * (tenant_pin.c): an event found elsewhere (a producer
                 * hashing keys over a grown partition count) is never
                 * applied, whatever order a node reads partitions in */
                int pin = tenant_pin_txn(t, ev->tenant);

                if (pin >= 0 && pin != m->partition) {
                        refused.refused_status = 400;
                        refused.refused_scim_type = (char *)"invalidValue";
                        snprintf(detail, sizeof(detail),
                                 "tenant %.64s is pinned to partition %d "
                                 "of the data topic; this event came from "
                                 "partition %d",
                                 ev->tenant, pin, (int)m->partition);
                        refused.refused_detail = detail;
                        fold_event(t, seq, &refused, NULL, v);
                        return;
                }
        } else if (ev->action != SCIM_ACT_TENANT_CREATE) {
                /* a tenant's administration stays on the admin partition
                 * of its TENANT_CREATE (tenant_pin.c); from another one it
                 * is refused as for a tenant that does not exist, so the
                 * verdict does not depend on which partition a node reads
                 * first */
                int apin = tenant_admin_pin_txn(t, ev->tenant);

                if (apin == SCIM_TENANT_NONE ||
                    (apin >= 0 && apin != m->partition)) {
                        refused.refused_status = 404;
                        snprintf(detail, sizeof(detail),
                                 "tenant '%.64s' does not exist on "
                                 "partition %d of the admin topic",
                                 ev->tenant, (int)m->partition);
                        refused.refused_detail = detail;
                        fold_event(t, seq, &refused, NULL, v);
                        return;
                }
        }
        scim_buf_append(&k, "evid", 5);
        scim_buf_puts(&k, ev->event_id);
        prev = txn_get(t, CF_DEFAULT, k.data, k.len, &pl);
        if (prev) {
                refused.refused_status = 409;
                snprintf(detail, sizeof(detail),
                         "duplicate event %s (first folded at seq %llu)",
                         ev->event_id,
                         pl == 8 ? (unsigned long long)scim_get_be64(
                                       (unsigned char *)prev)
                                 : 0ULL);
                refused.refused_detail = detail;
                fold_event(t, seq, &refused, NULL, v);
        } else {
                unsigned char be[8];

                scim_put_be64(be, seq);
                txn_put(t, CF_DEFAULT, k.data, k.len, (char *)be, 8);
                fold_event(t, seq, ev, NULL, v);
                if (m->admin && ev->action == SCIM_ACT_TENANT_CREATE &&
                    v->status == 201)
                        tenant_admin_pin_set(t, ev->tenant, m->partition);
        }
        free(prev);
        scim_buf_free(&k);
}

int scim_store_fold_logged(scim_store_t *st, const char *topic,
                           scim_logged_t *msgs, size_t n,
                           scim_verdict_t *verdicts, scim_err_t *err)
{
        txn_t t;
        int32_t parts[MAX_PARTS];
        const char *ptopic[MAX_PARTS];
        int64_t next[MAX_PARTS];
        size_t nparts = 0;
        scim_buf_t k = {0};
        char *werr = NULL;
        int rc = -1, auth_changed = 0, model_changed = 0;

        if (n == 0)
                return 0;
        memset(verdicts, 0, n * sizeof(*verdicts));
        txn_begin(&t, st);
        for (size_t i = 0; i < n; i++) {
                scim_logged_t *m = &msgs[i];
                scim_event_t ev;
                scim_err_t derr;
                size_t j;
                int ok;

                memset(&ev, 0, sizeof(ev));
                scim_err_clear(&derr);
                {
                        /* per-node copy of the event under its position:
                         * asOf, history and the change stream read it */
                        unsigned char pk[8];

                        scim_put_be64(pk, scim_logged_seq(m));
                        txn_put(&t, CF_LOG, (char *)pk, 8,
                                m->data ? m->data : "", m->len);
                }
                ok = scim_event_decode(m->data, m->len, &ev, &derr) == 0;
                snprintf(m->event_id, sizeof(m->event_id), "%s",
                         ok ? ev.event_id : "");
                fold_one(&t, scim_logged_seq(m), m, ok ? &ev : NULL, &derr,
                         &verdicts[i]);
                if (ok && m->admin && event_changes_auth(&ev))
                        auth_changed = 1;
                if (ok && event_changes_model(&ev))
                        model_changed = 1;
                scim_event_clear(&ev);
                for (j = 0; j < nparts && (parts[j] != m->partition ||
                                           strcmp(ptopic[j], m->topic ? m->topic
                                                                      : topic));
                     j++)
                        ;
                if (j == nparts) {
                        if (nparts == MAX_PARTS) {
                                scim_err_set_retry(err, 503,
                                                   "more than %d partitions "
                                                   "in one batch",
                                                   MAX_PARTS);
                                goto out;
                        }
                        ptopic[nparts] = m->topic ? m->topic : topic;
                        parts[nparts++] = m->partition;
                }
                next[j] = m->offset + 1;
        }
        for (size_t j = 0; j < nparts; j++) {
                unsigned char be[8];

                koff_key(&k, ptopic[j], parts[j]);
                scim_put_be64(be, (uint64_t)next[j]);
                txn_put(&t, CF_DEFAULT, k.data, k.len, (char *)be, 8);
        }
        posidx_write_begin(st);
        txn_write(&t, st->wo_nosync, &werr);
        posidx_write_end(st, werr == NULL);
        if (werr) {
                scim_err_set_retry(err, 503, "view write failed: %.400s",
                                   werr);
                free(werr);
                goto out;
        }
        txn_committed(&t); /* before txn_end: the hot cache (txn.c) */
        store_note_batch(st, verdicts, n);
        if (auth_changed) /* cached authentications are stale now */
                __atomic_add_fetch(&st->auth_gen, 1, __ATOMIC_RELEASE);
        if (model_changed) /* and so are cached tenant models */
                __atomic_add_fetch(&st->model_gen, 1, __ATOMIC_RELEASE);
        store_notify_folded(st); /* change stream readers (stream.c) */
        rc = 0;
out:
        if (rc < 0)
                for (size_t i = 0; i < n; i++)
                        scim_verdict_clear(&verdicts[i]);
        st->pidx_pending.len = 0; /* a batch never written notes nothing */
        txn_end(&t);
        scim_buf_free(&k);
        return rc;
}
