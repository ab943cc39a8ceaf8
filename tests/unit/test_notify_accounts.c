/*  Tests of notify's provider accounts (services/notify/accounts.c): the notify.*
    settings as every tenant's default, a dealership's own section of
    notify.accounts_file overriding some of them, secrets only through the environment,
    and the file's errors named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "../../services/notify/notify.h"

static char s_path[64];

//  A config whose notify.accounts_file holds text ("" : no file).
static crm_config_t *s_config(const char *text) {
    setenv("CRM_NOTIFY_SMS_BASE_URL", "https://api.example", 1);
    setenv("CRM_NOTIFY_SMS_ACCOUNT_SID", "ACdefault", 1);
    setenv("CRM_NOTIFY_SMS_AUTH_TOKEN", "default-token", 1);
    setenv("CRM_NOTIFY_SMS_FROM", "+15005550006", 1);
    setenv("CRM_NOTIFY_MAIL_FROM", "Dealer <crm@dealer.example>", 1);
    if (text) {
        snprintf(s_path, sizeof s_path, "/tmp/test_notify_accounts.XXXXXX");
        int fd = mkstemp(s_path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
        setenv("CRM_NOTIFY_ACCOUNTS_FILE", s_path, 1);
    } else
        unsetenv("CRM_NOTIFY_ACCOUNTS_FILE");
    crm_config_t *cfg = crm_config_load(NULL, NULL);
    assert_non_null(cfg);
    return cfg;
}

static void s_done(crm_config_t **cfg) {
    crm_config_destroy(cfg);
    if (s_path[0])
        unlink(s_path);
    s_path[0] = '\0';
}

static void test_default_only(void **state) {
    (void)state;
    crm_config_t *cfg = s_config(NULL);
    char *error = NULL;
    notify_accounts_t *accounts = notify_accounts_new(cfg, &error);
    assert_non_null(accounts);
    const notify_account_t *a = notify_accounts_for(accounts, "acme");
    assert_string_equal(a->tenant, "");
    assert_string_equal(a->sms_account_sid, "ACdefault");
    assert_string_equal(a->sms_auth_token, "default-token");
    assert_string_equal(a->smtp_url, "");
    assert_ptr_equal(notify_accounts_by_sid(accounts, "ACother"), a);
    notify_accounts_destroy(&accounts);
    assert_null(accounts);
    s_done(&cfg);
}

static void test_tenant_section(void **state) {
    (void)state;
    setenv("ACME_SMS_TOKEN", "acme-token", 1);
    setenv("ACME_SMTP_PASSWORD", "acme-mail", 1);
    crm_config_t *cfg = s_config("acme:\n"
                                 "  sms_account_sid: ACacme\n"
                                 "  sms_auth_token_env: ACME_SMS_TOKEN\n"
                                 "  sms_from: \"+15125550100\"\n"
                                 "  smtp_url: smtps://mail.acme.example:465\n"
                                 "  smtp_user: crm@acme.example\n"
                                 "  smtp_password_env: ACME_SMTP_PASSWORD\n"
                                 "  mail_from: Acme Motors <sales@acme.example>\n"
                                 "beta:\n"
                                 "  sms_from: \"+15125550199\"\n");
    char *error = NULL;
    notify_accounts_t *accounts = notify_accounts_new(cfg, &error);
    assert_null(error);
    assert_non_null(accounts);
    const notify_account_t *acme = notify_accounts_for(accounts, "acme");
    assert_string_equal(acme->tenant, "acme");
    assert_string_equal(acme->sms_base_url, "https://api.example"); // the default's
    assert_string_equal(acme->sms_account_sid, "ACacme");
    assert_string_equal(acme->sms_auth_token, "acme-token");
    assert_string_equal(acme->sms_from, "+15125550100");
    assert_string_equal(acme->smtp_password, "acme-mail");
    assert_string_equal(acme->mail_from, "Acme Motors <sales@acme.example>");
    const notify_account_t *beta = notify_accounts_for(accounts, "beta");
    assert_string_equal(beta->sms_account_sid, "ACdefault");
    assert_string_equal(beta->sms_auth_token, "default-token");
    assert_string_equal(beta->sms_from, "+15125550199");
    //  A webhook's AccountSid finds its account's token.
    assert_ptr_equal(notify_accounts_by_sid(accounts, "ACacme"), acme);
    assert_string_equal(notify_accounts_by_sid(accounts, "ACdefault")->sms_auth_token,
                        "default-token");
    assert_string_equal(notify_accounts_for(accounts, "gamma")->tenant, "");
    notify_accounts_destroy(&accounts);
    s_done(&cfg);
}

//  A file that cannot be used is refused with what is wrong, never its secrets.
static void test_errors(void **state) {
    (void)state;
    struct {
        const char *text, *words;
    } cases[] = {
        {"acme:\n  sms_auth_token: s3cret\n", "may not be written in the file"},
        {"acme:\n  smtp_password: s3cret\n", "smtp_password_env"},
        {"acme:\n  sms_colour: blue\n", "unknown key sms_colour"},
        {"acme:\n  sms_auth_token_env: NOT_SET_ANYWHERE_42\n", "does not set"},
        {"acme: [1, 2]\n", "expected a mapping of settings"},
        {"- acme\n", "expected a mapping of tenant ids"},
        {"acme: {sms_from: [1]}\n", "must be a text"},
        {"acme:\n  sms_from: \"unclosed\n", "test_notify_accounts"},
    };
    unsetenv("NOT_SET_ANYWHERE_42");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        crm_config_t *cfg = s_config(cases[i].text);
        char *error = NULL;
        notify_accounts_t *accounts = notify_accounts_new(cfg, &error);
        assert_null(accounts);
        assert_non_null(error);
        if (!strstr(error, cases[i].words))
            fail_msg("case %zu: %s", i, error);
        assert_null(strstr(error, "s3cret"));
        free(error);
        s_done(&cfg);
    }
    //  A file that is not there.
    setenv("CRM_NOTIFY_ACCOUNTS_FILE", "/nonexistent/accounts.yaml", 1);
    crm_config_t *cfg = crm_config_load(NULL, NULL);
    char *error = NULL;
    assert_null(notify_accounts_new(cfg, &error));
    assert_non_null(strstr(error, "could not open /nonexistent/accounts.yaml"));
    free(error);
    crm_config_destroy(&cfg);
    unsetenv("CRM_NOTIFY_ACCOUNTS_FILE");
}

int main(void) {
    unsetenv("CRM_CONFIG");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_only),
        cmocka_unit_test(test_tenant_section),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
