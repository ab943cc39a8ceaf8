/*  System tests of the leads service following the notify service's events
    (services/leads/notify_follow.c): a message sent to a lead's customer and the
    customer's reply appear once among the lead's activities and on its timeline, also
    when the same event comes again or the events are replayed; staff alerts, gone leads
    and other tenants' leads are skipped without stopping the follower. Texts logged by
    hand through the API are checked as emails are.

    How the events come in. crm-notify does not publish yet (it writes no events, runs no
    relay and has no Events.Replay row), so the suite runs with a stand-in in its place:
    this program, started by the supervisor as crm-notify (the test gives the supervisor a
    bin directory of links to the suite's daemons, crm-notify linking here), runs a daemon
    named notify through common's crm_daemon_main with only what every publishing service
    has: its schema's event tables, a relay and the Events.Replay method. The tests write
    the events as crm-notify's outbox writer will, rows of notify.outbox (the common
    layout), over SQL; the stand-in's relay numbers and publishes them (it polls the
    outbox every events.relay_interval_ms: a write from another process has nothing else
    to wake it), and leads' follower applies them, catching up through Events.Replay
    whenever it is behind.
*/
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "events.pb-c.h"
#include "ids.h"
#include "outbox.h"
#include "replay.h"
#include "systest_fixtures.h"
#include "systest_sql.h"

// --- the stand-in for crm-notify ---------------------------------------------------------

static const crm_method_t s_standin_methods[] = {CRM_EVENTS_REPLAY_METHOD, {.name = NULL}};

static const crm_daemon_t s_standin = {
    .name = "notify",
    .usage = "usage: crm-notify\n"
             "The leads-notify system test's stand-in for the notify service: publishes the\n"
             "rows of notify.outbox and answers Events.Replay.\n",
    .methods = s_standin_methods,
    .publishes = true,
};

// --- the suite ------------------------------------------------------------------------------

static harness_t *h;
static char s_bin_dir[PATH_MAX];      // the supervisor's bin directory: links
static char s_bin_env[PATH_MAX + 32]; // CRM_SUPERVISOR_BIN_DIR=<s_bin_dir>

//  A bin directory holding a link to each daemon of the suite's, crm-notify linking to
//  this program.
static void s_bin_dir_make(void) {
    char built[PATH_MAX], self[PATH_MAX], from[PATH_MAX * 2], to[PATH_MAX * 2];
    const char *bin = getenv("CRM_BIN_DIR") ? getenv("CRM_BIN_DIR") : "build/bin";
    assert_non_null(realpath(bin, built));
    assert_non_null(realpath("/proc/self/exe", self));
    snprintf(s_bin_dir, sizeof s_bin_dir, "/tmp/crm-systest-bin-XXXXXX");
    assert_non_null(mkdtemp(s_bin_dir));
    DIR *dir = opendir(built);
    assert_non_null(dir);
    for (struct dirent *e = readdir(dir); e; e = readdir(dir)) {
        if (strncmp(e->d_name, "crm-", 4) != 0 || strcmp(e->d_name, "crm-notify") == 0)
            continue;
        snprintf(from, sizeof from, "%s/%s", built, e->d_name);
        snprintf(to, sizeof to, "%s/%s", s_bin_dir, e->d_name);
        assert_int_equal(symlink(from, to), 0);
    }
    closedir(dir);
    snprintf(to, sizeof to, "%s/crm-notify", s_bin_dir);
    assert_int_equal(symlink(self, to), 0);
    snprintf(s_bin_env, sizeof s_bin_env, "CRM_SUPERVISOR_BIN_DIR=%s", s_bin_dir);
}

static void s_bin_dir_remove(void) {
    if (!s_bin_dir[0])
        return;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_bin_dir);
    (void)!system(cmd);
    s_bin_dir[0] = 0;
}

static int s_setup(void **state) {
    (void)state;
    s_bin_dir_make();
    static const char *env[2];
    env[0] = s_bin_env;
    h = harness_start(env);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    harness_stop();
    s_bin_dir_remove();
    return 0;
}

// --- writing notify's events --------------------------------------------------------------

//  Write one event of the notify service as its outbox writer will: a row of
//  notify.outbox about aggregate (the message) of tenant.
static void s_notify_write(const char *tenant, const char *aggregate,
                           const ProtobufCMessage *payload) {
    crm_outbox_event_t ev;
    assert_int_equal(crm_outbox_event_init(&ev, payload, NULL), 0);
    char *sql =
        zsys_sprintf("INSERT INTO notify.outbox (event_id, type, tenant_id, aggregate_id, payload,"
                     " occurred_at) VALUES ('%s', '%s', '%s', '%s', '%s'::bytea, '%s')",
                     ev.event_id, ev.type, tenant, aggregate, ev.payload_hex, ev.occurred_at);
    sql_exec(sql);
    zstr_free(&sql);
    crm_outbox_event_reset(&ev);
}

//  NotificationSent of message (channel sms or email) to contact about lead; member set:
//  a staff alert to that team member instead.
static void s_sent(const char *tenant, const char *message, const char *channel,
                   const char *contact, const char *lead, const char *member, const char *sent_at,
                   const char *subject, const char *summary) {
    Crm__Events__NotificationRef ref = CRM__EVENTS__NOTIFICATION_REF__INIT;
    ref.message_id = (char *)message;
    ref.contact_id = (char *)contact;
    ref.lead_id = (char *)lead;
    ref.member_id = (char *)member;
    ref.channel = (char *)channel;
    ref.purpose = "follow_up";
    ref.trigger = "manual";
    Crm__Events__NotificationSent m = CRM__EVENTS__NOTIFICATION_SENT__INIT;
    m.ref = &ref;
    m.provider_id = "SM0001";
    m.sent_at = (char *)sent_at;
    m.subject = (char *)subject;
    m.summary = (char *)summary;
    m.segments = 1;
    m.attempts = 1;
    s_notify_write(tenant, message, &m.base);
}

//  NotificationInboundReceived: a reply from contact, logged by notify on lead.
static void s_inbound(const char *inbound, const char *contact, const char *lead, const char *body,
                      const char *received_at) {
    Crm__Events__NotificationInboundReceived m = CRM__EVENTS__NOTIFICATION_INBOUND_RECEIVED__INIT;
    m.inbound_id = (char *)inbound;
    m.contact_id = (char *)contact;
    m.lead_id = (char *)lead;
    m.from = "+12025550142";
    m.body = (char *)body;
    m.received_at = (char *)received_at;
    s_notify_write("tenant-a", inbound, &m.base);
}

//  Wait until leads has applied every event written to notify.outbox (its inbox is at
//  the count of rows: each numbered, from 1, and applied).
static void s_wait_applied(void) {
    const char *sql = "SELECT ((SELECT count(*) FROM notify.outbox) ="
                      " (SELECT coalesce(max(last_seq), 0) FROM leads.inbox"
                      "  WHERE source = 'notify'))::int";
    for (int i = 0; i < 300; i++) {
        if (sql_scalar(sql))
            return;
        zclock_sleep(50);
    }
    fail_msg("leads did not apply the notify events within 15 s: outbox %lld, leads' inbox %lld",
             sql_scalar("SELECT count(*) FROM notify.outbox"),
             sql_scalar("SELECT coalesce(max(last_seq), 0) FROM leads.inbox"
                        " WHERE source = 'notify'"));
}

// --- reading a lead ------------------------------------------------------------------------

//  A new lead of tenant-a for a new contact, both made through the API.
static void s_lead(char contact[64], char lead[64]) {
    fixture_contact(h->key_a, contact);
    char body[256];
    snprintf(body, sizeof body, "{\"contactId\":\"%s\",\"source\":\"phone\"}", contact);
    harness_response_t r = harness_http("POST", "/v1/leads", h->key_a, body, NULL);
    assert_int_equal(r.status, 201);
    snprintf(lead, 64, "%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
}

//  GET path (a lead's activities or timeline, fmt with the lead's id): its items, the
//  caller's (json_decref).
static json_t *s_items(const char *fmt, const char *lead) {
    char path[256];
    snprintf(path, sizeof path, fmt, lead);
    harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
    if (r.status != 200)
        fprintf(stderr, "GET %s: %ld %s\n", path, r.status, r.body);
    assert_int_equal(r.status, 200);
    json_t *items = json_incref(json_object_get(r.json, "items"));
    harness_response_free(&r);
    assert_non_null(items);
    return items;
}

static const char *s_str(json_t *object, const char *member) {
    const char *s = json_string_value(json_object_get(object, member));
    return s ? s : "";
}

//  The lead's activities of kind (all kinds when NULL).
static json_t *s_activities(const char *lead, const char *kind) {
    char fmt[128];
    snprintf(fmt, sizeof fmt, "/v1/leads/%%s/activities?limit=200%s%s", kind ? "&kind=" : "",
             kind ? kind : "");
    return s_items(fmt, lead);
}

//  How many of the lead's timeline entries are of kind.
static size_t s_timeline_count(const char *lead, const char *kind) {
    json_t *items = s_items("/v1/leads/%s/timeline?limit=200", lead);
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(items); i++)
        n += strcmp(s_str(json_array_get(items, i), "kind"), kind) == 0;
    json_decref(items);
    return n;
}

//  LeadActivityLogged events the leads service wrote about lead.
static long long s_logged_events(const char *lead) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM leads.outbox WHERE type = 'LeadActivityLogged'"
             " AND aggregate_id = '%s'",
             lead);
    return sql_scalar(sql);
}

//  A time a few seconds ago, as notify stamps its events.
static void s_time_ago(int seconds, char out[40]) {
    time_t t = time(NULL) - seconds;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%S.000000Z", &tm);
}

// --- the tests ---------------------------------------------------------------------------

static char s_text_lead[64], s_text_contact[64], s_text_message[40];

//  A text sent to the lead's customer is an outbound sms on the lead, by notify, at its
//  sent time, on its timeline too; the same message reported again is not logged twice.
static void test_sent_text(void **state) {
    (void)state;
    s_lead(s_text_contact, s_text_lead);
    crm_uuid_v7(s_text_message);
    char sent_at[40];
    s_time_ago(2, sent_at);
    s_sent("tenant-a", s_text_message, "sms", s_text_contact, s_text_lead, "", sent_at, "",
           "Hi, the RAV4 you asked about is in. Come by Saturday?");
    s_wait_applied();
    json_t *items = s_activities(s_text_lead, "sms");
    assert_int_equal(json_array_size(items), 1);
    json_t *a = json_array_get(items, 0);
    assert_string_equal(s_str(a, "kind"), "sms");
    assert_string_equal(s_str(a, "direction"), "outbound");
    assert_string_equal(s_str(a, "body"), "Hi, the RAV4 you asked about is in. Come by Saturday?");
    assert_string_equal(s_str(a, "actorId"), "notify");
    assert_string_equal(s_str(a, "occurredAt"), sent_at);
    assert_null(json_object_get(a, "subject"));
    json_decref(items);
    assert_int_equal(s_timeline_count(s_text_lead, "sms"), 1);
    assert_int_equal(s_logged_events(s_text_lead), 1);

    //  The same message again (notify reporting it twice): still one.
    s_sent("tenant-a", s_text_message, "sms", s_text_contact, s_text_lead, "", sent_at, "",
           "Hi, the RAV4 you asked about is in. Come by Saturday?");
    s_wait_applied();
    items = s_activities(s_text_lead, NULL);
    assert_int_equal(json_array_size(items), 1);
    json_decref(items);
    assert_int_equal(s_timeline_count(s_text_lead, "sms"), 1);
    assert_int_equal(s_logged_events(s_text_lead), 1);
}

//  An email sent is an outbound email: its subject, and its summary as the body.
static void test_sent_email(void **state) {
    (void)state;
    char contact[64], lead[64], message[40], sent_at[40];
    s_lead(contact, lead);
    crm_uuid_v7(message);
    s_time_ago(1, sent_at);
    s_sent("tenant-a", message, "email", contact, lead, "", sent_at, "Your test drive",
           "See you Saturday at 10:00 for the RAV4.");
    s_wait_applied();
    json_t *items = s_activities(lead, NULL);
    assert_int_equal(json_array_size(items), 1);
    json_t *a = json_array_get(items, 0);
    assert_string_equal(s_str(a, "kind"), "email");
    assert_string_equal(s_str(a, "direction"), "outbound");
    assert_string_equal(s_str(a, "subject"), "Your test drive");
    assert_string_equal(s_str(a, "body"), "See you Saturday at 10:00 for the RAV4.");
    assert_string_equal(s_str(a, "actorId"), "notify");
    json_decref(items);
    assert_int_equal(s_timeline_count(lead, "email"), 1);
}

//  The customer's reply is an inbound sms on the lead, and counts as the lead's latest
//  activity.
static void test_inbound_reply(void **state) {
    (void)state;
    char inbound[40], received_at[40];
    crm_uuid_v7(inbound);
    crm_time_now(received_at, sizeof received_at); // after everything the lead has had
    s_inbound(inbound, s_text_contact, s_text_lead, "Saturday works, thanks!", received_at);
    s_wait_applied();
    json_t *items = s_activities(s_text_lead, "sms");
    assert_int_equal(json_array_size(items), 2);
    json_t *reply = json_array_get(items, 0); // newest first
    assert_string_equal(s_str(reply, "direction"), "inbound");
    assert_string_equal(s_str(reply, "body"), "Saturday works, thanks!");
    assert_string_equal(s_str(reply, "actorId"), "notify");
    assert_string_equal(s_str(reply, "occurredAt"), received_at);
    assert_string_equal(s_str(json_array_get(items, 1), "direction"), "outbound");
    json_decref(items);
    assert_int_equal(s_timeline_count(s_text_lead, "sms"), 2);

    char path[128];
    snprintf(path, sizeof path, "/v1/leads/%s", s_text_lead);
    harness_response_t r = harness_http("GET", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(harness_json_str(&r, "lastActivityAt"), received_at);
    harness_response_free(&r);
}

//  Staff alerts, gone leads and other tenants' leads log nothing, and the events after
//  them are applied.
static void test_skipped(void **state) {
    (void)state;
    char contact[64], lead[64], gone_contact[64], gone[64], message[40], at[40];
    s_lead(contact, lead);
    s_lead(gone_contact, gone);
    char path[128];
    snprintf(path, sizeof path, "/v1/leads/%s", gone);
    harness_response_t r = harness_http("DELETE", path, h->key_a, NULL, NULL);
    assert_int_equal(r.status, 204);
    harness_response_free(&r);
    s_time_ago(1, at);

    crm_uuid_v7(message); // a staff alert about the lead, to a team member
    s_sent("tenant-a", message, "sms", "", lead, "0193e0a0-0000-7000-8000-0000000000d1", at, "",
           "New lead assigned to you");
    crm_uuid_v7(message); // about a deleted lead
    s_sent("tenant-a", message, "sms", gone_contact, gone, "", at, "", "Still interested?");
    crm_uuid_v7(message); // another tenant's event naming tenant-a's lead
    s_sent("tenant-b", message, "sms", contact, lead, "", at, "", "Hello from B");
    crm_uuid_v7(message); // a lead that never was
    s_sent("tenant-a", message, "sms", contact, "0193e0a0-0000-7000-8000-00000000dead", "", at, "",
           "Hello?");
    crm_uuid_v7(message); // and then one to log
    s_sent("tenant-a", message, "sms", contact, lead, "", at, "", "Your quote is ready");
    s_wait_applied();

    json_t *items = s_activities(lead, NULL);
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(s_str(json_array_get(items, 0), "body"), "Your quote is ready");
    json_decref(items);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM leads.activities WHERE lead_id = '%s'", gone);
    assert_int_equal(sql_scalar(sql), 0);
    assert_int_equal(sql_scalar("SELECT count(*) FROM leads.activities WHERE tenant_id = 'tenant-b'"
                                " AND actor_id = 'notify'"),
                     0);
}

//  Events replayed onto an inbox that lost its place (set back to the start) are applied
//  again, through Events.Replay from the stand-in's outbox: each message is still logged
//  once, and the event that showed the gap is logged.
static void test_replayed(void **state) {
    (void)state;
    long long before =
        sql_scalar("SELECT count(*) FROM leads.activities WHERE actor_id = 'notify'");
    long long events = sql_scalar("SELECT count(*) FROM leads.outbox WHERE type ="
                                  " 'LeadActivityLogged'");
    sql_exec("UPDATE leads.inbox SET last_seq = 0 WHERE source = 'notify'");
    char inbound[40], received_at[40];
    crm_uuid_v7(inbound);
    crm_time_now(received_at, sizeof received_at);
    s_inbound(inbound, s_text_contact, s_text_lead, "One more question: is it a hybrid?",
              received_at);
    s_wait_applied();
    assert_int_equal(sql_scalar("SELECT count(*) FROM leads.activities WHERE actor_id = 'notify'"),
                     before + 1);
    assert_int_equal(sql_scalar("SELECT count(*) FROM leads.outbox WHERE type ="
                                " 'LeadActivityLogged'"),
                     events + 1);
    json_t *items = s_activities(s_text_lead, "sms");
    assert_int_equal(json_array_size(items), 3);
    assert_string_equal(s_str(json_array_get(items, 0), "body"),
                        "One more question: is it a hybrid?");
    json_decref(items);
    assert_int_equal(s_timeline_count(s_text_lead, "sms"), 3);
}

//  A text logged by hand is checked as an email is: a direction, a body of at most 1,600
//  characters, no subject.
static void test_logged_by_hand(void **state) {
    (void)state;
    char contact[64], lead[64], path[128];
    s_lead(contact, lead);
    snprintf(path, sizeof path, "/v1/leads/%s/activities", lead);
    harness_response_t r =
        harness_http("POST", path, h->key_a,
                     "{\"kind\":\"sms\",\"direction\":\"inbound\",\"body\":\"Call me\"}", NULL);
    assert_int_equal(r.status, 201);
    assert_string_equal(harness_json_str(&r, "kind"), "sms");
    assert_string_equal(harness_json_str(&r, "direction"), "inbound");
    harness_response_free(&r);

    char *long_body = malloc(1700);
    memset(long_body, 'x', 1601);
    long_body[1601] = 0;
    char *body =
        zsys_sprintf("{\"kind\":\"sms\",\"direction\":\"outbound\",\"body\":\"%s\"}", long_body);
    free(long_body);
    const struct {
        const char *body, *field;
    } refused[] = {
        {"{\"kind\":\"sms\",\"direction\":\"outbound\"}", "body"},
        {"{\"kind\":\"sms\",\"body\":\"Hi\"}", "direction"},
        {"{\"kind\":\"sms\",\"direction\":\"outbound\",\"body\":\"Hi\",\"subject\":\"S\"}",
         "subject"},
        {body, "body"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        r = harness_http("POST", path, h->key_a, refused[i].body, NULL);
        if (r.status != 422 || strcmp(harness_error_field(&r), refused[i].field) != 0)
            fail_msg("case %zu: %ld %s, expected 422 naming %s", i, r.status, r.body,
                     refused[i].field);
        harness_response_free(&r);
    }
    zstr_free(&body);
    json_t *items = s_activities(lead, "sms");
    assert_int_equal(json_array_size(items), 1);
    json_decref(items);
}

int main(int argc, char **argv) {
    const char *name = strrchr(argv[0], '/');
    if (strcmp(name ? name + 1 : argv[0], "crm-notify") == 0) // started as the stand-in
        return crm_daemon_main(&s_standin, argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sent_text),     cmocka_unit_test(test_sent_email),
        cmocka_unit_test(test_inbound_reply), cmocka_unit_test(test_skipped),
        cmocka_unit_test(test_replayed),      cmocka_unit_test(test_logged_by_hand),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
