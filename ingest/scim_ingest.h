/*
 * scim_ingest.h — the write side: a SCIM write (POST, PUT, PATCH, DELETE)
 * becomes one event, appended to the log; the caller hears the verdict of the
 * fold.
 *
 * Parts:
 *  - the PATCH engine (pure functions over stored-form JSON);
 *  - the request parser (UTF-8, size and depth ceilings);
 *  - the ingest pipeline: pre-validate against the current view, build and
 *    encode the event, hand it to the committer thread, which group-commits
 *    batches of events into the log (log/scim_log.h: embedded or Kafka)
 *    and calls each request's callback with its verdict.
 *
 * Threads: scim_ingest_submit runs on an http pool thread and never blocks
 * on the disk; callbacks run on the committer thread.
 */
#ifndef SCIM_INGEST_H
#define SCIM_INGEST_H

#include <jansson.h>
#include <stddef.h>

#include "common/scim_common.h"
#include "log/scim_log.h"
#include "projector/scim_projector.h"
#include "schemas/scim_schemas.h"

/* ----------------------------------------------------------- parsing */

/*
 * Parses a request body as JSON: invalid UTF-8, nesting deeper than
 * SCIM_MAX_JSON_DEPTH, or bad JSON -> 400 invalidSyntax with the line and
 * column in detail. *out new reference owned by the caller.
 */
int scim_json_parse(const char *body, size_t len, json_t **out,
                    scim_err_t *err);

/* ------------------------------------------------------- PATCH engine */

/*
 * Applies a PatchOp body ({"schemas":[PatchOp URN],"Operations":[...]}) to
 * a user in stored form (id/meta/schemas are ignored) and returns the new
 * state in *out (new reference; caller normalises it again with
 * scim_resource_normalize). Handles every form in SCIM_CLIENTS.md:
 * case-insensitive op, "True"/"False" strings, path-less ops with dotted and
 * URN keys (path-less add = replace for single-valued attributes),
 * value-filter paths that upsert a typed element when nothing matches,
 * extension URN paths, manager in all three shapes, "" / null = remove.
 * More than SCIM_MAX_PATCH_OPS ops -> 400 tooMany; bad op -> 400
 * invalidSyntax; bad path -> 400 invalidPath; removing a required attribute
 * or a read-only one -> 400 mutability / invalidValue.
 */
int scim_patch_user(const json_t *current, const json_t *patch, json_t **out,
                    scim_err_t *err);

/* The same for a resource of a tenant's own type rt (storage code): its
 * attributes are the ones scim_patch_set_core names; any other path is
 * 400 invalidPath. */
int scim_patch_resource(scim_rtype_t rt, const json_t *current,
                        const json_t *patch, json_t **out, scim_err_t *err);
/* The core attributes of the tenant type the PATCHes this thread runs
 * next apply to ([{"name", "multi"}], borrowed; NULL none). Set before,
 * cleared after. */
void scim_patch_set_core(const json_t *attrs);

/* The tenant's extensions (scim_model_ext_urns: URN -> its multi-valued
 * attributes' names; borrowed; NULL for the built-in ones only) for the
 * PATCHes this thread runs next: a path that is exactly one of the URNs
 * acts on the whole extension block (add/replace merge its attributes,
 * remove drops it), and `add` to a multi-valued one appends the values
 * not already there. Set before, cleared after. */
void scim_patch_set_extensions(const json_t *urns);

/*
 * Applies a PatchOp body to a group. *attrs_out: the new non-member
 * attributes (stored form without id/meta/members; new reference), or NULL
 * when no non-member attribute changed. Membership changes come back as a
 * delta, in the order the fold applies them: *replace (drop all current
 * members first), then *removed (new array of id strings), then *added (new
 * array of {"value", "display"?}). Member ids are not checked here (ingest
 * checks them against the view; the fold re-checks). Accepts add/remove
 * with value arrays, members[value eq "id"] paths, remove without value
 * (= remove all), replace of the whole list, and path-less ops carrying
 * "members" and/or displayName/externalId.
 */
int scim_patch_group(const json_t *current_attrs, const json_t *patch,
                     json_t **attrs_out, int *replace, json_t **removed,
                     json_t **added, scim_err_t *err);

/* ----------------------------------------------------------- pipeline */

typedef struct scim_ingest scim_ingest_t;

/* Starts the committer thread over st. Returns 0 or -1 with errstr. */
int scim_ingest_new(scim_store_t *st, scim_ingest_t **out, char *errstr,
                    size_t errlen);
/* Drains queued writes (each still gets its callback), stops the thread,
 * frees. NULL-safe. */
void scim_ingest_destroy(scim_ingest_t *ing);

typedef struct scim_write {
        const char *tenant;
        const char *actor;      /* token id */
        const char *request_id;
        scim_rtype_t rtype;
        scim_action_t action;   /* CREATE, REPLACE, PATCH or DELETE */
        const char *id;         /* NULL for CREATE */
        const char *body;       /* raw request body (NULL for DELETE) */
        size_t body_len;
        const char *if_match;   /* If-Match header value or NULL */
        int want_text;          /* 1: the result carries text (below) */
        int may_wait;           /* 1: the calling thread serves nobody
                                   else, so a write finding the committer
                                   idle may be committed on it (0: always
                                   queued; the thread never waits) */
} scim_write_t;

typedef struct scim_write_result {
        int status;        /* 201/200/204, or the error status */
        scim_err_t err;    /* filled when status >= 400 */
        json_t *resource;  /* stored form after the change (201/200), or
                              NULL; ownership passes to the receiver */
        scim_buf_t text;   /* when the write asked (want_text) and the
                              embedded fold applied it: resource as the
                              bytes stored (data NULL otherwise); owned
                              by the receiver */
} scim_write_result_t;

/* Called exactly once per queued write, on the committer thread. The
 * callee owns res->resource and res->text. Must not block. */
typedef void (*scim_write_cb)(void *ctx, scim_write_result_t *res);

/*
 * Submits a write. Returns 0 when the answer is known at once (bad input,
 * unknown id, unique key taken, ...; filled in *now, cb never called), or 1
 * when queued (cb called later with the fold's verdict, after the event is
 * durable). Never blocks on I/O.
 */
int scim_ingest_submit(scim_ingest_t *ing, const scim_write_t *w,
                       scim_write_cb cb, void *ctx, scim_write_result_t *now);

/*
 * Admin events (tenant create, token issue/revoke), synchronous: appends
 * the event, waits for the fold, returns 0 on success or -1 with err.
 * For TOKEN_ISSUE, *secret_out receives a new random secret (64 hex chars =
 * 256 bits, malloc'd, caller frees) and token_id_out its id.
 */
int scim_ingest_admin(scim_ingest_t *ing, scim_action_t action,
                      const char *tenant, const char *token_id,
                      char **secret_out, char *token_id_out,
                      size_t token_id_len, scim_err_t *err);

/* Same, with a token scope for TOKEN_ISSUE: NULL = SCIM and reports,
 * "reports" = the reports API only (schema v2 token_scope). */
int scim_ingest_admin_scoped(scim_ingest_t *ing, scim_action_t action,
                             const char *tenant, const char *token_id,
                             const char *scope, char **secret_out,
                             char *token_id_out, size_t token_id_len,
                             scim_err_t *err);

/*
 * Saved report definitions (reports API): appends a REPORT_SAVE (definition
 * = JSON object text) or REPORT_DELETE (definition NULL) event for report
 * `name` and waits for the fold (blocks the calling thread for one group
 * commit; these are rare admin writes). *status gets the verdict (201/200
 * saved, 204 deleted, or the refusal). Returns 0 or -1 with err.
 */
int scim_ingest_report_def(scim_ingest_t *ing, scim_action_t action,
                           const char *tenant, const char *actor,
                           const char *request_id, const char *name,
                           const char *definition, int *status,
                           scim_err_t *err);

/* The same without blocking, for the HTTP pool: returns 0 with the answer
 * in *now (bad input, queue full, stopping; cb never called) or 1 when
 * queued (cb called once on the committer thread with the fold's verdict,
 * like scim_ingest_submit). */
int scim_ingest_report_def_submit(scim_ingest_t *ing, scim_action_t action,
                                  const char *tenant, const char *actor,
                                  const char *request_id, const char *name,
                                  const char *definition, scim_write_cb cb,
                                  void *ctx, scim_write_result_t *now);

/* Refusal events not logged because the queue was half full (a flood of
 * bad requests); each was still answered to its client. */
uint64_t scim_ingest_refusals_dropped(scim_ingest_t *ing);

/* Counters for /metrics-like reporting and benchmarks. */
typedef struct scim_ingest_stats {
        uint64_t events;
        uint64_t batches;
        uint64_t queue_depth;   /* writes waiting for the committer now */
        uint64_t commit_ns;     /* time in the log's append (embedded: the
                                   synced WriteBatch with the fold) */
        uint64_t batch_le[10];  /* batches of <= 1,2,4,...,512 events */
        uint64_t share_refused; /* writes answered 429: their tenant had
                                   1,024 writes or 32 MiB queued */
} scim_ingest_stats_t;
void scim_ingest_stats(scim_ingest_t *ing, scim_ingest_stats_t *out);

/* ----------------------------------------------------------- the log */

/*
 * Makes ing append to log (log/scim_log.h; e.g. the Kafka backend) instead
 * of the embedded log it opened itself; NULL goes back to that one. Call
 * before the first submit; log must outlive ing. In Kafka mode a request's
 * callback runs once THIS node has folded its event (read-your-writes);
 * producer queue full -> 429; not written or no verdict within the bound
 * -> 503 (both retriable, with Retry-After).
 */
void scim_ingest_use_log(scim_ingest_t *ing, scim_log_t *log);

/*
 * Puts a tenant definition (docs/tenant-schemas.md; SCHEMA_PUT with the
 * JSON text in admin_json) or, with definition NULL, deletes it
 * (SCHEMA_DELETE: the built-in model again). expect_generation: -1 any,
 * else the generation the caller read (412 when another change came
 * first). Blocks until the fold's verdict: 0 with *status 201/200/204, or
 * -1 with err (the fold's refusal: 400 naming the place in the document,
 * 404 no such tenant, 412). Admin calls only (rare).
 */
int scim_ingest_schema(scim_ingest_t *ing, const char *tenant,
                       const char *actor, const char *request_id,
                       const char *definition, int64_t expect_generation,
                       int *status, scim_err_t *err);

/*
 * TENANT_UPDATE: tenant settings as JSON text ({"changeRetentionDays": N}
 * sets the change-record retention, {"prune": true} prunes what is due;
 * projector/retain.c). Blocks until the fold's verdict: 0 with *status
 * 200, or -1 with err (404 no such tenant, 400 naming the setting).
 */
int scim_ingest_tenant_update(scim_ingest_t *ing, const char *tenant,
                              const char *actor, const char *settings,
                              int *status, scim_err_t *err);

/*
 * TENANT_DISABLE / TENANT_ENABLE (tenant's tokens refused / accepted
 * again; data kept) or TOKEN_ROTATE (a new token with old_token_id's
 * scope; the old one stays valid for overlap_ms, then expires by itself:
 * *secret_out / token_id_out get the new one); CLIENT_REGISTER (an OAuth
 * client: old_token_id is its scope or NULL; *secret_out / token_id_out
 * get its secret and id), CLIENT_REVOKE (old_token_id: the client id),
 * KEY_ROTATE (a new signing key id in token_id_out; the previous one
 * verifies for overlap_ms more). Blocks until the fold's verdict: 0, or
 * -1 with err (404 unknown tenant, token or client). Admin calls.
 */
int scim_ingest_lifecycle(scim_ingest_t *ing, scim_action_t action,
                          const char *tenant, const char *actor,
                          const char *old_token_id, int64_t overlap_ms,
                          char **secret_out, char *token_id_out,
                          size_t token_id_len, scim_err_t *err);

/*
 * Logs a refusal that is no SCIM write (a refused authentication, a
 * refused admin call) as a REFUSED event of tenant, attempted naming what
 * was asked ("ACCESS", "TOKEN_REVOKE", ...), so reports show it. Same
 * rules as a refused write: asynchronous, never for 429/5xx or retriable
 * answers, dropped once the queue is half full. Any thread; copies all.
 */
void scim_ingest_refusal(scim_ingest_t *ing, const char *tenant,
                         const char *actor, const char *request_id,
                         const char *attempted, const scim_err_t *answer);

/*
 * The caller of the admin calls this thread makes until cleared (NULL):
 * its actor and request id are stamped on the admin events
 * (scim_ingest_admin*, _schema and _lifecycle without an actor), and
 * appended counts the events that reached the log (so a refusal that was
 * no event can be recorded with scim_ingest_refusal, and one the fold
 * recorded is not recorded twice). The admin API sets it around one
 * call; the strings must outlive it. Thread-local.
 */
typedef struct scim_ingest_caller {
        const char *actor;
        const char *request_id;
        int appended;
} scim_ingest_caller_t;

void scim_ingest_caller(scim_ingest_caller_t *caller);

/* 1 when the log is a Kafka topic (0: the embedded log). */
int scim_ingest_is_kafka(scim_ingest_t *ing);

/* 1 if an If-Match header value (one tag, a comma list of tags, W/ or
 * not, or "*") names version n. */
int scim_etag_matches(const char *if_match, int64_t version);

#endif /* SCIM_INGEST_H */
