/*
 * changes_internal.h — the fold's hooks into changes.c (change records,
 * their indexes and counters, saved report definitions). Not part of the
 * public face. Every function here runs on the single writer thread
 * (ingest committer or replay) inside a fold transaction.
 */
#ifndef SCIM_CHANGES_INTERNAL_H
#define SCIM_CHANGES_INTERNAL_H

#include "projector/projector_internal.h"

/* What the record needs from the state BEFORE the event is folded. */
typedef struct changes_pre {
        json_t *old;                /* stored resource, or NULL (owned) */
        char *old_text;             /* its stored text (owned; the change
                                       stream's "before" is these bytes) */
        size_t old_len;
        json_t *old_members;        /* groups with members_replace, and a
                                       group's DELETE: object member id ->
                                       true (owned) */
        unsigned char *added_was;   /* per ev->added: already a member */
        unsigned char *removed_was; /* per ev->removed: was a member */
        json_t *holders;            /* DELETE: ids of the groups that held
                                       the resource (owned) */
        json_t *cur;                /* set by the fold in replay, where the
                                       verdict carries no tree: the applied
                                       resource's attributes (owned), what
                                       the record and stream read of the
                                       stored form (its id, schemas, meta
                                       and members are never read) */
} changes_pre_t;

/* Fills *pre from the txn view for a resource event (zeroed otherwise).
 * Release with changes_pre_free. */
void changes_pre_load(txn_t *t, const scim_event_t *ev, changes_pre_t *pre);
void changes_pre_free(changes_pre_t *pre);

/*
 * Writes the change record of the event at seq (ev NULL: undecodable) into
 * the `change` column family and its index keys and hourly counter into
 * `chidx`. v is the fold's verdict (v->resource = the state after an
 * applied create/replace/patch). Deterministic: reads only ev, v, pre.
 */
void changes_record(txn_t *t, uint64_t seq, const scim_event_t *ev,
                    const scim_verdict_t *v, const changes_pre_t *pre);

/* The change record's JSON text (appended to *b, which starts empty):
 * *action_out is its action, *itime_out its apply time (0 without a
 * tenant; reading and advancing the tenant's apply time is the one effect
 * on t). 0, or -1 when the text cannot be written (then not stored).
 * Exposed for the unit test, which compares it with a jansson dump. */
int changes_record_text(scim_buf_t *b, txn_t *t, uint64_t seq,
                        const scim_event_t *ev, const scim_verdict_t *v,
                        const changes_pre_t *pre, const char **action_out,
                        int64_t *itime_out);
/* Member ids really added / removed by an applied group event (appended
 * to the arrays added and removed as strings). */
void changes_member_delta(const scim_event_t *ev, const changes_pre_t *pre,
                          json_t *added, json_t *removed);

/* Counters (counters.c). Adds 1 to the tenant's hourly counter of
 * (action, verdict) for an event stamped time_ms. */
void changes_count_hour(txn_t *t, const char *tenant, int64_t time_ms,
                        const char *action, int applied);
/* The time the event at seq is indexed at: ev_ms, or the tenant's latest
 * index time in seq's partition when that is later; advances it. */
int64_t changes_apply_time(txn_t *t, const char *tenant, uint64_t seq,
                           int64_t ev_ms);
/* TENANT_DELETE: drops the tenant's apply-time rows (the default family,
 * outside the tenant-keyed families erase empties). */
void changes_counters_drop(txn_t *t, const char *tenant);

/* Folds REPORT_SAVE / REPORT_DELETE into `chidx` and fills *v. */
void changes_fold_report(txn_t *t, const scim_event_t *ev, scim_verdict_t *v);

/* Attribute-level diff of two stored resources (either may be NULL): new
 * array of {"path","old","new"} sorted by path; id, meta, schemas and
 * members are left out. Exposed for the unit test. */
json_t *changes_diff(const json_t *old, const json_t *cur);

/* Appends s (n bytes) as a JSON string literal: scim_json_dump_string's
 * bytes, printable ASCII copied without its UTF-8 check. 0 or -1 (not
 * UTF-8). */
int changes_json_str(scim_buf_t *b, const char *s, size_t n);
/* Appends the member name k of a record being written ("{" first): `"k":`,
 * after a comma unless it is the first member. */
void changes_json_key(scim_buf_t *b, const char *k);
/* n in decimal as "%" JSON_INTEGER_FORMAT writes it; returns its length. */
size_t changes_int_text(char out[24], json_int_t n);
/* scim_time_format, remembering the last time formatted by this thread. */
void changes_time_text(int64_t ms, char out[32]);
/* Appends a string member `"k":"s"`: NULL (and "" unless keep_empty, as
 * json_string keeps it) is null; s that is not UTF-8 leaves no member, as
 * jansson's dump of the object left it out. */
void changes_json_str_member(scim_buf_t *b, const char *k, const char *s,
                             int keep_empty);

/* Action name of an applied resource event given its diff (create, update,
 * disable, enable, delete, member_add, member_remove). */
const char *changes_classify(const scim_event_t *ev, const json_t *old,
                             const json_t *cur, size_t n_attr_changes,
                             size_t n_added, size_t n_removed);

/* Key helpers (exposed for the unit test): signed ms as order-preserving
 * big-endian bytes. */
void changes_put_time(unsigned char out[8], int64_t ms);
int64_t changes_get_time(const unsigned char in[8]);

/* 1 if a modified path matches an `attribute` filter (equal, or below it
 * after '.', '[' or ':'; case-insensitive). */
int changes_path_matches(const char *path, const char *attribute);

/* The value of a resource-history key (chidx `tenant \0 R id \0 seq`): the
 * event's time (changes_put_time) and what the record is to the resource:
 * an applied create/replace/patch of a User or Group, an applied delete,
 * a deleted member leaving this group, or anything else (refused). */
#define CHANGES_RVAL_LEN 9
#define CHANGES_R_USER 'U'
#define CHANGES_R_GROUP 'G'
#define CHANGES_R_DELETE 'D'
#define CHANGES_R_EFFECT 'M'
#define CHANGES_R_REFUSED 'R'

/* What asOf rebuilds of one resource, and what retention keeps of its
 * pruned records (chidx `tenant \0 B id` -> hstate_dump). */
typedef struct hstate {
        int exists;
        int64_t version, created_ms, last_ms, deleted_ms;
        scim_rtype_t rtype;
        json_t *attrs;   /* stored form, or NULL */
        json_t *members; /* groups: member id -> {"display"} */
} hstate_t;

void hstate_init(hstate_t *h);
void hstate_free(hstate_t *h);
/* Applies one applied event of the resource. */
void hstate_apply(hstate_t *h, const scim_event_t *ev);
/* A deleted member left the group at ms: its version went up. */
void hstate_bump(hstate_t *h, int64_t ms);
json_t *hstate_dump(const hstate_t *h);
int hstate_load(hstate_t *h, const json_t *o);
/* Starts a chidx key: tenant \0 kind. */
void changes_key_start(scim_buf_t *b, const char *tenant, char kind);
#define HOUR_MS 3600000LL /* the hourly counters' unit */

/* Key parts: v big-endian; a time in changes_put_time's order. */
void changes_key_be(scim_buf_t *b, uint64_t v);
void changes_key_time(scim_buf_t *b, int64_t ms);
/* a / b rounded toward minus infinity (hours before the epoch). */
int64_t changes_floor_div(int64_t a, int64_t b);
/* The attributes neither the diff nor the stored text's attribute walk
 * covers: schemas, id, meta, members (their own handling). */
int changes_attr_skipped(const char *k);
/* 1 if resource id (idl bytes) has a record in the tenant's
 * resource-history index (committed state). */
int changes_has_history(scim_store_t *st, const char *tenant, const char *id,
                        size_t idl);
void changes_base_key(scim_buf_t *b, const char *tenant, const char *id);
/* Decodes (and unseals) a log record; -1 when undecodable or erased. */
int changes_event_decode(scim_store_t *st, const char *v, size_t vl,
                         scim_event_t *ev);

/* Change stream record text (stream_text.c). The span of the record's
 * top-level member "after" (an object: the resource as the fold stored
 * it) into *a, *al; 0 when it has none (a tombstone, a refusal) or rec is
 * not such a record. */
int changes_stream_after(const char *rec, size_t n, const char **a,
                         size_t *al);
/* Where the text from the first `,"after":{` of a record on starts (no
 * parse), or NULL: a superset of the "after" of a user's or a tenant
 * type's record, so a literal it lacks is not in the "after" either. */
const char *changes_stream_tail(const char *rec, size_t n);

/* Retention (retain.c): sets the tenant's retention (0 = for ever). */
void changes_retention_set(txn_t *t, const char *tenant, int64_t retention_ms);
/* Prunes up to budget of the tenant's records applied before now_ms minus
 * its retention; returns how many. */
size_t changes_prune(txn_t *t, const char *tenant, int64_t now_ms,
                     size_t budget);
/* For each tenant with change records: fn(ctx, tenant, apply time and
 * position of its oldest record). Any thread (committed state). */
void changes_each_oldest(scim_store_t *st,
                         void (*fn)(void *ctx, const char *tenant,
                                    int64_t itime, uint64_t seq),
                         void *ctx);

#endif
