/*
 * stream_internal.h — the fold's hooks into stream.c (change stream
 * records). Not part of the public face. Both run on the single writer
 * thread inside a fold transaction.
 */
#ifndef SCIM_STREAM_INTERNAL_H
#define SCIM_STREAM_INTERNAL_H

#include "projector/changes_internal.h"

/* What a stream record needs from the state BEFORE a delete: the groups
 * that hold the deleted resource (their membership rows go with it). */
typedef struct stream_pre {
        json_t *held_by; /* array of group ids, or NULL (owned) */
} stream_pre_t;

/* pre: what changes_pre_load just read for ev (its `holders` are these
 * groups when it has them), or NULL. */
void stream_pre_load(txn_t *t, const scim_event_t *ev,
                     const changes_pre_t *pre, stream_pre_t *spre);

/*
 * Writes the stream record of the resource event at seq into column
 * family `stream` (key tenant \0 seq u64 BE): op, applied or refused, the
 * full state before and after, the group membership delta as it really
 * happened, and for deletes the memberships removed with the resource.
 * Admin and report events and undecodable messages get no record (they
 * belong to no resource; token hashes never reach a stream). Frees spre.
 * Deterministic: reads only ev, v, pre and the transaction's state.
 */
void stream_record(txn_t *t, uint64_t seq, const scim_event_t *ev,
                   const scim_verdict_t *v, const changes_pre_t *pre,
                   stream_pre_t *spre);

#endif
