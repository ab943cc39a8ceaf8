/*  System tests of notes on contacts: written, listed, edited into revisions and deleted
    into tombstones over HTTP, as a client would; who may change them; the events in
    contacts' outbox; the contact's last activity; and bad input, after each of which
    nothing was written. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>

#include "outbox.h"
#include "systest_sql.h"
#include <libpq-fe.h>

static harness_t *h;
static char s_key_sam[64];  // sales, user "sam"
static char s_key_jo[64];   // sales, user "jo"
static char s_key_max[64];  // manager, user "max"

//  A key of tenant-a for role, acting as user.
static void s_create_key(const char *role, const char *user, char out[64]) {
    const char *bin = getenv("CRM_BIN_DIR");
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "CRM_DATABASE_DSN='%s' %s/crmctl keys create --tenant tenant-a --role %s --user %s"
             " 2>/dev/null",
             h->dsn, bin ? bin : "build/bin", role, user);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    out[0] = 0;
    if (fgets(out, 64, p))
        out[strcspn(out, "\n")] = 0;
    assert_int_equal(pclose(p), 0);
    assert_true(strlen(out) > 10);
}

static int s_setup(void **state) {
    (void)state;
    h = harness_start(NULL);
    s_create_key("sales", "sam", s_key_sam);
    s_create_key("sales", "jo", s_key_jo);
    s_create_key("manager", "max", s_key_max);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

// --- helpers --------------------------------------------------------------------------

static PGconn *s_db(void) {
    static PGconn *db;
    if (!db || PQstatus(db) != CONNECTION_OK) {
        PQfinish(db);
        db = PQconnectdb(h->dsn);
    }
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    return db;
}

//  The first column of the first row of sql (with up to two text parameters) as text,
//  "" for NULL or no row.
static void s_sql_text(const char *sql, const char *p1, const char *p2, char *out, size_t size) {
    const char *params[] = {p1, p2};
    PGresult *res = PQexecParams(s_db(), sql, p2 ? 2 : p1 ? 1 : 0, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("query failed: %s: %s", sql, PQerrorMessage(s_db()));
    snprintf(out, size, "%s", PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
}

//  What the notes feature has written, in one line: notes, revisions, tombstones, the
//  latest change, contacts' events, and every contact's last activity. Equal before and
//  after a refused request: it wrote nothing.
static void s_written(char *out, size_t size) {
    s_sql_text("SELECT (SELECT count(*) FROM contacts.notes) || ' '"
               " || (SELECT count(*) FROM contacts.note_revisions) || ' '"
               " || (SELECT count(*) FROM contacts.notes WHERE deleted_at IS NOT NULL) || ' '"
               " || coalesce((SELECT max(updated_at)::text FROM contacts.notes), '-') || ' '"
               " || (SELECT count(*) FROM contacts.outbox) || ' '"
               " || coalesce((SELECT string_agg(coalesce(last_activity_at::text, '-'), ','"
               "              ORDER BY id) FROM contacts.contacts), '')",
               NULL, NULL, out, size);
}

//  A new organization of tenant-a (written with an admin key); its id into id.
static void s_contact(char id[64]) {
    static int n;
    char body[128];
    snprintf(body, sizeof body, "{\"kind\":\"organization\",\"name\":\"Notes Motors %d\"}", ++n);
    harness_response_t r = harness_http("POST", "/v1/contacts", h->key_a, body, NULL);
    assert_int_equal(r.status, 201);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

//  POST a note with body (a JSON string literal, quotes included) as key.
static harness_response_t s_add(const char *key, const char *contact, const char *body_json) {
    char path[128], *body = malloc(strlen(body_json) + 16);
    snprintf(path, sizeof path, "/v1/contacts/%s/notes", contact);
    sprintf(body, "{\"body\":%s}", body_json);
    harness_response_t r = harness_http("POST", path, key, body, NULL);
    free(body);
    return r;
}

//  Add a note that must be accepted; its id into id.
static void s_add_ok(const char *key, const char *contact, const char *body_json, char id[64]) {
    harness_response_t r = s_add(key, contact, body_json);
    assert_int_equal(r.status, 201);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

static void s_note_path(char *out, size_t size, const char *contact, const char *note,
                        const char *tail) {
    snprintf(out, size, "/v1/contacts/%s/notes/%s%s", contact, note, tail);
}

//  The strings of r's array member joined with commas.
static const char *s_joined(const json_t *array) {
    static char out[4096];
    out[0] = 0;
    for (size_t i = 0; i < json_array_size(array); i++)
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", i ? "," : "",
                 json_string_value(json_array_get(array, i)));
    return out;
}

static const char *s_mentions(const harness_response_t *r) {
    return s_joined(json_object_get(r->json, "mentions"));
}

static void s_strings_joined(char *const *items, size_t n, char *out, size_t size) {
    out[0] = 0;
    for (size_t i = 0; i < n; i++)
        snprintf(out + strlen(out), size - strlen(out), "%s%s", i ? "," : "", items[i]);
}

//  The events of contact (their aggregate) in contacts' outbox, in order.
static void s_events(const char *contact, char *out, size_t size) {
    s_sql_text("SELECT coalesce(string_agg(type, ',' ORDER BY xid, id), '') FROM contacts.outbox"
               " WHERE aggregate_id = $1 AND tenant_id = 'tenant-a'",
               contact, NULL, out, size);
}

//  The payload of the last event of type about contact, unpacked (caller frees).
static ProtobufCMessage *s_last_event(const char *type, const char *contact) {
    const char *params[] = {type, contact};
    PGresult *res = PQexecParams(s_db(),
                                 "SELECT payload FROM contacts.outbox"
                                 " WHERE type = $1 AND aggregate_id = $2"
                                 " ORDER BY xid DESC, id DESC LIMIT 1",
                                 2, NULL, params, NULL, NULL, 1);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(res), 1);
    ProtobufCMessage *msg =
        protobuf_c_message_unpack(crm_event_descriptor(type), NULL, PQgetlength(res, 0, 0),
                                  (const uint8_t *)PQgetvalue(res, 0, 0));
    PQclear(res);
    assert_non_null(msg);
    return msg;
}

static void s_last_activity(const char *contact, char *out, size_t size) {
    s_sql_text("SELECT to_char(last_activity_at AT TIME ZONE 'UTC',"
               " 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM contacts.contacts WHERE id = $1::uuid",
               contact, NULL, out, size);
}

//  Expect status and (when not NULL) the first field error's field.
static void s_expect(harness_response_t r, long status, const char *field) {
    if (r.status != status)
        fail_msg("expected %ld, got %ld: %s", status, r.status, r.body);
    if (field)
        assert_string_equal(harness_error_field(&r), field);
    harness_response_free(&r);
}

// --- tests ----------------------------------------------------------------------------

//  A note as written: author, body, mentions, revision 1; read back alike; the
//  contact's last activity; ContactNoteAdded with the same content.
static void test_add_and_read(void **state) {
    (void)state;
    char contact[64], activity[64];
    s_contact(contact);
    s_last_activity(contact, activity, sizeof activity);
    assert_string_equal(activity, "");  // NULL until there is activity

    const char *text = "Called about the RAV4, thanks @Max. Loop in @jo-ann (not jo@example.com)"
                       " and @max again.";
    char body_json[256];
    snprintf(body_json, sizeof body_json, "\"%s\"", text);
    harness_response_t r = s_add(s_key_sam, contact, body_json);
    assert_int_equal(r.status, 201);
    char id[64], created[48];
    snprintf(id, sizeof id, "%s", harness_json_str(&r, "id"));
    snprintf(created, sizeof created, "%s", harness_json_str(&r, "createdAt"));
    assert_int_equal(strlen(id), 36);
    assert_non_null(strstr(r.location, id));
    assert_string_equal(harness_json_str(&r, "contactId"), contact);
    assert_string_equal(harness_json_str(&r, "author"), "sam");
    assert_string_equal(harness_json_str(&r, "body"), text);
    assert_string_equal(s_mentions(&r), "max,jo-ann");
    assert_int_equal(json_integer_value(json_object_get(r.json, "revision")), 1);
    assert_string_equal(harness_json_str(&r, "updatedAt"), created);
    assert_null(json_object_get(r.json, "editedBy"));
    assert_null(json_object_get(r.json, "deleted"));
    harness_response_free(&r);

    //  Read back, by any role of the tenant (analysts too).
    char path[256];
    s_note_path(path, sizeof path, contact, id, "");
    r = harness_http("GET", path, h->key_analyst, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "body"), text);
    assert_string_equal(harness_json_str(&r, "author"), "sam");
    assert_string_equal(harness_json_str(&r, "createdAt"), created);
    assert_string_equal(s_mentions(&r), "max,jo-ann");
    harness_response_free(&r);

    s_last_activity(contact, activity, sizeof activity);
    assert_string_equal(activity, created);

    char events[256];
    s_events(contact, events, sizeof events);
    assert_string_equal(events, "ContactCreated,ContactNoteAdded");
    Crm__Events__ContactNoteAdded *added =
        (Crm__Events__ContactNoteAdded *)s_last_event("ContactNoteAdded", contact);
    assert_string_equal(added->note_id, id);
    assert_string_equal(added->contact_id, contact);
    assert_string_equal(added->author_id, "sam");
    assert_string_equal(added->body, text);
    char joined[256];
    s_strings_joined(added->mentions, added->n_mentions, joined, sizeof joined);
    assert_string_equal(joined, "max,jo-ann");
    crm__events__contact_note_added__free_unpacked(added, NULL);

    //  At most 50 mentions, the first ones.
    char many[1024] = "\"";
    for (int i = 0; i < 60; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "@m%02d ", i);
    strcat(many, "\"");
    r = s_add(s_key_sam, contact, many);
    assert_int_equal(r.status, 201);
    json_t *mentions = json_object_get(r.json, "mentions");
    assert_int_equal(json_array_size(mentions), 50);
    assert_string_equal(json_string_value(json_array_get(mentions, 49)), "m49");
    harness_response_free(&r);

    //  Analysts read, never write.
    s_expect(s_add(h->key_analyst, contact, "\"hello\""), 403, NULL);

    //  A create retried with its Idempotency-Key returns the first note, written once.
    char notes_path[128];
    snprintf(notes_path, sizeof notes_path, "/v1/contacts/%s/notes", contact);
    const char *idem[] = {"Idempotency-Key: note-once-1", NULL};
    r = harness_http("POST", notes_path, s_key_sam, "{\"body\":\"once\"}", idem);
    assert_int_equal(r.status, 201);
    char first[64];
    snprintf(first, sizeof first, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    r = harness_http("POST", notes_path, s_key_sam, "{\"body\":\"once\"}", idem);
    assert_int_equal(r.status, 201);
    assert_string_equal(harness_json_str(&r, "id"), first);
    harness_response_free(&r);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM contacts.notes WHERE contact_id = '%s' AND body = 'once'",
             contact);
    assert_int_equal(sql_scalar(sql), 1);
}

//  Newest first, in pages that follow one another, tombstones included.
static void test_list_paging(void **state) {
    (void)state;
    char contact[64], ids[5][64];
    s_contact(contact);
    for (int i = 0; i < 5; i++) {
        char body[32];
        snprintf(body, sizeof body, "\"note %d\"", i);
        s_add_ok(s_key_sam, contact, body, ids[i]);
    }
    char path[256];
    s_note_path(path, sizeof path, contact, ids[2], "");
    s_expect(harness_http("DELETE", path, s_key_sam, NULL, NULL), 204, NULL);

    char cursor[64] = "";
    int seen = 0;
    for (int page = 0; page < 3; page++) {
        char list[256];
        snprintf(list, sizeof list, "/v1/contacts/%s/notes?limit=2%s%s", contact,
                 cursor[0] ? "&cursor=" : "", cursor);
        harness_response_t r = harness_http("GET", list, s_key_jo, NULL, NULL);
        assert_int_equal(r.status, 200);
        json_t *items = json_object_get(r.json, "items");
        for (size_t i = 0; i < json_array_size(items); i++, seen++) {
            json_t *item = json_array_get(items, i);
            int expect = 4 - seen;  // newest first
            assert_string_equal(json_string_value(json_object_get(item, "id")), ids[expect]);
            if (expect == 2) {
                assert_true(json_is_true(json_object_get(item, "deleted")));
                assert_null(json_object_get(item, "body"));
                assert_string_equal(json_string_value(json_object_get(item, "deletedBy")), "sam");
            } else {
                char body[32];
                snprintf(body, sizeof body, "note %d", expect);
                assert_string_equal(json_string_value(json_object_get(item, "body")), body);
            }
        }
        snprintf(cursor, sizeof cursor, "%s", harness_json_str(&r, "nextCursor"));
        assert_int_equal(json_array_size(items), page < 2 ? 2 : 1);
        assert_true(page < 2 ? cursor[0] != 0 : cursor[0] == 0);
        harness_response_free(&r);
    }
    assert_int_equal(seen, 5);

    //  Another contact's notes are not in this list.
    char other[64], other_note[64];
    s_contact(other);
    s_add_ok(s_key_sam, other, "\"elsewhere\"", other_note);
    char list[256];
    snprintf(list, sizeof list, "/v1/contacts/%s/notes", contact);
    harness_response_t r = harness_http("GET", list, s_key_sam, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 5);
    assert_null(json_object_get(r.json, "nextCursor"));
    harness_response_free(&r);

    snprintf(list, sizeof list, "/v1/contacts/%s/notes?cursor=bogus", contact);
    s_expect(harness_http("GET", list, s_key_sam, NULL, NULL), 422, "cursor");
    snprintf(list, sizeof list, "/v1/contacts/%s/notes?limit=201", contact);
    s_expect(harness_http("GET", list, s_key_sam, NULL, NULL), 422, "limit");
}

//  Long notes: a page ends early, before its reply could outgrow a bus frame
//  (broker.max_frame_bytes, 2 MiB), and the pages still hold every note once.
static void test_long_notes_paging(void **state) {
    (void)state;
    enum { NOTES = 60, CHARS = 20000 };
    char contact[64], *body = malloc(2 * CHARS + 3);
    s_contact(contact);
    body[0] = '"';
    for (size_t i = 0; i < CHARS; i++)
        memcpy(body + 1 + 2 * i, "\xc3\xa9", 2);  // é: 40,000 bytes a note
    memcpy(body + 1 + 2 * CHARS, "\"", 2);
    for (int i = 0; i < NOTES; i++) {
        char id[64];
        s_add_ok(s_key_sam, contact, body, id);
    }
    free(body);
    char cursor[64] = "", list[256];
    int seen = 0, pages = 0;
    do {
        snprintf(list, sizeof list, "/v1/contacts/%s/notes?limit=%d%s%s", contact, NOTES,
                 cursor[0] ? "&cursor=" : "", cursor);
        harness_response_t r = harness_http("GET", list, s_key_sam, NULL, NULL);
        assert_int_equal(r.status, 200);
        size_t n = json_array_size(json_object_get(r.json, "items"));
        assert_true(n > 0 && n < NOTES);
        assert_true(strlen(r.body) < 1200 * 1024);
        seen += (int)n;
        pages++;
        snprintf(cursor, sizeof cursor, "%s", harness_json_str(&r, "nextCursor"));
        harness_response_free(&r);
    } while (cursor[0] && pages < NOTES);
    assert_int_equal(seen, NOTES);
    assert_true(pages >= 3);
}

//  An edit is a new revision; the history keeps every body, with who and when; only
//  the author, a manager or an admin may edit; ContactNoteEdited names the newly
//  mentioned.
static void test_edit_and_history(void **state) {
    (void)state;
    char contact[64], id[64], path[256], history[256];
    s_contact(contact);
    s_add_ok(s_key_sam, contact, "\"@max please call them back\"", id);
    s_note_path(path, sizeof path, contact, id, "");
    s_note_path(history, sizeof history, contact, id, "/revisions");

    harness_response_t r = harness_http(
        "PATCH", path, s_key_sam, "{\"body\":\"@max and @Kim: please call them back\"}", NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "revision")), 2);
    assert_string_equal(harness_json_str(&r, "body"), "@max and @Kim: please call them back");
    assert_string_equal(harness_json_str(&r, "editedBy"), "sam");
    assert_string_equal(harness_json_str(&r, "author"), "sam");
    assert_string_equal(s_mentions(&r), "max,kim");
    assert_true(strcmp(harness_json_str(&r, "updatedAt"), harness_json_str(&r, "createdAt")) > 0);
    char edited_at[48], activity[48];
    snprintf(edited_at, sizeof edited_at, "%s", harness_json_str(&r, "updatedAt"));
    harness_response_free(&r);
    s_last_activity(contact, activity, sizeof activity);
    assert_string_equal(activity, edited_at);

    Crm__Events__ContactNoteEdited *edited =
        (Crm__Events__ContactNoteEdited *)s_last_event("ContactNoteEdited", contact);
    char joined[256];
    assert_string_equal(edited->note_id, id);
    assert_string_equal(edited->contact_id, contact);
    assert_int_equal(edited->revision, 2);
    assert_string_equal(edited->editor_id, "sam");
    assert_string_equal(edited->body, "@max and @Kim: please call them back");
    s_strings_joined(edited->added_mentions, edited->n_added_mentions, joined, sizeof joined);
    assert_string_equal(joined, "kim");
    s_strings_joined(edited->mentions, edited->n_mentions, joined, sizeof joined);
    assert_string_equal(joined, "max,kim");
    crm__events__contact_note_edited__free_unpacked(edited, NULL);

    //  Another salesperson may not; nothing changes.
    char before[512], after[512];
    s_written(before, sizeof before);
    r = harness_http("PATCH", path, s_key_jo, "{\"body\":\"mine now\"}", NULL);
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(r.json, "error"),
                                                              "message")),
                           "author"));
    harness_response_free(&r);
    s_expect(harness_http("DELETE", path, s_key_jo, NULL, NULL), 403, NULL);
    s_written(after, sizeof after);
    assert_string_equal(after, before);

    //  A manager may.
    r = harness_http("PATCH", path, s_key_max, "{\"body\":\"Called back: booked a test drive.\"}",
                     NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "revision")), 3);
    assert_string_equal(harness_json_str(&r, "editedBy"), "max");
    assert_string_equal(harness_json_str(&r, "author"), "sam");
    assert_null(json_object_get(r.json, "mentions"));
    harness_response_free(&r);
    edited = (Crm__Events__ContactNoteEdited *)s_last_event("ContactNoteEdited", contact);
    assert_int_equal(edited->n_added_mentions, 0);
    assert_int_equal(edited->n_mentions, 0);
    assert_string_equal(edited->editor_id, "max");
    crm__events__contact_note_edited__free_unpacked(edited, NULL);

    //  The same body again changes nothing: no revision, no event.
    s_written(before, sizeof before);
    r = harness_http("PATCH", path, s_key_sam, "{\"body\":\"Called back: booked a test drive.\"}",
                     NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "revision")), 3);
    harness_response_free(&r);
    s_written(after, sizeof after);
    assert_string_equal(after, before);

    //  Every body, oldest first, by whom and when.
    r = harness_http("GET", history, s_key_jo, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 3);
    const char *bodies[] = {"@max please call them back", "@max and @Kim: please call them back",
                            "Called back: booked a test drive."};
    const char *authors[] = {"sam", "sam", "max"};
    for (size_t i = 0; i < 3; i++) {
        json_t *item = json_array_get(items, i);
        assert_int_equal(json_integer_value(json_object_get(item, "revision")), (int)i + 1);
        assert_string_equal(json_string_value(json_object_get(item, "body")), bodies[i]);
        assert_string_equal(json_string_value(json_object_get(item, "author")), authors[i]);
        assert_true(strlen(json_string_value(json_object_get(item, "createdAt"))) >= 20);
    }
    assert_string_equal(s_joined(json_object_get(json_array_get(items, 1), "mentions")),
                        "max,kim");
    harness_response_free(&r);

    //  In pages too.
    char page[300];
    snprintf(page, sizeof page, "%s?limit=2", history);
    r = harness_http("GET", page, s_key_jo, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 2);
    snprintf(page, sizeof page, "%s?limit=2&cursor=%s", history,
             harness_json_str(&r, "nextCursor"));
    harness_response_free(&r);
    r = harness_http("GET", page, s_key_jo, NULL, NULL);
    assert_int_equal(r.status, 200);
    items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 0), "revision")), 3);
    assert_null(json_object_get(r.json, "nextCursor"));
    harness_response_free(&r);
    snprintf(page, sizeof page, "%s?cursor=x1", history);
    s_expect(harness_http("GET", page, s_key_jo, NULL, NULL), 422, "cursor");

    char events[256];
    s_events(contact, events, sizeof events);
    assert_string_equal(events,
                        "ContactCreated,ContactNoteAdded,ContactNoteEdited,ContactNoteEdited");
}

//  A deletion leaves a tombstone: listed and readable as deleted, by whom and when,
//  without body; it cannot be edited or deleted again; its history is for managers.
static void test_delete_tombstone(void **state) {
    (void)state;
    char contact[64], id[64], path[256], history[256];
    s_contact(contact);
    s_add_ok(s_key_sam, contact, "\"Card number is 4111 1111 1111 1111 @jo\"", id);
    s_note_path(path, sizeof path, contact, id, "");
    s_note_path(history, sizeof history, contact, id, "/revisions");
    char activity[48], activity_after[48];
    s_last_activity(contact, activity, sizeof activity);

    s_expect(harness_http("DELETE", path, s_key_sam, NULL, NULL), 204, NULL);
    s_last_activity(contact, activity_after, sizeof activity_after);
    assert_string_equal(activity_after, activity);  // a deletion is not activity

    harness_response_t r = harness_http("GET", path, s_key_jo, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "deleted")));
    assert_string_equal(harness_json_str(&r, "deletedBy"), "sam");
    assert_true(strlen(harness_json_str(&r, "deletedAt")) >= 20);
    assert_string_equal(harness_json_str(&r, "updatedAt"), harness_json_str(&r, "deletedAt"));
    assert_string_equal(harness_json_str(&r, "author"), "sam");
    assert_null(json_object_get(r.json, "body"));
    assert_null(json_object_get(r.json, "mentions"));
    assert_null(strstr(r.body, "4111"));
    char deleted_at[48];
    snprintf(deleted_at, sizeof deleted_at, "%s", harness_json_str(&r, "deletedAt"));
    harness_response_free(&r);

    Crm__Events__ContactNoteDeleted *deleted =
        (Crm__Events__ContactNoteDeleted *)s_last_event("ContactNoteDeleted", contact);
    assert_string_equal(deleted->note_id, id);
    assert_string_equal(deleted->contact_id, contact);
    assert_string_equal(deleted->actor_id, "sam");
    assert_string_equal(deleted->deleted_at, deleted_at);
    crm__events__contact_note_deleted__free_unpacked(deleted, NULL);

    //  No edit, no second deletion (by the author or a manager); nothing written.
    char before[512], after[512];
    s_written(before, sizeof before);
    s_expect(harness_http("PATCH", path, s_key_sam, "{\"body\":\"undo\"}", NULL), 409, "noteId");
    s_expect(harness_http("PATCH", path, s_key_max, "{\"body\":\"undo\"}", NULL), 409, "noteId");
    s_expect(harness_http("DELETE", path, s_key_sam, NULL, NULL), 409, "noteId");
    s_expect(harness_http("DELETE", path, h->key_a, NULL, NULL), 409, "noteId");
    s_written(after, sizeof after);
    assert_string_equal(after, before);

    //  The history of a deleted note: managers and admins only (its author included).
    s_expect(harness_http("GET", history, s_key_sam, NULL, NULL), 403, NULL);
    s_expect(harness_http("GET", history, h->key_analyst, NULL, NULL), 403, NULL);
    r = harness_http("GET", history, s_key_max, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "body")),
                        "Card number is 4111 1111 1111 1111 @jo");
    harness_response_free(&r);
    r = harness_http("GET", history, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);

    //  A manager may delete another's note.
    char other[64];
    s_add_ok(s_key_jo, contact, "\"jo's note\"", other);
    s_note_path(path, sizeof path, contact, other, "");
    s_expect(harness_http("DELETE", path, s_key_max, NULL, NULL), 204, NULL);
    r = harness_http("GET", path, s_key_jo, NULL, NULL);
    assert_string_equal(harness_json_str(&r, "deletedBy"), "max");
    harness_response_free(&r);

    char events[256];
    s_events(contact, events, sizeof events);
    assert_string_equal(events, "ContactCreated,ContactNoteAdded,ContactNoteDeleted,"
                                "ContactNoteAdded,ContactNoteDeleted");
}

//  Each bad request is refused with a 4xx naming what is wrong, and writes nothing.
static void test_bad_input(void **state) {
    (void)state;
    char contact[64], other_contact[64], note[64], other_note[64];
    s_contact(contact);
    s_contact(other_contact);
    s_add_ok(s_key_sam, contact, "\"first\"", note);
    s_add_ok(s_key_sam, other_contact, "\"on the other contact\"", other_note);
    char notes[128], path[256], before[512], after[512];
    snprintf(notes, sizeof notes, "/v1/contacts/%s/notes", contact);
    s_note_path(path, sizeof path, contact, note, "");
    s_written(before, sizeof before);

    //  Empty, blank (Unicode spaces too), missing, wrong type, unknown members.
    s_expect(s_add(s_key_sam, contact, "\"\""), 422, "body");
    s_expect(s_add(s_key_sam, contact, "\"  \\n\\t \""), 422, "body");
    s_expect(s_add(s_key_sam, contact, "\"\\u00a0\\u3000\\u200b\\u2003\\ufeff\""), 422, "body");
    s_expect(harness_http("POST", notes, s_key_sam, "{}", NULL), 422, "body");
    s_expect(s_add(s_key_sam, contact, "5"), 400, "body");
    s_expect(harness_http("POST", notes, s_key_sam, "{\"body\":\"x\",\"author\":\"max\"}", NULL),
             422, "author");
    s_expect(harness_http("POST", notes, s_key_sam, "not json", NULL), 400, NULL);
    s_expect(harness_http("PATCH", path, s_key_sam, "{\"body\":\" \"}", NULL), 422, "body");
    s_expect(harness_http("PATCH", path, s_key_sam, "{}", NULL), 422, "body");
    s_expect(harness_http("PATCH", path, s_key_sam, "{\"body\":\"x\",\"revision\":7}", NULL), 422,
             "revision");

    //  Over the limit of 20,000 characters.
    size_t limit = 20000;
    char *long_body = malloc(2 * limit + 16);
    memset(long_body, 'a', limit + 3);
    long_body[0] = '"';
    long_body[limit + 2] = '"';
    long_body[limit + 3] = 0;  // 20,001 characters
    harness_response_t r = s_add(s_key_sam, contact, long_body);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "body");
    assert_non_null(strstr(r.body, "20000"));
    harness_response_free(&r);
    char patch[20100];
    snprintf(patch, sizeof patch, "{\"body\":%s}", long_body);
    s_expect(harness_http("PATCH", path, s_key_sam, patch, NULL), 422, "body");

    //  10 MB: refused by the gateway before any service sees it, length announced or not.
    size_t big = 10 * 1024 * 1024;
    char *huge = malloc(big + 1);
    memset(huge, 'a', big);
    memcpy(huge, "{\"body\":\"", 9);
    memcpy(huge + big - 2, "\"}", 2);
    huge[big] = 0;
    s_expect(harness_http("POST", notes, s_key_sam, huge, NULL), 413, NULL);
    const char *chunked[] = {"Transfer-Encoding: chunked", NULL};
    s_expect(harness_http("POST", notes, s_key_sam, huge, chunked), 413, NULL);
    s_expect(harness_http("PATCH", path, s_key_sam, huge, NULL), 413, NULL);
    free(huge);

    //  Unknown and malformed ids.
    const char *unknown = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    char bad[256];
    s_note_path(bad, sizeof bad, contact, unknown, "");
    s_expect(harness_http("GET", bad, s_key_sam, NULL, NULL), 404, "noteId");
    s_expect(harness_http("PATCH", bad, s_key_sam, "{\"body\":\"x\"}", NULL), 404, "noteId");
    s_expect(harness_http("DELETE", bad, s_key_sam, NULL, NULL), 404, "noteId");
    s_note_path(bad, sizeof bad, contact, unknown, "/revisions");
    s_expect(harness_http("GET", bad, s_key_sam, NULL, NULL), 404, "noteId");
    s_note_path(bad, sizeof bad, contact, "not-a-note", "");
    s_expect(harness_http("GET", bad, s_key_sam, NULL, NULL), 404, "noteId");
    s_expect(harness_http("PATCH", bad, s_key_sam, "{\"body\":\"x\"}", NULL), 404, "noteId");
    s_expect(harness_http("DELETE", bad, s_key_sam, NULL, NULL), 404, "noteId");
    s_expect(s_add(s_key_sam, unknown, "\"x\""), 404, "id");
    s_expect(s_add(s_key_sam, "not-a-contact", "\"x\""), 404, "id");
    snprintf(bad, sizeof bad, "/v1/contacts/%s/notes", unknown);
    s_expect(harness_http("GET", bad, s_key_sam, NULL, NULL), 404, "id");
    s_note_path(bad, sizeof bad, "not-a-contact", note, "");
    s_expect(harness_http("GET", bad, s_key_sam, NULL, NULL), 404, "id");

    //  A note through another contact's path.
    s_note_path(bad, sizeof bad, contact, other_note, "");
    s_expect(harness_http("GET", bad, s_key_sam, NULL, NULL), 404, "noteId");
    s_expect(harness_http("PATCH", bad, s_key_sam, "{\"body\":\"x\"}", NULL), 404, "noteId");
    s_expect(harness_http("DELETE", bad, s_key_sam, NULL, NULL), 404, "noteId");
    s_note_path(bad, sizeof bad, contact, other_note, "/revisions");
    s_expect(harness_http("GET", bad, s_key_sam, NULL, NULL), 404, "noteId");

    //  Another tenant sees neither the contact nor its notes.
    s_expect(s_add(h->key_b, contact, "\"x\""), 404, "id");
    s_expect(harness_http("GET", notes, h->key_b, NULL, NULL), 404, "id");
    s_expect(harness_http("GET", path, h->key_b, NULL, NULL), 404, "id");
    s_expect(harness_http("PATCH", path, h->key_b, "{\"body\":\"x\"}", NULL), 404, "id");
    s_expect(harness_http("DELETE", path, h->key_b, NULL, NULL), 404, "id");
    s_note_path(bad, sizeof bad, contact, note, "/revisions");
    s_expect(harness_http("GET", bad, h->key_b, NULL, NULL), 404, "id");

    s_written(after, sizeof after);
    assert_string_equal(after, before);

    //  The limit counts characters, not bytes: 20,000 'é' (40,000 bytes) is a note.
    char *accents = malloc(2 * limit + 3);
    accents[0] = '"';
    for (size_t i = 0; i < limit; i++)
        memcpy(accents + 1 + 2 * i, "\xc3\xa9", 2);
    memcpy(accents + 1 + 2 * limit, "\"", 2);
    r = s_add(s_key_sam, contact, accents);
    assert_int_equal(r.status, 201);
    harness_response_free(&r);
    free(accents);
    long_body[limit + 1] = '"';
    long_body[limit + 2] = 0;  // 20,000 characters
    r = s_add(s_key_sam, contact, long_body);
    assert_int_equal(r.status, 201);
    assert_int_equal(strlen(harness_json_str(&r, "body")), limit);
    harness_response_free(&r);
    free(long_body);

    //  A deleted contact's notes are gone with it.
    char contact_path[128];
    snprintf(contact_path, sizeof contact_path, "/v1/contacts/%s", contact);
    s_expect(harness_http("DELETE", contact_path, h->key_a, NULL, NULL), 204, NULL);
    s_written(before, sizeof before);
    s_expect(s_add(s_key_sam, contact, "\"x\""), 404, "id");
    s_expect(harness_http("GET", notes, s_key_sam, NULL, NULL), 404, "id");
    s_expect(harness_http("GET", path, s_key_sam, NULL, NULL), 404, "id");
    s_expect(harness_http("PATCH", path, s_key_sam, "{\"body\":\"x\"}", NULL), 404, "id");
    s_expect(harness_http("DELETE", path, s_key_sam, NULL, NULL), 404, "id");
    s_written(after, sizeof after);
    assert_string_equal(after, before);
}

typedef struct {
    const char *method, *path, *key;
    char body[128];
    long status;
    long revision;
} s_call_t;

static void *s_call_thread(void *arg) {
    s_call_t *call = arg;
    harness_response_t r = harness_http(call->method, call->path, call->key, call->body, NULL);
    call->status = r.status;
    call->revision = (long)json_integer_value(json_object_get(r.json, "revision"));
    harness_response_free(&r);
    return NULL;
}

//  Edits of one note and notes on one contact sent at once (so likely in one batch, and
//  across batches): every edit is its own revision, in some order, none lost; every note
//  is written with its event.
static void test_concurrent_writes(void **state) {
    (void)state;
    char contact[64], id[64], path[256], notes[128];
    s_contact(contact);
    s_add_ok(s_key_sam, contact, "\"draft\"", id);
    s_note_path(path, sizeof path, contact, id, "");
    snprintf(notes, sizeof notes, "/v1/contacts/%s/notes", contact);
    enum { EDITS = 8, ADDS = 8 };
    s_call_t calls[EDITS + ADDS];
    pthread_t threads[EDITS + ADDS];
    for (int i = 0; i < EDITS + ADDS; i++) {
        calls[i] = (s_call_t){.method = i < EDITS ? "PATCH" : "POST",
                              .path = i < EDITS ? path : notes,
                              .key = i % 2 ? s_key_sam : s_key_max};
        snprintf(calls[i].body, sizeof calls[i].body, "{\"body\":\"%s %d @m%d\"}",
                 i < EDITS ? "edit" : "note", i, i);
        pthread_create(&threads[i], NULL, s_call_thread, &calls[i]);
    }
    bool revision_seen[EDITS + 2] = {false};
    for (int i = 0; i < EDITS + ADDS; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(calls[i].status, i < EDITS ? 200 : 201);
        if (i < EDITS) {
            assert_true(calls[i].revision >= 2 && calls[i].revision <= EDITS + 1);
            assert_false(revision_seen[calls[i].revision]);
            revision_seen[calls[i].revision] = true;
        }
    }
    char history[300];
    s_note_path(history, sizeof history, contact, id, "/revisions");
    harness_response_t r = harness_http("GET", history, s_key_jo, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), EDITS + 1);
    for (size_t i = 0; i < json_array_size(items); i++)
        assert_int_equal(json_integer_value(json_object_get(json_array_get(items, i), "revision")),
                         (int)i + 1);
    harness_response_free(&r);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM contacts.outbox WHERE aggregate_id = '%s'"
             " AND type IN ('ContactNoteAdded', 'ContactNoteEdited')",
             contact);
    assert_int_equal(sql_scalar(sql), 1 + EDITS + ADDS);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM contacts.notes WHERE contact_id = '%s'",
             contact);
    assert_int_equal(sql_scalar(sql), 1 + ADDS);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_and_read),
        cmocka_unit_test(test_list_paging),
        cmocka_unit_test(test_long_notes_paging),
        cmocka_unit_test(test_edit_and_history),
        cmocka_unit_test(test_delete_tombstone),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_concurrent_writes),
    };
    return cmocka_run_group_tests_name("system: notes", tests, s_setup, s_teardown);
}
