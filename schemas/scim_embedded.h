/*
 * scim_embedded.h — internal to schemas/: the schema files compiled into the
 * binary by schemas/embed.cmake. Names are relative to schemas/, e.g.
 * "avro/event.v1.avsc" or "scim/User.json". Data is NUL-terminated.
 */
#ifndef SCIM_EMBEDDED_H
#define SCIM_EMBEDDED_H

#include <stddef.h>

typedef struct scim_embedded_file {
        const char *name;
        const char *data;
        size_t len;
} scim_embedded_file_t;

/* Terminated by an entry with name == NULL. */
extern const scim_embedded_file_t scim_embedded_files[];

/* Finds a file by its name relative to schemas/; NULL if absent. */
const scim_embedded_file_t *scim_embedded_find(const char *name);

#endif /* SCIM_EMBEDDED_H */
