/*  systest_security: the ZeroMQ side as an attacker on the same network sees it
    (issue 21, items 1 to 3).

    The suite runs with CurveZMQ (the harness makes every process's key pair). A peer
    without a key, or with a key the gateway does not know, never completes the
    handshake; a known key does only what its roles allow: a forged worker never
    registers and never sees a request, a client key of one tenant cannot speak for
    another, a subscriber key of one tenant receives and replays that tenant's events
    only; a key marked pii: false receives them without personal fields, live on the
    pii-free endpoint (and nothing on the full one) and by replay; and a service refuses
    a header with an unknown role or a malformed tenant.
*/
#include "bus_client.h"
#include "curve.h"
#include "events.pb-c.h"
#include "contacts.pb-c.h"
#include "harness.h"
#include "mdp.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

static harness_t *h;

static int s_setup(void **state) {
    (void)state;
    h = harness_start(NULL);
    return 0;
}

//  --- Helpers ---------------------------------------------------------------------------

//  Make a key pair registered with the gateway, or a fresh one it does not know; then
//  its secret file's path into out.
static void s_key(const char *name, const char *roles, char *out, size_t size) {
    harness_create_cert(name, roles, true, out, size);
}

//  Take the key pair at path as this program's identity (NULL: plain text); the
//  harness's own "systest" pair again with "systest".
static void s_as(const char *path) {
    char server[700], own[700];
    snprintf(server, sizeof server, "%s/gateway.key", h->certs_dir);
    if (path && strcmp(path, "systest") == 0) {
        snprintf(own, sizeof own, "%s/systest.key_secret", h->certs_dir);
        path = own;
    }
    if (!path)
        crm_curve_reset();
    else
        assert_int_equal(crm_curve_use(path, server), 0);
}

//  A raw DEALER to the broker's tcp endpoint with the current identity.
static zsock_t *s_dealer(void) {
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    assert_non_null(dealer);
    zsock_set_linger(dealer, 0);
    crm_curve_client(dealer);
    assert_int_equal(zsock_connect(dealer, "%s", h->broker), 0);
    return dealer;
}

//  Send READY for service as an MDP worker.
static void s_ready(zsock_t *dealer, const char *service) {
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, "", 0);
    zmsg_addstr(msg, "MDPW01");
    byte ready = 0x01;
    zmsg_addmem(msg, &ready, 1);
    zmsg_addstr(msg, service);
    assert_int_equal(zmsg_send(&msg, dealer), 0);
}

//  How many REQUESTs (0x02) the dealer got within ms; DISCONNECT and HEARTBEAT are not.
static int s_requests_within(zsock_t *dealer, int ms) {
    int requests = 0;
    zpoller_t *poller = zpoller_new(dealer, NULL);
    int64_t until = zclock_mono() + ms;
    while (zclock_mono() < until) {
        if (!zpoller_wait(poller, 50))
            continue;
        zmsg_t *msg = zmsg_recv(dealer);
        zframe_t *command = msg && zmsg_size(msg) >= 3 ? zmsg_first(msg) : NULL;
        if (command) {
            zmsg_next(msg);
            command = zmsg_next(msg);
        }
        if (command && zframe_size(command) == 1 && zframe_data(command)[0] == 0x02)
            requests++;
        zmsg_destroy(&msg);
    }
    zpoller_destroy(&poller);
    return requests;
}

//  Create a contact of the tenant whose API key is key; its id into id.
static void s_create(const char *key, const char *first, char *id) {
    static int n;
    char body[256];
    snprintf(body, sizeof body,
             "{\"kind\":\"person\",\"firstName\":\"%s\",\"lastName\":\"Sec\","
             "\"emails\":[{\"address\":\"sec%d.%lld@example.com\"}]}",
             first, ++n, (long long)zclock_time());
    harness_response_t r = harness_http("POST", "/v1/contacts", key, body, NULL);
    assert_int_equal(r.status, 201);
    snprintf(id, 37, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

//  While the forged peer waits, real requests to contacts are all served (by the real
//  workers: never by it).
static void s_contacts_served(int n) {
    for (int i = 0; i < n; i++) {
        harness_response_t r = harness_http("GET", "/v1/contacts?limit=1", h->key_a, NULL, NULL);
        assert_int_equal(r.status, 200);
        harness_response_free(&r);
    }
}

//  An MDP client request over a raw DEALER: the reply header's code, or 0 when no answer
//  came within ms.
static unsigned s_raw_call(zsock_t *dealer, const char *service, const char *method,
                           const char *tenant, const char *role, const ProtobufCMessage *request,
                           int ms) {
    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.method = (char *)method;
    header.tenant_id = (char *)tenant;
    header.actor_id = "attacker";
    header.role = (char *)role;
    header.request_id = "sec-1";
    zmsg_t *body = crm_bus_request_new(&header, request);
    zmsg_pushstr(body, service);
    zmsg_pushstr(body, "MDPC01");
    zmsg_pushmem(body, "", 0);
    assert_int_equal(zmsg_send(&body, dealer), 0);
    zpoller_t *poller = zpoller_new(dealer, NULL);
    unsigned code = 0;
    if (zpoller_wait(poller, ms)) {
        zmsg_t *reply = zmsg_recv(dealer);
        zframe_t *frame = zmsg_first(reply); // "", "MDPC01", service, header, body
        for (int i = 0; i < 3 && frame; i++)
            frame = zmsg_next(reply);
        Crm__ReplyHeader *rh =
            frame ? crm__reply_header__unpack(NULL, zframe_size(frame), zframe_data(frame)) : NULL;
        assert_non_null(rh);
        code = rh->code;
        crm__reply_header__free_unpacked(rh, NULL);
        zmsg_destroy(&reply);
    }
    zpoller_destroy(&poller);
    return code;
}

//  Events.Replay of contacts from seq 1 as the current identity, paging on next_seq to
//  the head; every event's tenant must be tenant (unless "*"). Returns the reply code of the first
//  page (200: and *count holds the events seen).
static unsigned s_replay_all(const char *tenant, const char *role, int *count) {
    crm_bus_client_t *client = crm_bus_client_new(h->broker);
    uint64_t from = 1;
    unsigned first_code = 0;
    *count = 0;
    for (int page = 0; page < 100; page++) {
        Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
        header.method = "Events.Replay";
        header.tenant_id = (char *)tenant;
        header.actor_id = "systest";
        header.role = (char *)role;
        Crm__Events__ReplayRequest req = CRM__EVENTS__REPLAY_REQUEST__INIT;
        req.from_seq = from;
        req.limit = 7; // small pages: the tenant's events are scattered among them
        zmsg_t *body = crm_bus_request_new(&header, &req.base);
        zmsg_t *reply = crm_bus_client_request(client, "contacts", &body, 5000);
        assert_non_null(reply);
        ProtobufCMessage *out = NULL;
        Crm__ReplyHeader *rh =
            crm_bus_reply_parse(&reply, &crm__events__replay_response__descriptor, &out);
        assert_non_null(rh);
        unsigned code = rh->code;
        crm__reply_header__free_unpacked(rh, NULL);
        if (page == 0)
            first_code = code;
        if (code != 200)
            break;
        Crm__Events__ReplayResponse *resp = (Crm__Events__ReplayResponse *)out;
        for (size_t i = 0; i < resp->n_events; i++) {
            if (strcmp(tenant, "*") != 0)
                assert_string_equal(resp->events[i]->tenant_id, tenant);
            (*count)++;
        }
        assert_true(resp->next_seq > from || resp->next_seq > resp->head_seq);
        from = resp->next_seq;
        bool done = from > resp->head_seq;
        crm__events__replay_response__free_unpacked(resp, NULL);
        if (done)
            break;
    }
    crm_bus_client_destroy(&client);
    return first_code;
}

//  --- Forged workers --------------------------------------------------------------------

//  Without a key, or with one the gateway does not know, the handshake never completes:
//  READY goes nowhere, and no request ever reaches the forger.
static void test_forged_worker_without_known_key(void **state) {
    (void)state;
    s_as(NULL); // plain text
    zsock_t *plain = s_dealer();
    s_ready(plain, "contacts");
    //  A fresh pair of its own, never registered.
    char path[800];
    char problem[256];
    char stranger_dir[700];
    snprintf(stranger_dir, sizeof stranger_dir, "%s/stranger", h->dir);
    assert_int_equal(crm_curve_cert_create(stranger_dir, "stranger", "worker:contacts", true, true,
                                           problem, sizeof problem),
                     0);
    snprintf(path, sizeof path, "%s/stranger.key_secret", stranger_dir);
    s_as(path);
    zsock_t *stranger = s_dealer();
    s_ready(stranger, "contacts");
    s_as("systest");

    s_contacts_served(20);
    assert_int_equal(s_requests_within(plain, 500), 0);
    assert_int_equal(s_requests_within(stranger, 100), 0);
    zsock_destroy(&plain);
    zsock_destroy(&stranger);
}

//  A known key that is not contacts' worker key: its READY is refused (DISCONNECT), its
//  registration never reaches the service table, and it never gets a request.
static void test_forged_worker_with_other_key(void **state) {
    (void)state;
    char client[700], leads[700];
    s_key("forger-client", "client", client, sizeof client);
    s_key("forger-leads", "worker:leads", leads, sizeof leads);
    s_as(client);
    zsock_t *as_client = s_dealer();
    s_ready(as_client, "contacts");
    s_as(leads);
    zsock_t *as_leads = s_dealer();
    s_ready(as_leads, "contacts");
    s_as("systest");

    s_contacts_served(20);
    assert_int_equal(s_requests_within(as_client, 500), 0);
    assert_int_equal(s_requests_within(as_leads, 100), 0);
    //  The gateway logged the refusals, naming the keys.
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "grep -q 'refusing worker.*forger-client' %s/suite.log && "
             "grep -q 'refusing worker.*forger-leads' %s/suite.log",
             h->dir, h->dir);
    assert_int_equal(system(cmd), 0);
    zsock_destroy(&as_client);
    zsock_destroy(&as_leads);
}

//  --- Forged clients --------------------------------------------------------------------

//  A client without a known key gets no answer at all.
static void test_forged_client_refused(void **state) {
    (void)state;
    Crm__Contacts__ListContactsRequest list = CRM__CONTACTS__LIST_CONTACTS_REQUEST__INIT;
    s_as(NULL);
    zsock_t *plain = s_dealer();
    s_as("systest");
    assert_int_equal(s_raw_call(plain, "contacts", "List", "tenant-a", "admin", &list.base, 1500),
                     0);
    zsock_destroy(&plain);
    //  The same request with a known client key is answered.
    zsock_t *known = s_dealer();
    assert_int_equal(s_raw_call(known, "contacts", "List", "tenant-a", "admin", &list.base, 5000),
                     200);
    zsock_destroy(&known);
}

//  A client key of one tenant (and roles) cannot speak for another, nor in another
//  role, nor as the suite itself: the broker answers 403 and the service never sees it.
static void test_client_key_bound_to_tenant(void **state) {
    (void)state;
    Crm__Contacts__ListContactsRequest list = CRM__CONTACTS__LIST_CONTACTS_REQUEST__INIT;
    char path[700];
    s_key("dealer-a-sales", "client:tenant-a:sales/manager", path, sizeof path);
    s_as(path);
    zsock_t *dealer = s_dealer();
    s_as("systest");
    assert_int_equal(s_raw_call(dealer, "contacts", "List", "tenant-a", "sales", &list.base, 5000),
                     200);
    assert_int_equal(s_raw_call(dealer, "contacts", "List", "tenant-b", "sales", &list.base, 5000),
                     403);
    assert_int_equal(s_raw_call(dealer, "contacts", "List", "*", "sales", &list.base, 5000), 403);
    assert_int_equal(s_raw_call(dealer, "contacts", "List", "tenant-a", "admin", &list.base, 5000),
                     403);
    assert_int_equal(s_raw_call(dealer, "contacts", "List", "tenant-a", "system", &list.base, 5000),
                     403);
    //  And every tenant's events are not its to replay.
    Crm__Events__ReplayRequest replay = CRM__EVENTS__REPLAY_REQUEST__INIT;
    assert_int_equal(
        s_raw_call(dealer, "contacts", "Events.Replay", "*", "system", &replay.base, 5000), 403);
    zsock_destroy(&dealer);
}

//  --- What services accept (item 2) ----------------------------------------------------

//  Even from a key that may speak for every tenant (a daemon's), a header with an
//  unknown role or a malformed tenant is refused by the service, and logged.
static void test_service_checks_header(void **state) {
    (void)state;
    Crm__Contacts__ListContactsRequest list = CRM__CONTACTS__LIST_CONTACTS_REQUEST__INIT;
    char path[700];
    s_key("daemon-x", "worker:nothing", path, sizeof path);
    s_as(path);
    zsock_t *dealer = s_dealer();
    s_as("systest");
    assert_int_equal(s_raw_call(dealer, "contacts", "List", "tenant-a", "root", &list.base, 5000),
                     400);
    assert_int_equal(s_raw_call(dealer, "contacts", "List", "tenant-a", "", &list.base, 5000), 400);
    assert_int_equal(
        s_raw_call(dealer, "contacts", "List", "Tenant A'; --", "admin", &list.base, 5000), 400);
    assert_int_equal(s_raw_call(dealer, "contacts", "List", "", "admin", &list.base, 5000), 400);
    assert_int_equal(s_raw_call(dealer, "contacts", "List", "tenant-a", "admin", &list.base, 5000),
                     200);
    zsock_destroy(&dealer);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "grep -q 'refusing a request with an invalid header' %s/suite.log && "
             "! grep -q \"Tenant A'\" %s/suite.log",
             h->dir, h->dir);
    assert_int_equal(system(cmd), 0);
}

//  --- Tenant-scoped events (item 3) ----------------------------------------------------

//  A SUB socket with the current identity, subscribed to prefix.
static zsock_t *s_sub(const char *prefix) {
    zsock_t *sub = zsock_new(ZMQ_SUB);
    assert_non_null(sub);
    zsock_set_linger(sub, 0);
    crm_curve_client(sub);
    zsock_set_subscribe(sub, prefix);
    assert_int_equal(zsock_connect(sub, "%s", h->events_sub), 0);
    return sub;
}

//  Events waiting on sub within ms: counted, each checked to be tenant's (NULL: none
//  may arrive).
static int s_events_within(zsock_t *sub, const char *tenant, int ms) {
    int events = 0;
    zpoller_t *poller = zpoller_new(sub, NULL);
    int64_t until = zclock_mono() + ms;
    while (zclock_mono() < until) {
        if (!zpoller_wait(poller, 50))
            continue;
        zmsg_t *msg = zmsg_recv(sub);
        char *topic = zmsg_popstr(msg);
        zframe_t *body = zmsg_pop(msg);
        Crm__Event *event = crm__event__unpack(NULL, zframe_size(body), zframe_data(body));
        if (event) {
            assert_non_null(tenant);
            assert_string_equal(event->tenant_id, tenant);
            events++;
            crm__event__free_unpacked(event, NULL);
        }
        zstr_free(&topic);
        zframe_destroy(&body);
        zmsg_destroy(&msg);
    }
    zpoller_destroy(&poller);
    return events;
}

//  A subscriber key of tenant B gets B's events live, and nothing of A's: its
//  subscriptions to A's topics or to every tenant's are refused; a plain-text SUB gets
//  nothing at all.
static void test_subscriber_live_own_tenant_only(void **state) {
    (void)state;
    char path[700];
    s_key("analyst-b", "subscriber:tenant-b", path, sizeof path);
    s_as(path);
    zsock_t *own = s_sub("contacts.tenant-b.");
    zsock_t *broad = s_sub("contacts.");
    zsock_t *other = s_sub("contacts.tenant-a.");
    zsock_t *everything = s_sub("");
    s_as(NULL);
    zsock_t *plain = s_sub("");
    s_as("systest");

    //  Subscriptions take a moment to reach the proxy: write until B's arrive.
    char id[37];
    int own_events = 0;
    for (int i = 0; i < 40 && own_events == 0; i++) {
        s_create(h->key_a, "Alice", id);
        s_create(h->key_b, "Bob", id);
        own_events += s_events_within(own, "tenant-b", 250);
    }
    assert_true(own_events > 0);
    //  A little more traffic of both, then nothing of A's anywhere.
    s_create(h->key_a, "Alice", id);
    s_create(h->key_b, "Bob", id);
    assert_true(s_events_within(own, "tenant-b", 1000) >= 1);
    assert_int_equal(s_events_within(broad, NULL, 100), 0);
    assert_int_equal(s_events_within(other, NULL, 100), 0);
    assert_int_equal(s_events_within(everything, NULL, 100), 0);
    assert_int_equal(s_events_within(plain, NULL, 100), 0);
    zsock_destroy(&own);
    zsock_destroy(&broad);
    zsock_destroy(&other);
    zsock_destroy(&everything);
    zsock_destroy(&plain);
}

//  By replay too: B's subscriber key replays B's events only (every one of them), and
//  is refused every tenant's or A's.
static void test_subscriber_replay_own_tenant_only(void **state) {
    (void)state;
    char id[37];
    s_create(h->key_a, "Alice", id);
    s_create(h->key_b, "Bob", id);
    s_create(h->key_a, "Alice", id);
    s_create(h->key_b, "Bob", id);
    assert_true(harness_contacts_head(10000) > 0);
    long long b_events =
        harness_sql_scalar("SELECT count(*) FROM contacts.outbox WHERE tenant_id = 'tenant-b'");

    char path[700];
    s_key("replayer-b", "subscriber:tenant-b", path, sizeof path);
    s_as(path);
    int count = 0;
    assert_int_equal(s_replay_all("tenant-b", "admin", &count), 200);
    assert_int_equal(count, b_events);
    assert_int_equal(s_replay_all("*", "system", &count), 403);
    assert_int_equal(s_replay_all("tenant-a", "admin", &count), 403);
    s_as("systest");
    //  The operator's key (every tenant) gets them all.
    assert_int_equal(s_replay_all("*", "system", &count), 200);
    assert_int_equal(count, harness_sql_scalar("SELECT count(*) FROM contacts.outbox"));
}


//  --- Events without personal fields (item 3, pii: false) -------------------------------

//  A contact of tenant B with a name, an email, a phone, an address, a free-text field
//  and a tag, all distinctive; its id into id.
static void s_create_personal(char *id) {
    static bool tagged;
    if (!tagged) { // the tag in tenant B's catalogue
        harness_response_t t =
            harness_http("POST", "/v1/tags", h->key_b, "{\"name\":\"vip-pii\"}", NULL);
        assert_int_equal(t.status, 201);
        harness_response_free(&t);
        tagged = true;
    }
    char body[768];
    snprintf(body, sizeof body,
             "{\"kind\":\"person\",\"firstName\":\"Zebedee\",\"lastName\":\"Quackenbush\","
             "\"emails\":[{\"address\":\"zebedee.%lld@piifree.example\"}],"
             "\"phones\":[{\"number\":\"+12025550187\"}],"
             "\"addresses\":[{\"line1\":\"17 Marigold Crescent\",\"city\":\"Springfield\"}],"
             "\"foundUs\":\"heard the Quackenbush jingle\",\"tags\":[\"vip-pii\"]}",
             (long long)zclock_time());
    harness_response_t r = harness_http("POST", "/v1/contacts", h->key_b, body, NULL);
    if (r.status != 201)
        fprintf(stderr, "create: %ld %s\n", (long)r.status, r.body);
    assert_int_equal(r.status, 201);
    snprintf(id, 37, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

//  Does any personal text of s_create_personal's contact appear in these bytes?
static bool s_has_personal(const void *data, size_t size) {
    static const char *const personal[] = {"Zebedee",     "Quackenbush", "piifree.example",
                                           "2025550187",  "Marigold",    "Springfield",
                                           "jingle"};
    for (size_t i = 0; i < sizeof personal / sizeof *personal; i++)
        if (memmem(data, size, personal[i], strlen(personal[i])))
            return true;
    return false;
}

//  A ContactCreated payload scrubbed as erasure scrubs: the ids, kind, tags and times
//  kept, every personal text gone.
static void s_check_scrubbed(const Crm__Event *event, const char *id) {
    assert_string_equal(event->type, "ContactCreated");
    assert_string_equal(event->aggregate_id, id);
    assert_string_equal(event->tenant_id, "tenant-b");
    assert_true(event->occurred_at[0] != 0);
    assert_true(event->seq > 0);
    assert_false(s_has_personal(event->payload.data, event->payload.len));
    Crm__Events__ContactCreated *created =
        crm__events__contact_created__unpack(NULL, event->payload.len, event->payload.data);
    assert_non_null(created);
    assert_non_null(created->contact);
    assert_string_equal(created->contact->id, id);
    assert_int_equal(created->contact->kind, CRM__CONTACTS__CONTACT_KIND__CONTACT_KIND_PERSON);
    assert_int_equal(created->contact->n_tags, 1);
    assert_string_equal(created->contact->tags[0], "vip-pii");
    assert_true(created->contact->created_at[0] != 0);
    assert_string_equal(created->contact->first_name, "");
    assert_string_equal(created->contact->last_name, "");
    assert_int_equal(created->contact->n_emails, 1);
    assert_string_equal(created->contact->emails[0]->address, "");
    assert_true(created->actor_id[0] != 0);
    crm__events__contact_created__free_unpacked(created, NULL);
}

//  Wait up to ms on sub for the ContactCreated of contact id; its envelope (caller
//  frees) or NULL. *raw_personal tells whether the message's bytes held personal text.
static Crm__Event *s_created_within(zsock_t *sub, const char *id, int ms, bool *raw_personal) {
    zpoller_t *poller = zpoller_new(sub, NULL);
    int64_t until = zclock_mono() + ms;
    Crm__Event *found = NULL;
    while (!found && zclock_mono() < until) {
        if (!zpoller_wait(poller, 50))
            continue;
        zmsg_t *msg = zmsg_recv(sub);
        zframe_t *topic = zmsg_pop(msg);
        zframe_t *body = zmsg_pop(msg);
        Crm__Event *event =
            body ? crm__event__unpack(NULL, zframe_size(body), zframe_data(body)) : NULL;
        if (event && strcmp(event->type, "ContactCreated") == 0 &&
            strcmp(event->aggregate_id, id) == 0) {
            found = event;
            *raw_personal = s_has_personal(zframe_data(topic), zframe_size(topic)) ||
                            s_has_personal(zframe_data(body), zframe_size(body));
        } else if (event)
            crm__event__free_unpacked(event, NULL);
        zframe_destroy(&topic);
        zframe_destroy(&body);
        zmsg_destroy(&msg);
    }
    zpoller_destroy(&poller);
    return found;
}

//  A SUB socket on the pii-free endpoint with the current identity.
static zsock_t *s_sub_pii_free(const char *prefix) {
    zsock_t *sub = zsock_new(ZMQ_SUB);
    assert_non_null(sub);
    zsock_set_linger(sub, 0);
    crm_curve_client(sub);
    zsock_set_subscribe(sub, prefix);
    assert_int_equal(zsock_connect(sub, "%s", h->events_pii_free), 0);
    return sub;
}

//  Live: a pii: false key of tenant B gets B's ContactCreated on the pii-free endpoint
//  with ids, kind, tags and times but no name, email, phone, address or free text in
//  the bytes; the same key's subscription on the full endpoint is refused (nothing
//  arrives there); a full key of B still gets the event whole; and the pii-free
//  endpoint keeps the tenant rule (B's pii: false key gets nothing of A's).
static void test_pii_free_subscriber_live(void **state) {
    (void)state;
    char analyst[700], full[700];
    harness_create_cert("bi-b", "subscriber:tenant-b", false, analyst, sizeof analyst);
    s_key("dms-b", "subscriber:tenant-b", full, sizeof full);
    s_as(analyst);
    zsock_t *clean = s_sub_pii_free("contacts.tenant-b.");
    zsock_t *clean_other = s_sub_pii_free("contacts.tenant-a.");
    zsock_t *refused = s_sub("contacts.tenant-b.");
    s_as(full);
    zsock_t *whole = s_sub("contacts.tenant-b.");
    s_as("systest");

    //  Subscriptions take a moment to reach the proxy: create until one arrives.
    char id[37];
    Crm__Event *event = NULL;
    bool raw_personal = true;
    for (int i = 0; i < 40 && !event; i++) {
        s_create(h->key_a, "Alice", id);
        s_create_personal(id);
        event = s_created_within(clean, id, 250, &raw_personal);
    }
    assert_non_null(event);
    assert_false(raw_personal);
    s_check_scrubbed(event, id);
    crm__event__free_unpacked(event, NULL);

    //  Once more, all subscriptions surely in place: the full key gets it whole, the
    //  pii: false key's full-stream socket gets nothing at all.
    s_create_personal(id);
    event = s_created_within(clean, id, 5000, &raw_personal);
    assert_non_null(event);
    assert_false(raw_personal);
    s_check_scrubbed(event, id);
    crm__event__free_unpacked(event, NULL);
    event = s_created_within(whole, id, 5000, &raw_personal);
    assert_non_null(event);
    assert_true(raw_personal);
    Crm__Events__ContactCreated *created =
        crm__events__contact_created__unpack(NULL, event->payload.len, event->payload.data);
    assert_non_null(created);
    assert_string_equal(created->contact->first_name, "Zebedee");
    assert_string_equal(created->contact->emails[0]->address + strcspn(created->contact->emails[0]->address, "@"),
                        "@piifree.example");
    crm__events__contact_created__free_unpacked(created, NULL);
    crm__event__free_unpacked(event, NULL);
    assert_int_equal(s_events_within(refused, NULL, 300), 0);
    assert_int_equal(s_events_within(clean_other, NULL, 100), 0);

    //  The refusal is counted, the scrubbing too.
    harness_response_t r = harness_http("GET", "/metrics", NULL, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "crm_events_scrubbed_total "));
    assert_null(strstr(r.body, "crm_events_scrubbed_total 0\n"));
    harness_response_free(&r);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "grep -q 'a pii: false key subscribes on events.pii_free_endpoint only' %s/suite.log",
             h->dir);
    assert_int_equal(system(cmd), 0);
    zsock_destroy(&clean);
    zsock_destroy(&clean_other);
    zsock_destroy(&refused);
    zsock_destroy(&whole);
}

//  The ContactCreated of contact id, found by replaying tenant B's contacts events as
//  the current identity (caller frees), or NULL.
static Crm__Event *s_replay_created(const char *id) {
    crm_bus_client_t *client = crm_bus_client_new(h->broker);
    uint64_t from = 1;
    Crm__Event *found = NULL;
    for (int page = 0; page < 1000 && !found; page++) {
        Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
        header.method = "Events.Replay";
        header.tenant_id = "tenant-b";
        header.actor_id = "systest";
        header.role = "admin";
        Crm__Events__ReplayRequest req = CRM__EVENTS__REPLAY_REQUEST__INIT;
        req.from_seq = from;
        zmsg_t *body = crm_bus_request_new(&header, &req.base);
        zmsg_t *reply = crm_bus_client_request(client, "contacts", &body, 5000);
        assert_non_null(reply);
        ProtobufCMessage *out = NULL;
        Crm__ReplyHeader *rh =
            crm_bus_reply_parse(&reply, &crm__events__replay_response__descriptor, &out);
        assert_non_null(rh);
        assert_int_equal(rh->code, 200);
        crm__reply_header__free_unpacked(rh, NULL);
        Crm__Events__ReplayResponse *resp = (Crm__Events__ReplayResponse *)out;
        assert_non_null(resp);
        for (size_t i = 0; i < resp->n_events && !found; i++) {
            Crm__Event *event = resp->events[i];
            if (strcmp(event->type, "ContactCreated") == 0 && strcmp(event->aggregate_id, id) == 0) {
                size_t size = crm__event__get_packed_size(event);
                uint8_t *bytes = malloc(size ? size : 1);
                crm__event__pack(event, bytes);
                found = crm__event__unpack(NULL, size, bytes);
                free(bytes);
            }
        }
        from = resp->next_seq;
        bool done = from > resp->head_seq;
        crm__events__replay_response__free_unpacked(resp, NULL);
        if (done)
            break;
    }
    crm_bus_client_destroy(&client);
    return found;
}

//  By replay: the pii: false key's Events.Replay through the broker answers the same
//  events scrubbed the same way; a full key of the same tenant replays them whole.
static void test_pii_free_subscriber_replay(void **state) {
    (void)state;
    char id[37];
    s_create_personal(id);
    assert_true(harness_contacts_head(10000) > 0);
    char analyst[700], full[700];
    harness_create_cert("bi-replay-b", "subscriber:tenant-b", false, analyst, sizeof analyst);
    s_key("dms-replay-b", "subscriber:tenant-b", full, sizeof full);

    s_as(analyst);
    Crm__Event *event = s_replay_created(id);
    s_as("systest");
    assert_non_null(event);
    s_check_scrubbed(event, id);
    size_t size = crm__event__get_packed_size(event);
    uint8_t *bytes = malloc(size);
    crm__event__pack(event, bytes);
    assert_false(s_has_personal(bytes, size));
    free(bytes);
    crm__event__free_unpacked(event, NULL);

    s_as(full);
    event = s_replay_created(id);
    s_as("systest");
    assert_non_null(event);
    assert_true(s_has_personal(event->payload.data, event->payload.len));
    crm__event__free_unpacked(event, NULL);
}

int main(void) {
    zsys_handler_set(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forged_worker_without_known_key),
        cmocka_unit_test(test_forged_worker_with_other_key),
        cmocka_unit_test(test_forged_client_refused),
        cmocka_unit_test(test_client_key_bound_to_tenant),
        cmocka_unit_test(test_service_checks_header),
        cmocka_unit_test(test_subscriber_live_own_tenant_only),
        cmocka_unit_test(test_subscriber_replay_own_tenant_only),
        cmocka_unit_test(test_pii_free_subscriber_live),
        cmocka_unit_test(test_pii_free_subscriber_replay),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
