/*  Unit tests for the rules of the "Snapshot" method (services/contacts/snapshot.c):
    who may read every tenant, and what a page may ask for. Each table row is an
    example of the rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../services/contacts/contacts.h"

static void test_snapshot_roles(void **state) {
    (void)state;
    assert_true(contacts_snapshot_allowed("system"));
    assert_true(contacts_snapshot_allowed("admin"));
    assert_false(contacts_snapshot_allowed("manager"));
    assert_false(contacts_snapshot_allowed("agent"));
}

static const struct {
    uint32_t limit;
    const char *after_tenant_id, *after_id;
    int expected_limit;
    const char *field; // refused (NULL: accepted)
} s_cases[] = {
    {0, "", "", 1000, NULL}, // the default page
    {10000, "", "", 10000, NULL},
    {10001, "", "", 0, "limit"},
    {5, "t1", "0190a5a0-0000-7000-8000-000000000001", 5, NULL},
    {5, "", "not-an-id", 0, "afterId"},
    {5, "t1", "", 0, "afterId"}, // a tenant needs the id after which to go on
};

static void test_snapshot_page(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_cases / sizeof s_cases[0]; i++) {
        Crm__Contacts__SnapshotRequest req = CRM__CONTACTS__SNAPSHOT_REQUEST__INIT;
        req.limit = s_cases[i].limit;
        req.after_tenant_id = (char *)s_cases[i].after_tenant_id;
        req.after_id = (char *)s_cases[i].after_id;
        crm_errors_t errors = {0};
        int limit = 0;
        int rc = contacts_snapshot_check(&req, &limit, &errors);
        if (!s_cases[i].field) {
            if (rc)
                fail_msg("case %zu: refused %s", i, errors.items[0]->field);
            assert_int_equal(limit, s_cases[i].expected_limit);
        } else {
            assert_int_equal(rc, -1);
            assert_string_equal(errors.items[0]->field, s_cases[i].field);
        }
        crm_errors_reset(&errors);
    }
}

//  The first page starts before every id.
static void test_snapshot_after(void **state) {
    (void)state;
    Crm__Contacts__SnapshotRequest req = CRM__CONTACTS__SNAPSHOT_REQUEST__INIT;
    assert_string_equal(contacts_snapshot_after_id(&req), "00000000-0000-0000-0000-000000000000");
    req.after_id = "0190a5a0-0000-7000-8000-000000000001";
    assert_string_equal(contacts_snapshot_after_id(&req), req.after_id);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_roles),
        cmocka_unit_test(test_snapshot_page),
        cmocka_unit_test(test_snapshot_after),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
