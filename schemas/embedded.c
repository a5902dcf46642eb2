/* embedded.c — lookup in the table of schema files compiled in by
 * schemas/embed.cmake. Reentrant. */
#include <string.h>

#include "schemas/scim_embedded.h"

const scim_embedded_file_t *scim_embedded_find(const char *name)
{
        for (const scim_embedded_file_t *f = scim_embedded_files; f->name; f++)
                if (strcmp(f->name, name) == 0)
                        return f;
        return NULL;
}
