/* fuzz_model.c — libFuzzer target: the tenant-definition compiler and the
 * validator (model/). Input: a definition (JSON), a line "--", a resource
 * (JSON). Any definition either compiles or is refused with a 400 that
 * names the place; a compiled model builds its discovery documents; a
 * resource either passes (and then passes again unchanged: enforcing is
 * idempotent, which the fold relies on when it re-checks ingest's events)
 * or is refused with a SCIM error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/scim_model.h"

static int inited;

static void one(const scim_model_t *m, scim_rtype_t rt, const json_t *res,
                const json_t *prev)
{
        json_t *a = json_deep_copy(res), *dropped = json_array();
        scim_err_t e;

        scim_err_clear(&e);
        if (scim_model_enforce(m, rt, a, prev, SCIM_ENFORCE_WRITE, dropped,
                               &e) == 0) {
                json_t *b = json_deep_copy(a);

                if (e.status)
                        abort();
                if (scim_model_enforce(m, rt, b, prev ? prev : a,
                                       SCIM_ENFORCE_WRITE, NULL, &e) < 0 ||
                    !json_equal(a, b))
                        abort(); /* not idempotent */
                json_decref(b);
        } else if (e.status < 400 || e.status >= 600 || !e.detail[0]) {
                abort();
        }
        json_decref(a);
        json_decref(dropped);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *sep = memmem(data, size, "\n--\n", 4);
        size_t dl = sep ? (size_t)(sep - (const char *)data) : size;
        json_t *def, *res = NULL;
        scim_model_t *m = NULL;
        scim_err_t e;
        char errstr[256];

        if (!inited) {
                if (scim_schemas_init(errstr, sizeof(errstr)) < 0)
                        abort();
                inited = 1;
        }
        def = json_loadb((const char *)data, dl, 0, NULL);
        if (sep)
                res = json_loadb(sep + 4, size - dl - 4, 0, NULL);
        scim_err_clear(&e);
        if (def && scim_model_compile(def, 1, &m, &e) == 0) {
                json_t *d1 = scim_model_schemas_doc(m);
                json_t *d2 = scim_model_resource_types_doc(m);
                json_t *d3 = scim_model_service_provider_doc(m);

                if (!d1 || !d2 || !d3)
                        abort();
                json_decref(d1);
                json_decref(d2);
                json_decref(d3);
                if (json_is_object(res)) {
                        one(m, SCIM_RT_USER, res, NULL);
                        one(m, SCIM_RT_GROUP, res, NULL);
                        one(m, SCIM_RT_USER, res, res);
                        json_t *b = json_deep_copy(res);
                        if (scim_model_unflatten(m, SCIM_RT_USER, b, &e) < 0 &&
                            e.status != 400)
                                abort();
                        json_decref(b);
                }
                scim_model_unref(m);
        } else if (def && (e.status != 400 && e.status != 503)) {
                abort();
        }
        json_decref(def);
        json_decref(res);
        return 0;
}
