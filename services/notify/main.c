/*  crm-notify: the notifications daemon. Wiring only: the service core (common/service.c)
    runs the loop and the methods (methods.c's table, the index of the service: per
    method its rules file and its _store.c); the follows table applies the contacts'
    and leads' events (follow.c: notify's copy of who may be sent what, and the triggers
    that queue messages). */
#include "notify.h"
#include "daemon.h"
#include "log.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static notify_t s_notify;

static int s_setup(const crm_config_t *cfg, crm_db_t *db, void **arg) {
    s_notify.cfg = cfg;
    //  The key of the links' tokens: made by the first start, shared by every process.
    unsigned char fresh[sizeof s_notify.link_key];
    char fresh_hex[2 * sizeof fresh + 1], hex[2 * sizeof fresh + 1];
    randombytes_buf(fresh, sizeof fresh);
    sodium_bin2hex(fresh_hex, sizeof fresh_hex, fresh, sizeof fresh);
    if (notify_sender_store_link_key(db, fresh_hex, hex, sizeof hex) ||
        sodium_hex2bin(s_notify.link_key, sizeof s_notify.link_key, hex, strlen(hex), NULL, NULL,
                       NULL))
        return -1;
    char *error = NULL;
    s_notify.accounts = notify_accounts_new(cfg, &error);
    if (!s_notify.accounts) {
        crm_log_kv(CRM_LOG_ERROR, "could not read the dealerships' provider accounts", "detail",
                   error ? error : "", "hint", "see notify.accounts_file", NULL);
        free(error);
        return -1;
    }
    s_notify.client = crm_bus_client_new(crm_config_broker(cfg));
    *arg = &s_notify;
    return s_notify.client ? 0 : -1;
}

static void s_teardown(void **arg) {
    notify_t *self = *arg;
    if (self) {
        crm_bus_client_destroy(&self->client);
        notify_accounts_destroy(&self->accounts);
    }
}

static int s_workers(const crm_config_t *cfg) {
    return cfg->notify_workers;
}

static int s_max_batch(const crm_config_t *cfg) {
    return cfg->notify_max_batch;
}

//  The other services' events it follows (follow.c).
static const crm_follow_t s_follows[] = {{.source = "contacts", .fn = notify_follow_contacts},
                                         {.source = "leads", .fn = notify_follow_leads},
                                         {.source = NULL}};

//  The background jobs (common/runner.c): notify.senders senders per channel (sender.c),
//  each on a thread with a connection of its own, so a slow provider never holds up the loop; and
//  the campaigns' job (campaign_job.c), which queues their recipients page by page.
static const crm_job_t s_jobs[] = {{.name = "sms sender",
                                    .step = notify_sender_step,
                                    .state_new = notify_sms_sender_new,
                                    .state_destroy = notify_sender_destroy,
                                    .period_ms = notify_sender_period_ms,
                                    .instances = notify_senders},
                                   {.name = "email sender",
                                    .step = notify_sender_step,
                                    .state_new = notify_email_sender_new,
                                    .state_destroy = notify_sender_destroy,
                                    .period_ms = notify_sender_period_ms,
                                    .instances = notify_senders},
                                   {.name = "campaign resolver",
                                    .step = notify_campaign_job_step,
                                    .state_new = notify_campaign_job_new,
                                    .state_destroy = notify_campaign_job_destroy,
                                    .period_ms = notify_campaign_job_period_ms},
                                   {.name = NULL}};

int main(int argc, char **argv) {
    static const crm_daemon_t daemon = {
        .name = "notify",
        .usage = "usage: crm-notify [--config PATH]\n"
                 "Serves the notify service (templates, messages, notification settings)\n"
                 "over the Majordomo broker, queues the messages the contacts' and leads'\n"
                 "events trigger, and sends them by SMS and email.\n",
        .migrations = notify_migrations,
        .methods = notify_methods,
        .setup = s_setup,
        .teardown = s_teardown,
        .workers = s_workers,
        .max_batch = s_max_batch,
        .jobs = s_jobs,
        .follows = s_follows,
        .publishes = true,
    };
    return crm_daemon_main(&daemon, argc, argv);
}
