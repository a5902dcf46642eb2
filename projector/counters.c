/*
 * counters.c — the fold's per-tenant bookkeeping rows in column family
 * `chidx`: the hourly counters of (action, verdict) that the summary
 * report reads (chidx `tenant \0 H hour action \0 verdict`), and the
 * apply time per Kafka partition (default family `atime \0 tenant \0
 * partition`) that keeps the time index in apply order.
 *
 * Runs on the single writer thread inside a fold transaction and is
 * deterministic: it reads only the event and the view state as it stands
 * at that point of the log.
 */
#include <stdlib.h>
#include <string.h>

#include "projector/changes_internal.h"

/* Adds 1 to the hourly counter of (action, verdict). */
void changes_count_hour(txn_t *t, const char *tenant, int64_t time_ms,
                        const char *action, int applied)
{
        scim_buf_t k = {0};
        size_t vl = 0;
        char *v, vc = applied ? 'a' : 'r';
        uint64_t n = 0;
        unsigned char be[8];

        changes_key_start(&k, tenant, 'H');
        changes_key_time(&k, changes_floor_div(time_ms, HOUR_MS));
        scim_buf_append(&k, action, strlen(action) + 1);
        scim_buf_append(&k, &vc, 1);
        v = txn_get_hot(t, CF_CHIDX, k.data, k.len, &vl);
        if (v && vl == 8)
                n = scim_get_be64((unsigned char *)v);
        free(v);
        scim_put_be64(be, n + 1);
        txn_put(t, CF_CHIDX, k.data, k.len, (char *)be, 8);
        scim_buf_free(&k);
}

/* The apply-time row of (tenant, partition), in the default column
 * family: "atime" \0 tenant \0 partition (u64 BE). */
static void atime_key(scim_buf_t *k, const char *tenant, uint64_t partition)
{
        k->len = 0;
        scim_buf_append(k, "atime", 6);
        scim_buf_append(k, tenant, strlen(tenant) + 1);
        changes_key_be(k, partition);
}

/*
 * The time an event is indexed at: its own time, or the tenant's latest
 * index time when the event is stamped earlier (an external producer, a
 * clock behind another node's), kept per tenant and the position's top 16
 * bits (the Kafka partition: a mis-keyed message of the tenant in another
 * partition must not make the result depend on how a node interleaved
 * partitions). Index order is then apply order, and
 * `changes?from=<appliedAt last seen>` returns an event folded later with
 * an older timestamp.
 *
 * Where (views_format 0012): the default column family, whose memtable
 * updates a row in place (store_tune.c), beside the `count` rows. It was
 * chidx `tenant \0 L partition` before: a new version of the same key per
 * event, inserted in front of the last one in the skiplist (~38 key
 * comparisons per insert, ~4.5k instructions of a POST). Only the fold
 * reads it (through its transaction).
 */
int64_t changes_apply_time(txn_t *t, const char *tenant, uint64_t seq,
                           int64_t ev_ms)
{
        scim_buf_t k = {0};
        size_t vl = 0;
        char *v;
        int64_t at = ev_ms;
        unsigned char x[8];

        atime_key(&k, tenant, seq >> 48);
        v = txn_get_hot(t, CF_DEFAULT, k.data, k.len, &vl);
        if (v && vl == 8 && changes_get_time((unsigned char *)v) > at)
                at = changes_get_time((unsigned char *)v);
        free(v);
        changes_put_time(x, at);
        txn_put(t, CF_DEFAULT, k.data, k.len, (char *)x, 8);
        scim_buf_free(&k);
        return at;
}

void changes_counters_drop(txn_t *t, const char *tenant)
{
        scim_buf_t k = {0};

        atime_key(&k, tenant, 0);
        txn_del_prefix(t, CF_DEFAULT, k.data, k.len - 8);
        scim_buf_free(&k);
}
