/*
 * filter.c — SCIM attribute paths and filters (RFC 7644 §3.4.2.2, §3.5.2):
 * a recursive-descent parser into a small AST, evaluation against stored
 * resources, and the index hint the store uses to avoid scans.
 *
 * Liberal where real clients are sloppy: unquoted values, any-case names
 * and operators, URN-qualified names, "True" strings for booleans.
 * Bounded: length, node count and nesting depth are capped.
 * Reentrant: parsing and evaluation share no state.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/scim_schemas.h"

typedef enum { N_AND, N_OR, N_NOT, N_CMP, N_PR, N_VALPATH } nkind_t;
typedef enum { OP_EQ, OP_NE, OP_CO, OP_SW, OP_EW, OP_GT, OP_GE, OP_LT, OP_LE } op_t;

typedef struct apath {
        char *urn, *attr, *sub;
        const scim_attr_t *attr_def, *sub_def;
} apath_t;

struct scim_filter {
        nkind_t kind;
        op_t op;
        apath_t path;
        json_t *value;           /* literal for N_CMP (and VALPATH sub cmp) */
        char *lfold;             /* its caseless key (string literals) */
        size_t lfold_len;
        struct scim_filter *l, *r; /* AND/OR children; NOT and VALPATH: l */
        int has_sub_cmp;          /* VALPATH: attr[f].sub op value */
        int sub_is_pr;
};

typedef struct parser {
        const char *s;
        size_t pos, len;
        int nodes, depth;
        scim_rtype_t rt;
        scim_err_t *err;
        const char *kind; /* "invalidFilter" or "invalidPath" */
} parser_t;

static void path_clear(apath_t *p)
{
        free(p->urn);
        free(p->attr);
        free(p->sub);
        memset(p, 0, sizeof(*p));
}

void scim_filter_free(scim_filter_t *f)
{
        if (!f)
                return;
        scim_filter_free(f->l);
        scim_filter_free(f->r);
        path_clear(&f->path);
        json_decref(f->value);
        free(f->lfold);
        free(f);
}

static int perr(parser_t *p, const char *what)
{
        return scim_err_set(p->err, 400, p->kind,
                            "%s at position %zu of '%.200s'", what, p->pos + 1,
                            p->s);
}

static void skip_ws(parser_t *p)
{
        while (p->pos < p->len && isspace((unsigned char)p->s[p->pos]))
                p->pos++;
}

static scim_filter_t *new_node(parser_t *p, nkind_t k)
{
        scim_filter_t *f;

        if (++p->nodes > SCIM_MAX_FILTER_NODES) {
                scim_err_set(p->err, 400, p->kind,
                             "filter has more than %d terms",
                             SCIM_MAX_FILTER_NODES);
                return NULL;
        }
        f = calloc(1, sizeof(*f));
        if (!f)
                scim_err_set_retry(p->err, 503, "out of memory");
        else
                f->kind = k;
        return f;
}

static int is_name_char(char c)
{
        return isalnum((unsigned char)c) || c == ':' || c == '.' || c == '_' ||
               c == '-' || c == '$';
}

/* Folds a string literal once, at parse time, so that evaluation folds only
 * the stored side (common/casefold.c). */
static int fold_literal(parser_t *p, scim_filter_t *f)
{
        if (!json_is_string(f->value))
                return 0;
        f->lfold = scim_casefold_n(json_string_value(f->value),
                                   json_string_length(f->value), NULL, 0,
                                   &f->lfold_len);
        if (!f->lfold)
                return scim_err_set_retry(p->err, 503, "out of memory");
        return 0;
}

/* Resolves names within scope (NULL = top level of rt). */
static void resolve(parser_t *p, apath_t *a, const scim_attr_t *scope)
{
        if (scope) {
                a->attr_def = scim_schema_attr(p->rt, scope, a->attr);
        } else if (a->urn) {
                char full[512];

                snprintf(full, sizeof(full), "%s:%s", a->urn, a->attr);
                a->attr_def = scim_schema_attr(p->rt, NULL, full);
        } else {
                a->attr_def = scim_schema_attr(p->rt, NULL, a->attr);
                if (!a->attr_def && p->rt == SCIM_RT_USER) {
                        /* an enterprise attribute named without its URN
                         * (Entra's reference check: manager eq "id") */
                        char full[512];

                        snprintf(full, sizeof(full), "%s:%s",
                                 SCIM_URN_ENTERPRISE, a->attr);
                        a->attr_def = scim_schema_attr(p->rt, NULL, full);
                        if (a->attr_def)
                                a->urn = strdup(SCIM_URN_ENTERPRISE);
                }
        }
        if (a->attr_def) {
                free(a->attr);
                a->attr = strdup(scim_attr_name(a->attr_def));
        }
        if (a->sub && a->attr_def) {
                a->sub_def = scim_schema_attr(p->rt, a->attr_def, a->sub);
                if (a->sub_def) {
                        free(a->sub);
                        a->sub = strdup(scim_attr_name(a->sub_def));
                }
        }
}

/* Splits a name token into urn / attr / sub. */
static int split_name(parser_t *p, const char *tok, apath_t *a,
                      const scim_attr_t *scope)
{
        const char *name = tok, *dot;

        memset(a, 0, sizeof(*a));
        if (!scope && strncasecmp(tok, "urn:", 4) == 0) {
                const char *last = strrchr(tok, ':');
                const char *core = p->rt == SCIM_RT_GROUP ? SCIM_URN_GROUP
                                                          : SCIM_URN_USER;
                size_t ulen = (size_t)(last - tok);

                if (!last[1])
                        return perr(p, "attribute name missing after URN");
                name = last + 1;
                if (!(strlen(core) == ulen && strncasecmp(tok, core, ulen) == 0)) {
                        char *u = strndup(tok, ulen);
                        const char *canon = scim_schema_extension(p->rt, u);

                        a->urn = canon ? strdup(canon) : u;
                        if (canon)
                                free(u);
                }
        }
        dot = strchr(name, '.');
        if (dot) {
                a->attr = strndup(name, (size_t)(dot - name));
                a->sub = strdup(dot + 1);
                if (!*a->sub || strchr(a->sub, '.'))
                        return perr(p, "bad sub-attribute");
        } else {
                a->attr = strdup(name);
        }
        if (!a->attr || !*a->attr)
                return perr(p, "attribute name expected");
        resolve(p, a, scope);
        return 0;
}

static char *read_name(parser_t *p)
{
        size_t start = p->pos;

        while (p->pos < p->len && is_name_char(p->s[p->pos]))
                p->pos++;
        if (p->pos == start)
                return NULL;
        return strndup(p->s + start, p->pos - start);
}

static int word_is(parser_t *p, const char *w)
{
        size_t n = strlen(w);

        return p->pos + n <= p->len && strncasecmp(p->s + p->pos, w, n) == 0 &&
               (p->pos + n == p->len ||
                !is_name_char(p->s[p->pos + n]));
}

static int parse_op(parser_t *p, op_t *op, int *is_pr)
{
        static const char *ops[] = {"eq", "ne", "co", "sw", "ew",
                                    "gt", "ge", "lt", "le"};

        skip_ws(p);
        *is_pr = 0;
        if (word_is(p, "pr")) {
                p->pos += 2;
                *is_pr = 1;
                return 0;
        }
        for (int i = 0; i < 9; i++)
                if (word_is(p, ops[i])) {
                        *op = (op_t)i;
                        p->pos += 2;
                        return 0;
                }
        return perr(p, "operator (eq ne co sw ew gt ge lt le pr) expected");
}

static json_t *parse_value(parser_t *p, const scim_attr_t *def)
{
        skip_ws(p);
        if (p->pos >= p->len) {
                perr(p, "value expected");
                return NULL;
        }
        if (p->s[p->pos] == '"') {
                size_t start = p->pos, i = p->pos + 1, j;
                json_error_t je;
                json_t *v;

                while (i < p->len && p->s[i] != '"') {
                        if (p->s[i] == '\\')
                                i++;
                        i++;
                }
                if (i >= p->len) {
                        perr(p, "unterminated string");
                        return NULL;
                }
                p->pos = i + 1;
                /* the common literal (no escape, no control character,
                 * UTF-8) is taken as it stands: what json_loadb would
                 * build, without its lexer (~3.5k instructions) */
                for (v = NULL, j = start + 1; j < i; j++)
                        if (p->s[j] == '\\' || (unsigned char)p->s[j] < 0x20)
                                break;
                if (j == i && scim_utf8_valid(p->s + start + 1, i - start - 1))
                        /* checked just now: jansson need not again */
                        return json_stringn_nocheck(p->s + start + 1,
                                                    i - start - 1);
                v = json_loadb(p->s + start, i + 1 - start, JSON_DECODE_ANY,
                               &je);
                if (!v || !json_is_string(v)) {
                        json_decref(v);
                        perr(p, "bad string escape");
                }
                return v;
        }
        {
                size_t start = p->pos;
                char *tok;
                json_t *v;
                scim_atype_t t = def ? scim_attr_type(def) : SCIM_T_STRING;

                while (p->pos < p->len && !isspace((unsigned char)p->s[p->pos]) &&
                       p->s[p->pos] != ')' && p->s[p->pos] != ']')
                        p->pos++;
                tok = strndup(p->s + start, p->pos - start);
                if (!tok)
                        return NULL;
                if (!strcasecmp(tok, "true"))
                        v = json_true();
                else if (!strcasecmp(tok, "false"))
                        v = json_false();
                else if (!strcasecmp(tok, "null"))
                        v = json_null();
                else if ((t == SCIM_T_INTEGER || t == SCIM_T_DECIMAL)) {
                        char *end;
                        double d = strtod(tok, &end);

                        v = *end ? json_string(tok) : json_real(d);
                } else
                        v = json_string(tok);
                free(tok);
                return v;
        }
}

static scim_filter_t *parse_or(parser_t *p, const scim_attr_t *scope);

static scim_filter_t *parse_atom(parser_t *p, const scim_attr_t *scope)
{
        scim_filter_t *f = NULL;
        char *tok;
        int is_pr;

        skip_ws(p);
        if (p->pos >= p->len) {
                perr(p, "expression expected");
                return NULL;
        }
        if (p->s[p->pos] == '(') {
                p->pos++;
                if (++p->depth > 32) {
                        perr(p, "nesting too deep");
                        return NULL;
                }
                f = parse_or(p, scope);
                p->depth--;
                skip_ws(p);
                if (!f)
                        return NULL;
                if (p->pos >= p->len || p->s[p->pos] != ')') {
                        scim_filter_free(f);
                        perr(p, "')' expected");
                        return NULL;
                }
                p->pos++;
                return f;
        }
        if (word_is(p, "not")) {
                size_t save = p->pos;

                p->pos += 3;
                skip_ws(p);
                if (p->pos < p->len && p->s[p->pos] == '(') {
                        f = new_node(p, N_NOT);
                        if (!f)
                                return NULL;
                        f->l = parse_atom(p, scope);
                        if (!f->l) {
                                scim_filter_free(f);
                                return NULL;
                        }
                        return f;
                }
                p->pos = save;
        }
        tok = read_name(p);
        if (!tok) {
                perr(p, "attribute name expected");
                return NULL;
        }
        f = new_node(p, N_CMP);
        if (!f) {
                free(tok);
                return NULL;
        }
        if (split_name(p, tok, &f->path, scope) < 0) {
                free(tok);
                scim_filter_free(f);
                return NULL;
        }
        free(tok);
        if (p->pos < p->len && p->s[p->pos] == '[') {
                if (scope || f->path.sub) {
                        scim_filter_free(f);
                        perr(p, "value filter not allowed here");
                        return NULL;
                }
                f->kind = N_VALPATH;
                p->pos++;
                if (++p->depth > 32) {
                        scim_filter_free(f);
                        perr(p, "nesting too deep");
                        return NULL;
                }
                f->l = parse_or(p, f->path.attr_def ? f->path.attr_def
                                                    : (const scim_attr_t *)NULL);
                p->depth--;
                if (!f->l) {
                        scim_filter_free(f);
                        return NULL;
                }
                skip_ws(p);
                if (p->pos >= p->len || p->s[p->pos] != ']') {
                        scim_filter_free(f);
                        perr(p, "']' expected");
                        return NULL;
                }
                p->pos++;
                if (p->pos < p->len && p->s[p->pos] == '.') {
                        char *sub;

                        p->pos++;
                        sub = read_name(p);
                        if (!sub) {
                                scim_filter_free(f);
                                perr(p, "sub-attribute expected after ']'");
                                return NULL;
                        }
                        f->path.sub = sub;
                        if (f->path.attr_def) {
                                f->path.sub_def = scim_schema_attr(
                                    p->rt, f->path.attr_def, sub);
                                if (f->path.sub_def) {
                                        free(f->path.sub);
                                        f->path.sub = strdup(
                                            scim_attr_name(f->path.sub_def));
                                }
                        }
                        if (parse_op(p, &f->op, &is_pr) < 0) {
                                scim_filter_free(f);
                                return NULL;
                        }
                        f->has_sub_cmp = 1;
                        f->sub_is_pr = is_pr;
                        if (!is_pr && (!(f->value = parse_value(
                                               p, f->path.sub_def)) ||
                                       fold_literal(p, f) < 0)) {
                                scim_filter_free(f);
                                return NULL;
                        }
                }
                return f;
        }
        if (parse_op(p, &f->op, &is_pr) < 0) {
                scim_filter_free(f);
                return NULL;
        }
        if (is_pr) {
                f->kind = N_PR;
                return f;
        }
        f->value = parse_value(p, f->path.sub_def ? f->path.sub_def
                                                  : f->path.attr_def);
        if (!f->value || fold_literal(p, f) < 0) {
                scim_filter_free(f);
                return NULL;
        }
        return f;
}

static scim_filter_t *parse_and(parser_t *p, const scim_attr_t *scope)
{
        scim_filter_t *l = parse_atom(p, scope);

        while (l) {
                scim_filter_t *n;

                skip_ws(p);
                if (!word_is(p, "and"))
                        break;
                p->pos += 3;
                n = new_node(p, N_AND);
                if (!n) {
                        scim_filter_free(l);
                        return NULL;
                }
                n->l = l;
                n->r = parse_atom(p, scope);
                if (!n->r) {
                        scim_filter_free(n);
                        return NULL;
                }
                l = n;
        }
        return l;
}

static scim_filter_t *parse_or(parser_t *p, const scim_attr_t *scope)
{
        scim_filter_t *l = parse_and(p, scope);

        while (l) {
                scim_filter_t *n;

                skip_ws(p);
                if (!word_is(p, "or"))
                        break;
                p->pos += 2;
                n = new_node(p, N_OR);
                if (!n) {
                        scim_filter_free(l);
                        return NULL;
                }
                n->l = l;
                n->r = parse_and(p, scope);
                if (!n->r) {
                        scim_filter_free(n);
                        return NULL;
                }
                l = n;
        }
        return l;
}

int scim_filter_parse(scim_rtype_t rt, const char *s, scim_filter_t **out,
                      scim_err_t *err)
{
        parser_t p = {.s = s, .len = s ? strlen(s) : 0, .rt = rt, .err = err,
                      .kind = "invalidFilter"};
        scim_filter_t *f;

        *out = NULL;
        if (!s || p.len == 0)
                return scim_err_set(err, 400, "invalidFilter",
                                    "filter is empty");
        if (p.len > SCIM_MAX_FILTER_LEN)
                return scim_err_set(err, 400, "invalidFilter",
                                    "filter is longer than %d bytes",
                                    SCIM_MAX_FILTER_LEN);
        f = parse_or(&p, NULL);
        if (!f)
                return -1;
        skip_ws(&p);
        if (p.pos != p.len) {
                scim_filter_free(f);
                return perr(&p, "unexpected text");
        }
        *out = f;
        return 0;
}

int scim_path_parse(scim_rtype_t rt, const char *s, scim_path_t **out,
                    scim_err_t *err)
{
        parser_t p = {.s = s, .len = s ? strlen(s) : 0, .rt = rt, .err = err,
                      .kind = "invalidPath"};
        scim_filter_t *f = NULL;
        scim_path_t *path;
        char *tok;
        apath_t a;

        *out = NULL;
        if (!s || p.len == 0 || p.len > SCIM_MAX_FILTER_LEN)
                return scim_err_set(err, 400, "invalidPath",
                                    "path is empty or too long");
        tok = read_name(&p);
        if (!tok)
                return perr(&p, "attribute name expected");
        if (split_name(&p, tok, &a, NULL) < 0) {
                free(tok);
                path_clear(&a);
                return -1;
        }
        free(tok);
        if (p.pos < p.len && p.s[p.pos] == '[') {
                if (a.sub) {
                        path_clear(&a);
                        return perr(&p, "value filter after sub-attribute");
                }
                p.pos++;
                p.kind = "invalidPath";
                f = parse_or(&p, a.attr_def);
                if (!f) {
                        path_clear(&a);
                        return -1;
                }
                skip_ws(&p);
                if (p.pos >= p.len || p.s[p.pos] != ']') {
                        scim_filter_free(f);
                        path_clear(&a);
                        return perr(&p, "']' expected");
                }
                p.pos++;
                if (p.pos < p.len && p.s[p.pos] == '.') {
                        p.pos++;
                        a.sub = read_name(&p);
                        if (!a.sub) {
                                scim_filter_free(f);
                                path_clear(&a);
                                return perr(&p, "sub-attribute expected");
                        }
                        if (a.attr_def) {
                                a.sub_def = scim_schema_attr(rt, a.attr_def,
                                                             a.sub);
                                if (a.sub_def) {
                                        free(a.sub);
                                        a.sub = strdup(
                                            scim_attr_name(a.sub_def));
                                }
                        }
                }
        }
        if (p.pos != p.len) {
                scim_filter_free(f);
                path_clear(&a);
                return perr(&p, "unexpected text in path");
        }
        path = calloc(1, sizeof(*path));
        if (!path) {
                scim_filter_free(f);
                path_clear(&a);
                return scim_err_set_retry(err, 503, "out of memory");
        }
        path->urn = a.urn;
        path->attr = a.attr;
        path->sub = a.sub;
        path->attr_def = a.attr_def;
        path->sub_def = a.sub_def;
        path->filter = f;
        *out = path;
        return 0;
}

void scim_path_free(scim_path_t *p)
{
        if (!p)
                return;
        free(p->urn);
        free(p->attr);
        free(p->sub);
        scim_filter_free(p->filter);
        free(p);
}

/* --------------------------------------------------------- evaluation */

json_t *scim_json_get_ci(const json_t *o, const char *k)
{
        const char *key;
        json_t *v;

        if (!json_is_object(o) || !k)
                return NULL;
        v = json_object_get(o, k);
        if (v)
                return v;
        json_object_foreach((json_t *)o, key, v) if (scim_strcaseeq(key, k)) return v;
        return NULL;
}

static int ord(op_t op, double c);

/* String operators on a (actual) and l (literal), both NUL-free of length
 * na and nl; case-insensitive comparisons pass both as caseless keys. */
static int str_op(op_t op, const char *a, size_t na, const char *l, size_t nl)
{
        int c;

        switch (op) {
        case OP_CO:
                return nl == 0 || memmem(a, na, l, nl) != NULL;
        case OP_SW:
                return na >= nl && memcmp(a, l, nl) == 0;
        case OP_EW:
                return na >= nl && memcmp(a + na - nl, l, nl) == 0;
        default:
                c = memcmp(a, l, na < nl ? na : nl);
                if (c == 0)
                        c = na < nl ? -1 : na > nl ? 1 : 0;
                return ord(op, c);
        }
}

static int ord(op_t op, double c)
{
        switch (op) {
        case OP_EQ:
                return c == 0;
        case OP_NE:
                return c != 0;
        case OP_GT:
                return c > 0;
        case OP_GE:
                return c >= 0;
        case OP_LT:
                return c < 0;
        case OP_LE:
                return c <= 0;
        default:
                return 0;
        }
}

/* Compares one actual value with the literal; lfold is the literal's
 * caseless key when it is a string (NULL otherwise). */
static int cmp_one(const json_t *act, op_t op, const json_t *lit,
                   const char *lfold, size_t lfold_len, const scim_attr_t *def)
{
        int exact = def ? scim_attr_case_exact(def) : 0;

        if (!act || json_is_null(act))
                return 0;
        if (json_is_null(lit))
                return op == OP_NE;
        if (json_is_boolean(act)) {
                int b;

                if (json_is_boolean(lit))
                        b = json_is_true(lit);
                else if (json_is_string(lit) &&
                         scim_strcaseeq(json_string_value(lit), "true"))
                        b = 1;
                else if (json_is_string(lit) &&
                         scim_strcaseeq(json_string_value(lit), "false"))
                        b = 0;
                else
                        return op == OP_NE;
                if (op == OP_EQ)
                        return json_is_true(act) == b;
                if (op == OP_NE)
                        return json_is_true(act) != b;
                return 0;
        }
        if (json_is_number(act)) {
                double a = json_number_value(act), l;

                if (json_is_number(lit))
                        l = json_number_value(lit);
                else if (json_is_string(lit))
                        l = strtod(json_string_value(lit), NULL);
                else
                        return 0;
                return ord(op, a < l ? -1 : a > l ? 1 : 0);
        }
        if (json_is_string(act)) {
                const char *a = json_string_value(act);
                char buf[64];
                const char *l;

                if (json_is_string(lit))
                        l = json_string_value(lit);
                else if (json_is_boolean(lit))
                        l = json_is_true(lit) ? "true" : "false";
                else if (json_is_number(lit)) {
                        snprintf(buf, sizeof(buf), "%g", json_number_value(lit));
                        l = buf;
                } else
                        return 0;
                if (def && scim_attr_type(def) == SCIM_T_DATETIME &&
                    op != OP_CO && op != OP_SW && op != OP_EW) {
                        int64_t ta, tl;

                        if (scim_time_parse(a, &ta) == 0 &&
                            scim_time_parse(l, &tl) == 0)
                                return ord(op, ta < tl ? -1 : ta > tl ? 1 : 0);
                }
                if (exact)
                        return str_op(op, a, json_string_length(act), l,
                                      strlen(l));
                {
                        char abuf[256], lbuf[64];
                        size_t na = 0, nl = 0;
                        char *fa, *own = NULL;
                        const char *fl = lfold;
                        int r;

                        if (fl)
                                nl = lfold_len;
                        else
                                fl = own = scim_casefold_n(l, strlen(l), lbuf,
                                                           sizeof(lbuf), &nl);
                        fa = scim_casefold_n(a, json_string_length(act), abuf,
                                             sizeof(abuf), &na);
                        r = fa && fl && str_op(op, fa, na, fl, nl);
                        if (fa != abuf)
                                free(fa);
                        if (own != lbuf)
                                free(own);
                        return r;
                }
        }
        return 0;
}

/* Calls fn on every value the path names in obj. Returns 1 if fn did. */
typedef int (*visit_fn)(const json_t *v, void *arg);

static int visit(const json_t *obj, const apath_t *a, visit_fn fn, void *arg)
{
        const json_t *base = obj, *v;
        size_t i;
        json_t *e;

        if (a->urn)
                base = scim_json_get_ci(obj, a->urn);
        v = scim_json_get_ci(base, a->attr);
        if (!v)
                return 0;
        if (a->sub) {
                if (json_is_array(v)) {
                        json_array_foreach(v, i, e) if (fn(scim_json_get_ci(e, a->sub), arg)) return 1;
                        return 0;
                }
                return fn(scim_json_get_ci(v, a->sub), arg);
        }
        if (json_is_array(v)) {
                json_array_foreach(v, i, e)
                {
                        const json_t *x = json_is_object(e) ? scim_json_get_ci(e, "value")
                                                            : e;
                        if (fn(x, arg))
                                return 1;
                }
                return 0;
        }
        if (json_is_object(v))
                return fn(scim_json_get_ci(v, "value"), arg);
        return fn(v, arg);
}

typedef struct cmp_arg {
        op_t op;
        const json_t *lit;
        const char *lfold;
        size_t lfold_len;
        const scim_attr_t *def;
} cmp_arg_t;

static int visit_cmp(const json_t *v, void *arg)
{
        cmp_arg_t *c = arg;

        return cmp_one(v, c->op, c->lit, c->lfold, c->lfold_len, c->def);
}

static int visit_pr(const json_t *v, void *arg)
{
        (void)arg;
        return v && !json_is_null(v) &&
               !(json_is_string(v) && json_string_length(v) == 0) &&
               !(json_is_array(v) && json_array_size(v) == 0);
}

static int eval(const scim_filter_t *f, const json_t *res)
{
        switch (f->kind) {
        case N_AND:
                return eval(f->l, res) && eval(f->r, res);
        case N_OR:
                return eval(f->l, res) || eval(f->r, res);
        case N_NOT:
                return !eval(f->l, res);
        case N_PR:
                return visit(res, &f->path, visit_pr, NULL);
        case N_CMP: {
                cmp_arg_t c = {f->op == OP_NE ? OP_EQ : f->op, f->value,
                               f->lfold, f->lfold_len,
                               f->path.sub_def ? f->path.sub_def
                                               : f->path.attr_def};
                int hit = visit(res, &f->path, visit_cmp, &c);

                return f->op == OP_NE ? !hit : hit;
        }
        case N_VALPATH: {
                const json_t *base = f->path.urn ? scim_json_get_ci(res, f->path.urn)
                                                 : res;
                const json_t *arr = scim_json_get_ci(base, f->path.attr), *e;
                size_t i, n = json_is_array(arr) ? json_array_size(arr) : 1;

                if (!arr)
                        return 0;
                for (i = 0; i < n; i++) {
                        e = json_is_array(arr) ? json_array_get(arr, i) : arr;
                        if (!eval(f->l, e))
                                continue;
                        if (!f->has_sub_cmp)
                                return 1;
                        if (f->sub_is_pr) {
                                if (visit_pr(scim_json_get_ci(e, f->path.sub), NULL))
                                        return 1;
                        } else {
                                int r = cmp_one(scim_json_get_ci(e, f->path.sub),
                                                f->op == OP_NE ? OP_EQ : f->op,
                                                f->value, f->lfold,
                                                f->lfold_len, f->path.sub_def);

                                if (f->op == OP_NE ? !r : r)
                                        return 1;
                        }
                }
                return 0;
        }
        }
        return 0;
}

int scim_filter_match(const scim_filter_t *f, const json_t *resource)
{
        return f ? eval(f, resource) : 1;
}

int scim_filter_match_element(const scim_filter_t *f, const json_t *element)
{
        return f ? eval(f, element) : 1;
}

scim_index_t scim_filter_index_hint(const scim_filter_t *f, scim_rtype_t rt,
                                    const char **value)
{
        scim_index_t ix;

        if (!f)
                return SCIM_IDX_NONE;
        if (f->kind == N_AND) {
                ix = scim_filter_index_hint(f->l, rt, value);
                return ix ? ix : scim_filter_index_hint(f->r, rt, value);
        }
        if (f->op != OP_EQ || !json_is_string(f->value) || f->path.urn)
                return SCIM_IDX_NONE;
        *value = json_string_value(f->value);
        if (f->kind == N_VALPATH && f->has_sub_cmp && !f->sub_is_pr &&
            rt == SCIM_RT_USER && !strcmp(f->path.attr, "emails") &&
            !strcmp(f->path.sub, "value"))
                return SCIM_IDX_EMAIL;
        if (f->kind != N_CMP)
                return SCIM_IDX_NONE;
        if (!f->path.sub) {
                if (!strcmp(f->path.attr, "id"))
                        return SCIM_IDX_ID;
                if (!strcmp(f->path.attr, "externalId"))
                        return SCIM_IDX_EXTERNALID;
                if (!strcmp(f->path.attr, "displayName"))
                        return SCIM_IDX_DISPLAYNAME;
                if (rt == SCIM_RT_USER && !strcmp(f->path.attr, "userName"))
                        return SCIM_IDX_USERNAME;
        }
        if (rt == SCIM_RT_USER && !strcmp(f->path.attr, "emails") &&
            (!f->path.sub || !strcmp(f->path.sub, "value")))
                return SCIM_IDX_EMAIL;
        return SCIM_IDX_NONE;
}

int scim_filter_index_exact(const scim_filter_t *f, scim_rtype_t rt)
{
        const char *value = NULL;
        scim_index_t ix;

        if (!f || f->kind != N_CMP)
                return 0;
        ix = scim_filter_index_hint(f, rt, &value);
        if (!value || strlen(value) != json_string_length(f->value))
                return 0;
        if (ix == SCIM_IDX_ID)
                return 1;
        /* the index key is the caseless key of userName, as the filter's
         * comparison is when the attribute is not caseExact */
        return ix == SCIM_IDX_USERNAME && f->path.attr_def &&
               !scim_attr_case_exact(f->path.attr_def);
}

/* The literal of `value eq "X"` inside a members[...] value path, alone
 * or under an `and`. */
static const char *member_inner(const scim_filter_t *f)
{
        const char *v;

        if (!f)
                return NULL;
        if (f->kind == N_AND) {
                v = member_inner(f->l);
                return v ? v : member_inner(f->r);
        }
        if (f->kind != N_CMP || f->op != OP_EQ || !json_is_string(f->value) ||
            f->path.urn || f->path.sub || !f->path.attr ||
            !scim_strcaseeq(f->path.attr, "value") ||
            strlen(json_string_value(f->value)) !=
                json_string_length(f->value))
                return NULL;
        return json_string_value(f->value);
}

const char *scim_filter_member_value(const scim_filter_t *f)
{
        const char *v;

        if (!f)
                return NULL;
        if (f->kind == N_AND) {
                v = scim_filter_member_value(f->l);
                return v ? v : scim_filter_member_value(f->r);
        }
        if (f->path.urn || !f->path.attr ||
            !scim_strcaseeq(f->path.attr, "members"))
                return NULL;
        if (f->kind == N_VALPATH && !f->has_sub_cmp)
                return member_inner(f->l);
        if ((f->kind != N_CMP &&
             (f->kind != N_VALPATH || f->sub_is_pr)) ||
            f->op != OP_EQ || !json_is_string(f->value) ||
            !f->path.sub || !scim_strcaseeq(f->path.sub, "value") ||
            strlen(json_string_value(f->value)) !=
                json_string_length(f->value))
                return NULL;
        return json_string_value(f->value);
}

int scim_filter_mentions(const scim_filter_t *f, const char *attr)
{
        if (!f)
                return 0;
        if (f->path.attr && scim_strcaseeq(f->path.attr, attr))
                return 1;
        return scim_filter_mentions(f->l, attr) ||
               scim_filter_mentions(f->r, attr);
}

static int eq_fill(const scim_filter_t *f, json_t *o)
{
        if (f->kind == N_AND)
                return eq_fill(f->l, o) && eq_fill(f->r, o);
        if (f->kind != N_CMP || f->op != OP_EQ || f->path.urn || f->path.sub ||
            json_is_null(f->value))
                return 0;
        if (f->path.attr_def &&
            scim_attr_type(f->path.attr_def) == SCIM_T_BOOLEAN &&
            json_is_string(f->value))
                json_object_set_new(
                    o, f->path.attr,
                    json_boolean(scim_strcaseeq(json_string_value(f->value),
                                                "true")));
        else
                json_object_set(o, f->path.attr, f->value);
        return 1;
}

json_t *scim_filter_eq_object(const scim_filter_t *f)
{
        json_t *o = json_object();

        if (!f || !eq_fill(f, o)) {
                json_decref(o);
                return NULL;
        }
        return o;
}

/* ------------------------------------------------ necessary literals */

/* 1 if a literal can be looked for as bytes in a stored JSON text (and in
 * that text JSON-escaped once more): printable ASCII without the bytes a
 * JSON writer escapes (", \, and / which some writers escape). */
static int needle_ok(const char *s, size_t n)
{
        if (n == 0)
                return 0;
        for (size_t i = 0; i < n; i++)
                if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\' ||
                    s[i] == '/')
                        return 0;
        return 1;
}

/* Attributes a stored resource's JSON text does not hold as such (added
 * or rebuilt when the resource is served). */
static int path_outside_text(const apath_t *a)
{
        return scim_strcaseeq(a->attr, "id") ||
               scim_strcaseeq(a->attr, "meta") ||
               scim_strcaseeq(a->attr, "schemas");
}

/* The comparison of def (string or reference, known to the schema, so the
 * stored value is a string: the fold validates every resource) with a
 * string literal by eq, co, sw or ew: the value contains the literal. */
static int cmp_needle(op_t op, const json_t *lit, const scim_attr_t *def,
                      const char **l, size_t *n, int *caseless)
{
        scim_atype_t t;

        if (!def || !json_is_string(lit) ||
            (op != OP_EQ && op != OP_CO && op != OP_SW && op != OP_EW))
                return 0;
        t = scim_attr_type(def);
        if (t != SCIM_T_STRING && t != SCIM_T_REFERENCE)
                return 0;
        *l = json_string_value(lit);
        *n = json_string_length(lit);
        *caseless = !scim_attr_case_exact(def);
        return needle_ok(*l, *n);
}

static int needles(const scim_filter_t *f, const char **lit, size_t *len,
                   int *caseless, int max)
{
        int a, b;

        if (max < 1)
                return 0;
        switch (f->kind) {
        case N_AND:
                a = needles(f->l, lit, len, caseless, max);
                b = needles(f->r, lit + a, len + a, caseless + a, max - a);
                if (a && b) { /* either side's set will do: the smaller */
                        if (b < a) {
                                memmove(lit, lit + a, (size_t)b * sizeof(*lit));
                                memmove(len, len + a, (size_t)b * sizeof(*len));
                                memmove(caseless, caseless + a,
                                        (size_t)b * sizeof(*caseless));
                                return b;
                        }
                        return a;
                }
                if (!a && b) {
                        memmove(lit, lit + a, (size_t)b * sizeof(*lit));
                        memmove(len, len + a, (size_t)b * sizeof(*len));
                        memmove(caseless, caseless + a,
                                (size_t)b * sizeof(*caseless));
                }
                return a ? a : b;
        case N_OR:
                a = needles(f->l, lit, len, caseless, max);
                b = a ? needles(f->r, lit + a, len + a, caseless + a, max - a)
                      : 0;
                return a && b ? a + b : 0; /* one side without: nothing */
        case N_CMP:
                if (path_outside_text(&f->path))
                        return 0;
                return cmp_needle(f->op, f->value,
                                  f->path.sub_def ? f->path.sub_def
                                  : f->path.sub   ? NULL
                                                  : f->path.attr_def,
                                  lit, len, caseless);
        case N_VALPATH:
                if (path_outside_text(&f->path))
                        return 0;
                if (f->has_sub_cmp && !f->sub_is_pr &&
                    cmp_needle(f->op, f->value, f->path.sub_def, lit, len,
                               caseless))
                        return 1;
                return needles(f->l, lit, len, caseless, max);
        default: /* not, pr */
                return 0;
        }
}

int scim_filter_needles(const scim_filter_t *f, const char **lit, size_t *len,
                        int *caseless, int max)
{
        return f ? needles(f, lit, len, caseless, max) : 0;
}
