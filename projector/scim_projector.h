/*
 * scim_projector.h — the fold and the RocksDB views.
 *
 * One RocksDB database per node. Column families (owned by this component):
 *   default  node metadata: applied log position, per-tenant counters
 *   log      embedded event log: seq (u64 BE) -> single-object Avro bytes
 *   res      resources: tenant \0 rtype id -> stored resource
 *   idx      secondary indexes (userName [unique], externalId, emails.value,
 *            displayName): tenant \0 rtype code \0 value \0 id -> ""
 *   mem      memberships both ways: tenant \0 'G' gid \0 uid, tenant \0 'U'
 *            uid \0 gid
 *   tenant   tenants; token: sha256(secret) -> tenant, token id
 *   change   per-event change records: seq -> verdict (reports build on it)
 *
 * The fold is deterministic: resource timestamps come from the event time,
 * versions count applied changes, ids come from the event. The same log gives
 * the same views and verdicts on every node and after every replay.
 *
 * Threads: one writer at a time calls scim_store_append_fold / _fold (the
 * ingest committer thread, or the Kafka projector thread); any number of
 * threads (http pool) may call the read functions concurrently.
 */
#ifndef SCIM_PROJECTOR_H
#define SCIM_PROJECTOR_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/scim_common.h"
#include "schemas/scim_schemas.h"

typedef struct scim_store scim_store_t;

/* Opens (creating when absent) the database in dir. Returns 0, or -1 with a
 * message in errstr (e.g. "data dir is locked by a running server"). */
int scim_store_open(const char *dir, scim_store_t **out, char *errstr,
                    size_t errlen);
/* The same, for a new dir that scim_store_replay then fills alone and
 * that is closed after it: options for a bulk load (the report index's
 * memtable a vector, sorted when flushed; store_tune.c). Serving it
 * without closing it first would be slow, not wrong. */
int scim_store_open_replay(const char *dir, scim_store_t **out,
                           char *errstr, size_t errlen);
/* Memory of every store opened afterwards (0 keeps a value): the block
 * cache, and one budget for all memtables of a store together. Defaults
 * 256 and 128 MiB. Call before opening stores (store_tune.c). */
void scim_store_set_memory(size_t cache_mb, size_t write_mb);
/* Events per replay batch (0: the default, 2,000); for tests. */
void scim_store_replay_batch(size_t n);
/* 1 if the views in this store were built with the current key layout
 * (always for a new store); 0 if an older scimlog built them: serve and the
 * tenant commands refuse such a store, `scimlog replay` rebuilds it. */
int scim_store_views_current(scim_store_t *st);

/* Flushes and closes. NULL-safe. */
void scim_store_close(scim_store_t *st);

/* ------------------------------------------------------------- the fold */

/* The outcome of folding one event. */
typedef struct scim_verdict {
        int status;          /* 201/200/204 applied; 4xx refused */
        char scim_type[32];  /* for refusals */
        char detail[512];    /* for refusals */
        uint64_t seq;        /* log position of the event */
        /* Applied CREATE/REPLACE/PATCH: the stored resource after the change,
         * in stored form (id, schemas, meta without location; groups without
         * members). Owned by the verdict. NULL otherwise. */
        json_t *resource;
        /* The same resource as the bytes the fold stored (the embedded
         * fold fills it for an applied user create or replace; NULL
         * elsewhere): what an answer can splice
         * instead of serialising resource again, with room for a few
         * more bytes (its location). Owned. */
        scim_buf_t text;
        /* Attribute paths the tenant's model dropped in the fold
         * (unknownAttributes: drop), for the change record. Owned. */
        json_t *dropped;
} scim_verdict_t;

/* Releases v->resource and v->text and zeroes *v. NULL-safe. */
void scim_verdict_clear(scim_verdict_t *v);

/*
 * Embedded log: appends n events (events[i] decoded, encoded[i] its bytes)
 * at the next sequence numbers and folds each, in order, into the views; log
 * records, view changes, change records and the new position go in ONE
 * synced WriteBatch (group commit: the caller batches concurrent requests).
 * Each fold sees the effects of the events before it in the same batch.
 * verdicts[i] is filled for every event. Returns 0 when the batch is
 * durable, -1 with err (retriable 503) if the write failed — then nothing of
 * the batch was written.
 */
int scim_store_append_fold(scim_store_t *st, const scim_buf_t *encoded,
                           const scim_event_t *events, size_t n,
                           scim_verdict_t *verdicts, scim_err_t *err);

/* Position (last sequence number) the views reflect; 0 when empty. */
uint64_t scim_store_position(scim_store_t *st);

/* A RocksDB integer property summed over every column family (e.g.
 * "rocksdb.total-sst-files-size", "rocksdb.estimate-pending-compaction-
 * bytes"), for /metrics. */
uint64_t scim_store_property_sum(scim_store_t *st, const char *name);

/* A consistent copy of the whole database (views, log, offsets) into dest,
 * which must not exist: a RocksDB checkpoint (hard links where dest is on
 * the same file system), taken while the store serves. Every write
 * acknowledged before the call is in it. 0 or -1 with err. */
int scim_store_checkpoint(scim_store_t *st, const char *dest, scim_err_t *err);

/*
 * Log snapshots (projector/snapshot.c, embedded log): a snapshot is a
 * RocksDB checkpoint of the views at a position, without the log, in
 * DIR/snapshots/POSITION (20 digits). Truncating the log deletes the log
 * records up to the newest snapshot that no retained change record still
 * needs (asOf rebuilds state from the log records of the records it
 * keeps: a tenant without a change-record retention keeps the whole log),
 * and older snapshots. Replay then starts from that snapshot (the base)
 * and folds the log after it.
 */
typedef struct scim_snapshot_info {
        uint64_t position; /* the snapshot taken (scim_store_snapshot) */
        uint64_t log_base; /* the log starts after this position */
        uint64_t safe;     /* highest position no retained record needs */
        char path[1024];
} scim_snapshot_info_t;

/* Takes a snapshot of the views as they stand (online: the store keeps
 * serving). 0 or -1 with err. */
int scim_store_snapshot(scim_store_t *st, scim_snapshot_info_t *info,
                        scim_err_t *err);
/* Truncates the log as far as a snapshot and the retained change records
 * allow (info->log_base: where the log starts now). 0 or -1 with err. */
int scim_store_log_truncate(scim_store_t *st, scim_snapshot_info_t *info,
                            scim_err_t *err);
/* The log is a Kafka topic (serve --kafka): snapshots are refused. */
void scim_store_mark_kafka(scim_store_t *st);
/* The position the log starts after (0: the whole log is there). */
uint64_t scim_store_log_base(scim_store_t *st);
/* The snapshots as JSON: [{"position","path","bytes"}] (new reference). */
json_t *scim_store_snapshots(scim_store_t *st);
/* A backup: scim_store_checkpoint plus the base snapshot of a truncated
 * log in dest/snapshots/ (scimlog backup). 0 or -1 with err. */
int scim_store_backup(scim_store_t *st, const char *dest, scim_err_t *err);
/* Erasure reaches the snapshots too: the tenant of ev (a TENANT_DELETE
 * that was just folded) is erased in each snapshot the same way, except
 * its tenant row (no personal data), so a replay from the snapshot folds
 * the same TENANT_DELETE to the same verdict. 0 or -1 with err. */
int scim_store_snapshots_erase(scim_store_t *st, const scim_event_t *ev,
                               scim_err_t *err);

/* Embedded log: calls fn(ctx, seq, bytes, len) for every log record in
 * sequence order up to until_seq (0: all); stops early when fn returns
 * non-zero. The bytes are valid only during the call. Returns the number
 * of records visited. Any thread (reads a snapshot-free iterator). */
uint64_t scim_store_log_each(scim_store_t *st, uint64_t until_seq,
                             int (*fn)(void *ctx, uint64_t seq,
                                       const void *data, size_t len),
                             void *ctx);

/*
 * Bulk load: appends n encoded events to the embedded log after its end
 * WITHOUT folding them (one unsynced write; close flushes) and marks the
 * dir as a replay source only: serve refuses it until `scimlog replay`
 * has built its views into a new dir (what a restore does). For loaders
 * of very large logs (ops/bench-replay.c `log`). 0 or -1 with err.
 */
int scim_store_log_load(scim_store_t *st, const scim_buf_t *encoded, size_t n,
                        scim_err_t *err);

/*
 * Rebuilds every view in dst from src's log, events 1..until_seq (0 = all),
 * copying the log records too. dst must be a fresh store. progress, if not
 * NULL, is called every ~1s with (done, total). Returns 0 or -1 with err.
 */
int scim_store_replay(scim_store_t *src, scim_store_t *dst, uint64_t until_seq,
                      void (*progress)(uint64_t done, uint64_t total),
                      scim_err_t *err);
/* CPU seconds of the last scim_store_replay into st by thread: the fold
 * (the caller's thread), the writer and the reader replay starts; what
 * else the process spent is RocksDB's flushes and compactions, opening
 * the stores and the command around it. All 0 before a replay. */
typedef struct scim_replay_cpu {
        double fold_s, writer_s, reader_s;
} scim_replay_cpu_t;
scim_replay_cpu_t scim_store_replay_cpu(const scim_store_t *st);

/* SHA-256 over every view column family (everything but the log bytes'
 * storage order artefacts): two stores with equal digests hold identical
 * views. out: 64 hex chars + NUL. */
int scim_store_digest(scim_store_t *st, char out[65], scim_err_t *err);
/* Prints every key and value (first 400 bytes) of column family cf_name,
 * escaped, one per line (scimlog digest --dump CF: where two stores
 * differ). -1 when there is no such column family. */
int scim_store_dump(scim_store_t *st, const char *cf_name, FILE *out);
/* The same, and per column family into per_cf (name -> digest) when not
 * NULL: which part of two stores differs. */
int scim_store_digest_cf(scim_store_t *st, char out[65], json_t *per_cf,
                         scim_err_t *err);

/* --------------------------------------------------------------- reads */

/*
 * Gets one resource in stored form: {"schemas":[..],"id":..,...,
 * "meta":{"resourceType","created","lastModified","version"}} (no location;
 * groups without members). *out new reference; *version its version (may be
 * NULL). Missing -> -1, err 404.
 */
int scim_store_get(scim_store_t *st, const char *tenant, scim_rtype_t rt,
                   const char *id, json_t **out, int64_t *version,
                   scim_err_t *err);

/* Same, as the stored JSON text appended to *out (the fast path for GET by
 * id with no projection). Missing -> -1, err 404. */
int scim_store_get_raw(scim_store_t *st, const char *tenant, scim_rtype_t rt,
                       const char *id, scim_buf_t *out, scim_err_t *err);

/* 1 if a resource of type rt with that id exists in the tenant. */
int scim_store_exists(scim_store_t *st, const char *tenant, scim_rtype_t rt,
                      const char *id);

/* Looks up the user holding userName (case-insensitive). Returns 1 and
 * writes the id, or 0 when free. */
int scim_store_find_username(scim_store_t *st, const char *tenant,
                             const char *user_name, char *id_out,
                             size_t id_len);

/* The views' state as a number that changes with every write batch
 * (RocksDB's last sequence). Two reads made while it did not change saw
 * one state of the views: a reader of an index entry and the resource it
 * names compares it before and after. Any thread. */
uint64_t scim_store_read_epoch(scim_store_t *st);

/* Members of a group: new array of {"value","display"?,"type":"User"|
 * "Group"} in stable order. */
int scim_store_group_members(scim_store_t *st, const char *tenant,
                             const char *gid, json_t **out, scim_err_t *err);

/* Groups a user belongs to: new array of {"value","display","type":
 * "direct"}. */
int scim_store_user_groups(scim_store_t *st, const char *tenant,
                           const char *uid, json_t **out, scim_err_t *err);

typedef struct scim_query {
        const scim_filter_t *filter; /* NULL: all */
        size_t start_index;          /* 1-based; values < 1 count as 1 */
        size_t count;                /* page size (already capped) */
        int with_members;            /* groups: attach members */
        /* RFC 9865 cursor paging: when set, the page holds the matches
         * whose id sorts after this one (start_index is ignored); "" is
         * the first page. NULL: index paging. */
        const char *after_id;
        int *more; /* optional out: 1 when matches follow the page */
        /* A filter no index answers scans the tenant: it fails with 400
         * tooMany after examining scan_limit resources or after scan_ms
         * milliseconds (0: no bound). */
        size_t scan_limit;
        unsigned scan_ms;
        /* Unfiltered index paging only (no filter, no after_id): each
         * page element is [id, stored JSON text] (an array of two
         * strings) instead of the parsed resource, for a reader that
         * splices the stored text into its answer. */
        int raw;
} scim_query_t;

/* Bytes a page's budget counts for the references attached to res[key]
 * (a group's members, a user's groups): value, display, $ref and the
 * object around each, so a page of resources with many references ends
 * early like a page of large resources (without it 100 groups of 2,000
 * members made one 30 MB answer whatever the budget). */
size_t scim_store_attached_bytes(const json_t *res, const char *key);

/*
 * Lists resources matching q in stable order (by id), returning the page
 * [start_index, start_index + count) — or, with q->after_id, the first
 * count matches after that id — in *out (new array of stored-form
 * resources) and the number of all matches in *total. Uses an index seek
 * when scim_filter_index_hint() offers one, otherwise scans the tenant's
 * prefix. An unfiltered page costs the same at any depth: cursor pages
 * seek to their id, and index pages start from a remembered position
 * (the key that followed the previous page, kept until a resource is
 * created or deleted). A page stops growing once its resources' stored
 * text passes SCIM_MAX_PAGE_BYTES (fewer items; *more set). Returns 0 or
 * -1 with err.
 */
int scim_store_list(scim_store_t *st, const char *tenant, scim_rtype_t rt,
                    const scim_query_t *q, size_t *total, json_t **out,
                    scim_err_t *err);

/* ------------------------------------------------------ tenants, tokens */

/*
 * Authenticates a bearer secret: hashes it, looks the hash up, and on a
 * live (not revoked) token writes its tenant and token id. Returns 1 when
 * valid, 0 otherwise. Timing does not depend on how much of a wrong secret
 * matches.
 */
int scim_store_auth(scim_store_t *st, const char *secret, char *tenant_out,
                    size_t tenant_len, char *token_id_out, size_t token_id_len);

/* 1 if the tenant exists. */
int scim_store_tenant_exists(scim_store_t *st, const char *tenant);

/* Kafka mode: the data partition a tenant is pinned to (projector/
 * tenant_pin.c), 0 and up; -1 when the tenant has no pin (created before
 * pins existed); SCIM_TENANT_NONE when there is no such tenant. */
#define SCIM_TENANT_NONE (-2)
#define SCIM_TENANT_PARTITION_MAX 1024 /* = the partitions a node reads */
int scim_store_tenant_partition(scim_store_t *st, const char *tenant);
/* The admin topic partition of the tenant's TENANT_CREATE, where its
 * administration events go (same returns). */
int scim_store_tenant_admin_partition(scim_store_t *st, const char *tenant);

/* The tenant's model as committed (model/scim_model.h): a new reference
 * the caller releases with scim_model_unref, or NULL for the built-in
 * model (no definition, or no such tenant). A point Get plus a cache of
 * compiled models keyed by (tenant, generation). */
struct scim_model;
struct scim_model *scim_store_model(scim_store_t *st, const char *tenant);

/* The token's record, read now (no cache; admin calls): 1 with its
 * tenant, token id and scope ("" for full SCIM access, "reports",
 * "tenant-admin") when the secret names a token that is not revoked. */
int scim_store_token_scope(scim_store_t *st, const char *secret,
                           char *tenant_out, size_t tenant_len,
                           char *token_id_out, size_t token_id_len,
                           char *scope_out, size_t scope_len);

/* For a secret that is no live token (projector/token_audit.c): 1 with
 * the tenant, token id and the reason ("token … was revoked at …",
 * "… expired at …") when it names a revoked token or one past its
 * rotation overlap; 0 when it names no token or a live one. */
int scim_store_token_refused(scim_store_t *st, const char *secret,
                             char *tenant_out, size_t tenant_len,
                             char *token_id_out, size_t token_id_len,
                             char *why_out, size_t why_len);

/* A tenant record (kind 0: the tenant itself) or one of its rows
 * (`tenant\0` kind id `\0`: 'C' OAuth client, 'K' signing key ids with
 * id ""), read now; new object or NULL. */
json_t *scim_store_tenant_get(scim_store_t *st, const char *tenant, char kind,
                              const char *id);

/* Tenant erasure (projector/erase.c, docs/erasure.md). seal: moves nothing
 * but adds ev->sealed_json / key_id, the resource JSON encrypted with the
 * tenant's data key (created on first use, synced): the caller encodes
 * the event without resource_json. unseal: fills resource_json of a
 * decoded sealed event (0), or marks it erased (1: the key is destroyed),
 * -1 when the seal is forged or damaged. purge: flushes and compacts
 * every column family so deleted rows and destroyed keys leave the files
 * (slow on a big store; erasure only). */
int scim_store_seal(scim_store_t *st, scim_event_t *ev, scim_err_t *err);
int scim_store_unseal(scim_store_t *st, scim_event_t *ev);
int scim_store_purge(scim_store_t *st, scim_err_t *err);

/* Checks every stored resource of the tenant against model m (a change of
 * its definition: would they comply?): {"checked": N, "violating": V,
 * "alreadyViolating": A, "violations": [{resourceType, id, detail}] (at
 * most max_listed)}. A resource that violates the current model already
 * (a change applied with force) is counted in A, not in V: the change does
 * not add its violation. */
/* The tenant's storage codes of its own resource types (name -> letter;
 * new object, {} when none): compile a candidate definition with them
 * (scim_model_compile_codes) so that it names the stored data. */
json_t *scim_store_model_codes(scim_store_t *st, const char *tenant);

/* 1 if a resource of the tenant holds a reference value (ingest's check of
 * scim_model_check_refs; the fold checks again in its batch). */
struct scim_model_ref;
int scim_store_ref_exists(scim_store_t *st, const char *tenant,
                          const struct scim_model_ref *ref, const char *value);

json_t *scim_store_model_check(scim_store_t *st, const char *tenant,
                               const struct scim_model *m, size_t max_listed,
                               long *violating);

/* Calls fn for every stored resource of (tenant, rt) in key order (the
 * stored form, id and meta included; fn must not keep res) until fn
 * returns non-zero. Returns how many were visited. */
long scim_store_each_resource(scim_store_t *st, const char *tenant,
                              scim_rtype_t rt,
                              int (*fn)(void *ctx, json_t *res), void *ctx);

/* New array of {"tenant","created","tokens":[{"id","created","revoked"}]}. */
int scim_store_tenant_list(scim_store_t *st, json_t **out, scim_err_t *err);

/* ---------------------------------------------- reports (changes.c) */
/*
 * Change records and their key-ordered indexes (column family `chidx`,
 * written by the fold for every event; layout in docs/internals.md):
 *   tenant \0 'T' time(8) seq(8)        -> ""   time order
 *   tenant \0 'R' id \0 seq(8)          -> ""   one resource's history
 *   tenant \0 'A' action \0 time seq    -> ""   one action in time order
 *   tenant \0 'H' hour(8) action \0 v   -> u64  counts per hour, action and
 *                                               verdict ('a'pplied/'r'efused)
 *   tenant \0 'S' name                  -> saved report definition
 * Record shapes and the HTTP face: docs/reports-api.md. Every function here
 * is a reader (any thread, no lock).
 */

/* Ceilings of one reports request. */
#define SCIM_CHANGES_MAX_COUNT 1000     /* records per page */
#define SCIM_CHANGES_SCAN_LIMIT 20000   /* index entries examined per page */
#define SCIM_CHANGES_MAX_CURSOR 200     /* raw cursor bytes */
#define SCIM_CHANGES_MAX_SUMMARY_DAYS 400
#define SCIM_CHANGES_MAX_HISTORY 100000 /* events replayed for asOf */

typedef struct scim_change_query {
        int64_t from_ms, to_ms;   /* [from, to); INT64_MIN / INT64_MAX open */
        const char *resource;     /* id: walk its history; NULL: time order */
        char rtype;               /* 'U', 'G' or 0 = any */
        const char *actions;      /* comma list of action names, or NULL */
        int verdict;              /* 0 any, 1 applied, 2 refused */
        int status;               /* 0 any, else exact HTTP status */
        const char *actor;        /* token id or NULL */
        const char *attribute;    /* changed attribute path prefix or NULL */
        const char *user_name;    /* case-insensitive exact, or NULL */
        size_t count;             /* page size (1..SCIM_CHANGES_MAX_COUNT) */
        int desc;                 /* 1: newest first */
        const unsigned char *cursor; /* raw cursor bytes or NULL */
        size_t cursor_len;
} scim_change_query_t;

/*
 * One page of change records of `tenant` matching q, in key order. *out:
 * new array owned by the caller. *next: the raw cursor of the next page
 * (appended; left empty on the last page). A cursor that does not fit q
 * -> 400 invalidValue. Returns 0 or -1 with err.
 */
int scim_changes_query(scim_store_t *st, const char *tenant,
                       const scim_change_query_t *q, json_t **out,
                       scim_buf_t *next, scim_err_t *err);

/* 1 if the tenant has at least one change record for resource id. */
int scim_changes_resource_known(scim_store_t *st, const char *tenant,
                                const char *id);

/* The change record at seq (new reference in *out); 404 when there is none
 * or it belongs to another tenant. */
int scim_changes_get(scim_store_t *st, const char *tenant, uint64_t seq,
                     json_t **out, scim_err_t *err);

/* Counts per bucket (bucket_hours 1 or 24) over [from_ms, to_ms) rounded
 * to whole hours, from the fold's counters. *out: new object (shape in
 * docs/reports-api.md). */
int scim_changes_summary(scim_store_t *st, const char *tenant, int64_t from_ms,
                         int64_t to_ms, int bucket_hours, json_t **out,
                         scim_err_t *err);

/*
 * The tenant's Users or Groups as they were at as_of_ms, filtered (NULL:
 * all) and paged like a live list (id order; startIndex 1-based): one walk
 * of the tenant's resource-history index (its values carry each record's
 * time and kind, so records are not read), then for each resource that
 * existed then, its last applied event's resource (users; meta counted from
 * the index) or its asOf rebuild (groups, with members). *total: all
 * matches. 410 before the tenant's retained history. 0 or -1 with err.
 * dl (NULL: no limit) bounds the work: every loop that grows with the
 * tenant's history checks it, and once it has passed the read stops and
 * answers -1 with 400 tooMany (scim_deadline_passed(dl) then says why);
 * nothing partial is returned.
 */
int scim_changes_list_as_of(scim_store_t *st, const char *tenant,
                            scim_rtype_t rt, int64_t as_of_ms,
                            const scim_filter_t *filter, size_t start_index,
                            size_t count, scim_deadline_t *dl, size_t *total,
                            json_t **out, scim_err_t *err);

/*
 * Change-record retention of a tenant (projector/retain.c). A tenant with
 * a retention (TENANT_UPDATE {"changeRetentionDays": N}) has its change
 * records, their indexes and its change stream records older than N days
 * pruned by TENANT_UPDATE {"prune": true} events (the server appends them
 * when due; the fold prunes at most SCIM_RETAIN_BUDGET records per event,
 * so it is deterministic and replays the same). What a pruned record did
 * to its resource is folded into a per-resource base, so asOf and history
 * still answer from through_ms on.
 */
#define SCIM_RETAIN_BUDGET 5000
#define SCIM_RETAIN_MAX_DAYS 36500
typedef struct scim_changes_horizon {
        int64_t retention_ms; /* 0: kept for ever */
        int64_t through_ms;   /* apply time of the newest pruned record
                                 (0: nothing pruned): history from here */
        uint64_t through_seq; /* its highest position */
        uint64_t pruned;      /* records pruned so far */
} scim_changes_horizon_t;

/* Fills *out (zeroes when the tenant has no retention). */
void scim_changes_horizon(scim_store_t *st, const char *tenant,
                          scim_changes_horizon_t *out);

/* The tenants whose oldest change record is older than their retention
 * at now_ms (new array of names): what a prune event is due for. */
json_t *scim_changes_prune_due(scim_store_t *st, int64_t now_ms);

/*
 * The resource as it was at as_of_ms, rebuilt from the log: the state after
 * the last applied event (log order) stamped at or before as_of_ms; groups
 * get their members by replaying membership deltas from creation (members
 * deleted by then are dropped). Stored form plus "members" for groups (new
 * reference). 404 when it did not exist then. dl: as for
 * scim_changes_list_as_of.
 */
int scim_changes_as_of(scim_store_t *st, const char *tenant, scim_rtype_t rt,
                       const char *id, int64_t as_of_ms, scim_deadline_t *dl,
                       json_t **out, scim_err_t *err);

/* Saved report definition by name (new reference), 404 when none. */
int scim_reports_saved_get(scim_store_t *st, const char *tenant,
                           const char *name, json_t **out, scim_err_t *err);
/* Every saved report of the tenant, by name (new array). */
int scim_reports_saved_list(scim_store_t *st, const char *tenant, json_t **out,
                            scim_err_t *err);
/* Saved reports a tenant may keep: the list is one answer, so this bounds
 * it (definitions are at most ~6 KB). */
#define SCIM_REPORTS_MAX_SAVED 200
/* 0 when tenant may save a report called name (it exists already, or
 * the tenant has fewer than SCIM_REPORTS_MAX_SAVED); otherwise -1 with
 * err 409 naming the limit. An admission check before the event is
 * written: saves in flight at once may pass it together. */
int scim_reports_saved_room(scim_store_t *st, const char *tenant,
                            const char *name, scim_err_t *err);

/* Token scopes (the token record's "scope"): full SCIM and reports
 * (none), "reports" (reports API only), "scim-read" (SCIM reads only),
 * "tenant-admin" (the tenant's definition and catalogs; full SCIM too);
 * DISABLED: a live token of a disabled tenant. */
enum {
        SCIM_SCOPE_ALL = 0,
        SCIM_SCOPE_REPORTS = 1,
        SCIM_SCOPE_READ = 2,
        SCIM_SCOPE_ADMIN = 3,
        SCIM_SCOPE_DISABLED = 4,
};

/* Like scim_store_auth, with the token's scope in *scope. A token past its
 * expiry (the old one of a rotation, after the overlap) is refused (0).
 * Results are cached for AUTH_CACHE_TTL_MS (1 s) and dropped at once by
 * every folded tenant/token event of this node. */
int scim_store_auth_scope(scim_store_t *st, const char *secret,
                          char *tenant_out, size_t tenant_len,
                          char *token_id_out, size_t token_id_len,
                          int *scope);

/* Scope of a live token: like scim_store_auth, and *reports_only set to 1
 * for a token issued with scope "reports"; a disabled tenant's tokens are
 * refused. */
int scim_store_auth_scoped(scim_store_t *st, const char *secret,
                           char *tenant_out, size_t tenant_len,
                           char *token_id_out, size_t token_id_len,
                           int *reports_only);
/* ------------------------------------------ Kafka log (issue 3) ------ */

/*
 * Kafka mode: the topic is the log; the store keeps a per-node copy of
 * each folded event's bytes in `log` under its position (for asOf,
 * history and the change stream; log/scim_log.h).
 * Each partition's next offset is stored in the default column family
 * (key "koff" \0 topic \0 partition as u32 BE -> next offset as u64 BE), in
 * the same WriteBatch as the view changes its events caused: after a crash
 * the views and the offsets go back together and nothing is folded twice
 * or skipped. The log position of an event (change record key, verdict
 * seq) is scim_kafka_seq(partition, offset), identical on every node.
 */
/* One message as consumed. data/key are borrowed for the call; event_id is
 * filled by scim_store_fold_logged ("" when the bytes do not decode). */
typedef struct scim_logged {
        const char *topic; /* NULL: the topic passed to fold_logged */
        int admin;         /* 1: read from the admin topic */
        int32_t partition;
        int64_t offset;
        const void *key;
        size_t key_len;
        const void *data;
        size_t len;
        char event_id[37];
} scim_logged_t;

static inline uint64_t scim_kafka_seq(int32_t partition, int64_t offset)
{
        return ((uint64_t)(uint32_t)partition << 48) |
               ((uint64_t)(offset + 1) & 0xffffffffffffULL);
}

/* Positions of admin-topic events carry this bit (partitions stay below
 * 1024, so data positions never reach it). */
#define SCIM_KAFKA_ADMIN_POS (1ULL << 62)

/* The position of a consumed message. */
static inline uint64_t scim_logged_seq(const scim_logged_t *m)
{
        return (m->admin ? SCIM_KAFKA_ADMIN_POS : 0) |
               scim_kafka_seq(m->partition, m->offset);
}

/* Events that administer tenants and their credentials: in Kafka mode
 * they travel on the admin topic only, and the fold refuses them from
 * the data topic (anyone who may write data must not mint tokens).
 * Tenant definitions (SCHEMA_PUT/DELETE) are not among them: they travel
 * with the tenant's data, keyed by the tenant, so every node checks each
 * write against the same definition (docs/tenant-schemas.md). */
static inline int scim_event_is_admin(const scim_event_t *ev)
{
        switch (ev->action) {
        case SCIM_ACT_TENANT_CREATE:
        case SCIM_ACT_TOKEN_ISSUE:
        case SCIM_ACT_TOKEN_REVOKE:
        case SCIM_ACT_TENANT_UPDATE:
        case SCIM_ACT_TENANT_DISABLE:
        case SCIM_ACT_TENANT_ENABLE:
        case SCIM_ACT_TENANT_DELETE:
        case SCIM_ACT_TOKEN_ROTATE:
        case SCIM_ACT_CLIENT_REGISTER:
        case SCIM_ACT_CLIENT_REVOKE:
        case SCIM_ACT_KEY_ROTATE:
                return 1;
        default:
                return 0;
        }
}

/*
 * Folds n messages already durable in the topic, in the given order (the
 * caller keeps each partition's order). Each is decoded and validated like
 * any event; in addition the message key must equal the event's tenant, an
 * event_id folded before is refused as a duplicate (409), an admin event
 * (scim_event_is_admin) from the data topic is refused (403) and so is any
 * other event from the admin topic (400). View changes,
 * change records and the next offset of every partition touched go in ONE
 * WriteBatch (not fsynced: Kafka is the durable log). verdicts[i] filled
 * for every message (the caller clears them). Returns 0, or -1 with err
 * (503) when the write failed; then nothing of the batch was written.
 * Runs on the projector thread (the single writer).
 */
int scim_store_fold_logged(scim_store_t *st, const char *topic,
                           scim_logged_t *msgs, size_t n,
                           scim_verdict_t *verdicts, scim_err_t *err);

/* Next offset to consume for (topic, partition): returns 1 and sets *next
 * when stored, 0 when this store never folded that partition. */
int scim_store_kafka_offset(scim_store_t *st, const char *topic,
                            int32_t partition, int64_t *next);

/* Reads the event bytes this store folded (column family `log`: the
 * embedded log itself, or Kafka mode's per-node copy) with positions >
 * after, in position order; fn as for scim_log_read (log/scim_log.h, which
 * is the public face of this). Returns the number read or -1 with err. */
long scim_store_log_scan(scim_store_t *st, uint64_t after, size_t max,
                         int (*fn)(void *ctx, uint64_t pos, const void *data,
                                   size_t len),
                         void *ctx, scim_err_t *err);

/* ------------------------------------------ change stream (stream.c) */
/*
 * Change stream records (column family `stream`, key tenant \0 position
 * u64 BE), written by the fold for every resource event, applied or
 * refused; shape in README "Change stream".
 */

/* Calls fn(ctx, position, json, len) for the tenant's records with
 * positions > after, in position (= apply) order, until fn returns
 * nonzero, max_records were read, or max_bytes of records were read (at
 * least one record is read when there is one). json is borrowed for the
 * call. Returns the number read, or -1 with err. Any thread. */
long scim_store_stream_read(scim_store_t *st, const char *tenant,
                            uint64_t after, size_t max_records,
                            size_t max_bytes,
                            int (*fn)(void *ctx, uint64_t pos,
                                      const char *json, size_t len),
                            void *ctx, scim_err_t *err);

/* Adds a function called (on the writer thread, must not block) after
 * every durable fold batch; at most 4 per store (-1 beyond). unwatch
 * removes it and returns only once no call of it is in flight. */
int scim_store_watch(scim_store_t *st, void (*fn)(void *ctx), void *ctx);
void scim_store_unwatch(scim_store_t *st, void (*fn)(void *ctx), void *ctx);

#endif /* SCIM_PROJECTOR_H */
