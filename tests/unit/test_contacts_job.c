/*  Unit tests for the rules of jobs (services/contacts/job.c): which queued jobs are
    imports, a bulk job's stored request read back, and the ids that name a job. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../services/contacts/contacts.h"

static void test_job_kind(void **state) {
    (void)state;
    assert_true(contacts_job_is_import("import"));
    assert_false(contacts_job_is_import("bulk"));
    assert_false(contacts_job_is_import(""));
}

//  The request a bulk job keeps is its JSON (without the ids: they are its items).
static void test_job_bulk_request(void **state) {
    (void)state;
    crm_json_error_t err;
    Crm__Contacts__BulkContactsRequest *req =
        contacts_job_bulk_request("{\"action\": \"add_tags\", \"tags\": [\"VIP\"]}", &err);
    assert_non_null(req);
    assert_int_equal(req->action, CRM__CONTACTS__BULK_ACTION__BULK_ACTION_ADD_TAGS);
    assert_int_equal(req->n_tags, 1);
    assert_string_equal(req->tags[0], "VIP");
    crm__contacts__bulk_contacts_request__free_unpacked(req, NULL);
    assert_null(contacts_job_bulk_request("{\"action\": 12", &err)); // damaged: NULL
}

static const struct {
    const char *id;
    bool valid;
} s_id_cases[] = {
    {"0190a5a0-0000-7000-8000-000000000001", true},
    {"", false},
    {"job-1", false},
};

static void test_job_id(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof s_id_cases / sizeof s_id_cases[0]; i++)
        assert_int_equal(contacts_job_id_valid(s_id_cases[i].id), s_id_cases[i].valid);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_kind),
        cmocka_unit_test(test_job_bulk_request),
        cmocka_unit_test(test_job_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
