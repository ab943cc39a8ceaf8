/*  Unit tests: the outbox (outbox.h): the catalogue, the in-statement form's parameters,
    and the writer against a private PostgreSQL (scripts/pg.sh, as the system tests'
    harness starts it): a batch of 10,000 events is one statement, rows read back as
    written, roll back with the caller's transaction, a single row works, and a payload
    outside the catalogue is refused.

    Reading order: the catalogue and row tests, the database fixture, then the writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "outbox.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define S_SCHEMA "t_outbox"
#define S_BATCH 10000

//  --- The catalogue and the in-statement form -------------------------------------------

static void test_catalogue(void **state) {
    (void)state;
    assert_ptr_equal(crm_event_descriptor("ContactCreated"),
                     &crm__events__contact_created__descriptor);
    assert_ptr_equal(crm_event_descriptor("LeadWon"), &crm__events__lead_won__descriptor);
    assert_ptr_equal(crm_event_descriptor("ContactsDaily"),
                     &crm__events__contacts_daily__descriptor);
    assert_null(crm_event_descriptor("NoSuchEvent"));
    assert_null(crm_event_descriptor(NULL));
    assert_string_equal(crm_event_type(&crm__events__lead_scored__descriptor), "LeadScored");
}

static void test_outbox_event(void **state) {
    (void)state;
    Crm__Events__ContactDeleted payload = CRM__EVENTS__CONTACT_DELETED__INIT;
    payload.contact_id = "0190a3c4-0000-7000-8000-000000000001";
    crm_outbox_event_t ev;
    assert_int_equal(crm_outbox_event_init(&ev, &payload.base, "2026-11-22T08:00:00.000001Z"), 0);
    assert_string_equal(ev.type, "ContactDeleted");
    assert_string_equal(ev.occurred_at, "2026-11-22T08:00:00.000001Z");
    assert_int_equal(strlen(ev.event_id), 36);
    //  The payload as a bytea hex literal that decodes back to the message.
    assert_memory_equal(ev.payload_hex, "\\x", 2);
    size_t n = (strlen(ev.payload_hex) - 2) / 2;
    uint8_t *bytes = malloc(n);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(ev.payload_hex + 2 + 2 * i, "%2x", &v), 1);
        bytes[i] = (uint8_t)v;
    }
    Crm__Events__ContactDeleted *back = crm__events__contact_deleted__unpack(NULL, n, bytes);
    assert_non_null(back);
    assert_string_equal(back->contact_id, payload.contact_id);
    crm__events__contact_deleted__free_unpacked(back, NULL);
    free(bytes);
    crm_outbox_event_reset(&ev);

    //  Stamped now when no time is given.
    assert_int_equal(crm_outbox_event_init(&ev, &payload.base, NULL), 0);
    assert_int_equal(strlen(ev.occurred_at), 27);
    assert_int_equal(ev.occurred_at[26], 'Z');
    crm_outbox_event_reset(&ev);

    //  A message outside the catalogue is refused.
    Crm__Empty empty = CRM__EMPTY__INIT;
    assert_int_equal(crm_outbox_event_init(&ev, &empty.base, NULL), -1);
    crm_outbox_event_reset(&ev);
}

//  The in-statement form is the writer's insert inside a CTE.
static void test_in_statement_form_is_the_one_insert(void **state) {
    (void)state;
    const char *cte = CRM_OUTBOX_SQL("ev", "LeadWon", "upd", "$2", "$3", "$4", "$5");
    assert_non_null(strstr(cte, " ev AS (INSERT INTO outbox (event_id, type, tenant_id,"
                                " aggregate_id, payload, occurred_at) SELECT $4::uuid,"
                                " 'LeadWon', $1, $2, $5::bytea, $3::timestamptz FROM upd)"));
}

//  --- A private database ----------------------------------------------------------------

static char s_dir[64];
static crm_db_t *s_db;

static const char *s_top(void) {
    const char *top = getenv("CRM_TOP_DIR");
    return top ? top : ".";
}

//  Run a shell command; its first output line into out (when given); 0 on success.
static int s_run(const char *cmd, char *out, size_t size) {
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char line[1024] = "";
    if (out && fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = 0;
        snprintf(out, size, "%s", line);
    }
    while (fgets(line, sizeof line, p))
        ;
    return pclose(p);
}

static int s_db_stop(void **state);

//  Start PostgreSQL in a temp directory and make the event tables in S_SCHEMA.
static int s_db_start(void **state) {
    (void)state;
    snprintf(s_dir, sizeof s_dir, "/tmp/crm-outbox-XXXXXX");
    if (!mkdtemp(s_dir))
        return -1;
    chmod(s_dir, 0755); // PostgreSQL runs as the postgres user when we are root
    char cmd[512], dsn[512] = "";
    snprintf(cmd, sizeof cmd, "%s/scripts/pg.sh start %s/pg >%s/pg-start.log 2>&1", s_top(),
             s_dir, s_dir);
    if (s_run(cmd, NULL, 0) != 0) {
        fprintf(stderr, "test_outbox: could not start PostgreSQL (see %s/pg-start.log)\n", s_dir);
        return -1;
    }
    snprintf(cmd, sizeof cmd, "%s/scripts/pg.sh dsn %s/pg", s_top(), s_dir);
    s_run(cmd, dsn, sizeof dsn);
    s_db = crm_db_new(dsn, 1000);
    crm_db_set_schema(s_db, S_SCHEMA);
    if (crm_db_connect(s_db, 10000) != 0 ||
        crm_db_exec(s_db, "CREATE SCHEMA IF NOT EXISTS " S_SCHEMA) != 0 ||
        crm_events_prepare_schema(s_db, S_SCHEMA) != 0) {
        s_db_stop(NULL); // no teardown follows a failed setup
        return -1;
    }
    return 0;
}

static int s_db_stop(void **state) {
    (void)state;
    crm_db_destroy(&s_db);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s/scripts/pg.sh stop %s/pg >/dev/null 2>&1; rm -rf %s", s_top(),
             s_dir, s_dir);
    (void)!system(cmd);
    return 0;
}

//  The first column of the first row of sql, as a number.
static long long s_scalar(const char *sql) {
    PGresult *res = PQexec(crm_db_conn(s_db), sql);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    long long v = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

//  A ContactDeleted payload naming contact i.
static void s_contact_id(char *out, size_t size, int i) {
    snprintf(out, size, "0190a3c4-0000-7000-8000-%012d", i);
}

//  --- The writer ------------------------------------------------------------------------

//  10,000 events in one statement, read back with their type, tenant, aggregate and
//  payload.
static void test_batch_is_one_statement(void **state) {
    (void)state;
    crm_outbox_t *outbox = crm_outbox_new();
    for (int i = 0; i < S_BATCH; i++) {
        char id[40];
        s_contact_id(id, sizeof id, i);
        Crm__Events__ContactDeleted event = CRM__EVENTS__CONTACT_DELETED__INIT;
        event.contact_id = id;
        assert_int_equal(crm_outbox_add(outbox, "tenant-batch", id, &event.base, NULL), 0);
    }
    assert_int_equal(crm_outbox_size(outbox), S_BATCH);
    assert_int_equal(crm_db_begin(s_db), 0);
    unsigned long before = crm_db_writes(s_db);
    assert_int_equal(crm_outbox_write(outbox, s_db), 0);
    assert_int_equal(crm_db_writes(s_db) - before, 1); // one statement
    assert_int_equal(crm_outbox_size(outbox), 0);      // the buffer is emptied
    assert_int_equal(crm_db_commit(s_db), 0);
    crm_outbox_destroy(&outbox);
    assert_null(outbox);

    PGresult *res = PQexec(crm_db_conn(s_db), "SELECT type, tenant_id, aggregate_id, payload"
                                              " FROM " S_SCHEMA ".outbox"
                                              " WHERE tenant_id = 'tenant-batch' ORDER BY id");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(res), S_BATCH);
    for (int i = 0; i < S_BATCH; i++) {
        char id[40];
        s_contact_id(id, sizeof id, i);
        assert_string_equal(PQgetvalue(res, i, 0), "ContactDeleted");
        assert_string_equal(PQgetvalue(res, i, 1), "tenant-batch");
        assert_string_equal(PQgetvalue(res, i, 2), id);
        size_t size = 0;
        unsigned char *bytes = PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, 3), &size);
        Crm__Events__ContactDeleted *back = crm__events__contact_deleted__unpack(NULL, size, bytes);
        assert_non_null(back);
        assert_string_equal(back->contact_id, id);
        crm__events__contact_deleted__free_unpacked(back, NULL);
        PQfreemem(bytes);
    }
    PQclear(res);
}

//  The rows go with the caller's transaction when it rolls back.
static void test_rolls_back_with_the_caller(void **state) {
    (void)state;
    crm_outbox_t *outbox = crm_outbox_new();
    for (int i = 0; i < 3; i++) {
        Crm__Events__ContactDeleted event = CRM__EVENTS__CONTACT_DELETED__INIT;
        event.contact_id = "0190a3c4-0000-7000-8000-000000000009";
        assert_int_equal(
            crm_outbox_add(outbox, "tenant-rollback", event.contact_id, &event.base, NULL), 0);
    }
    assert_int_equal(crm_db_begin(s_db), 0);
    assert_int_equal(crm_outbox_write(outbox, s_db), 0);
    assert_int_equal(s_scalar("SELECT count(*) FROM " S_SCHEMA ".outbox"
                              " WHERE tenant_id = 'tenant-rollback'"),
                     3);
    assert_int_equal(crm_db_rollback(s_db), 0);
    assert_int_equal(s_scalar("SELECT count(*) FROM " S_SCHEMA ".outbox"
                              " WHERE tenant_id = 'tenant-rollback'"),
                     0);
    crm_outbox_destroy(&outbox);
}

//  One event, stamped at the time given.
static void test_single_row(void **state) {
    (void)state;
    crm_outbox_t *outbox = crm_outbox_new();
    Crm__Events__LeadWon won = CRM__EVENTS__LEAD_WON__INIT;
    won.lead_id = "0190a3c4-0000-7000-8000-00000000000a";
    assert_int_equal(crm_outbox_add(outbox, "tenant-one", won.lead_id, &won.base,
                                    "2026-11-22T08:00:00.000001Z"),
                     0);
    unsigned long before = crm_db_writes(s_db);
    assert_int_equal(crm_outbox_write(outbox, s_db), 0); // no transaction open: its own
    assert_int_equal(crm_db_writes(s_db) - before, 1);
    crm_outbox_destroy(&outbox);
    PGresult *res = PQexec(crm_db_conn(s_db), "SELECT " CRM_OUTBOX_EVENT_COLUMNS
                                              " FROM (SELECT 0 AS seq, * FROM " S_SCHEMA
                                              ".outbox WHERE tenant_id = 'tenant-one') o");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(res), 1);
    Crm__Event *event = crm_outbox_event_from_row(res, 0, "leads");
    PQclear(res);
    assert_non_null(event);
    assert_string_equal(event->type, "LeadWon");
    assert_string_equal(event->tenant_id, "tenant-one");
    assert_string_equal(event->aggregate_id, won.lead_id);
    assert_string_equal(event->occurred_at, "2026-11-22T08:00:00.000001Z");
    assert_string_equal(event->source, "leads");
    Crm__Events__LeadWon *back =
        crm__events__lead_won__unpack(NULL, event->payload.len, event->payload.data);
    assert_non_null(back);
    assert_string_equal(back->lead_id, won.lead_id);
    crm__events__lead_won__free_unpacked(back, NULL);
    crm__event__free_unpacked(event, NULL);
}

//  A message outside the catalogue is refused, and nothing is written.
static void test_unknown_type_refused(void **state) {
    (void)state;
    crm_outbox_t *outbox = crm_outbox_new();
    Crm__Empty empty = CRM__EMPTY__INIT;
    assert_int_equal(crm_outbox_add(outbox, "tenant-x", "x", &empty.base, NULL), -1);
    assert_int_equal(crm_outbox_size(outbox), 0);
    unsigned long before = crm_db_writes(s_db);
    assert_int_equal(crm_outbox_write(outbox, s_db), 0); // nothing buffered: no statement
    assert_int_equal(crm_db_writes(s_db), before);
    crm_outbox_destroy(&outbox);
    crm_outbox_destroy(&outbox); // idempotent
}

//  The in-statement form writes a change's event in the change's own statement.
static void test_in_statement_form_writes(void **state) {
    (void)state;
    crm_outbox_event_t ev;
    Crm__Events__ContactDeleted event = CRM__EVENTS__CONTACT_DELETED__INIT;
    event.contact_id = "0190a3c4-0000-7000-8000-00000000000b";
    assert_int_equal(crm_outbox_event_init(&ev, &event.base, NULL), 0);
    static const crm_stmt_t stmt = {
        .name = "test_outbox_cte",
        .sql = "WITH chg AS (SELECT $2::text AS id)," CRM_OUTBOX_SQL(
            "ev", "ContactDeleted", "chg", "chg.id", "$3", "$4", "$5") " SELECT 1",
        .nparams = 5,
        .writes = true};
    const char *params[] = {"tenant-cte", event.contact_id, ev.occurred_at, ev.event_id,
                            ev.payload_hex};
    PGresult *res = crm_db_query(s_db, &stmt, params);
    assert_non_null(res);
    PQclear(res);
    crm_outbox_event_reset(&ev);
    assert_int_equal(s_scalar("SELECT count(*) FROM " S_SCHEMA ".outbox"
                              " WHERE tenant_id = 'tenant-cte' AND type = 'ContactDeleted'"
                              " AND aggregate_id = '0190a3c4-0000-7000-8000-00000000000b'"),
                     1);
}

int main(void) {
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_catalogue),
        cmocka_unit_test(test_outbox_event),
        cmocka_unit_test(test_in_statement_form_is_the_one_insert),
    };
    const struct CMUnitTest with_db[] = {
        cmocka_unit_test(test_batch_is_one_statement),
        cmocka_unit_test(test_rolls_back_with_the_caller),
        cmocka_unit_test(test_single_row),
        cmocka_unit_test(test_unknown_type_refused),
        cmocka_unit_test(test_in_statement_form_writes),
    };
    int failed = cmocka_run_group_tests(pure, NULL, NULL);
    return failed + cmocka_run_group_tests(with_db, s_db_start, s_db_stop);
}
