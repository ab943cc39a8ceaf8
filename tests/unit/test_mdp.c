/*  test_mdp: the Majordomo framing parsers (common/mdp.c).

    Every valid command form on each socket, then a table of malformed messages, each of
    which must be refused with a reason, consume the message and leave nothing behind
    (ASan's leak checker runs at exit).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "log.h"
#include "mdp.h"

#define END NULL

//  A message from a NULL-terminated list of string frames ("" is an empty frame).
static zmsg_t *s_msg(const char *first, ...) {
    zmsg_t *msg = zmsg_new();
    va_list args;
    va_start(args, first);
    for (const char *frame = first; frame; frame = va_arg(args, const char *))
        zmsg_addmem(msg, frame, strlen(frame));
    va_end(args);
    return msg;
}

static bool s_frame_is(zframe_t *frame, const char *text) {
    return frame && zframe_streq(frame, text);
}

//  --- Valid forms ----------------------------------------------------------------------

static void test_router_client_request(void **state) {
    (void)state;
    zmsg_t *msg = s_msg("client-1", "", CRM_MDPC, "contacts", "header", "body", END);
    crm_mdp_msg_t out;
    const char *reason = NULL;
    assert_int_equal(crm_mdp_parse_router(&msg, &out, 1024, &reason), 0);
    assert_null(msg);
    assert_int_equal(out.peer, CRM_MDP_CLIENT);
    assert_int_equal(out.command, 0);
    assert_true(s_frame_is(out.sender, "client-1"));
    assert_string_equal(out.service, "contacts");
    assert_null(out.client);
    assert_int_equal(zmsg_size(out.body), 2);
    assert_true(s_frame_is(zmsg_first(out.body), "header"));
    assert_true(s_frame_is(zmsg_next(out.body), "body"));
    crm_mdp_msg_reset(&out);
    assert_null(out.sender);
    assert_null(out.body);
    crm_mdp_msg_reset(&out); // idempotent
}

static void test_router_ready(void **state) {
    (void)state;
    zmsg_t *msg = s_msg("w1", "", CRM_MDPW, "\x01", "leads", END);
    crm_mdp_msg_t out;
    const char *reason = NULL;
    assert_int_equal(crm_mdp_parse_router(&msg, &out, 0, &reason), 0);
    assert_int_equal(out.peer, CRM_MDP_WORKER);
    assert_int_equal(out.command, CRM_MDPW_READY);
    assert_string_equal(out.service, "leads");
    assert_true(s_frame_is(out.sender, "w1"));
    assert_null(out.body);
    crm_mdp_msg_reset(&out);
}

static void test_router_reply(void **state) {
    (void)state;
    zmsg_t *msg = s_msg("w1", "", CRM_MDPW, "\x03", "client-9", "", "reply-header", "x", END);
    crm_mdp_msg_t out;
    const char *reason = NULL;
    assert_int_equal(crm_mdp_parse_router(&msg, &out, 0, &reason), 0);
    assert_int_equal(out.command, CRM_MDPW_REPLY);
    assert_true(s_frame_is(out.client, "client-9"));
    assert_int_equal(zmsg_size(out.body), 2);
    assert_true(s_frame_is(zmsg_first(out.body), "reply-header"));
    assert_string_equal(out.service, "");
    crm_mdp_msg_reset(&out);
}

static void test_router_heartbeat_and_disconnect(void **state) {
    (void)state;
    const char *commands[] = {"\x04", "\x05"};
    int expected[] = {CRM_MDPW_HEARTBEAT, CRM_MDPW_DISCONNECT};
    for (int i = 0; i < 2; i++) {
        zmsg_t *msg = s_msg("w1", "", CRM_MDPW, commands[i], END);
        crm_mdp_msg_t out;
        const char *reason = NULL;
        assert_int_equal(crm_mdp_parse_router(&msg, &out, 0, &reason), 0);
        assert_int_equal(out.command, expected[i]);
        assert_null(out.body);
        assert_null(out.client);
        crm_mdp_msg_reset(&out);
    }
}

static void test_worker_side(void **state) {
    (void)state;
    crm_mdp_msg_t out;
    const char *reason = NULL;

    zmsg_t *msg = s_msg("", CRM_MDPW, "\x02", "client-2", "", "h", "b", "c", END);
    assert_int_equal(crm_mdp_parse_worker(&msg, &out, &reason), 0);
    assert_int_equal(out.peer, CRM_MDP_WORKER);
    assert_int_equal(out.command, CRM_MDPW_REQUEST);
    assert_null(out.sender);
    assert_true(s_frame_is(out.client, "client-2"));
    assert_int_equal(zmsg_size(out.body), 3);
    crm_mdp_msg_reset(&out);

    msg = s_msg("", CRM_MDPW, "\x04", END);
    assert_int_equal(crm_mdp_parse_worker(&msg, &out, &reason), 0);
    assert_int_equal(out.command, CRM_MDPW_HEARTBEAT);
    crm_mdp_msg_reset(&out);

    msg = s_msg("", CRM_MDPW, "\x05", END);
    assert_int_equal(crm_mdp_parse_worker(&msg, &out, &reason), 0);
    assert_int_equal(out.command, CRM_MDPW_DISCONNECT);
    crm_mdp_msg_reset(&out);
}

static void test_client_reply(void **state) {
    (void)state;
    zmsg_t *msg = s_msg("", CRM_MDPC, "mmi.service", "200", END);
    crm_mdp_msg_t out;
    const char *reason = NULL;
    assert_int_equal(crm_mdp_parse_client_reply(&msg, &out, &reason), 0);
    assert_int_equal(out.peer, CRM_MDP_CLIENT);
    assert_string_equal(out.service, "mmi.service");
    assert_int_equal(zmsg_size(out.body), 1);
    assert_true(s_frame_is(zmsg_first(out.body), "200"));
    crm_mdp_msg_reset(&out);
}

static void test_longest_service_name(void **state) {
    (void)state;
    char name[CRM_MDP_SERVICE_MAX + 1];
    memset(name, 's', CRM_MDP_SERVICE_MAX);
    name[CRM_MDP_SERVICE_MAX] = '\0';
    zmsg_t *msg = s_msg("w", "", CRM_MDPW, "\x01", name, END);
    crm_mdp_msg_t out;
    const char *reason = NULL;
    assert_int_equal(crm_mdp_parse_router(&msg, &out, 0, &reason), 0);
    assert_string_equal(out.service, name);
    crm_mdp_msg_reset(&out);
}

static void test_command_names(void **state) {
    (void)state;
    assert_string_equal(crm_mdp_command_name(CRM_MDPW_READY), "READY");
    assert_string_equal(crm_mdp_command_name(CRM_MDPW_REQUEST), "REQUEST");
    assert_string_equal(crm_mdp_command_name(CRM_MDPW_REPLY), "REPLY");
    assert_string_equal(crm_mdp_command_name(CRM_MDPW_HEARTBEAT), "HEARTBEAT");
    assert_string_equal(crm_mdp_command_name(CRM_MDPW_DISCONNECT), "DISCONNECT");
    assert_string_equal(crm_mdp_command_name(0), "?");
    assert_string_equal(crm_mdp_command_name(9), "?");
    assert_string_equal(crm_mdp_command_name(-1), "?");
}

//  The zero-copy layout API the broker uses: indexes into the frame array.
static void test_layout_router(void **state) {
    (void)state;
    crm_mdp_frame_t frames[] = {
        {"id", 2}, {"", 0}, {CRM_MDPW, 6}, {"\x03", 1}, {"cl", 2}, {"", 0}, {"h", 1}, {"b", 1},
    };
    crm_mdp_layout_t layout;
    const char *reason = NULL;
    assert_int_equal(crm_mdp_layout_router(frames, 8, 0, &layout, &reason), 0);
    assert_int_equal(layout.peer, CRM_MDP_WORKER);
    assert_int_equal(layout.command, CRM_MDPW_REPLY);
    assert_int_equal(layout.client, 4);
    assert_int_equal(layout.body, 6);
    assert_int_equal(layout.service, -1);

    crm_mdp_frame_t request[] = {{"id", 2}, {"", 0}, {CRM_MDPC, 6}, {"svc", 3}, {"h", 1}};
    assert_int_equal(crm_mdp_layout_router(request, 5, 0, &layout, &reason), 0);
    assert_int_equal(layout.peer, CRM_MDP_CLIENT);
    assert_int_equal(layout.service, 3);
    assert_int_equal(layout.body, 4);
    assert_int_equal(layout.client, -1);
}

//  crm_mdp_send takes the message whatever happens.
static void test_send(void **state) {
    (void)state;
    zsock_t *in = zsock_new_pair("@inproc://test-mdp-send");
    zsock_t *out = zsock_new_pair(">inproc://test-mdp-send");
    assert_non_null(in);
    assert_non_null(out);
    zmsg_t *msg = s_msg("", CRM_MDPW, "\x04", END);
    assert_int_equal(crm_mdp_send(out, &msg), 0);
    assert_null(msg);
    zmsg_t *got = zmsg_recv(in);
    assert_non_null(got);
    assert_int_equal(zmsg_size(got), 3);
    zmsg_destroy(&got);

    msg = zmsg_new(); // nothing to send
    assert_int_equal(crm_mdp_send(out, &msg), -1);
    assert_null(msg);
    zsock_destroy(&out);
    zsock_destroy(&in);
}

//  --- Malformed ------------------------------------------------------------------------

typedef enum { ROUTER, WORKER, CLIENT } s_parser_t;

typedef struct {
    const char *name;
    s_parser_t parser;
    const char *frames[10]; // NULL-terminated
    const char *reason;     // expected reason
} s_bad_case_t;

// clang-format off
static const s_bad_case_t s_bad_cases[] = {
    {"wrong client protocol", ROUTER, {"c", "", "MDPC02", "svc", "body"},
     "unknown protocol header"},
    {"wrong worker protocol", ROUTER, {"w", "", "MDPW02", "\x04"}, "unknown protocol header"},
    {"unknown command", ROUTER, {"w", "", CRM_MDPW, "\x09"}, "unknown command"},
    {"command out of range", WORKER, {"", CRM_MDPW, "\x7f"}, "unknown command"},
    {"long command frame", ROUTER, {"w", "", CRM_MDPW, "\x01\x01", "svc"},
     "malformed command frame"},
    {"no command", ROUTER, {"w", "", CRM_MDPW}, "worker message without command"},
    {"READY without service", ROUTER, {"w", "", CRM_MDPW, "\x01"}, "READY without service name"},
    {"READY empty service", ROUTER, {"w", "", CRM_MDPW, "\x01", ""}, "empty service name"},
    {"READY extra frames", ROUTER, {"w", "", CRM_MDPW, "\x01", "svc", "x"},
     "READY with extra frames"},
    {"service with control char", ROUTER, {"w", "", CRM_MDPW, "\x01", "a\nb"},
     "service name contains control characters"},
    {"REQUEST to broker", ROUTER, {"w", "", CRM_MDPW, "\x02", "c", "", "b"},
     "REQUEST sent to the broker"},
    {"REPLY without client address", ROUTER, {"w", "", CRM_MDPW, "\x03"},
     "REPLY without client address"},
    {"REPLY with empty client address", ROUTER, {"w", "", CRM_MDPW, "\x03", "", "b"},
     "REPLY without client address"},
    {"REPLY without delimiter", ROUTER, {"w", "", CRM_MDPW, "\x03", "c", "body"},
     "REPLY without empty delimiter"},
    {"REPLY cut after address", ROUTER, {"w", "", CRM_MDPW, "\x03", "c"},
     "REPLY without empty delimiter"},
    {"REPLY without body", ROUTER, {"w", "", CRM_MDPW, "\x03", "c", ""}, "REPLY without body"},
    {"HEARTBEAT extra frames", ROUTER, {"w", "", CRM_MDPW, "\x04", "x"},
     "HEARTBEAT with extra frames"},
    {"DISCONNECT extra frames", WORKER, {"", CRM_MDPW, "\x05", "x"},
     "DISCONNECT with extra frames"},
    {"client without service", ROUTER, {"c", "", CRM_MDPC}, "client message without service name"},
    {"client without body", ROUTER, {"c", "", CRM_MDPC, "svc"}, "client message without body"},
    {"no delimiter", ROUTER, {"c", "x", CRM_MDPC, "svc", "b"},
     "missing empty delimiter before the protocol header"},
    {"routing id only", ROUTER, {"c"}, "message too short for an MDP header"},
    {"empty routing id", ROUTER, {"", "", CRM_MDPC, "svc", "b"}, "empty routing id"},
    {"REQUEST without client address", WORKER, {"", CRM_MDPW, "\x02"},
     "REQUEST without client address"},
    {"REQUEST without delimiter", WORKER, {"", CRM_MDPW, "\x02", "c", "b"},
     "REQUEST without empty delimiter"},
    {"REQUEST without body", WORKER, {"", CRM_MDPW, "\x02", "c", ""}, "REQUEST without body"},
    {"READY to worker", WORKER, {"", CRM_MDPW, "\x01", "svc"}, "READY sent to a worker"},
    {"REPLY to worker", WORKER, {"", CRM_MDPW, "\x03", "c", "", "b"}, "REPLY sent to a worker"},
    {"client message to worker", WORKER, {"", CRM_MDPC, "svc", "b"},
     "client message sent to a worker"},
    {"worker frame from a routing id", WORKER, {"w", "", CRM_MDPW, "\x04"},
     "missing empty delimiter before the protocol header"},
    {"worker command to client", CLIENT, {"", CRM_MDPW, "\x04"}, "worker command sent to a client"},
    {"client reply wrong protocol", CLIENT, {"", "MDPC02", "svc", "b"}, "unknown protocol header"},
    {"client reply without body", CLIENT, {"", CRM_MDPC, "svc"}, "client message without body"},
};
// clang-format on

static int s_parse(s_parser_t parser, zmsg_t **msg, crm_mdp_msg_t *out, size_t max,
                   const char **reason) {
    switch (parser) {
    case ROUTER:
        return crm_mdp_parse_router(msg, out, max, reason);
    case WORKER:
        return crm_mdp_parse_worker(msg, out, reason);
    case CLIENT:
        return crm_mdp_parse_client_reply(msg, out, reason);
    }
    return 0;
}

//  Refused, with the reason, the message consumed and out left empty.
static void s_expect_refused(s_parser_t parser, zmsg_t *msg, size_t max, const char *reason_want,
                             const char *name) {
    crm_mdp_msg_t out;
    memset(&out, 0xab, sizeof(out)); // garbage in: the parser must not trust it
    const char *reason = NULL;
    int rc = s_parse(parser, &msg, &out, max, &reason);
    if (rc != -1 || !reason || (reason_want && strcmp(reason, reason_want) != 0))
        fail_msg("%s: rc %d reason \"%s\", wanted \"%s\"", name, rc, reason ? reason : "(null)",
                 reason_want ? reason_want : "any");
    assert_null(msg);
    assert_null(out.sender);
    assert_null(out.client);
    assert_null(out.body);
}

static void test_malformed_table(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(s_bad_cases) / sizeof(s_bad_cases[0]); i++) {
        const s_bad_case_t *bad = &s_bad_cases[i];
        zmsg_t *msg = zmsg_new();
        for (size_t f = 0; bad->frames[f]; f++)
            zmsg_addmem(msg, bad->frames[f], strlen(bad->frames[f]));
        s_expect_refused(bad->parser, msg, 0, bad->reason, bad->name);
    }
}

static void test_empty_and_missing(void **state) {
    (void)state;
    s_expect_refused(ROUTER, zmsg_new(), 0, "empty message", "empty router");
    s_expect_refused(WORKER, zmsg_new(), 0, "empty message", "empty worker");
    s_expect_refused(CLIENT, zmsg_new(), 0, "empty message", "empty client");

    crm_mdp_msg_t out;
    const char *reason = NULL;
    zmsg_t *none = NULL;
    assert_int_equal(crm_mdp_parse_router(&none, &out, 0, &reason), -1);
    assert_string_equal(reason, "no message");
    assert_int_equal(crm_mdp_parse_worker(NULL, &out, &reason), -1);
}

static void test_service_too_long(void **state) {
    (void)state;
    char name[CRM_MDP_SERVICE_MAX + 2];
    memset(name, 's', CRM_MDP_SERVICE_MAX + 1);
    name[CRM_MDP_SERVICE_MAX + 1] = '\0';
    s_expect_refused(ROUTER, s_msg("w", "", CRM_MDPW, "\x01", name, END), 0,
                     "service name too long", "READY long service");
    s_expect_refused(ROUTER, s_msg("c", "", CRM_MDPC, name, "body", END), 0,
                     "service name too long", "request long service");
    s_expect_refused(CLIENT, s_msg("", CRM_MDPC, name, "body", END), 0, "service name too long",
                     "reply long service");
}

static void test_service_with_nul(void **state) {
    (void)state;
    zmsg_t *msg = s_msg("w", "", CRM_MDPW, "\x01", END);
    zmsg_addmem(msg, "ab\0cd", 5);
    s_expect_refused(ROUTER, msg, 0, "service name contains control characters", "NUL");
}

static void test_frame_size_limit(void **state) {
    (void)state;
    char big[65];
    memset(big, 'x', 64);
    big[64] = '\0';
    //  Exactly at the limit passes...
    zmsg_t *msg = s_msg("c", "", CRM_MDPC, "svc", big, END);
    crm_mdp_msg_t out;
    const char *reason = NULL;
    assert_int_equal(crm_mdp_parse_router(&msg, &out, 64, &reason), 0);
    crm_mdp_msg_reset(&out);
    //  ...one byte over, in any frame, does not.
    s_expect_refused(ROUTER, s_msg("c", "", CRM_MDPC, "svc", big, END), 63,
                     "frame exceeds the size limit", "body over limit");
    s_expect_refused(ROUTER, s_msg(big, "", CRM_MDPW, "\x04", END), 63,
                     "frame exceeds the size limit", "routing id over limit");
}

static void test_too_many_frames(void **state) {
    (void)state;
    zmsg_t *msg = s_msg("c", "", CRM_MDPC, "svc", END);
    while (zmsg_size(msg) <= CRM_MDP_FRAMES_MAX)
        zmsg_addstr(msg, "b");
    s_expect_refused(ROUTER, msg, 0, "too many frames", "too many frames");

    msg = s_msg("c", "", CRM_MDPC, "svc", END);
    while (zmsg_size(msg) < CRM_MDP_FRAMES_MAX)
        zmsg_addstr(msg, "b");
    crm_mdp_msg_t out;
    const char *reason = NULL;
    assert_int_equal(crm_mdp_parse_router(&msg, &out, 0, &reason), 0);
    assert_int_equal(zmsg_size(out.body), CRM_MDP_FRAMES_MAX - 4);
    crm_mdp_msg_reset(&out);
}

int main(void) {
    crm_log_init("test_mdp", CRM_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_router_client_request),
        cmocka_unit_test(test_router_ready),
        cmocka_unit_test(test_router_reply),
        cmocka_unit_test(test_router_heartbeat_and_disconnect),
        cmocka_unit_test(test_worker_side),
        cmocka_unit_test(test_client_reply),
        cmocka_unit_test(test_longest_service_name),
        cmocka_unit_test(test_command_names),
        cmocka_unit_test(test_layout_router),
        cmocka_unit_test(test_send),
        cmocka_unit_test(test_malformed_table),
        cmocka_unit_test(test_empty_and_missing),
        cmocka_unit_test(test_service_too_long),
        cmocka_unit_test(test_service_with_nul),
        cmocka_unit_test(test_frame_size_limit),
        cmocka_unit_test(test_too_many_frames),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    zsys_shutdown();
    return failed;
}
