/*
 * ingest.c — the write pipeline: SCIM write -> pre-validated event -> group
 * commit into the embedded log -> verdict to the caller.
 *
 * Threads:
 *  - scim_ingest_submit runs on an http pool thread: it parses the body,
 *    reads the current view (never the disk-bound write path), applies
 *    PATCH, stamps preconditions and encodes the event, then queues it.
 *  - one committer thread takes everything queued (up to BATCH_MAX events),
 *    hands it to scim_store_append_fold (one synced WriteBatch: the group
 *    commit), and calls each request's callback with its verdict.
 * Lock: ing->mu guards the queue and the stats; nothing else is shared.
 *
 * Trade-off: pre-validation reads committed state, so two racing writes
 * can both pass it; the fold re-checks every precondition in log order and
 * is the authority. A write that loses a version race without having sent
 * If-Match is prepared again against the new state (bounded retries) rather
 * than refused, because Entra sends concurrent PATCHes without ETags.
 * Kafka mode, a write that this node's views would refuse (its target
 * missing, a member or reference unknown, a userName taken) is not refused
 * from them, since they may lag behind the topic: a probe event asks the
 * fold (`lagging` in prepare, log_done).
 */
#include "ingest/scim_ingest.h"
#include "ingest/share_internal.h"
#include "log/scim_log.h"
#include "model/scim_model.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH_MAX 512
#define QUEUE_MAX 20000
/* A write without If-Match that lost a version race is prepared again.
 * Embedded, retries go first in their own order, so each round the oldest
 * racing write on a resource wins and a write needs at most as many rounds
 * as writes of its tenant are in flight — which the tenant's share caps
 * (share_internal.h). So the bound below is never what answers 412: a
 * write without If-Match is applied, never refused for another writer. */
#define RETRY_MAX (SCIM_SHARE_WRITES_MAX + 1)
/* Refusal events are dropped (and counted) once the queue holds this many
 * entries, so a flood of bad requests never crowds out real writes. */
#define REFUSAL_QUEUE_MAX (QUEUE_MAX / 2)

/* A copy of the request, kept so a lost version race can be re-prepared. */
typedef struct req_copy {
        char *tenant, *actor, *request_id, *id, *body, *if_match;
        size_t body_len;
        scim_rtype_t rtype;
        scim_action_t action;
        int want_text;
} req_copy_t;

typedef struct pending {
        struct pending *next;
        scim_event_t ev;
        scim_buf_t enc;
        req_copy_t req; /* empty for admin events */
        int retries;
        int probed;         /* Kafka: a probe's verdict came back; the next
                               refusal from the views is final */
        size_t share_bytes; /* counted in ing->share while > 0 */
        scim_write_cb cb;
        void *ctx;
        struct scim_ingest *ing; /* for 412 retries in log_done */
} pending_t;

struct scim_ingest {
        scim_store_t *st;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        pending_t *head, *tail;
        pending_t *retry_tail; /* last retry at the head of the queue:
                                  retries go first, in their own order */
        size_t qlen;
        int stopping;
        int busy; /* under mu: a batch is being committed (by the committer
                     thread, or inline by a request's own thread) */
        pthread_t thr;
        scim_ingest_stats_t stats;
        uint64_t refusals_dropped; /* under mu */
        scim_share_t *share;       /* per-tenant queue share, under mu */
        scim_log_t *log;     /* where events go (log/scim_log.h) */
        scim_log_t *own_log; /* the embedded log opened by _new */
};

static void log_refusal(scim_ingest_t *ing, const scim_write_t *w,
                        const scim_err_t *answer);

/* Who asks for the admin calls made on this thread (scim_ingest_caller):
 * set by an http pool thread around one admin API call, NULL otherwise
 * (the CLI and the control socket: actor "cli", a generated request id). */
static __thread scim_ingest_caller_t *tl_caller;

void scim_ingest_caller(scim_ingest_caller_t *caller)
{
        tl_caller = caller;
}

/* The request id of an admin event: the caller's, else a new uuid
 * (malloc'd; NULL when out of memory). */
static char *admin_request_id(void)
{
        char *r;

        if (tl_caller && tl_caller->request_id && *tl_caller->request_id)
                return strdup(tl_caller->request_id);
        if ((r = malloc(37)))
                scim_uuid4(r);
        return r;
}

/* ----------------------------------------------------------- helpers */

static char *dup_or_null(const char *s)
{
        return s ? strdup(s) : NULL;
}

static void req_copy_free(req_copy_t *r)
{
        free(r->tenant);
        free(r->actor);
        free(r->request_id);
        free(r->id);
        free(r->body);
        free(r->if_match);
        memset(r, 0, sizeof(*r));
}

static int req_copy_make(req_copy_t *r, const scim_write_t *w)
{
        memset(r, 0, sizeof(*r));
        r->tenant = dup_or_null(w->tenant);
        r->actor = dup_or_null(w->actor ? w->actor : "");
        r->request_id = dup_or_null(w->request_id ? w->request_id : "");
        r->id = dup_or_null(w->id);
        r->if_match = dup_or_null(w->if_match);
        r->rtype = w->rtype;
        r->action = w->action;
        r->want_text = w->want_text;
        if (w->body) {
                r->body = malloc(w->body_len + 1);
                if (r->body) {
                        memcpy(r->body, w->body, w->body_len);
                        r->body[w->body_len] = '\0';
                }
                r->body_len = w->body_len;
        }
        if (!r->tenant || !r->actor || !r->request_id || (w->id && !r->id) ||
            (w->if_match && !r->if_match) || (w->body && !r->body)) {
                req_copy_free(r);
                return -1;
        }
        return 0;
}

static void req_view(const req_copy_t *r, scim_write_t *w)
{
        memset(w, 0, sizeof(*w));
        w->tenant = r->tenant;
        w->actor = r->actor;
        w->request_id = r->request_id;
        w->rtype = r->rtype;
        w->action = r->action;
        w->id = r->id;
        w->body = r->body;
        w->body_len = r->body_len;
        w->if_match = r->if_match;
        w->want_text = r->want_text;
}

static void pending_free(pending_t *p)
{
        if (!p)
                return;
        scim_event_clear(&p->ev);
        scim_buf_free(&p->enc);
        req_copy_free(&p->req);
        free(p);
}

static const char *rtype_name(scim_rtype_t rt)
{
        const char *name = scim_rtype_name(rt);

        return name ? name : "resource";
}

/* ETag comparison: accepts W/"n", "n" and *. */
int scim_etag_matches(const char *if_match, int64_t version)
{
        char want[32];
        const char *p = if_match;

        while (*p == ' ')
                p++;
        if (strcmp(p, "*") == 0)
                return 1;
        snprintf(want, sizeof(want), "%lld", (long long)version);
        /* a list of tags may be given: match any */
        while (*p) {
                const char *q;
                size_t n;

                while (*p == ' ' || *p == ',')
                        p++;
                if (strncmp(p, "W/", 2) == 0)
                        p += 2;
                if (*p == '"')
                        p++;
                q = p;
                while (*q && *q != '"' && *q != ',')
                        q++;
                n = (size_t)(q - p);
                if (n == strlen(want) && memcmp(p, want, n) == 0)
                        return 1;
                p = q;
                if (*p == '"')
                        p++;
        }
        return 0;
}

/* Serialises a normalised resource for the event (compact, ordered). New
 * heap string owned by the caller, or NULL on allocation failure. */
static char *dump_resource(const json_t *res)
{
        return scim_json_dumps(res);
}

/* Strips what is never part of resource_json (id, meta, members). */
static void strip_server_fields(json_t *res)
{
        json_object_del(res, "id");
        json_object_del(res, "meta");
        json_object_del(res, "members");
}

/* Checks every member id names a user or group of the tenant. */
static int check_members(scim_store_t *st, const char *tenant,
                         const char *self_id, const json_t *added,
                         scim_err_t *err)
{
        size_t i;
        json_t *m;

        json_array_foreach(added, i, m)
        {
                const char *v = json_string_value(json_object_get(m, "value"));

                if (!v || !*v)
                        return scim_err_set(err, 400, "invalidValue",
                                            "member %zu has no value", i);
                if (self_id && strcmp(v, self_id) == 0)
                        return scim_err_set(err, 400, "invalidValue",
                                            "a group cannot be a member of "
                                            "itself");
                if (!scim_store_exists(st, tenant, SCIM_RT_USER, v) &&
                    !scim_store_exists(st, tenant, SCIM_RT_GROUP, v))
                        return scim_err_set(err, 400, "invalidValue",
                                            "member '%.128s' is not a user or "
                                            "group of this tenant",
                                            v);
        }
        return 0;
}

/* Copies a JSON array of {"value","display"?} into the event's members. */
static int fill_added(scim_event_t *ev, const json_t *added, scim_err_t *err)
{
        size_t i, n = json_array_size(added);
        json_t *m;

        if (n == 0)
                return 0;
        ev->added = calloc(n, sizeof(*ev->added));
        if (!ev->added)
                return scim_err_set_retry(err, 503, "out of memory");
        json_array_foreach(added, i, m)
        {
                const char *v = json_string_value(json_object_get(m, "value"));
                const char *d =
                    json_string_value(json_object_get(m, "display"));

                ev->added[i].value = strdup(v ? v : "");
                ev->added[i].display = d ? strdup(d) : NULL;
                ev->n_added = i + 1;
                if (!ev->added[i].value || (d && !ev->added[i].display))
                        return scim_err_set_retry(err, 503, "out of memory");
        }
        return 0;
}

static int fill_removed(scim_event_t *ev, const json_t *removed,
                        scim_err_t *err)
{
        size_t i, n = json_array_size(removed);
        json_t *m;

        if (n == 0)
                return 0;
        ev->removed = calloc(n, sizeof(*ev->removed));
        if (!ev->removed)
                return scim_err_set_retry(err, 503, "out of memory");
        json_array_foreach(removed, i, m)
        {
                const char *v = json_string_value(m);

                ev->removed[i] = strdup(v ? v : "");
                ev->n_removed = i + 1;
                if (!ev->removed[i])
                        return scim_err_set_retry(err, 503, "out of memory");
        }
        return 0;
}

/* Pre-check: the userName in norm must be free or held by self_id (NULL
 * for a create). The fold re-checks; this answers most conflicts at once. */
static int check_username(scim_store_t *st, const char *tenant,
                          const json_t *norm, const char *self_id,
                          scim_err_t *err)
{
        const char *un = json_string_value(json_object_get(norm, "userName"));
        char other[SCIM_MAX_ID_LEN + 1];

        if (un && scim_store_find_username(st, tenant, un, other,
                                           sizeof(other)) &&
            (!self_id || strcmp(other, self_id) != 0))
                return scim_err_set(err, 409, "uniqueness",
                                    "userName '%.200s' is already taken", un);
        return 0;
}

/* A user's new userName must be visible (scim_username_check), except
 * when it is the stored one unchanged: a user stored before the check
 * existed keeps its name through PUT and PATCH of other attributes (the
 * client may send the name back as it reads it), and only a new name must
 * pass. cur is the stored resource, NULL for a create. */
static int check_username_visible(const json_t *norm, const json_t *cur,
                                  scim_err_t *err)
{
        const char *un = json_string_value(json_object_get(norm, "userName"));
        const char *was =
            cur ? json_string_value(json_object_get(cur, "userName")) : NULL;

        if (!un || (was && strcmp(un, was) == 0))
                return 0;
        return scim_username_check(un, err);
}

/* Reads the current resource for PUT/PATCH/DELETE, checking If-Match. */
static int load_current(scim_store_t *st, const scim_write_t *w, json_t **cur,
                        int64_t *version, scim_err_t *err)
{
        scim_err_t e;

        scim_err_clear(&e);
        if (scim_store_get(st, w->tenant, w->rtype, w->id, cur, version,
                           &e) < 0) {
                if (e.status == 404 || e.status == 0)
                        return scim_err_set(err, 404, NULL,
                                            "%s %.128s not found",
                                            rtype_name(w->rtype), w->id);
                *err = e;
                return -1;
        }
        if (w->if_match && !scim_etag_matches(w->if_match, *version)) {
                json_decref(*cur);
                *cur = NULL;
                return scim_err_set(err, 412, NULL,
                                    "If-Match %.64s does not match the "
                                    "current version W/\"%lld\"",
                                    w->if_match, (long long)*version);
        }
        return 0;
}

/*
 * Encodes ev for the log. In embedded mode its resource JSON (personal
 * data) is sealed with the tenant's data key first (projector/erase.c), so
 * erasing the tenant later makes the log's copy unreadable; the event in
 * memory keeps the plain JSON for the fold. Kafka mode writes it as is
 * (the nodes share no key store: docs/erasure.md).
 */
static int encode_sealed(scim_ingest_t *ing, scim_event_t *ev,
                         scim_buf_t *out, scim_err_t *err)
{
        char *plain = ev->resource_json, *detail = ev->refused_detail;
        char **disp = NULL;
        int rc;

        if (ing->log && scim_log_is_kafka(ing->log))
                return scim_event_encode(ev, out, err);
        if (scim_store_seal(ing->st, ev, err) < 0)
                return -1;
        if (!ev->sealed_json)
                return scim_event_encode(ev, out, err);
        /* the log gets the sealed copy only; memory keeps the plain one
         * for this node's fold */
        if (ev->n_added && !(disp = calloc(ev->n_added, sizeof(*disp))))
                return scim_err_set_retry(err, 503, "out of memory");
        for (size_t i = 0; i < ev->n_added; i++) {
                disp[i] = ev->added[i].display;
                ev->added[i].display = NULL;
        }
        ev->resource_json = NULL;
        ev->refused_detail = NULL;
        rc = scim_event_encode(ev, out, err);
        ev->resource_json = plain;
        ev->refused_detail = detail;
        for (size_t i = 0; i < ev->n_added; i++)
                ev->added[i].display = disp[i];
        free(disp);
        return rc;
}

/*
 * Turns a write into an event in p->ev / p->enc. Runs on an http pool
 * thread (first attempt) or the committer thread (retries). Returns 0 when
 * the event is ready, -1 with *err when the write is answered at once.
 */
typedef struct ingest_ref {
        scim_store_t *st;
        const char *tenant;
} ingest_ref_t;

/* A reference value as the views stand (the fold checks it again). */
static int ingest_ref_exists(void *ctx, const scim_model_ref_t *ref,
                             const char *value)
{
        ingest_ref_t *r = ctx;

        return scim_store_ref_exists(r->st, r->tenant, ref, value);
}

/* Clears *ev and fills what every event of write w carries: a new event
 * id, tenant, actor, request id, resource type (a tenant's own type goes
 * on the wire as CUSTOM with its name from row), action and time, and no
 * precondition (-1). 0, or -1 when out of memory. */
static int event_head(scim_event_t *ev, const scim_write_t *w,
                      const scim_rtype_row_t *row)
{
        int tenant_type = scim_rtype_is_tenant(w->rtype);

        scim_event_clear(ev);
        scim_uuid4(ev->event_id);
        ev->tenant = strdup(w->tenant);
        ev->actor = strdup(w->actor ? w->actor : "");
        ev->request_id = strdup(w->request_id ? w->request_id : "");
        ev->rtype = tenant_type ? SCIM_RT_CUSTOM : w->rtype;
        ev->resource_type_name = tenant_type && row ? strdup(row->name) : NULL;
        ev->action = w->action;
        ev->time_ms = scim_now_ms();
        ev->expect_version = -1;
        return ev->tenant && ev->actor && ev->request_id &&
                       (!tenant_type || !row || ev->resource_type_name)
                   ? 0
                   : -1;
}

static int prepare(scim_ingest_t *ing, const scim_write_t *w, pending_t *p,
                   scim_err_t *err)
{
        scim_store_t *st = ing->st;
        scim_event_t *ev = &p->ev;
        json_t *body = NULL, *norm = NULL, *cur = NULL, *members = NULL;
        json_t *patched = NULL, *attrs = NULL, *removed = NULL, *added = NULL;
        int64_t version = 0;
        int rc = -1, replace = 0;
        scim_model_t *model = scim_store_model(st, w->tenant);
        json_t *exts = NULL, *core = NULL;
        json_t *dropped = json_array(); /* unknownAttributes: drop */
        const scim_rtype_row_t *row = scim_model_rtype(model, w->rtype);
        const char *rname = row ? row->name : rtype_name(w->rtype);
        int tenant_type = scim_rtype_is_tenant(w->rtype), head_rc;
        ingest_ref_t refctx = {st, w->tenant};

        scim_buf_free(&p->enc);
        head_rc = event_head(ev, w, row);
        if (tenant_type && !row) {
                scim_err_set(err, 404, NULL,
                             "no such resource type for this tenant");
                goto out;
        }
        if (head_rc < 0) {
                scim_err_set_retry(err, 503, "out of memory");
                goto out;
        }
        if (w->action != SCIM_ACT_CREATE &&
            (!w->id || !*w->id || strlen(w->id) > SCIM_MAX_ID_LEN)) {
                scim_err_set(err, 404, NULL, "%s %.128s not found", rname,
                             w->id ? w->id : "");
                goto out;
        }
        if (w->action == SCIM_ACT_CREATE || w->action == SCIM_ACT_REPLACE ||
            w->action == SCIM_ACT_PATCH) {
                if (!w->body || w->body_len == 0) {
                        scim_err_set(err, 400, "invalidSyntax",
                                     "request body is empty");
                        goto out;
                }
                if (scim_json_parse(w->body, w->body_len, &body, err) < 0)
                        goto out;
                if (w->action != SCIM_ACT_PATCH &&
                    scim_model_unflatten(model, w->rtype, body, err) < 0)
                        goto out;
        }
        if (!scim_model_enabled(model, w->rtype)) {
                scim_err_set(err, 404, NULL,
                             "%s is not enabled for this tenant", rname);
                goto out;
        }

        switch (w->action) {
        case SCIM_ACT_CREATE:
        case SCIM_ACT_REPLACE: {
                /* a create: a new id, nothing stored (cur NULL, version
                 * 0); a replace: the stored resource, whose own id its
                 * userName or member list may keep */
                char idbuf[37];
                const char *id = idbuf, *self = NULL;

                if (w->action == SCIM_ACT_CREATE) {
                        scim_uuid7(idbuf);
                } else {
                        if (load_current(st, w, &cur, &version, err) < 0)
                                goto lagging;
                        id = self = w->id;
                }
                if (scim_resource_normalize(
                        w->rtype, body, &norm,
                        w->rtype == SCIM_RT_GROUP ? &members : NULL, err) < 0)
                        goto out;
                if (w->rtype == SCIM_RT_USER &&
                    check_username_visible(norm, cur, err) < 0)
                        goto out;
                strip_server_fields(norm);
                if (scim_model_enforce(model, w->rtype, norm, cur,
                                       SCIM_ENFORCE_WRITE, dropped, err) < 0)
                        goto out;
                if (scim_model_check_refs(model, w->rtype, norm,
                                          ingest_ref_exists, &refctx, err) < 0)
                        goto lagging;
                ev->resource_id = strdup(id);
                ev->expect_version = version;
                if (w->rtype == SCIM_RT_USER) {
                        if (check_username(st, w->tenant, norm, self, err) < 0)
                                goto lagging;
                        break;
                }
                /* PUT replaces the whole member list */
                ev->members_replace = w->action == SCIM_ACT_REPLACE;
                if (members &&
                    check_members(st, w->tenant, self, members, err) < 0)
                        goto lagging;
                if (members && fill_added(ev, members, err) < 0)
                        goto out;
                break;
        }
        case SCIM_ACT_PATCH:
                if (load_current(st, w, &cur, &version, err) < 0)
                        goto lagging;
                ev->resource_id = strdup(w->id);
                strip_server_fields(cur);
                exts = scim_model_ext_urns(model, w->rtype);
                scim_patch_set_extensions(exts);
                if (w->rtype != SCIM_RT_GROUP) {
                        int prc;

                        core = scim_model_core_attrs(model, w->rtype);
                        scim_patch_set_core(tenant_type ? core : NULL);
                        prc = scim_patch_resource(w->rtype, cur, body,
                                                  &patched, err);
                        scim_patch_set_extensions(NULL);
                        scim_patch_set_core(NULL);
                        if (prc < 0)
                                goto out;
                        strip_server_fields(patched);
                        if (scim_resource_normalize(w->rtype, patched, &norm,
                                                    NULL, err) < 0 ||
                            (w->rtype == SCIM_RT_USER &&
                             check_username_visible(norm, cur, err) < 0) ||
                            scim_model_enforce(model, w->rtype, norm, cur,
                                               SCIM_ENFORCE_WRITE, dropped,
                                               err) < 0)
                                goto out;
                        if (scim_model_check_refs(model, w->rtype, norm,
                                                  ingest_ref_exists, &refctx,
                                                  err) < 0)
                                goto lagging;
                        ev->expect_version = version;
                        if (w->rtype == SCIM_RT_USER &&
                            check_username(st, w->tenant, norm, w->id, err) <
                                0)
                                goto lagging;
                } else {
                        int prc = scim_patch_group(cur, body, &attrs, &replace,
                                                   &removed, &added, err);

                        scim_patch_set_extensions(NULL);
                        if (prc < 0)
                                goto out;
                        if (attrs) {
                                strip_server_fields(attrs);
                                json_t *ignored = NULL;
                                int nrc = scim_resource_normalize(
                                    SCIM_RT_GROUP, attrs, &norm, &ignored,
                                    err);

                                json_decref(ignored);
                                if (nrc < 0 ||
                                    scim_model_enforce(model, SCIM_RT_GROUP,
                                                       norm, cur,
                                                       SCIM_ENFORCE_WRITE,
                                                       dropped, err) < 0)
                                        goto out;
                                ev->expect_version = version;
                        }
                        ev->members_replace = replace;
                        if (added &&
                            check_members(st, w->tenant, w->id, added, err) < 0)
                                goto lagging;
                        if (added && fill_added(ev, added, err) < 0)
                                goto out;
                        if (removed && fill_removed(ev, removed, err) < 0)
                                goto out;
                }
                break;
        case SCIM_ACT_DELETE:
                if (!scim_store_exists(st, w->tenant, w->rtype, w->id)) {
                        scim_err_set(err, 404, NULL, "%s %.128s not found",
                                     rname, w->id);
                        goto lagging;
                }
                if (w->if_match) {
                        if (load_current(st, w, &cur, &version, err) < 0)
                                goto out;
                        ev->expect_version = version;
                }
                ev->resource_id = strdup(w->id);
                break;
        default:
                scim_err_set(err, 500, NULL, "unsupported write action %d",
                             (int)w->action);
                goto out;
        }
        if (!ev->resource_id) {
                scim_err_set_retry(err, 503, "out of memory");
                goto out;
        }
        if (norm) {
                ev->resource_json = dump_resource(norm);
                if (!ev->resource_json) {
                        scim_err_set_retry(err, 503, "out of memory");
                        goto out;
                }
                if (scim_resource_limits(norm, strlen(ev->resource_json),
                                         err) < 0)
                        goto out;
                ev->resource_parsed = json_incref(norm);
        }
        if (json_array_size(dropped)) {
                /* reported: the change record lists what was dropped */
                json_t *o = json_pack("{s:O}", "droppedAttributes", dropped);

                ev->admin_json = o ? scim_json_dumps(o) : NULL;
                json_decref(o);
        }
        if (encode_sealed(ing, ev, &p->enc, err) < 0)
                goto out;
        rc = 0;
        goto out;
lagging:
        /* A write refused on what this node's views say: its target is
         * missing (404), or a member, a reference or the userName's owner
         * is not what the write needs. Kafka mode: the views may lag
         * behind the topic (another node took a write of this tenant
         * moments ago), so the views do not decide. The node
         * writes a probe of the target instead (the same event without
         * payload, expect_version SCIM_EXPECT_ABSENT; a create's probe
         * names a new id): the fold answers 404 if the target does not
         * exist at the probe's place in the log (the answer), else (and
         * always for a create's) 412, and log_done prepares the write
         * again, now that this node has folded everything before the
         * probe; that second preparation's refusal is final (probed).
         * Embedded, the views are the log: the refusal stands. */
        if (!scim_log_is_kafka(ing->log) || p->probed || err->retriable ||
            (w->action != SCIM_ACT_CREATE && !w->id))
                goto out;
        scim_err_clear(err);
        head_rc = event_head(ev, w, row); /* drops what was filled */
        if (w->action == SCIM_ACT_CREATE) {
                /* a create's probe names an id nobody has: the fold
                 * answers it 412 (never applied) */
                char pid[37];

                scim_uuid7(pid);
                ev->resource_id = strdup(pid);
        } else {
                ev->resource_id = strdup(w->id);
        }
        ev->expect_version = SCIM_EXPECT_ABSENT;
        if (head_rc < 0 || !ev->resource_id) {
                scim_err_set_retry(err, 503, "out of memory");
                goto out;
        }
        if (encode_sealed(ing, ev, &p->enc, err) < 0)
                goto out;
        rc = 0;
out:
        json_decref(dropped);
        json_decref(body);
        json_decref(norm);
        json_decref(cur);
        json_decref(members);
        json_decref(patched);
        json_decref(attrs);
        json_decref(removed);
        json_decref(added);
        scim_model_unref(model);
        json_decref(exts);
        json_decref(core);
        return rc;
}

/* -------------------------------------------------------- committer */

static void enqueue_locked(scim_ingest_t *ing, pending_t *p, int front)
{
        p->next = NULL;
        if (front && ing->retry_tail) { /* after the earlier retries */
                p->next = ing->retry_tail->next;
                ing->retry_tail->next = p;
                if (ing->tail == ing->retry_tail)
                        ing->tail = p;
                ing->retry_tail = p;
        } else if (front) {
                p->next = ing->head;
                ing->head = p;
                if (!ing->tail)
                        ing->tail = p;
                ing->retry_tail = p;
        } else {
                if (ing->tail)
                        ing->tail->next = p;
                else
                        ing->head = p;
                ing->tail = p;
        }
        ing->qlen++;
}

/* Delivers a verdict (committer thread); frees p. */
static void deliver(pending_t *p, scim_verdict_t *v, const scim_err_t *werr)
{
        scim_write_result_t res;

        memset(&res, 0, sizeof(res));
        if (werr) {
                res.status = werr->status;
                res.err = *werr;
        } else {
                res.status = v->status;
                if (v->status >= 400) {
                        res.err.status = v->status;
                        memcpy(res.err.scim_type, v->scim_type,
                               sizeof(res.err.scim_type));
                        memcpy(res.err.detail, v->detail,
                               sizeof(res.err.detail));
                } else {
                        res.resource = v->resource;
                        v->resource = NULL;
                        if (p->req.want_text && res.resource) {
                                res.text = v->text;
                                memset(&v->text, 0, sizeof(v->text));
                        }
                }
        }
        if (p->share_bytes) {
                pthread_mutex_lock(&p->ing->mu);
                scim_share_give(p->ing->share, p->req.tenant, p->share_bytes);
                pthread_mutex_unlock(&p->ing->mu);
        }
        if (p->cb) {
                p->cb(p->ctx, &res);
        } else {
                json_decref(res.resource);
                scim_buf_free(&res.text);
        }
        pending_free(p);
}

static void commit_log(scim_ingest_t *ing, pending_t **batch, size_t n);

static void *committer_main(void *arg)
{
        scim_ingest_t *ing = arg;
        pending_t *batch[BATCH_MAX];

        for (;;) {
                size_t n = 0;

                pthread_mutex_lock(&ing->mu);
                while ((!ing->head && !ing->stopping) || ing->busy)
                        pthread_cond_wait(&ing->cv, &ing->mu);
                if (!ing->head && ing->stopping) {
                        pthread_mutex_unlock(&ing->mu);
                        break;
                }
                while (ing->head && n < BATCH_MAX) {
                        pending_t *p = ing->head;

                        ing->head = p->next;
                        if (!ing->head)
                                ing->tail = NULL;
                        if (p == ing->retry_tail)
                                ing->retry_tail = NULL;
                        ing->qlen--;
                        batch[n++] = p;
                }
                ing->busy = 1;
                pthread_mutex_unlock(&ing->mu);
                commit_log(ing, batch, n);
                pthread_mutex_lock(&ing->mu);
                ing->busy = 0;
                pthread_mutex_unlock(&ing->mu);
        }
        return NULL;
}

/* ----------------------------------------------------------- public */

int scim_ingest_new(scim_store_t *st, scim_ingest_t **out, char *errstr,
                    size_t errlen)
{
        scim_ingest_t *ing = calloc(1, sizeof(*ing));

        *out = NULL;
        if (!ing) {
                snprintf(errstr, errlen, "out of memory");
                return -1;
        }
        ing->st = st;
        ing->share = scim_share_new();
        if (!ing->share) {
                free(ing);
                snprintf(errstr, errlen, "out of memory");
                return -1;
        }
        if (scim_log_open(st, NULL, &ing->own_log, errstr, errlen) < 0) {
                scim_share_free(ing->share);
                free(ing);
                return -1;
        }
        ing->log = ing->own_log;
        pthread_mutex_init(&ing->mu, NULL);
        pthread_cond_init(&ing->cv, NULL);
        if (pthread_create(&ing->thr, NULL, committer_main, ing) != 0) {
                snprintf(errstr, errlen, "cannot start committer thread");
                pthread_mutex_destroy(&ing->mu);
                pthread_cond_destroy(&ing->cv);
                scim_log_close(ing->own_log);
                scim_share_free(ing->share);
                free(ing);
                return -1;
        }
        /* named for ps/top and ops/bench's per-thread CPU (thr_us) */
        pthread_setname_np(ing->thr, "committer");
        *out = ing;
        return 0;
}

void scim_ingest_destroy(scim_ingest_t *ing)
{
        if (!ing)
                return;
        pthread_mutex_lock(&ing->mu);
        ing->stopping = 1;
        pthread_cond_signal(&ing->cv);
        pthread_mutex_unlock(&ing->mu);
        pthread_join(ing->thr, NULL);
        pthread_mutex_destroy(&ing->mu);
        pthread_cond_destroy(&ing->cv);
        scim_log_close(ing->own_log);
        scim_share_free(ing->share);
        free(ing);
}

/* Queues p unless the queue is full or stopping. Returns 0 or -1 + err. */
/* The admission checks of a write (stopping, queue bound, the tenant's
 * share). Needs ing->mu. 0, or -1 with err. */
static int admit_locked(scim_ingest_t *ing, pending_t *p, scim_err_t *err)
{
        if (ing->stopping)
                return scim_err_set_retry(err, 503, "server is shutting down");
        if (ing->qlen >= QUEUE_MAX)
                return scim_err_set_retry(err, 429,
                                          "too many writes in flight; retry "
                                          "shortly");
        if (p->req.tenant) { /* a SCIM write: the tenant's fair share */
                size_t bytes = p->enc.len + p->req.body_len + 1;
                int oom;

                if (scim_share_take(ing->share, p->req.tenant, bytes, &oom) <
                    0) {
                        if (oom)
                                return scim_err_set_retry(err, 503,
                                                          "out of memory");
                        return scim_err_set_retry(
                            err, 429,
                            "tenant '%.64s' has %d writes or %zu MiB "
                            "waiting for their commit; retry shortly",
                            p->req.tenant, SCIM_SHARE_WRITES_MAX,
                            SCIM_SHARE_BYTES_MAX >> 20);
                }
                p->share_bytes = bytes;
                p->ing = ing;
        }
        return 0;
}

static int enqueue(scim_ingest_t *ing, pending_t *p, scim_err_t *err)
{
        pthread_mutex_lock(&ing->mu);
        if (admit_locked(ing, p, err) < 0) {
                pthread_mutex_unlock(&ing->mu);
                return -1;
        }
        enqueue_locked(ing, p, 0);
        pthread_cond_signal(&ing->cv);
        pthread_mutex_unlock(&ing->mu);
        return 0;
}

/*
 * A write that finds nothing queued and nobody committing is committed on
 * the caller's own thread (embedded log: one synced batch of one), so a
 * lone client waits for fdatasync and the fold, not for two thread
 * hand-offs (committer wake-up, then the answer's). Anything that arrives
 * meanwhile queues and the committer takes it as one group commit after.
 * Only for a caller whose thread serves nobody else (scim_write_t
 * may_wait): a libmicrohttpd pool thread holding several connections
 * would otherwise commit them one batch of one at a time.
 * Returns 1 when p was committed here (its callback has run), 0 when the
 * caller should enqueue, -1 with err when it is refused.
 */
static int commit_inline(scim_ingest_t *ing, pending_t *p, scim_err_t *err)
{
        if (scim_log_is_kafka(ing->log))
                return 0; /* appends do not block there anyway */
        pthread_mutex_lock(&ing->mu);
        if (ing->head || ing->busy || ing->stopping) {
                pthread_mutex_unlock(&ing->mu);
                return 0;
        }
        if (admit_locked(ing, p, err) < 0) {
                pthread_mutex_unlock(&ing->mu);
                return -1;
        }
        ing->busy = 1;
        pthread_mutex_unlock(&ing->mu);
        commit_log(ing, &p, 1); /* p is freed after its callback */
        pthread_mutex_lock(&ing->mu);
        ing->busy = 0;
        if (ing->head || ing->stopping)
                pthread_cond_signal(&ing->cv);
        pthread_mutex_unlock(&ing->mu);
        return 1;
}

int scim_ingest_submit(scim_ingest_t *ing, const scim_write_t *w,
                       scim_write_cb cb, void *ctx, scim_write_result_t *now)
{
        pending_t *p = calloc(1, sizeof(*p));

        memset(now, 0, sizeof(*now));
        if (!p || req_copy_make(&p->req, w) < 0) {
                free(p);
                scim_err_set_retry(&now->err, 503, "out of memory");
                now->status = now->err.status;
                return 0;
        }
        p->cb = cb;
        p->ctx = ctx;
        if (prepare(ing, w, p, &now->err) < 0)
                goto refused;
        switch (w->may_wait ? commit_inline(ing, p, &now->err) : 0) {
        case 1:
                return 1;
        case -1:
                goto refused;
        default:
                break;
        }
        if (enqueue(ing, p, &now->err) < 0)
                goto refused;
        return 1;
refused:
        now->status = now->err.status;
        pending_free(p);
        log_refusal(ing, w, &now->err); /* reports: issue 4 */
        return 0;
}

/* ----------------------------------------------------------- admin */

typedef struct admin_wait {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        int done;
        scim_write_result_t res;
} admin_wait_t;

static void admin_cb(void *ctx, scim_write_result_t *res)
{
        admin_wait_t *aw = ctx;

        pthread_mutex_lock(&aw->mu);
        aw->res = *res;
        aw->done = 1;
        pthread_cond_signal(&aw->cv);
        pthread_mutex_unlock(&aw->mu);
}

/*
 * Queues p and blocks the calling thread until the committer delivers its
 * verdict (admin events: CLI and rare report-definition writes only). On 0
 * p belongs to the committer, which frees it, and *res holds the verdict
 * (the caller releases res->resource). On -1 (queue full, stopping) p is
 * still the caller's and err says why.
 */
static int enqueue_wait(scim_ingest_t *ing, pending_t *p,
                        scim_write_result_t *res, scim_err_t *err)
{
        admin_wait_t aw;
        int rc = 0;

        memset(&aw, 0, sizeof(aw));
        pthread_mutex_init(&aw.mu, NULL);
        pthread_cond_init(&aw.cv, NULL);
        p->cb = admin_cb;
        p->ctx = &aw;
        if (enqueue(ing, p, err) < 0) {
                rc = -1;
        } else {
                pthread_mutex_lock(&aw.mu);
                while (!aw.done)
                        pthread_cond_wait(&aw.cv, &aw.mu);
                pthread_mutex_unlock(&aw.mu);
                *res = aw.res;
        }
        pthread_mutex_destroy(&aw.mu);
        pthread_cond_destroy(&aw.cv);
        return rc;
}

/*
 * An admin event's whole round: queues *pp, waits for the verdict and
 * counts the event for the admin caller (scim_ingest_caller). *status
 * (when not NULL) is the verdict's status. 0 when applied; -1 with err
 * when refused by the fold or not queued. *pp is NULL once queued (the
 * committer frees it); otherwise still the caller's.
 */
static int admin_commit(scim_ingest_t *ing, pending_t **pp, int *status,
                        scim_err_t *err)
{
        scim_write_result_t res;

        memset(&res, 0, sizeof(res));
        if (enqueue_wait(ing, *pp, &res, err) < 0)
                return -1;
        *pp = NULL; /* freed by the committer */
        if (tl_caller)
                tl_caller->appended++;
        json_decref(res.resource);
        if (status)
                *status = res.status;
        if (res.status >= 400) {
                *err = res.err;
                return -1;
        }
        return 0;
}

int scim_ingest_admin(scim_ingest_t *ing, scim_action_t action,
                      const char *tenant, const char *token_id,
                      char **secret_out, char *token_id_out,
                      size_t token_id_len, scim_err_t *err)
{
        return scim_ingest_admin_scoped(ing, action, tenant, token_id, NULL,
                                        secret_out, token_id_out,
                                        token_id_len, err);
}

int scim_ingest_admin_scoped(scim_ingest_t *ing, scim_action_t action,
                             const char *tenant, const char *token_id,
                             const char *scope, char **secret_out,
                             char *token_id_out, size_t token_id_len,
                             scim_err_t *err)
{
        pending_t *p = calloc(1, sizeof(*p));
        char *secret = NULL;
        int rc = -1;

        if (secret_out)
                *secret_out = NULL;
        if (!p)
                return scim_err_set_retry(err, 503, "out of memory");
        if (!scim_tenant_name_ok(tenant)) {
                scim_err_set(err, 400, "invalidValue",
                             "tenant names are 1-%d characters of A-Z a-z "
                             "0-9 . _ -, not dots only, not an endpoint "
                             "name (Users, Groups, ...)",
                             SCIM_MAX_TENANT_LEN);
                goto fail;
        }
        scim_uuid4(p->ev.event_id);
        p->ev.tenant = strdup(tenant);
        p->ev.actor =
            strdup(tl_caller && tl_caller->actor ? tl_caller->actor : "cli");
        p->ev.request_id = admin_request_id();
        p->ev.action = action;
        p->ev.time_ms = scim_now_ms();
        p->ev.expect_version = -1;
        if (action == SCIM_ACT_TOKEN_ISSUE) {
                unsigned char raw[32], rid[8];
                char hash[65], idhex[17];

                secret = malloc(65);
                if (!secret)
                        goto oom;
                scim_random_bytes(raw, sizeof(raw));
                scim_random_bytes(rid, sizeof(rid));
                scim_hex_encode(raw, sizeof(raw), secret);
                scim_hex_encode(rid, sizeof(rid), idhex);
                scim_sha256_hex(secret, 64, hash);
                p->ev.token_id = strdup(idhex);
                p->ev.token_hash = strdup(hash);
                if (!p->ev.token_id || !p->ev.token_hash)
                        goto oom;
                if (scope && !(p->ev.token_scope = strdup(scope)))
                        goto oom;
        } else if (action == SCIM_ACT_TOKEN_REVOKE) {
                if (!token_id || !*token_id) {
                        scim_err_set(err, 400, "invalidValue",
                                     "token id required");
                        goto fail;
                }
                p->ev.token_id = strdup(token_id);
                if (!p->ev.token_id)
                        goto oom;
        } else if (action != SCIM_ACT_TENANT_CREATE) {
                scim_err_set(err, 400, NULL, "not an admin action");
                goto fail;
        }
        if (!p->ev.tenant || !p->ev.actor || !p->ev.request_id)
                goto oom;
        if (scim_event_encode(&p->ev, &p->enc, err) < 0)
                goto fail;
        if (token_id_out && p->ev.token_id)
                snprintf(token_id_out, token_id_len, "%s", p->ev.token_id);

        if (admin_commit(ing, &p, NULL, err) < 0)
                goto fail;
        if (secret_out) {
                *secret_out = secret;
                secret = NULL;
        }
        rc = 0;
        goto fail; /* shared cleanup */
oom:
        scim_err_set_retry(err, 503, "out of memory");
fail:
        pending_free(p);
        free(secret);
        return rc;
}

void scim_ingest_stats(scim_ingest_t *ing, scim_ingest_stats_t *out)
{
        pthread_mutex_lock(&ing->mu);
        *out = ing->stats;
        out->queue_depth = ing->qlen;
        out->share_refused = scim_share_refused(ing->share);
        pthread_mutex_unlock(&ing->mu);
}

/* ------------------------------------------------- reports (issue 4) */

static const char *attempted_name(scim_action_t a)
{
        switch (a) {
        case SCIM_ACT_CREATE:
                return "CREATE";
        case SCIM_ACT_REPLACE:
                return "REPLACE";
        case SCIM_ACT_PATCH:
                return "PATCH";
        case SCIM_ACT_DELETE:
                return "DELETE";
        default:
                return NULL;
        }
}

/*
 * Appends a REFUSED event for a write answered at once with a 4xx (bad
 * input, unknown id, unique key taken, version mismatch), so reports show
 * it. Asynchronous: the client already has its answer and never waits for
 * this event's fsync. Runs on an http pool thread (or the committer on a
 * retry). Not logged: 429/5xx (overload, not the request's fault) and
 * anything once the queue is half full (counted in refusals_dropped).
 * The event keeps the request's userName / displayName / externalId (when
 * the body parses) and the SHA-256 of the body, never the body itself.
 */
static void log_refusal_as(scim_ingest_t *ing, const scim_write_t *w,
                           const scim_err_t *answer, const char *attempted);

static void log_refusal(scim_ingest_t *ing, const scim_write_t *w,
                        const scim_err_t *answer)
{
        log_refusal_as(ing, w, answer, attempted_name(w->action));
}

void scim_ingest_refusal(scim_ingest_t *ing, const char *tenant,
                         const char *actor, const char *request_id,
                         const char *attempted, const scim_err_t *answer)
{
        scim_write_t w;

        memset(&w, 0, sizeof(w));
        w.tenant = tenant;
        w.actor = actor;
        w.request_id = request_id;
        log_refusal_as(ing, &w, answer, attempted);
}

static void log_refusal_as(scim_ingest_t *ing, const scim_write_t *w,
                           const scim_err_t *answer, const char *attempted)
{
        pending_t *p;
        scim_event_t *ev;
        scim_err_t e;
        json_t *body = NULL, *keep = NULL;
        char digest[65];
        int full;

        if (!answer || answer->status < 400 || answer->status >= 500 ||
            answer->status == 429 || answer->retriable || !w->tenant)
                return;
        pthread_mutex_lock(&ing->mu);
        full = ing->stopping || ing->qlen >= REFUSAL_QUEUE_MAX;
        if (full)
                ing->refusals_dropped++;
        pthread_mutex_unlock(&ing->mu);
        if (full)
                return;
        p = calloc(1, sizeof(*p));
        if (!p)
                return;
        ev = &p->ev;
        scim_uuid4(ev->event_id);
        ev->tenant = strdup(w->tenant);
        ev->actor = strdup(w->actor ? w->actor : "");
        ev->request_id = strdup(w->request_id ? w->request_id : "");
        ev->rtype = w->rtype;
        ev->action = SCIM_ACT_REFUSED;
        ev->time_ms = scim_now_ms();
        ev->expect_version = -1;
        if (w->id && *w->id && strlen(w->id) <= SCIM_MAX_ID_LEN &&
            scim_utf8_valid(w->id, strlen(w->id)))
                ev->resource_id = strdup(w->id);
        ev->refused_status = answer->status;
        if (answer->scim_type[0])
                ev->refused_scim_type = strdup(answer->scim_type);
        ev->refused_detail = strdup(answer->detail);
        if (attempted)
                ev->attempted_action = strdup(attempted);
        if (w->body && w->body_len) {
                scim_sha256_hex(w->body, w->body_len, digest);
                ev->request_digest = strdup(digest);
                scim_err_clear(&e);
                if (scim_json_parse(w->body, w->body_len, &body, &e) == 0 &&
                    json_is_object(body)) {
                        static const char *const names[] = {
                            "userName", "displayName", "externalId"};

                        keep = json_object();
                        for (size_t i = 0; i < 3; i++) {
                                json_t *v = scim_json_get_ci(body, names[i]);

                                if (json_is_string(v) &&
                                    json_string_length(v) <= 1024)
                                        json_object_set(keep, names[i], v);
                        }
                        if (json_object_size(keep))
                                ev->resource_json =
                                    scim_json_dumps(keep);
                }
        }
        scim_err_clear(&e);
        if (!ev->tenant || !ev->actor || !ev->request_id ||
            !ev->refused_detail ||
            encode_sealed(ing, ev, &p->enc, &e) < 0 || enqueue(ing, p, &e) < 0)
                pending_free(p);
        json_decref(body);
        json_decref(keep);
}

uint64_t scim_ingest_refusals_dropped(scim_ingest_t *ing)
{
        uint64_t n;

        pthread_mutex_lock(&ing->mu);
        n = ing->refusals_dropped;
        pthread_mutex_unlock(&ing->mu);
        return n;
}

/* The event of a saved-report save or delete, encoded: a new pending the
 * caller owns, or NULL with err. */
static pending_t *report_def_pending(scim_action_t action, const char *tenant,
                                     const char *actor,
                                     const char *request_id, const char *name,
                                     const char *definition, scim_err_t *err)
{
        pending_t *p = calloc(1, sizeof(*p));

        if (!p) {
                scim_err_set_retry(err, 503, "out of memory");
                return NULL;
        }
        if (action != SCIM_ACT_REPORT_SAVE && action != SCIM_ACT_REPORT_DELETE) {
                scim_err_set(err, 500, NULL, "not a report action");
                goto fail;
        }
        scim_uuid4(p->ev.event_id);
        p->ev.tenant = strdup(tenant);
        p->ev.actor = strdup(actor ? actor : "");
        p->ev.request_id = strdup(request_id ? request_id : "");
        p->ev.resource_id = strdup(name);
        p->ev.action = action;
        p->ev.time_ms = scim_now_ms();
        p->ev.expect_version = -1;
        if (definition)
                p->ev.resource_json = strdup(definition);
        if (!p->ev.tenant || !p->ev.actor || !p->ev.request_id ||
            !p->ev.resource_id || (definition && !p->ev.resource_json)) {
                scim_err_set_retry(err, 503, "out of memory");
                goto fail;
        }
        if (scim_event_encode(&p->ev, &p->enc, err) < 0)
                goto fail;
        return p;
fail:
        pending_free(p);
        return NULL;
}

int scim_ingest_report_def(scim_ingest_t *ing, scim_action_t action,
                           const char *tenant, const char *actor,
                           const char *request_id, const char *name,
                           const char *definition, int *status,
                           scim_err_t *err)
{
        pending_t *p;
        int rc = -1;

        *status = 0;
        p = report_def_pending(action, tenant, actor, request_id, name,
                               definition, err);
        if (!p)
                return -1;
        if (admin_commit(ing, &p, status, err) < 0)
                goto out;
        rc = 0;
out:
        pending_free(p);
        return rc;
}

int scim_ingest_report_def_submit(scim_ingest_t *ing, scim_action_t action,
                                  const char *tenant, const char *actor,
                                  const char *request_id, const char *name,
                                  const char *definition, scim_write_cb cb,
                                  void *ctx, scim_write_result_t *now)
{
        pending_t *p;

        memset(now, 0, sizeof(*now));
        p = report_def_pending(action, tenant, actor, request_id, name,
                               definition, &now->err);
        if (!p) {
                now->status = now->err.status;
                return 0;
        }
        p->cb = cb;
        p->ctx = ctx;
        if (enqueue(ing, p, &now->err) < 0) {
                now->status = now->err.status;
                pending_free(p);
                return 0;
        }
        return 1;
}

/* ------------------------------------------------ the log (log/) */

/* A version race costs a produce/consume round trip in Kafka mode
 * (milliseconds, not a batch) and writers on other nodes race too, so
 * Kafka mode retries more often before answering 412. */
#define KAFKA_RETRY_MAX 64

/* The log's completion of p's event: the fold's verdict, or a retriable
 * failure. Runs on the committer thread (embedded: inside
 * scim_log_append), or on the Kafka projector / producer poll thread. A
 * lost version race without If-Match is prepared again against the new
 * state and re-queued at the front. */
static void log_done(void *ctx, scim_verdict_t *v, const scim_err_t *err)
{
        pending_t *p = ctx;
        scim_ingest_t *ing = p->ing;
        int kafka = scim_log_is_kafka(ing->log);
        scim_write_t w;
        scim_err_t perr;

        if (err) {
                deliver(p, NULL, err);
                return;
        }
        if (p->ev.expect_version == SCIM_EXPECT_ABSENT && v->status == 412 &&
            p->req.tenant) {
                /* a probe's 412: the target exists at the probe's place
                 * in the log, which this node has now folded; prepared
                 * again once, also with If-Match (the 412 says nothing of
                 * the version), and its refusals are then final */
                p->probed = 1;
        } else if (v->status != 412 || !p->req.tenant || p->req.if_match ||
                   p->retries >= (kafka ? KAFKA_RETRY_MAX : RETRY_MAX)) {
                /* a probe's 404 is the answer: the target does not exist
                 * at the probe's place in the log */
                deliver(p, v, NULL);
                return;
        } else {
                p->retries++;
        }
        req_view(&p->req, &w);
        scim_err_clear(&perr);
        if (prepare(ing, &w, p, &perr) < 0) {
                log_refusal(ing, &w, &perr);
                deliver(p, NULL, &perr);
                return;
        }
        pthread_mutex_lock(&ing->mu);
        /* embedded: this is the committer, which drains the queue even
         * when stopping */
        if (!ing->stopping || !kafka) {
                enqueue_locked(ing, p, 1);
                pthread_cond_signal(&ing->cv);
                pthread_mutex_unlock(&ing->mu);
                return;
        }
        pthread_mutex_unlock(&ing->mu);
        scim_err_set_retry(&perr, 503, "server is shutting down");
        deliver(p, NULL, &perr);
}

/* Committer thread: hands the batch to the log (one group commit when
 * embedded). p must not be touched once appended (its verdict may
 * already be delivered on another thread). */
static void commit_log(scim_ingest_t *ing, pending_t **batch, size_t n)
{
        scim_log_entry_t entries[BATCH_MAX];

        struct timespec t0, t1;
        int le = 0;

        while (le < 9 && ((size_t)1 << le) < n)
                le++;
        pthread_mutex_lock(&ing->mu);
        ing->stats.batches++;
        ing->stats.events += n;
        ing->stats.batch_le[le]++;
        pthread_mutex_unlock(&ing->mu);
        for (size_t i = 0; i < n; i++) {
                batch[i]->ing = ing;
                entries[i].ev = &batch[i]->ev;
                entries[i].enc = &batch[i]->enc;
                entries[i].cb = log_done;
                entries[i].ctx = batch[i];
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        scim_log_append(ing->log, entries, n);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        pthread_mutex_lock(&ing->mu);
        ing->stats.commit_ns +=
            (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL +
                       (t1.tv_nsec - t0.tv_nsec));
        pthread_mutex_unlock(&ing->mu);
}

void scim_ingest_use_log(scim_ingest_t *ing, scim_log_t *log)
{
        ing->log = log ? log : ing->own_log;
}

/* ------------------------------------------------ tenant definitions */

/* An admin event whose payload is admin_json (SCHEMA_PUT/DELETE,
 * TENANT_UPDATE), waited for. */
static int admin_json_event(scim_ingest_t *ing, scim_action_t action,
                            const char *tenant, const char *actor,
                            const char *request_id, const char *definition,
                            int64_t expect_generation, int *status,
                            scim_err_t *err)
{
        pending_t *p = calloc(1, sizeof(*p));
        int rc = -1;

        *status = 0;
        if (!p)
                return scim_err_set_retry(err, 503, "out of memory");
        scim_uuid4(p->ev.event_id);
        p->ev.tenant = strdup(tenant);
        p->ev.actor = strdup(actor                           ? actor
                             : tl_caller && tl_caller->actor ? tl_caller->actor
                                                             : "cli");
        p->ev.request_id = request_id ? strdup(request_id) : admin_request_id();
        p->ev.action = action;
        p->ev.time_ms = scim_now_ms();
        p->ev.expect_version = expect_generation;
        if (definition)
                p->ev.admin_json = strdup(definition);
        if (!p->ev.tenant || !p->ev.actor || !p->ev.request_id ||
            (definition && !p->ev.admin_json)) {
                scim_err_set_retry(err, 503, "out of memory");
                goto out;
        }
        if (scim_event_encode(&p->ev, &p->enc, err) < 0)
                goto out;
        if (admin_commit(ing, &p, status, err) < 0)
                goto out;
        rc = 0;
out:
        pending_free(p);
        return rc;
}

int scim_ingest_schema(scim_ingest_t *ing, const char *tenant,
                       const char *actor, const char *request_id,
                       const char *definition, int64_t expect_generation,
                       int *status, scim_err_t *err)
{
        return admin_json_event(
            ing, definition ? SCIM_ACT_SCHEMA_PUT : SCIM_ACT_SCHEMA_DELETE,
            tenant, actor, request_id, definition, expect_generation, status,
            err);
}

int scim_ingest_tenant_update(scim_ingest_t *ing, const char *tenant,
                              const char *actor, const char *settings,
                              int *status, scim_err_t *err)
{
        return admin_json_event(ing, SCIM_ACT_TENANT_UPDATE, tenant, actor,
                                NULL, settings, -1, status, err);
}

/* ------------------------------------------------ tenant lifecycle */

int scim_ingest_lifecycle(scim_ingest_t *ing, scim_action_t action,
                          const char *tenant, const char *actor,
                          const char *old_token_id, int64_t overlap_ms,
                          char **secret_out, char *token_id_out,
                          size_t token_id_len, scim_err_t *err)
{
        pending_t *p = calloc(1, sizeof(*p));
        char *secret = NULL;
        int rc = -1;

        if (secret_out)
                *secret_out = NULL;
        if (!p)
                return scim_err_set_retry(err, 503, "out of memory");
        if (action != SCIM_ACT_TENANT_DISABLE &&
            action != SCIM_ACT_TENANT_ENABLE &&
            action != SCIM_ACT_TOKEN_ROTATE &&
            action != SCIM_ACT_CLIENT_REGISTER &&
            action != SCIM_ACT_CLIENT_REVOKE && action != SCIM_ACT_KEY_ROTATE &&
            action != SCIM_ACT_TENANT_DELETE) {
                scim_err_set(err, 500, NULL, "not a lifecycle action");
                goto out;
        }
        scim_uuid4(p->ev.event_id);
        p->ev.tenant = strdup(tenant);
        p->ev.actor = strdup(actor                           ? actor
                             : tl_caller && tl_caller->actor ? tl_caller->actor
                                                             : "cli");
        p->ev.request_id = admin_request_id();
        p->ev.action = action;
        p->ev.time_ms = scim_now_ms();
        p->ev.expect_version = -1;
        if (!p->ev.tenant || !p->ev.actor || !p->ev.request_id)
                goto oom;
        if (action == SCIM_ACT_CLIENT_REGISTER ||
            action == SCIM_ACT_KEY_ROTATE) {
                unsigned char raw[32], rid[8];
                char hash[65], idhex[17];

                scim_random_bytes(rid, sizeof(rid));
                scim_hex_encode(rid, sizeof(rid), idhex);
                if (token_id_out)
                        snprintf(token_id_out, token_id_len, "%s", idhex);
                if (action == SCIM_ACT_KEY_ROTATE) {
                        if (overlap_ms < 0 ||
                            overlap_ms > (int64_t)86400 * 1000) {
                                scim_err_set(err, 400, "invalidValue",
                                             "the old key verifies for 0 s "
                                             "to 1 day");
                                goto out;
                        }
                        p->ev.key_id = strdup(idhex);
                        p->ev.expires_ms =
                            p->ev.time_ms + (overlap_ms ? overlap_ms : 1);
                        if (!p->ev.key_id)
                                goto oom;
                } else {
                        secret = malloc(65);
                        if (!secret)
                                goto oom;
                        scim_random_bytes(raw, sizeof(raw));
                        scim_hex_encode(raw, sizeof(raw), secret);
                        scim_sha256_hex(secret, 64, hash);
                        p->ev.token_id = strdup(idhex);
                        p->ev.token_hash = strdup(hash);
                        if (old_token_id && *old_token_id) /* the scope */
                                p->ev.token_scope = strdup(old_token_id);
                        if (!p->ev.token_id || !p->ev.token_hash)
                                goto oom;
                }
        } else if (action == SCIM_ACT_CLIENT_REVOKE) {
                if (!old_token_id || !*old_token_id) {
                        scim_err_set(err, 400, "invalidValue",
                                     "which client?");
                        goto out;
                }
                p->ev.token_id = strdup(old_token_id);
                if (!p->ev.token_id)
                        goto oom;
        } else if (action == SCIM_ACT_TOKEN_ROTATE) {
                unsigned char raw[32], rid[8];
                char hash[65], idhex[17];
                json_t *m;

                if (!old_token_id || !*old_token_id || overlap_ms < 0 ||
                    overlap_ms > 30LL * 86400 * 1000) {
                        scim_err_set(err, 400, "invalidValue",
                                     "a rotation needs the old token's id "
                                     "and an overlap of 0 s to 30 days");
                        goto out;
                }
                secret = malloc(65);
                if (!secret)
                        goto oom;
                scim_random_bytes(raw, sizeof(raw));
                scim_random_bytes(rid, sizeof(rid));
                scim_hex_encode(raw, sizeof(raw), secret);
                scim_hex_encode(rid, sizeof(rid), idhex);
                scim_sha256_hex(secret, 64, hash);
                p->ev.token_id = strdup(idhex);
                p->ev.token_hash = strdup(hash);
                /* the old one ends after the overlap; 0 s: at once (1 ms,
                 * since 0 means "no end") */
                p->ev.expires_ms = p->ev.time_ms + (overlap_ms ? overlap_ms : 1);
                m = json_pack("{s:s}", "rotates", old_token_id);
                p->ev.admin_json = m ? scim_json_dumps(m) : NULL;
                json_decref(m);
                if (!p->ev.token_id || !p->ev.token_hash || !p->ev.admin_json)
                        goto oom;
                if (token_id_out)
                        snprintf(token_id_out, token_id_len, "%s", idhex);
        }
        if (scim_event_encode(&p->ev, &p->enc, err) < 0)
                goto out;
        if (admin_commit(ing, &p, NULL, err) < 0)
                goto out;
        if (secret_out) {
                *secret_out = secret;
                secret = NULL;
        }
        rc = 0;
        goto out;
oom:
        scim_err_set_retry(err, 503, "out of memory");
out:
        pending_free(p);
        free(secret);
        return rc;
}

int scim_ingest_is_kafka(scim_ingest_t *ing)
{
        return ing && ing->log && scim_log_is_kafka(ing->log);
}
