/*
 * schemas_internal.h — functions shared between the files of schemas/ and
 * not part of the public contract (scim_schemas.h).
 */
#ifndef SCIM_SCHEMAS_INTERNAL_H
#define SCIM_SCHEMAS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* event.c: loads the compiled-in Avro event schemas (called by
 * scim_schemas_init, main thread). Returns 0 or -1 with errstr filled. */
int scim_event_init(char *errstr, size_t errlen);
void scim_event_shutdown(void);
/* event.c: CRC-64-AVRO fingerprint of writer schema version v (1-based), 0
 * if unknown; for the schema evolution test. */
uint64_t scim_event_schema_fingerprint(int version);
/* event.c: scim_event_encode through avro-c's generic values, the
 * independent implementation the direct encoder is compared with (unit
 * 0310, fuzz_event); same contract and bytes. */
struct scim_event;
struct scim_buf;
struct scim_err;
int scim_event_encode_avroc(const struct scim_event *ev, struct scim_buf *out,
                            struct scim_err *err);

#endif /* SCIM_SCHEMAS_INTERNAL_H */
