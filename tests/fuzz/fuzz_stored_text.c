/*
 * fuzz_stored_text.c — libFuzzer target for the stored form printed
 * straight from a write's attributes (projector/stored_text.c): the input
 * is parsed as JSON; when it is an object, it is the attributes (and, when
 * it has an object "old", that is the old resource, for meta.created): the
 * printed text must be exactly what scim_json_dump writes of the tree
 * fold_build_stored builds, whenever the printer answers, and the printer
 * must not answer when the writer refuses the tree.
 * Corpus: tests/fuzz/corpus/stored_text/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "projector/projector_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        json_t *a = scim_json_load((const char *)data, size);
        const json_t *old;
        json_t *tree;
        char *p, *t;
        size_t len = 0;
        const char *id;

        if (!json_is_object(a)) {
                json_decref(a);
                return 0;
        }
        old = json_object_get(a, "old");
        if (!json_is_object(old))
                old = NULL;
        id = json_string_value(json_object_get(a, "userName"));
        if (!id)
                id = "2819c223-7f76-453a-919d-413861904646";
        p = fold_print_stored(a, id, scim_rtype_row(SCIM_RT_USER), old,
                              (int64_t)size * 1000003, (int64_t)size, 0,
                              &len);
        tree = fold_build_stored(a, id, scim_rtype_row(SCIM_RT_USER), old,
                                 (int64_t)size * 1000003, (int64_t)size);
        t = tree ? scim_json_dumps(tree) : NULL;
        if (p && (!t || strlen(t) != len || memcmp(p, t, len) != 0))
                abort();
        free(p);
        free(t);
        json_decref(tree);
        json_decref(a);
        return 0;
}
