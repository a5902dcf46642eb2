/*
 * tenant_pin.c — each tenant's data partition, pinned for ever, so that
 * partitions added to the data topic never move a tenant and never break
 * the per-tenant order every node's fold relies on.
 *
 * A Kafka producer that picks the partition by hashing the key sends a
 * tenant's events to another partition once the topic has more of them;
 * events of one tenant on two partitions are folded in an order that
 * differs from node to node. So the partition is a fact recorded in the
 * log, not a function of the partition count:
 *  - TENANT_CREATE carries it in admin_json ({"partition": P}); scimlog's
 *    producer computes P as the key hash for the count it sees
 *    (log/log_kafka.c) and the fold stores it in the tenant record;
 *  - a tenant created before pins existed (no "partition") is pinned by a
 *    TENANT_UPDATE {"partition": P} (`scimlog tenant pin`); until then it
 *    has no pin and its data events are accepted from any partition (the
 *    old rule, safe while the partition count does not change);
 *  - a pin never changes (another value is refused; the same value is a
 *    no-op, so pins from several nodes converge);
 *  - a data event of a pinned tenant read from another partition is
 *    refused (store_kafka.c), recorded as REFUSED with the partition named.
 * Every input is in the events, so every node and every replay agree.
 *
 * The admin topic may grow too, and a tenant's administration events
 * (tokens, settings, lifecycle) must stay in order with its TENANT_CREATE:
 * the admin partition the TENANT_CREATE was read from is the tenant's
 * "adminPartition" (store_kafka.c records it; scimlog's producer sends the
 * tenant's later admin events there). An admin event read from any other
 * admin partition is refused exactly as one for a tenant that does not
 * exist ("does not exist on partition Q of the admin topic"), so the
 * verdict is the same whichever partition a node reads first.
 *
 * The tenant record (column family `tenant`, key = tenant) is a JSON
 * object; the pins are its "partition" and "adminPartition" members
 * (views_format 0009: stores folded before hold no adminPartition).
 *
 * Threads: the fold functions run on the single writer (projector thread
 * or the embedded committer); scim_store_tenant_partition on any thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "projector/projector_internal.h"

/* The pin (member "partition" or "adminPartition") in a tenant record,
 * -1 when none. */
static int pin_named(const json_t *rec, const char *member)
{
        json_t *p = json_object_get(rec, member);

        if (!json_is_integer(p) || json_integer_value(p) < 0 ||
            json_integer_value(p) >= SCIM_TENANT_PARTITION_MAX)
                return -1;
        return (int)json_integer_value(p);
}

static int pin_of(const json_t *rec)
{
        return pin_named(rec, "partition");
}

static int pin_from_record(const char *row, size_t len, const char *member)
{
        json_t *rec;
        int pin;

        if (!row)
                return SCIM_TENANT_NONE;
        rec = scim_json_load(row, len);
        pin = pin_named(rec, member);
        json_decref(rec);
        return pin;
}

static int txn_pin(txn_t *t, const char *tenant, const char *member)
{
        size_t vl = 0;
        char *row = txn_get(t, CF_TENANT, tenant, strlen(tenant), &vl);
        int pin = pin_from_record(row, vl, member);

        free(row);
        return pin;
}

int tenant_pin_txn(txn_t *t, const char *tenant)
{
        return txn_pin(t, tenant, "partition");
}

int tenant_admin_pin_txn(txn_t *t, const char *tenant)
{
        return txn_pin(t, tenant, "adminPartition");
}

void tenant_admin_pin_set(txn_t *t, const char *tenant, int32_t partition)
{
        size_t vl = 0;
        char *row = txn_get(t, CF_TENANT, tenant, strlen(tenant), &vl), *txt;
        json_t *rec = row ? scim_json_load(row, vl) : NULL;

        if (json_is_object(rec) && partition >= 0 &&
            partition < SCIM_TENANT_PARTITION_MAX) {
                json_object_set_new(rec, "adminPartition",
                                    json_integer(partition));
                txt = scim_json_dumps(rec);
                if (txt)
                        txn_put(t, CF_TENANT, tenant, strlen(tenant), txt,
                                strlen(txt));
                free(txt);
        }
        json_decref(rec);
        free(row);
}

static int store_pin(scim_store_t *st, const char *tenant, const char *member)
{
        char *err = NULL, *row;
        size_t vl = 0;
        int pin;

        if (!tenant || !*tenant)
                return SCIM_TENANT_NONE;
        row = rocksdb_get_cf(st->db, st->ro, st->cf[CF_TENANT], tenant,
                             strlen(tenant), &vl, &err);
        free(err);
        pin = pin_from_record(row, vl, member);
        free(row);
        return pin;
}

int scim_store_tenant_partition(scim_store_t *st, const char *tenant)
{
        return store_pin(st, tenant, "partition");
}

int scim_store_tenant_admin_partition(scim_store_t *st, const char *tenant)
{
        return store_pin(st, tenant, "adminPartition");
}

/* A partition value from admin_json: 0 and up, or -1 (bad). */
static int pin_value(const json_t *p)
{
        if (!json_is_integer(p) || json_integer_value(p) < 0 ||
            json_integer_value(p) >= SCIM_TENANT_PARTITION_MAX)
                return -1;
        return (int)json_integer_value(p);
}

int tenant_pin_create(json_t *rec, const scim_event_t *ev, scim_verdict_t *v)
{
        json_t *in = ev->admin_json ? scim_json_load(ev->admin_json,
                                                     strlen(ev->admin_json))
                                    : NULL;
        json_t *p = json_object_get(in, "partition");
        int rc = 0;

        /* no admin_json, or none with a partition: an unpinned tenant
         * (an older producer) */
        if (p) {
                int pin = pin_value(p);

                if (pin < 0) {
                        refuse(v, 400, "invalidValue",
                               "a tenant's partition is a whole number "
                               "from 0 to %d",
                               SCIM_TENANT_PARTITION_MAX - 1);
                        rc = -1;
                } else {
                        json_object_set_new(rec, "partition",
                                            json_integer(pin));
                }
        }
        json_decref(in);
        return rc;
}

int fold_tenant_pin(txn_t *t, const scim_event_t *ev, scim_verdict_t *v)
{
        json_t *in = ev->admin_json ? scim_json_load(ev->admin_json,
                                                     strlen(ev->admin_json))
                                    : NULL;
        json_t *p = json_object_get(in, "partition"), *rec = NULL;
        size_t vl = 0;
        char *row = NULL, *txt;
        int pin, cur;

        if (!json_is_object(in) || !p) {
                json_decref(in);
                return 0; /* an ordinary settings update (retain.c) */
        }
        row = txn_get(t, CF_TENANT, ev->tenant, strlen(ev->tenant), &vl);
        rec = row ? scim_json_load(row, vl) : NULL;
        if (!rec) {
                refuse(v, 404, NULL, "tenant '%.64s' does not exist",
                       ev->tenant);
                goto out;
        }
        if (json_object_size(in) != 1) {
                refuse(v, 400, "invalidValue",
                       "a partition pin is an update of its own (no other "
                       "settings beside \"partition\")%s",
                       "");
                goto out;
        }
        pin = pin_value(p);
        if (pin < 0) {
                refuse(v, 400, "invalidValue",
                       "a tenant's partition is a whole number from 0 to %d",
                       SCIM_TENANT_PARTITION_MAX - 1);
                goto out;
        }
        cur = pin_of(rec);
        if (cur >= 0 && cur != pin) {
                refuse(v, 409, NULL,
                       "tenant '%.64s' is pinned to partition %d; a pin "
                       "never changes",
                       ev->tenant, cur);
                goto out;
        }
        if (cur < 0) {
                json_object_set_new(rec, "partition", json_integer(pin));
                txt = scim_json_dumps(rec);
                if (txt)
                        txn_put(t, CF_TENANT, ev->tenant, strlen(ev->tenant),
                                txt, strlen(txt));
                free(txt);
        }
        v->status = 200;
out:
        free(row);
        json_decref(rec);
        json_decref(in);
        return 1;
}
