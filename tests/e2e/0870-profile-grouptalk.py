"""0870 — GroupTalk's profile end to end (profiles/grouptalk.json, guide
../shared/apps/grouptalk-entra-tutorial.txt). The tenant is created with
`scimlog tenant create --profile grouptalk` and served at GroupTalk's
published URL shape (`/api/scim/`, the tenant implied by the token). Entra's
user mappings are replayed as Entra sends them: test connection, the
matching query on userName and the two other filterable targets
(phoneNumbers[type eq "mobile"].value, emails[type eq "work"].value), POST
with every mapped attribute (enterprise costCenter/organization, grouptalk
label1..label5), a PATCH of each, path-less with flat URN keys, labels
cleared, disable with "False", delete; the group mappings (displayName
matching, externalId, members, the grouptalk Group description) with member
add and remove. Discovery is the profile's, a label must be a string, a
tenant without a profile is unaffected, and a replay has the same digest."""
import json
from scimtest import Check, Server, USER, GROUP, cli
from entra import (ADSCIM, ENT, App, check_definition, check_discovery, check_replay, create_matched,
                   operator_args, patch_ok, post_body, profile, reads_back, test_connection)

c = Check()
N = "grouptalk"
GT_U = "urn:ietf:params:scim:schemas:extension:grouptalk:2.0:User"
GT_G = "urn:ietf:params:scim:schemas:extension:grouptalk:2.0:Group"
prof = profile(N)

srv = Server(tenants=("plain",))
srv.extra = ["--mount", "/api/scim"] + operator_args(srv.root)
t = json.loads(cli("tenant", "create", "gt-org-4711", "--profile", N, "--data", srv.data).stdout)
c.ok(t.get("profile") == N, "tenant created from the grouptalk profile", t)
srv.start()
try:
    app = App(srv, "/api/scim", t["secret"])
    plain = App(srv, "/api/scim", srv.tokens["plain"]["secret"])
    check_definition(c, app, N, "gt-org-4711", prof)
    check_discovery(c, app, N, prof)
    test_connection(c, app, N)

    # ---- users: the guide's mapping table, in its order
    first = {
        "userName": "anna.berg@contoso.com",
        'phoneNumbers[type eq "mobile"].value': "+46 70 123 45 67",
        'emails[type eq "work"].value': "anna.berg@contoso.com",
        "active": True,
        "name.givenName": "Anna",
        "name.familyName": "Berg",
        "externalId": "7c1e3a52-0f0e-4d39-9d59-2f7f2d4b9a11",
        ENT + ":costCenter": "CC-100",
        ENT + ":organization": "Contoso Logistics",
        GT_U + ":label1": "Driver",
        GT_U + ":label2": "North",
        GT_U + ":label3": "Shift A",
    }
    u = create_matched(c, app, N, post_body(first, [USER, ENT]), 'userName eq "anna.berg@contoso.com"')
    uid = u["id"]
    reads_back(c, N, u, first, "POST answer")
    c.ok(GT_U in u.get("schemas", []), N + ": the created user lists the grouptalk extension", u.get("schemas"))
    # the two other targets the guide marks as filterable are matching candidates too
    for flt in ('phoneNumbers[type eq "mobile"].value eq "+46 70 123 45 67"',
                'emails[type eq "work"].value eq "anna.berg@contoso.com"',
                'externalId eq "7c1e3a52-0f0e-4d39-9d59-2f7f2d4b9a11"'):
        st, _, j = app.query("Users", flt)
        c.ok(st == 200 and j.get("totalResults") == 1 and j["Resources"][0]["id"] == uid,
             N + ": matching on " + flt.split(" eq ")[0], (st, j))

    # Entra's other spellings: the guide's URL ends in "/", form-encoded spaces, an unquoted value,
    # an extension attribute in another case
    st, _, j = app.get('/Users?filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22anna.berg%40contoso.com%22',
                       headers={"Host": "api.grouptalk.test"})
    c.ok(st == 200 and j.get("totalResults") == 1, N + ": a form-encoded matching query", (st, j))
    st, _, j = app.raw("GET", "/api/scim//Users?filter=userName+eq+%22anna.berg%40contoso.com%22", absolute=True)
    c.ok(st == 200 and j.get("totalResults") == 1, N + ": the guide's Tenant URL with its trailing slash", (st, j))
    st, _, j = app.get("/Users?filter=" + GT_U + ":LABEL1+eq+Driver")
    c.ok(st == 200 and j.get("totalResults") == 1, N + ": filter on a label, any case, unquoted", (st, j))

    # one PATCH per sync cycle with every changed attribute, in Entra's shapes
    second = dict(first)
    second.update({
        'phoneNumbers[type eq "mobile"].value': "+46 70 765 43 21",
        'emails[type eq "work"].value': "anna.lund@contoso.com",
        "name.familyName": "Lund",
        ENT + ":costCenter": "CC-200",
        ENT + ":organization": "Contoso Transport",
        GT_U + ":label1": "Dispatcher",
        GT_U + ":label4": "Radio 7",
        GT_U + ":label5": "Night",
    })
    r = patch_ok(c, app, N, uid, [
        {"op": "Replace", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+46 70 765 43 21"},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "anna.lund@contoso.com"},
        {"op": "Replace", "path": "name.familyName", "value": "Lund"},
        {"op": "Replace", "path": ENT + ":costCenter", "value": "CC-200"},
        {"op": "Replace", "path": ENT + ":organization", "value": "Contoso Transport"},
        {"op": "Replace", "path": GT_U + ":label1", "value": "Dispatcher"},
        {"op": "Add", "path": GT_U + ":label4", "value": "Radio 7"},
        {"op": "Add", "path": GT_U + ":label5", "value": "Night"}], "every mapped attribute")
    reads_back(c, N, r, second, "after the update cycle")
    c.ok(len(r.get("phoneNumbers", [])) == 1 and len(r.get("emails", [])) == 1,
         N + ": filtered replaces change the typed element, no second one", r)

    # the path-less shape (aadOptscim062020 off): flat URN and dotted keys in one op
    r = patch_ok(c, app, N, uid, [{"op": "Replace", "value": {
        GT_U + ":label2": "South", "name.givenName": "Annie", "externalId": "7c1e3a52-0f0e-4d39-9d59-2f7f2d4b9a12"}}],
        "path-less with flat URN keys")
    second.update({GT_U + ":label2": "South", "name.givenName": "Annie",
                   "externalId": "7c1e3a52-0f0e-4d39-9d59-2f7f2d4b9a12"})
    reads_back(c, N, r, second, "after the path-less PATCH")

    # a label emptied in Entra: Remove, and "" meaning remove
    r = patch_ok(c, app, N, uid, [{"op": "Remove", "path": GT_U + ":label3"},
                                  {"op": "Replace", "path": GT_U + ":label5", "value": ""}], "labels cleared")
    c.ok(sorted(r.get(GT_U, {})) == ["label1", "label2", "label4"], N + ": cleared labels are gone", r.get(GT_U))
    # a label in another case is stored under the schema's spelling
    r = patch_ok(c, app, N, uid, [{"op": "Add", "path": GT_U + ":LABEL3", "value": "Shift C"}], "label in another case")
    c.ok(r.get(GT_U, {}).get("label3") == "Shift C" and "LABEL3" not in r.get(GT_U, {}),
         N + ": stored as label3", r.get(GT_U))
    # labels are strings in the profile
    st, _, j = app.patch("/Users/" + uid, [{"op": "Replace", "path": GT_U + ":label1", "value": 5}])
    c.error_body(st, j, 400, "invalidValue", N + ": a number as a label")
    c.ok("label1" in (j or {}).get("detail", ""), N + ": the refusal names the label", j)
    st, _, j = app.post("/Users", post_body({"userName": "x@contoso.com", GT_U + ":label2": ["a", "b"]}, [USER]))
    c.error_body(st, j, 400, "invalidValue", N + ": a list as a label on create")
    st, _, r = app.get("/Users/" + uid)
    c.ok(r.get(GT_U, {}).get("label1") == "Dispatcher", N + ": nothing of the refused PATCH applied", r.get(GT_U))

    # a second user, for membership
    v = create_matched(c, app, N, post_body({"userName": "bo.ek@contoso.com", "active": True,
                                             GT_U + ":label1": "Driver"}, [USER]),
                       'userName eq "bo.ek@contoso.com"')

    # a mobile number added later: the filtered replace creates the typed element
    r = patch_ok(c, app, N, v["id"], [
        {"op": "Replace", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+46 73 000 11 22"},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "bo.ek@contoso.com"}],
        "typed elements that did not exist")
    reads_back(c, N, r, {'phoneNumbers[type eq "mobile"].value': "+46 73 000 11 22",
                         'emails[type eq "work"].value': "bo.ek@contoso.com"}, "created by filtered replace")

    # ---- groups: displayName matching, externalId, members, description
    gmap = {"displayName": "Drivers North", "externalId": "0f5e0c9a-5d1b-4b1e-a0a8-3b8f4a8f1c01",
            GT_G + ":description": "All drivers in the north"}
    g = create_matched(c, app, N, post_body(gmap, [GROUP, ADSCIM]) | {"members": []},
                       'displayName eq "Drivers North"', rtype="Groups")
    gid = g["id"]
    reads_back(c, N, g, gmap, "group POST answer")
    r = patch_ok(c, app, N, gid, [{"op": "Add", "path": "members",
                                   "value": [{"$ref": None, "value": uid}, {"value": v["id"]}]}],
                 "two members added at once", rtype="Groups")
    c.ok("members" not in r, N + ": group read without members", r)
    st, _, j = app.get("/Groups/%s" % gid)
    c.ok(sorted(m["value"] for m in j.get("members", [])) == sorted([uid, v["id"]]),
         N + ": both members stored", j.get("members"))
    r = patch_ok(c, app, N, gid, [
        {"op": "Replace", "path": "displayName", "value": "Drivers North-East"},
        {"op": "Replace", "path": GT_G + ":description", "value": "North and east"}], "rename and description",
        rtype="Groups")
    reads_back(c, N, r, {"displayName": "Drivers North-East", GT_G + ":description": "North and east"}, "group update")
    st, _, j = app.query("Groups", 'displayName eq "Drivers North-East"', "&excludedAttributes=members")
    c.ok(st == 200 and j.get("totalResults") == 1 and "members" not in j["Resources"][0],
         N + ": group matching query after rename, without members", (st, j))
    st, _, j = app.query("Users", 'groups.value eq "%s"' % gid)
    c.ok(st == 200 and j.get("totalResults") == 2, N + ": members found by groups.value", (st, j))
    patch_ok(c, app, N, gid, [{"op": "Remove", "path": "members", "value": [{"value": v["id"]}]}],
             "one member removed", rtype="Groups")
    st, _, j = app.get("/Groups/%s" % gid)
    c.ok([m["value"] for m in j.get("members", [])] == [uid], N + ": only the listed member removed", j.get("members"))
    st, _, j = app.post("/Groups", {"schemas": [GROUP, GT_G], "displayName": "Bad", GT_G: {"description": 7}})
    c.error_body(st, j, 400, "invalidValue", N + ": a group description that is not a string")

    # ---- disable, then delete
    r = patch_ok(c, app, N, uid, [{"op": "Replace", "path": "active", "value": "False"}], "disable")
    c.ok(r.get("active") is False, N + ": disabled user stays visible", r)
    st, _, j = app.get("/Groups/%s" % gid)
    c.ok([m["value"] for m in j.get("members", [])] == [uid], N + ": a disabled user keeps its membership", j)
    st, _, _ = app.delete("/Users/" + uid)
    c.ok(st == 204, N + ": DELETE user", st)
    st, _, j = app.get("/Users/" + uid)
    c.error_body(st, j, 404, None, N + ": deleted user")
    st, _, j = app.get("/Groups/%s" % gid)
    c.ok(not j.get("members"), N + ": the deleted user left the group", j)
    st, _, _ = app.delete("/Groups/" + gid)
    c.ok(st == 204, N + ": DELETE group", st)
    u2 = create_matched(c, app, N, post_body({"userName": "anna.berg@contoso.com", GT_U + ":label1": "Back"}, [USER]),
                        'userName eq "anna.berg@contoso.com"')
    c.ok(u2["id"] != uid, N + ": the userName is free again after the delete", u2)

    # ---- isolation: a tenant without a profile keeps the built-in model
    st, _, j = plain.get("/Schemas")
    c.ok(st == 200 and GT_U not in [s["id"] for s in j["Resources"]], "plain tenant: no grouptalk schema", j)
    st, _, j = plain.post("/Users", {"schemas": [USER], "userName": "anna.berg@contoso.com", GT_U: {"label1": 5}})
    c.ok(st == 201 and j.get(GT_U) == {"label1": 5}, "plain tenant: the same userName, an unchecked block kept verbatim",
         (st, j))
    st, _, j = app.query("Users", 'userName eq "anna.berg@contoso.com"')
    c.ok(j.get("totalResults") == 1 and j["Resources"][0]["id"] == u2["id"], N + ": sees only its own user", j)
    st, _, j = plain.get("/Users/" + u2["id"])
    c.error_body(st, j, 404, None, "plain tenant: the grouptalk user is not visible")

    into = check_replay(c, srv, N)
    srv.start(data=into)
    app = App(srv, "/api/scim", t["secret"])
    st, _, j = app.patch("/Users/" + u2["id"], [{"op": "Replace", "path": GT_U + ":label1", "value": 5}])
    c.error_body(st, j, 400, "invalidValue", N + ": after replay the profile is enforced")
finally:
    srv.cleanup()
c.done()
