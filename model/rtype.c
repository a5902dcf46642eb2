/*
 * rtype.c — the resource-type table: one row per resource type (name,
 * endpoint, core schema, storage code, required / unique / indexed
 * attributes, membership semantics). The built-in rows come from
 * schemas/ResourceTypes.json's two types; a tenant's rows are the built-in
 * ones its definition enables. Code that needs "what is this type" looks
 * a row up here instead of branching on User or Group.
 */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "model/model_internal.h"

static const char *const USER_REQUIRED[] = {"userName", NULL};
static const char *const USER_UNIQUE[] = {"userName", NULL};
static const char *const USER_INDEXED[] = {"id",          "userName",
                                           "externalId",  "emails.value",
                                           "displayName", NULL};
static const char *const GROUP_REQUIRED[] = {"displayName", NULL};
static const char *const GROUP_UNIQUE[] = {NULL};
static const char *const GROUP_INDEXED[] = {"id", "externalId", "displayName",
                                            NULL};

static const scim_rtype_row_t BUILTIN[] = {
    {"User", "/Users", SCIM_URN_USER, SCIM_RT_USER, USER_REQUIRED,
     USER_UNIQUE, USER_INDEXED, SCIM_MEMBERSHIP_MEMBER},
    {"Group", "/Groups", SCIM_URN_GROUP, SCIM_RT_GROUP, GROUP_REQUIRED,
     GROUP_UNIQUE, GROUP_INDEXED, SCIM_MEMBERSHIP_CONTAINER},
};

#define NBUILTIN (sizeof(BUILTIN) / sizeof(BUILTIN[0]))

size_t scim_rtype_count(void)
{
        return NBUILTIN;
}

const scim_rtype_row_t *scim_rtype_at(size_t i)
{
        return i < NBUILTIN ? &BUILTIN[i] : NULL;
}

const scim_rtype_row_t *scim_rtype_row(scim_rtype_t rt)
{
        for (size_t i = 0; i < NBUILTIN; i++)
                if (BUILTIN[i].code == rt)
                        return &BUILTIN[i];
        return NULL;
}

const scim_rtype_row_t *scim_rtype_by_name(const char *name)
{
        for (size_t i = 0; name && i < NBUILTIN; i++)
                if (!strcmp(BUILTIN[i].name, name))
                        return &BUILTIN[i];
        return NULL;
}

const scim_rtype_row_t *scim_rtype_by_endpoint(const char *seg)
{
        if (!seg)
                return NULL;
        if (*seg == '/')
                seg++;
        for (size_t i = 0; i < NBUILTIN; i++)
                if (!strcasecmp(BUILTIN[i].endpoint + 1, seg))
                        return &BUILTIN[i];
        return NULL;
}

const char *scim_rtype_name(scim_rtype_t rt)
{
        const scim_rtype_row_t *r = scim_rtype_row(rt);

        return r ? r->name : NULL;
}

size_t scim_model_rtypes(const scim_model_t *m, const scim_rtype_row_t **out,
                         size_t cap)
{
        size_t n = 0;

        for (size_t i = 0; i < NBUILTIN; i++)
                if (scim_model_enabled(m, BUILTIN[i].code) && n < cap)
                        out[n++] = &BUILTIN[i];
        for (size_t r = RT_N; m && r < m->nrt && n < cap; r++)
                if (m->rt[r].enabled)
                        out[n++] = &m->rt[r].row;
        return n;
}

int scim_rtype_is_tenant(scim_rtype_t rt)
{
        return model_is_tenant_code(rt);
}

size_t scim_model_rtypes_all(const scim_model_t *m,
                             const scim_rtype_row_t **out, size_t cap)
{
        size_t n = 0;

        for (size_t i = 0; i < NBUILTIN && n < cap; i++)
                out[n++] = &BUILTIN[i];
        for (size_t r = RT_N; m && r < m->nrt && n < cap; r++)
                out[n++] = &m->rt[r].row;
        return n;
}

const scim_rtype_row_t *scim_model_rtype(const scim_model_t *m,
                                         scim_rtype_t rt)
{
        int r;

        if (!model_is_tenant_code(rt))
                return scim_rtype_row(rt);
        r = model_rt_index(m, rt);
        return r >= RT_N ? &m->rt[r].row : NULL;
}

const scim_rtype_row_t *scim_model_rtype_by_name(const scim_model_t *m,
                                                 const char *name)
{
        const scim_rtype_row_t *b = scim_rtype_by_name(name);

        if (b || !name)
                return b;
        for (size_t r = RT_N; m && r < m->nrt; r++)
                if (scim_strcaseeq(m->rt[r].row.name, name))
                        return &m->rt[r].row;
        return NULL;
}

const scim_rtype_row_t *scim_model_rtype_by_endpoint(const scim_model_t *m,
                                                     const char *seg)
{
        const scim_rtype_row_t *b = scim_rtype_by_endpoint(seg);

        if (b || !seg)
                return b;
        if (*seg == '/')
                seg++;
        for (size_t r = RT_N; m && r < m->nrt; r++)
                if (scim_strcaseeq(m->rt[r].row.endpoint + 1, seg))
                        return &m->rt[r].row;
        return NULL;
}
