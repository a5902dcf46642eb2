/*
 * admin_internal.h — the admin web page (the files under api/admin/), compiled
 * into the binary and served under /admin/. Internal to api/: http.c's route()
 * hands every /admin URL to scim_admin_serve().
 */
#ifndef SCIM_ADMIN_INTERNAL_H
#define SCIM_ADMIN_INTERNAL_H

#include <microhttpd.h>

/* 1 if url is "/admin" or lies under "/admin/". */
int scim_admin_match(const char *url);

/* Answers one request for the admin page: GET/HEAD of an embedded file
 * (with its Content-Type and a strict Content-Security-Policy), a redirect
 * from "/admin" to "/admin/", 404 for an unknown file, 405 for any other
 * method. The page itself carries no secret: it asks for the tenant and
 * token and calls the reports API with them, so no auth here.
 * Thread: any libmicrohttpd pool thread; touches only static data. */
enum MHD_Result scim_admin_serve(struct MHD_Connection *c, const char *url,
                                 const char *method);

#endif /* SCIM_ADMIN_INTERNAL_H */
