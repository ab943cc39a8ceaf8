/*  test_peer: a key's roles text, and what it lets the key do (common/peer.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "peer.h"

static crm_peer_t s_parse(const char *roles) {
    crm_peer_t peer;
    char problem[256] = "";
    if (crm_peer_parse(roles, &peer, problem, sizeof problem))
        fail_msg("%s: %s", roles, problem);
    return peer;
}

//  The problem text for a roles text that must not parse.
static const char *s_problem(const char *roles) {
    static char problem[256];
    crm_peer_t peer;
    problem[0] = '\0';
    assert_int_equal(crm_peer_parse(roles, &peer, problem, sizeof problem), -1);
    assert_true(problem[0] != '\0');
    return problem;
}

static void test_parse_each_role(void **state) {
    (void)state;
    crm_peer_t peer = s_parse("worker:contacts");
    assert_string_equal(peer.worker, "contacts");
    assert_false(peer.client);
    assert_false(peer.subscriber);
    assert_true(peer.pii);

    peer = s_parse("client");
    assert_true(peer.client);
    assert_string_equal(peer.client_tenant, "*");

    peer = s_parse("client:tenant-a:sales/manager");
    assert_string_equal(peer.client_tenant, "tenant-a");
    assert_int_equal(peer.client_roles, crm_role_bit("sales") | crm_role_bit("manager"));

    peer = s_parse("subscriber:*");
    assert_true(peer.subscriber);
    assert_string_equal(peer.subscriber_tenant, "*");

    peer = s_parse("client,subscriber:acme_2");
    assert_true(peer.client);
    assert_string_equal(peer.subscriber_tenant, "acme_2");

    peer = s_parse("gateway");
    assert_false(peer.client || peer.subscriber || peer.worker[0]);
}

static void test_parse_refuses_and_names_the_part(void **state) {
    (void)state;
    assert_non_null(strstr(s_problem(""), "no role"));
    assert_non_null(strstr(s_problem("admin"), "unknown role \"admin\""));
    assert_non_null(strstr(s_problem("worker"), "worker:SERVICE"));
    assert_non_null(strstr(s_problem("worker:Contacts"), "worker:SERVICE"));
    assert_non_null(strstr(s_problem("worker:contacts,worker:leads"), "one service"));
    assert_non_null(strstr(s_problem("client:Tenant A"), "\"Tenant A\""));
    assert_non_null(strstr(s_problem("client:acme:root"), "unknown role \"root\""));
    assert_non_null(strstr(s_problem("client:acme:system"), "system role"));
    assert_non_null(strstr(s_problem("client:acme:sales/"), "end with /"));
    assert_non_null(strstr(s_problem("subscriber"), "subscriber:TENANT"));
    assert_non_null(strstr(s_problem("subscriber:"), "tenant must be"));
    assert_non_null(strstr(s_problem("client,,subscriber:*"), "empty role"));
    assert_non_null(strstr(s_problem("client,client"), "twice"));
}

static void test_known_roles_and_tenants(void **state) {
    (void)state;
    const char *known[] = {"admin", "manager", "sales", "analyst", "integration", "system"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        assert_true(crm_role_known(known[i]));
    assert_false(crm_role_known("root"));
    assert_false(crm_role_known(""));
    assert_false(crm_role_known("Admin"));
    assert_false(crm_role_known(NULL));

    assert_true(crm_tenant_valid("tenant-a"));
    assert_true(crm_tenant_valid("a_1"));
    char longest[66];
    memset(longest, 'a', 64);
    longest[64] = '\0';
    assert_true(crm_tenant_valid(longest));
    longest[64] = 'a';
    longest[65] = '\0';
    assert_false(crm_tenant_valid(longest));
    assert_false(crm_tenant_valid(""));
    assert_false(crm_tenant_valid("*"));
    assert_false(crm_tenant_valid("Tenant"));
    assert_false(crm_tenant_valid("a.b"));
    assert_false(crm_tenant_valid("a b"));
}

static void test_who_may_serve(void **state) {
    (void)state;
    crm_peer_t worker = s_parse("worker:contacts");
    assert_true(crm_peer_may_serve(&worker, "contacts"));
    assert_false(crm_peer_may_serve(&worker, "leads"));
    assert_false(crm_peer_may_serve(&worker, "contact"));
    crm_peer_t client = s_parse("client");
    assert_false(crm_peer_may_serve(&client, "contacts"));
}

static void test_who_may_call(void **state) {
    (void)state;
    //  A daemon of the suite speaks for every tenant.
    crm_peer_t worker = s_parse("worker:leads");
    assert_null(crm_peer_may_call(&worker, "contacts", "Get", "*", "system"));

    crm_peer_t platform = s_parse("client");
    assert_null(crm_peer_may_call(&platform, "contacts", "Get", "tenant-b", "admin"));
    assert_null(crm_peer_may_call(&platform, "contacts", "Events.Replay", "*", "system"));
    assert_non_null(crm_peer_may_call(&platform, "contacts", "Get", "tenant-b", "root"));

    crm_peer_t one = s_parse("client:tenant-a:sales");
    assert_null(crm_peer_may_call(&one, "contacts", "Get", "tenant-a", "sales"));
    assert_non_null(crm_peer_may_call(&one, "contacts", "Get", "tenant-b", "sales"));
    assert_non_null(crm_peer_may_call(&one, "contacts", "Get", "*", "sales"));
    assert_non_null(crm_peer_may_call(&one, "contacts", "Get", "tenant-a", "admin"));
    //  The keyless request of a public raw route (the service checks its proof).
    assert_null(crm_peer_may_call(&one, "notify", "Unsubscribe", "", ""));
    assert_non_null(crm_peer_may_call(&one, "notify", "Unsubscribe", "", "admin"));
    assert_non_null(crm_peer_may_call(&one, "notify", "Unsubscribe", "tenant-b", ""));

    crm_peer_t any_role = s_parse("client:tenant-a");
    assert_null(crm_peer_may_call(&any_role, "contacts", "Get", "tenant-a", "admin"));
    assert_non_null(crm_peer_may_call(&any_role, "contacts", "Get", "tenant-a", "system"));

    crm_peer_t subscriber = s_parse("subscriber:tenant-a");
    assert_null(crm_peer_may_call(&subscriber, "contacts", "Events.Replay", "tenant-a", "admin"));
    assert_non_null(crm_peer_may_call(&subscriber, "contacts", "Events.Replay", "*", "admin"));
    assert_non_null(crm_peer_may_call(&subscriber, "contacts", "Get", "tenant-a", "admin"));

    crm_peer_t nothing = s_parse("gateway");
    assert_non_null(crm_peer_may_call(&nothing, "contacts", "Get", "tenant-a", "admin"));
}

static bool s_may_subscribe(const crm_peer_t *peer, const char *prefix) {
    return crm_peer_may_subscribe(peer, prefix, strlen(prefix));
}

static void test_who_may_subscribe(void **state) {
    (void)state;
    crm_peer_t one = s_parse("subscriber:tenant-a");
    assert_string_equal(crm_peer_event_tenant(&one), "tenant-a");
    assert_true(s_may_subscribe(&one, "contacts.tenant-a."));
    assert_true(s_may_subscribe(&one, "contacts.tenant-a.ContactCreated"));
    assert_false(s_may_subscribe(&one, ""));
    assert_false(s_may_subscribe(&one, "contacts."));
    assert_false(s_may_subscribe(&one, "contacts.tenant-a")); // also tenant-ab's
    assert_false(s_may_subscribe(&one, "contacts.tenant-ab."));
    assert_false(s_may_subscribe(&one, "contacts.tenant-b.ContactCreated"));
    assert_false(s_may_subscribe(&one, "contacts._head"));

    crm_peer_t all = s_parse("subscriber:*");
    assert_true(s_may_subscribe(&all, ""));
    assert_true(s_may_subscribe(&all, "contacts._head"));
    crm_peer_t worker = s_parse("worker:reporting");
    assert_true(s_may_subscribe(&worker, "contacts."));
    crm_peer_t client = s_parse("client");
    assert_null(crm_peer_event_tenant(&client));
    assert_false(s_may_subscribe(&client, "contacts."));
}

static void test_who_may_publish(void **state) {
    (void)state;
    crm_peer_t worker = s_parse("worker:contacts");
    assert_true(crm_peer_may_publish(&worker, "contacts.tenant-a.ContactCreated", 32));
    assert_true(crm_peer_may_publish(&worker, "contacts._head", 14));
    assert_false(crm_peer_may_publish(&worker, "leads.tenant-a.LeadCreated", 26));
    assert_false(crm_peer_may_publish(&worker, "contactsx.a.B", 13));
    assert_false(crm_peer_may_publish(&worker, "contacts", 8));
    crm_peer_t all = s_parse("client,subscriber:*");
    assert_false(crm_peer_may_publish(&all, "contacts.tenant-a.ContactCreated", 32));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_each_role),
        cmocka_unit_test(test_parse_refuses_and_names_the_part),
        cmocka_unit_test(test_known_roles_and_tenants),
        cmocka_unit_test(test_who_may_serve),
        cmocka_unit_test(test_who_may_call),
        cmocka_unit_test(test_who_may_subscribe),
        cmocka_unit_test(test_who_may_publish),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
