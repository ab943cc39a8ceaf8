/*  System tests of the first vertical slice: the whole suite (PostgreSQL, gateway with
    broker, contacts daemon under the supervisor) driven over HTTP and MDP. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "bus_client.h"
#include "common.pb-c.h"
#include <libpq-fe.h>
#include "contacts.pb-c.h"

static harness_t *h;

static int s_setup(void **state) {
    (void)state;
    h = harness_start(NULL);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    return 0;
}

//  A unique email for each call, so tests never collide with each other.
static const char *s_email(void) {
    static char buf[64];
    static int n;
    snprintf(buf, sizeof buf, "person%d.%lld@example.com", ++n, (long long)zclock_time());
    return buf;
}

//  Create a person in tenant A; returns the response (caller frees).
static harness_response_t s_create(const char *key, const char *first, const char *email) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"kind\":\"person\",\"firstName\":\"%s\",\"lastName\":\"Lee\","
             "\"emails\":[{\"address\":\"%s\"}],"
             "\"phones\":[{\"number\":\"(202) 555-0142\",\"type\":\"mobile\"}]}",
             first, email);
    return harness_http("POST", "/v1/contacts", key, body, NULL);
}

//  Create a person in tenant A with a fresh address, copied to email; asserts 201 and
//  copies the new contact's id to id.
static void s_create_fresh(const char *first, char email[96], char id[64]) {
    snprintf(email, 96, "%s", s_email());
    harness_response_t r = s_create(h->key_a, first, email);
    assert_int_equal(r.status, 201);
    snprintf(id, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

static void test_crud(void **state) {
    (void)state;
    char email[96];
    snprintf(email, sizeof email, "%s", s_email());
    harness_response_t r = s_create(h->key_a, "Ann", email);
    assert_int_equal(r.status, 201);
    char id[64];
    snprintf(id, sizeof id, "%s", harness_json_str(&r, "id"));
    assert_int_equal(strlen(id), 36);
    assert_string_equal(harness_json_str(&r, "firstName"), "Ann");
    assert_string_equal(harness_json_str(&r, "kind"), "person");
    assert_string_equal(harness_json_str(&r, "type"), "prospect");
    json_t *phone = json_array_get(json_object_get(r.json, "phones"), 0);
    assert_string_equal(json_string_value(json_object_get(phone, "number")), "+12025550142");
    assert_string_equal(json_string_value(json_object_get(phone, "type")), "mobile");
    json_t *mail = json_array_get(json_object_get(r.json, "emails"), 0);
    assert_string_equal(json_string_value(json_object_get(mail, "address")), email);
    assert_non_null(strstr(r.location, id));
    assert_true(strlen(harness_json_str(&r, "createdAt")) >= 20);
    char created[48];
    snprintf(created, sizeof created, "%s", harness_json_str(&r, "createdAt"));
    assert_string_equal(harness_json_str(&r, "updatedAt"), created);
    harness_response_free(&r);

    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%s", id);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "id"), id);
    //  The times the create answered are the stored ones.
    assert_string_equal(harness_json_str(&r, "createdAt"), created);
    assert_string_equal(harness_json_str(&r, "updatedAt"), created);
    assert_string_equal(harness_json_str(&r, "lastName"), "Lee");
    harness_response_free(&r);

    //  PATCH changes only what it names.
    r = harness_http("PATCH", path, h->key_a, "{\"firstName\":\"Anne\",\"type\":\"customer\"}",
                     NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "firstName"), "Anne");
    assert_string_equal(harness_json_str(&r, "lastName"), "Lee");
    assert_string_equal(harness_json_str(&r, "type"), "customer");
    assert_string_equal(harness_json_str(&r, "name"), "Anne Lee");
    assert_int_equal(json_array_size(json_object_get(r.json, "emails")), 1);
    harness_response_free(&r);

    //  Replacing an address frees the old one for other contacts.
    char new_email[96], body[256];
    snprintf(new_email, sizeof new_email, "%s", s_email());
    snprintf(body, sizeof body, "{\"emails\":[{\"address\":\"%s\"}]}", new_email);
    r = harness_http("PATCH", path, h->key_a, body, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(r.json, "emails"), 0), "address")),
                        new_email);
    harness_response_free(&r);
    r = s_create(h->key_a, "Other", email);
    assert_int_equal(r.status, 201);
    char other_path[128];
    snprintf(other_path, sizeof other_path, "/v1/contacts/%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    r = harness_http("DELETE", other_path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    snprintf(body, sizeof body, "{\"emails\":[{\"address\":\"%s\"}]}", email);
    r = harness_http("PATCH", path, h->key_a, body, NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);

    r = harness_http("GET", "/v1/contacts?type=customer&limit=200", h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    bool listed = false;
    for (size_t i = 0; i < json_array_size(items); i++) {
        const char *t = json_string_value(json_object_get(json_array_get(items, i), "type"));
        assert_string_equal(t, "customer");
        listed |= strcmp(json_string_value(json_object_get(json_array_get(items, i), "id")), id) == 0;
    }
    assert_true(listed);
    harness_response_free(&r);

    r = harness_http("DELETE", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 404);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "error"), "code")), "not_found");
    harness_response_free(&r);
    r = harness_http("DELETE", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);

    //  A deleted contact's email is free again.
    r = s_create(h->key_a, "Ann", email);
    assert_int_equal(r.status, 201);
    harness_response_free(&r);
}

static void test_list_paging(void **state) {
    (void)state;
    //  Tenant B's service contacts: a list of exactly five, in pages of two.
    char ids[5][40];
    for (int i = 0; i < 5; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"kind\":\"organization\",\"type\":\"service\",\"name\":\"Fleet %d\"}", i);
        harness_response_t r = harness_http("POST", "/v1/contacts", h->key_b, body, NULL);
        assert_int_equal(r.status, 201);
        snprintf(ids[i], sizeof ids[i], "%s", harness_json_str(&r, "id"));
        harness_response_free(&r);
    }
    char path[256] = "/v1/contacts?type=service&limit=2";
    int seen = 0, pages = 0;
    while (true) {
        harness_response_t r = harness_http("GET", path, h->key_b, NULL, NULL);
        assert_int_equal(r.status, 200);
        json_t *items = json_object_get(r.json, "items");
        for (size_t i = 0; i < json_array_size(items); i++) {
            //  Newest first.
            const char *id = json_string_value(json_object_get(json_array_get(items, i), "id"));
            assert_string_equal(id, ids[4 - seen]);
            seen++;
        }
        pages++;
        const char *cursor = harness_json_str(&r, "nextCursor");
        if (!*cursor) {
            harness_response_free(&r);
            break;
        }
        snprintf(path, sizeof path, "/v1/contacts?type=service&limit=2&cursor=%s", cursor);
        harness_response_free(&r);
        assert_true(pages < 10);
    }
    assert_int_equal(seen, 5);
    assert_int_equal(pages, 3);

    harness_response_t r = harness_http("GET", "/v1/contacts?limit=1000", h->key_b, NULL, NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "limit");
    harness_response_free(&r);
    r = harness_http("GET", "/v1/contacts?cursor=zzz", h->key_b, NULL, NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "cursor");
    harness_response_free(&r);
    r = harness_http("GET", "/v1/contacts?colour=red", h->key_b, NULL, NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "colour");
    harness_response_free(&r);
}

//  Add name to tenant A's catalogue unless it is there; returns the HTTP status.
static int s_tag_ensure(const char *key, const char *name) {
    char body[128];
    snprintf(body, sizeof body, "{\"name\":\"%s\"}", name);
    harness_response_t r = harness_http("POST", "/v1/tags", key, body, NULL);
    int status = r.status;
    harness_response_free(&r);
    assert_true(status == 201 || status == 409);
    return status;
}

static void test_organization_and_tags(void **state) {
    (void)state;
    s_tag_ensure(h->key_a, "vip");
    s_tag_ensure(h->key_a, "fleet");
    harness_response_t r = harness_http(
        "POST", "/v1/contacts", h->key_a,
        "{\"kind\":\"organization\",\"name\":\"Acme Fleet\",\"firstName\":\"Ignored\","
        "\"source\":\"walk_in\",\"tags\":[\"vip\",\"fleet\",\"vip\"]}",
        NULL);
    assert_int_equal(r.status, 201);
    assert_string_equal(harness_json_str(&r, "name"), "Acme Fleet");
    assert_string_equal(harness_json_str(&r, "firstName"), "");
    assert_string_equal(harness_json_str(&r, "source"), "walk_in");
    json_t *tags = json_object_get(r.json, "tags");
    assert_int_equal(json_array_size(tags), 2);
    assert_string_equal(json_string_value(json_array_get(tags, 0)), "vip");
    assert_string_equal(json_string_value(json_array_get(tags, 1)), "fleet");
    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    //  What was returned is what was stored.
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "tags")), 2);
    assert_string_equal(harness_json_str(&r, "firstName"), "");
    harness_response_free(&r);
    r = harness_http("POST", "/v1/contacts", h->key_a,
                     "{\"kind\":\"organization\",\"name\":\"X\",\"tags\":[\" \"]}", NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "tags[0]");
    harness_response_free(&r);
}

static void test_auth(void **state) {
    (void)state;
    harness_response_t r = harness_http("GET", "/v1/contacts", NULL, NULL, NULL);
    assert_int_equal(r.status, 401);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "error"), "code")),
        "unauthorized");
    harness_response_free(&r);
    r = harness_http("GET", "/v1/contacts", "crm_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL,
                     NULL);
    assert_int_equal(r.status, 401);
    harness_response_free(&r);
    r = harness_http("GET", "/v1/contacts", "not-a-key", NULL, NULL);
    assert_int_equal(r.status, 401);
    harness_response_free(&r);
    //  An analyst reads but does not write.
    r = harness_http("GET", "/v1/contacts", h->key_analyst, NULL, NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    r = s_create(h->key_analyst, "Ann", s_email());
    assert_int_equal(r.status, 403);
    harness_response_free(&r);
    //  Unknown paths and methods.
    r = harness_http("GET", "/v1/nothing", h->key_a, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
    r = harness_http("PUT", "/v1/contacts", h->key_a, "{}", NULL);
    assert_int_equal(r.status, 405);
    harness_response_free(&r);
}

static void test_bad_input(void **state) {
    (void)state;
    harness_response_t r = harness_http("POST", "/v1/contacts", h->key_a, "{\"firstName\":", NULL);
    assert_int_equal(r.status, 400);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "error"), "code")),
        "malformed_request");
    harness_response_free(&r);

    r = harness_http("POST", "/v1/contacts", h->key_a, "{\"firstName\":5,\"lastName\":\"Lee\"}",
                     NULL);
    assert_int_equal(r.status, 400);
    assert_string_equal(harness_error_field(&r), "firstName");
    harness_response_free(&r);

    r = harness_http("POST", "/v1/contacts", h->key_a, "[1,2]", NULL);
    assert_int_equal(r.status, 400);
    harness_response_free(&r);

    r = harness_http("POST", "/v1/contacts", h->key_a, "", NULL);
    assert_int_equal(r.status, 400);
    harness_response_free(&r);

    //  Invalid UTF-8.
    r = harness_http_raw("POST", "/v1/contacts", h->key_a, "{\"firstName\":\"\xff\xfe\"}", 18,
                         NULL);
    assert_int_equal(r.status, 400);
    harness_response_free(&r);

    r = harness_http("POST", "/v1/contacts", h->key_a, "{\"kind\":\"person\",\"firstName\":\"Ann\"}",
                     NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "lastName");
    harness_response_free(&r);

    r = harness_http("POST", "/v1/contacts", h->key_a, "{\"kind\":\"organization\"}", NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "name");
    harness_response_free(&r);

    r = harness_http("POST", "/v1/contacts", h->key_a,
                     "{\"firstName\":\"Ann\",\"lastName\":\"Lee\",\"emails\":[{\"address\":\"a@b.com\"},"
                     "{\"address\":\"not-an-email\"}]}",
                     NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "emails[1].address");
    harness_response_free(&r);

    r = harness_http("POST", "/v1/contacts", h->key_a,
                     "{\"firstName\":\"Ann\",\"lastName\":\"Lee\",\"phones\":[{\"number\":\"12\"}]}",
                     NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "phones[0].number");
    harness_response_free(&r);

    r = harness_http("POST", "/v1/contacts", h->key_a,
                     "{\"firstName\":\"Ann\",\"lastName\":\"Lee\",\"shoeSize\":42}", NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "shoeSize");
    harness_response_free(&r);

    r = harness_http("POST", "/v1/contacts", h->key_a,
                     "{\"firstName\":\"Ann\",\"lastName\":\"Lee\",\"type\":\"martian\"}", NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "type");
    harness_response_free(&r);

    //  Over 1 MiB: 413, whether or not the length is announced.
    size_t big = 1024 * 1024 + 10;
    char *body = malloc(big + 1);
    memset(body, ' ', big);
    body[0] = '{';
    body[big - 1] = '}';
    body[big] = 0;
    r = harness_http("POST", "/v1/contacts", h->key_a, body, NULL);
    assert_int_equal(r.status, 413);
    harness_response_free(&r);
    const char *chunked[] = {"Transfer-Encoding: chunked", NULL};
    r = harness_http("POST", "/v1/contacts", h->key_a, body, chunked);
    assert_int_equal(r.status, 413);
    harness_response_free(&r);
    free(body);

    //  Nothing of the rejected requests was written.
    r = harness_http("GET", "/v1/contacts?limit=200", h->key_a, NULL, NULL);
    json_t *items = json_object_get(r.json, "items");
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t *emails = json_object_get(json_array_get(items, i), "emails");
        for (size_t j = 0; j < json_array_size(emails); j++)
            assert_string_not_equal(
                json_string_value(json_object_get(json_array_get(emails, j), "address")),
                "a@b.com");
    }
    harness_response_free(&r);
}

static void test_duplicate_email(void **state) {
    (void)state;
    char email[96], id[64];
    s_create_fresh("Ann", email, id);
    harness_response_t r;

    //  Same address, other case: 409 naming the existing contact.
    char upper[128];
    snprintf(upper, sizeof upper, "%s", email);
    upper[0] = 'P';
    r = s_create(h->key_a, "Bob", upper);
    assert_int_equal(r.status, 409);
    json_t *err = json_object_get(r.json, "error");
    assert_string_equal(json_string_value(json_object_get(err, "existingId")), id);
    assert_non_null(strstr(json_string_value(json_object_get(err, "message")), id));
    assert_string_equal(harness_error_field(&r), "emails[0].address");
    harness_response_free(&r);

    //  Another tenant may hold the same address.
    r = s_create(h->key_b, "Ann", email);
    assert_int_equal(r.status, 201);
    harness_response_free(&r);

    //  PATCH onto an address another contact holds: 409, and nothing changes.
    const char *other = s_email();
    r = s_create(h->key_a, "Cy", other);
    assert_int_equal(r.status, 201);
    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    char body[256];
    snprintf(body, sizeof body, "{\"firstName\":\"Changed\",\"emails\":[{\"address\":\"%s\"}]}",
             email);
    r = harness_http("PATCH", path, h->key_a, body, NULL);
    assert_int_equal(r.status, 409);
    harness_response_free(&r);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_string_equal(harness_json_str(&r, "firstName"), "Cy");
    harness_response_free(&r);
}

//  Many clients create the same address at once: exactly one wins, every other one
//  gets 409 naming it, and one contact holds the address.
typedef struct {
    const char *email;
    long status;
    char id[64];
} s_race_t;

static void *s_race_thread(void *arg) {
    s_race_t *race = arg;
    harness_response_t r = s_create(h->key_a, "Racer", race->email);
    race->status = r.status;
    const char *id = r.status == 201
                         ? harness_json_str(&r, "id")
                         : json_string_value(
                               json_object_get(json_object_get(r.json, "error"), "existingId"));
    snprintf(race->id, sizeof race->id, "%s", id ? id : "");
    harness_response_free(&r);
    return NULL;
}

static void test_concurrent_duplicates(void **state) {
    (void)state;
    char email[96];
    snprintf(email, sizeof email, "%s", s_email());
    s_race_t races[8];
    pthread_t threads[8];
    for (int i = 0; i < 8; i++) {
        races[i] = (s_race_t){.email = email};
        pthread_create(&threads[i], NULL, s_race_thread, &races[i]);
    }
    int created = 0;
    const char *winner = NULL;
    for (int i = 0; i < 8; i++) {
        pthread_join(threads[i], NULL);
        if (races[i].status == 201) {
            created++;
            winner = races[i].id;
        } else
            assert_int_equal(races[i].status, 409);
    }
    assert_int_equal(created, 1);
    for (int i = 0; i < 8; i++)
        assert_string_equal(races[i].id, winner);  // losers name the winner
}

//  A create whose second address another contact holds, sent together with creates that
//  are fine (so likely in one batch): it alone gets 409 naming the holder and the field,
//  writes nothing, and the others are created.
typedef struct {
    char body[512];
    long status;
    char id[64];
    char existing[64];
    char field[64];
} s_mixed_t;

static void *s_mixed_thread(void *arg) {
    s_mixed_t *call = arg;
    harness_response_t r = harness_http("POST", "/v1/contacts", h->key_a, call->body, NULL);
    call->status = r.status;
    const char *id = harness_json_str(&r, "id");
    snprintf(call->id, sizeof call->id, "%s", id ? id : "");
    if (r.status == 409) {
        json_t *err = json_object_get(r.json, "error");
        const char *existing = json_string_value(json_object_get(err, "existingId"));
        snprintf(call->existing, sizeof call->existing, "%s", existing ? existing : "");
        const char *field = harness_error_field(&r);
        snprintf(call->field, sizeof call->field, "%s", field ? field : "");
    }
    harness_response_free(&r);
    return NULL;
}

static void test_duplicate_among_concurrent_creates(void **state) {
    (void)state;
    char held[96], holder[64];
    s_create_fresh("Holder", held, holder);
    harness_response_t r;

    char fresh[96];
    snprintf(fresh, sizeof fresh, "%s", s_email());
    for (int round = 0; round < 5; round++) {
        s_mixed_t calls[8];
        pthread_t threads[8];
        for (int i = 0; i < 8; i++) {
            memset(&calls[i], 0, sizeof calls[i]);
            if (i == 0)
                snprintf(calls[i].body, sizeof calls[i].body,
                         "{\"kind\":\"person\",\"firstName\":\"Dup\",\"lastName\":\"Lee\","
                         "\"emails\":[{\"address\":\"%s\"},{\"address\":\"%s\"}]}",
                         fresh, held);
            else
                snprintf(calls[i].body, sizeof calls[i].body,
                         "{\"kind\":\"person\",\"firstName\":\"Fine%d\",\"lastName\":\"Lee\","
                         "\"emails\":[{\"address\":\"%s\"}]}",
                         i, s_email());
            pthread_create(&threads[i], NULL, s_mixed_thread, &calls[i]);
        }
        for (int i = 0; i < 8; i++)
            pthread_join(threads[i], NULL);
        assert_int_equal(calls[0].status, 409);
        assert_string_equal(calls[0].existing, holder);
        assert_string_equal(calls[0].field, "emails[1].address");
        for (int i = 1; i < 8; i++) {
            assert_int_equal(calls[i].status, 201);
            char path[128];
            snprintf(path, sizeof path, "/v1/contacts/%s", calls[i].id);
            r = harness_http("GET", path, h->key_a, NULL, NULL);
            assert_int_equal(r.status, 200);
            harness_response_free(&r);
        }
    }
    //  The refused create wrote nothing: its first address is still free.
    r = s_create(h->key_a, "Later", fresh);
    assert_int_equal(r.status, 201);
    harness_response_free(&r);
}

static void test_tenant_isolation(void **state) {
    (void)state;
    harness_response_t r = s_create(h->key_a, "Ann", s_email());
    assert_int_equal(r.status, 201);
    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    r = harness_http("GET", path, h->key_b, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
    r = harness_http("PATCH", path, h->key_b, "{\"firstName\":\"Mallory\"}", NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
    r = harness_http("DELETE", path, h->key_b, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "firstName"), "Ann");
    harness_response_free(&r);
}

static void test_idempotency(void **state) {
    (void)state;
    char email[96];
    snprintf(email, sizeof email, "%s", s_email());
    char body[256];
    snprintf(body, sizeof body, "{\"firstName\":\"Ida\",\"lastName\":\"Em\",\"emails\":[{\"address\":\"%s\"}]}",
             email);
    char header[128];
    snprintf(header, sizeof header, "Idempotency-Key: create-%s", email);
    const char *headers[] = {header, NULL};
    harness_response_t first = harness_http("POST", "/v1/contacts", h->key_a, body, headers);
    assert_int_equal(first.status, 201);
    harness_response_t again = harness_http("POST", "/v1/contacts", h->key_a, body, headers);
    assert_int_equal(again.status, 201);
    assert_string_equal(harness_json_str(&first, "id"), harness_json_str(&again, "id"));
    harness_response_free(&first);
    harness_response_free(&again);
    //  Without the key, the same body is a duplicate.
    harness_response_t other = harness_http("POST", "/v1/contacts", h->key_a, body, NULL);
    assert_int_equal(other.status, 409);
    harness_response_free(&other);
}

//  Send one request straight to the broker with a hand-made header.
static Crm__ReplyHeader *s_mdp_call(crm_bus_client_t *client, const char *service,
                                    const char *method, const ProtobufCMessage *request,
                                    unsigned deadline_ms, zmsg_t **reply_p) {
    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.method = (char *)method;
    header.tenant_id = "tenant-a";
    header.actor_id = "systest";
    header.role = "admin";
    header.request_id = "systest-1";
    header.deadline_ms = deadline_ms;
    zmsg_t *body = crm_bus_request_new(&header, request);
    zmsg_t *reply = crm_bus_client_request(client, service, &body, deadline_ms + 2000);
    if (!reply)
        return NULL;
    zframe_t *hf = zmsg_first(reply);
    Crm__ReplyHeader *rh = crm__reply_header__unpack(NULL, zframe_size(hf), zframe_data(hf));
    if (reply_p)
        *reply_p = reply;
    else
        zmsg_destroy(&reply);
    return rh;
}

static void test_mdp_direct(void **state) {
    (void)state;
    harness_response_t r = s_create(h->key_a, "Mo", s_email());
    assert_int_equal(r.status, 201);
    char id[64];
    snprintf(id, sizeof id, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);

    crm_bus_client_t *client = crm_bus_client_new(h->broker);
    Crm__Contacts__GetContactRequest get = CRM__CONTACTS__GET_CONTACT_REQUEST__INIT;
    get.id = id;
    zmsg_t *reply = NULL;
    Crm__ReplyHeader *rh = s_mdp_call(client, "contacts", "Get", &get.base, 3000, &reply);
    assert_non_null(rh);
    assert_int_equal(rh->code, 200);
    zmsg_first(reply);
    zframe_t *bf = zmsg_next(reply);
    Crm__Contacts__Contact *c = crm__contacts__contact__unpack(NULL, zframe_size(bf), zframe_data(bf));
    assert_non_null(c);
    assert_string_equal(c->first_name, "Mo");
    assert_int_equal(c->kind, CRM__CONTACTS__CONTACT_KIND__CONTACT_KIND_PERSON);
    crm__contacts__contact__free_unpacked(c, NULL);
    crm__reply_header__free_unpacked(rh, NULL);
    zmsg_destroy(&reply);

    //  mmi.service: 200 for a live service, 404 for an unknown one.
    zmsg_t *body = zmsg_new();
    zmsg_addstr(body, "contacts");
    reply = crm_bus_client_request(client, "mmi.service", &body, 3000);
    assert_non_null(reply);
    char *answer = zmsg_popstr(reply);
    assert_string_equal(answer, "200");
    zstr_free(&answer);
    zmsg_destroy(&reply);
    body = zmsg_new();
    zmsg_addstr(body, "nosuchservice");
    reply = crm_bus_client_request(client, "mmi.service", &body, 3000);
    assert_non_null(reply);
    answer = zmsg_popstr(reply);
    assert_string_equal(answer, "404");
    zstr_free(&answer);
    zmsg_destroy(&reply);

    //  An unknown service: 404 at the deadline, not a hang.
    int64_t start = zclock_mono();
    rh = s_mdp_call(client, "nosuchservice", "Get", &get.base, 500, NULL);
    int64_t took = zclock_mono() - start;
    assert_non_null(rh);
    assert_int_equal(rh->code, 404);
    assert_true(took >= 450 && took < 2000);
    crm__reply_header__free_unpacked(rh, NULL);
    crm_bus_client_destroy(&client);
}

static void test_operations_endpoints(void **state) {
    (void)state;
    harness_response_t r = harness_http("GET", "/healthz", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    harness_response_free(&r);
    r = harness_http("GET", "/readyz", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "ready")));
    assert_true(json_integer_value(json_object_get(json_object_get(r.json, "workers"), "contacts")) >= 1);
    harness_response_free(&r);
    r = harness_http("GET", "/metrics", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "crm_http_requests_total{method=\"POST\",route=\"/v1/contacts\",code=\"201\"}"));
    assert_non_null(strstr(r.body, "crm_http_request_duration_seconds_bucket"));
    assert_non_null(strstr(r.body, "crm_broker_workers{service=\"contacts\"}"));
    harness_response_free(&r);
    r = harness_http("GET", "/v1/openapi.json", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(json_object_get(json_object_get(r.json, "paths"), "/v1/contacts/{id}"));
    harness_response_free(&r);
}

//  Requests keep flowing while the contacts daemon is SIGKILLed: each is answered
//  within its deadline (201 or 503), and creates succeed again after the restart.
typedef struct {
    volatile bool stop;
    int ok, unavailable, other;
    double slowest;
} s_load_t;

static void *s_load_thread(void *arg) {
    s_load_t *load = arg;
    int n = 0;
    while (!load->stop) {
        char email[96];
        snprintf(email, sizeof email, "kill%d.%lld@example.com", n++, (long long)zclock_usecs());
        char body[256];
        snprintf(body, sizeof body,
                 "{\"firstName\":\"K\",\"lastName\":\"L\",\"emails\":[{\"address\":\"%s\"}]}", email);
        harness_response_t r = harness_http("POST", "/v1/contacts", h->key_a, body, NULL);
        if (r.status == 201)
            load->ok++;
        else if (r.status == 503)
            load->unavailable++;
        else
            load->other++;
        if (r.seconds > load->slowest)
            load->slowest = r.seconds;
        harness_response_free(&r);
    }
    return NULL;
}

static void test_kill_contacts_daemon(void **state) {
    (void)state;
    pid_t pid = harness_daemon_pid("contacts");
    assert_true(pid > 0);
    s_load_t load = {0};
    //  The harness's curl handle is not shared: the load thread uses its own requests.
    pthread_t thread;
    pthread_create(&thread, NULL, s_load_thread, &load);
    zclock_sleep(300);
    kill(pid, SIGKILL);
    zclock_sleep(1500);
    load.stop = true;
    pthread_join(thread, NULL);
    assert_true(load.ok > 0);
    assert_int_equal(load.other, 0);
    assert_true(load.slowest < 6.0);  // the deadline is 5 s; fail-fast is much sooner

    //  The supervisor restarted it, and creates work again.
    assert_true(harness_wait_ready(15000));
    pid_t again = harness_daemon_pid("contacts");
    assert_true(again > 0 && again != pid);
    harness_response_t r = s_create(h->key_a, "After", s_email());
    assert_int_equal(r.status, 201);
    harness_response_free(&r);
}

//  PostgreSQL goes away and comes back: requests fail fast with 503 meanwhile (never
//  hang, nothing exits), readiness says so, and service resumes by itself.
static void test_database_outage(void **state) {
    (void)state;
    pid_t contacts = harness_daemon_pid("contacts");
    assert_int_equal(harness_pg("stop"), 0);
    harness_response_t r = s_create(h->key_a, "Outage", s_email());
    assert_int_equal(r.status, 503);
    assert_true(r.seconds < 6.0);
    harness_response_free(&r);
    r = harness_http("GET", "/readyz", NULL, NULL, NULL);
    assert_int_equal(r.status, 503);
    harness_response_free(&r);
    assert_int_equal(harness_pg("start"), 0);
    //  Within a few reconnect attempts, creates work again; the daemon never restarted.
    long status = 0;
    for (int i = 0; i < 50 && status != 201; i++) {
        r = s_create(h->key_a, "Back", s_email());
        status = r.status;
        harness_response_free(&r);
        if (status != 201)
            zclock_sleep(200);
    }
    assert_int_equal(status, 201);
    assert_int_equal(harness_daemon_pid("contacts"), contacts);
    assert_true(harness_wait_ready(10000));
}

//  A clean stop and a start again: the supervisor exits 0 and the data is still there.
static void test_restart_keeps_data(void **state) {
    (void)state;
    harness_response_t r = s_create(h->key_a, "Persistent", s_email());
    assert_int_equal(r.status, 201);
    char path[128];
    snprintf(path, sizeof path, "/v1/contacts/%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    int status = harness_restart_suite();
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "firstName"), "Persistent");
    harness_response_free(&r);
}


//  Tags of one contact, as a comma-separated list.
static void s_contact_tags(const char *path, char *out, size_t size) {
    harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *tags = json_object_get(r.json, "tags");
    out[0] = 0;
    for (size_t i = 0; i < json_array_size(tags); i++)
        snprintf(out + strlen(out), size - strlen(out), "%s%s", i ? "," : "",
                 json_string_value(json_array_get(tags, i)));
    harness_response_free(&r);
}

//  Events of the tag catalogue written to contacts' outbox, in order, comma-separated.
static void s_tag_events(char *out, size_t size) {
    PGconn *db = PQconnectdb(h->dsn);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    PGresult *res = PQexec(db, "SELECT string_agg(type, ',' ORDER BY xid, id) FROM contacts.outbox"
                               " WHERE type LIKE 'Tag%' AND tenant_id = 'tenant-a'");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    snprintf(out, size, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    PQfinish(db);
}

//  The catalogue: unique names (any case), colours, contacts holding only its tags in
//  its spelling, and renames, merges and deletions reaching every contact.
static void test_tag_catalogue(void **state) {
    (void)state;
    char events_before[4096], events[4096];
    s_tag_events(events_before, sizeof events_before);
    harness_response_t r = harness_http(
        "POST", "/v1/tags", h->key_a,
        "{\"name\":\"  Trade-in \",\"colour\":\"#FFAA00\",\"description\":\"has a car to sell\"}",
        NULL);
    assert_int_equal(r.status, 201);
    assert_string_equal(harness_json_str(&r, "name"), "Trade-in");
    assert_string_equal(harness_json_str(&r, "colour"), "#ffaa00");
    char trade[64], path_trade[128];
    snprintf(trade, sizeof trade, "%s", harness_json_str(&r, "id"));
    snprintf(path_trade, sizeof path_trade, "/v1/tags/%s", trade);
    harness_response_free(&r);

    //  Bad input: a name taken in another case, a colour, a blank name; nothing written.
    r = harness_http("POST", "/v1/tags", h->key_a, "{\"name\":\"TRADE-IN\"}", NULL);
    assert_int_equal(r.status, 409);
    assert_string_equal(harness_error_field(&r), "name");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r.json, "error"), "existingId")), trade);
    harness_response_free(&r);
    r = harness_http("POST", "/v1/tags", h->key_a, "{\"name\":\"Hot\",\"colour\":\"red\"}", NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "colour");
    harness_response_free(&r);
    r = harness_http("POST", "/v1/tags", h->key_a, "{\"name\":\"  \"}", NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "name");
    harness_response_free(&r);
    r = harness_http("GET", "/v1/tags", h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    int hot = 0, trades = 0;
    for (size_t i = 0; i < json_array_size(items); i++) {
        const char *name = json_string_value(json_object_get(json_array_get(items, i), "name"));
        hot += strcmp(name, "Hot") == 0;
        trades += strcmp(name, "Trade-in") == 0;
    }
    assert_int_equal(hot, 0);
    assert_int_equal(trades, 1);
    harness_response_free(&r);

    //  A contact may carry only catalogue tags: an unknown one is named, nothing written.
    const char *contact =
        "{\"kind\":\"person\",\"firstName\":\"Tia\",\"lastName\":\"Gold\","
        "\"emails\":[{\"address\":\"tia.tags@example.com\"}],\"tags\":[\"trade-in\",\"Fleet Buyer\"]}";
    r = harness_http("POST", "/v1/contacts", h->key_a, contact, NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "tags[1]");
    harness_response_free(&r);
    s_tag_ensure(h->key_a, "Fleet Buyer");
    r = harness_http("POST", "/v1/tags", h->key_a, "{\"name\":\"Gold\"}", NULL);
    assert_int_equal(r.status, 201);
    char gold[64], path_gold[128];
    snprintf(gold, sizeof gold, "%s", harness_json_str(&r, "id"));
    snprintf(path_gold, sizeof path_gold, "/v1/tags/%s", gold);
    harness_response_free(&r);
    //  The address was not taken by the refused create; tags come back as the catalogue
    //  spells them, each once.
    r = harness_http("POST", "/v1/contacts", h->key_a,
                     "{\"kind\":\"person\",\"firstName\":\"Tia\",\"lastName\":\"Gold\","
                     "\"emails\":[{\"address\":\"tia.tags@example.com\"}],"
                     "\"tags\":[\"trade-in\",\"FLEET BUYER\",\"Trade-In\",\"gold\"]}",
                     NULL);
    assert_int_equal(r.status, 201);
    char path[128], tags[256];
    snprintf(path, sizeof path, "/v1/contacts/%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    s_contact_tags(path, tags, sizeof tags);
    assert_string_equal(tags, "Trade-in,Fleet Buyer,Gold");

    //  A rename reaches the contact; a rename onto another tag's name is refused.
    r = harness_http("PATCH", path_trade, h->key_a, "{\"name\":\"gold\"}", NULL);
    assert_int_equal(r.status, 409);
    assert_string_equal(harness_error_field(&r), "name");
    harness_response_free(&r);
    r = harness_http("PATCH", path_trade, h->key_a, "{\"name\":\"Part-exchange\"}", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "name"), "Part-exchange");
    assert_string_equal(harness_json_str(&r, "colour"), "#ffaa00");
    harness_response_free(&r);
    s_contact_tags(path, tags, sizeof tags);
    assert_string_equal(tags, "Part-exchange,Fleet Buyer,Gold");
    r = harness_http("PATCH", path_trade, h->key_a, "{\"id\":\"x\"}", NULL);
    assert_int_equal(r.status, 422);
    harness_response_free(&r);

    //  Merging Part-exchange into Gold: the contact keeps Gold once, where its first was.
    char merge[160];
    snprintf(merge, sizeof merge, "%s/merge", path_trade);
    r = harness_http("POST", merge, h->key_a, "{\"into\":\"not-a-tag\"}", NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "into");
    harness_response_free(&r);
    char body[128];
    snprintf(body, sizeof body, "{\"into\":\"%s\"}", gold);
    r = harness_http("POST", merge, h->key_a, body, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "name"), "Gold");
    harness_response_free(&r);
    s_contact_tags(path, tags, sizeof tags);
    assert_string_equal(tags, "Gold,Fleet Buyer");
    r = harness_http("GET", path_trade, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);

    //  Another tenant sees none of it.
    r = harness_http("GET", path_gold, h->key_b, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
    r = harness_http("DELETE", path_gold, h->key_b, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);
    r = harness_http("POST", "/v1/contacts", h->key_b,
                     "{\"kind\":\"organization\",\"name\":\"B Motors\",\"tags\":[\"Gold\"]}", NULL);
    assert_int_equal(r.status, 422);
    assert_string_equal(harness_error_field(&r), "tags[0]");
    harness_response_free(&r);

    //  Deleting Gold takes it off the contact.
    r = harness_http("DELETE", path_gold, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    s_contact_tags(path, tags, sizeof tags);
    assert_string_equal(tags, "Fleet Buyer");
    r = harness_http("DELETE", path_gold, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 404);
    harness_response_free(&r);

    //  Each catalogue write left its event in the outbox, in order.
    s_tag_events(events, sizeof events);
    const char *expected = "TagCreated,TagCreated,TagCreated,TagUpdated,TagsMerged,TagDeleted";
    assert_true(strlen(events) > strlen(expected));
    assert_string_equal(events + strlen(events) - strlen(expected), expected);
    assert_true(strlen(events) == strlen(events_before) + strlen(expected) + (events_before[0] ? 1 : 0));
}

//  The text of a file of the source tree (the tests run from the top directory).
static char *s_read_file(const char *path) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = calloc(1, (size_t)size + 1);
    assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    return text;
}

//  Migration 0002 makes each tenant's catalogue from the tags its contacts carried
//  before there was one: each name once per tenant (any case), as first spelt.
static void test_tag_catalogue_seeded_by_migration(void **state) {
    (void)state;
    PGconn *db = PQconnectdb(h->dsn);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    PGresult *res = PQexec(db, "SET client_min_messages = warning;"
                               " DROP SCHEMA IF EXISTS seedcheck CASCADE; CREATE SCHEMA seedcheck;"
                               " SET search_path TO seedcheck, public;");
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    char *first = s_read_file("services/contacts/migrations/0001_contacts.sql");
    res = PQexec(db, first);
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    free(first);
    res = PQexec(db,
                 "INSERT INTO contacts (tenant_id, id, kind, type, first_name, last_name, tags)"
                 " VALUES ('t1', gen_random_uuid(), 'person', 'prospect', 'A', 'B', '{VIP,Trade-in}'),"
                 "        ('t1', gen_random_uuid(), 'person', 'prospect', 'C', 'D', '{vip,Fleet}'),"
                 "        ('t2', gen_random_uuid(), 'person', 'prospect', 'E', 'F', '{vip}'),"
                 "        ('t2', gen_random_uuid(), 'person', 'prospect', 'G', 'H', '{}')");
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    char *second = s_read_file("services/contacts/migrations/0002_tags.sql");
    res = PQexec(db, second);
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    free(second);
    res = PQexec(db, "SELECT string_agg(tenant_id || ':' || name, ',' ORDER BY tenant_id, name_norm)"
                     " FROM tags");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    //  Within a tenant the first spelling in sort order wins (VIP before vip).
    assert_string_equal(PQgetvalue(res, 0, 0), "t1:Fleet,t1:Trade-in,t1:VIP,t2:vip");
    PQclear(res);
    res = PQexec(db, "DROP SCHEMA seedcheck CASCADE");
    PQclear(res);
    PQfinish(db);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crud),
        cmocka_unit_test(test_list_paging),
        cmocka_unit_test(test_organization_and_tags),
        cmocka_unit_test(test_tag_catalogue),
        cmocka_unit_test(test_tag_catalogue_seeded_by_migration),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_duplicate_email),
        cmocka_unit_test(test_concurrent_duplicates),
        cmocka_unit_test(test_duplicate_among_concurrent_creates),
        cmocka_unit_test(test_tenant_isolation),
        cmocka_unit_test(test_idempotency),
        cmocka_unit_test(test_mdp_direct),
        cmocka_unit_test(test_operations_endpoints),
        cmocka_unit_test(test_kill_contacts_daemon),
        cmocka_unit_test(test_database_outage),
        cmocka_unit_test(test_restart_keeps_data),
    };
    return cmocka_run_group_tests_name("system: contacts", tests, s_setup, s_teardown);
}
