/*  crm-scoring: the lead scoring daemon. Wiring only: the service core (common/service.c)
    runs the loop and the methods (methods.c's table, the index of the service); the
    follows table keeps each lead's facts and score from the leads', contacts' and
    notify events (follow.c); the runner works the rescore jobs and the daily decay
    pass (rescore.c). The default model is read here from scoring.model_file, and again
    on SIGHUP (a file that breaks a rule is refused; the model in force stays).
*/
#include "scoring.h"
#include "daemon.h"
#include "log.h"

#include <signal.h>
#include <stdlib.h>

scoring_t scoring_state = {.lock = PTHREAD_MUTEX_INITIALIZER};
static volatile sig_atomic_t s_hangup;

int scoring_reload(scoring_t *self) {
    char *error = NULL;
    Crm__Scoring__Model *model = scoring_model_load_file(self->cfg->scoring_model_file, &error);
    if (!model) {
        crm_log_kv(CRM_LOG_ERROR, "could not read the scoring model", "detail",
                   error ? error : "", "hint",
                   self->default_model ? "the model in force stays; fix the file and send SIGHUP"
                                       : "see scoring.model_file",
                   NULL);
        free(error);
        return -1;
    }
    pthread_mutex_lock(&self->lock);
    Crm__Scoring__Model *old = self->default_model;
    self->default_model = model;
    scoring_model_compile(model, model->version, &self->default_compiled);
    pthread_mutex_unlock(&self->lock);
    if (old)
        crm__scoring__model__free_unpacked(old, NULL);
    crm_log_kv(CRM_LOG_INFO, "scoring model in force", "detail", model->version, NULL);
    return 0;
}

static void s_on_hangup(int signo) {
    (void)signo;
    s_hangup = 1;
}

static int s_check_hangup(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    if (s_hangup) {
        s_hangup = 0;
        scoring_reload(arg);
    }
    return 0;
}

static int s_setup(const crm_config_t *cfg, crm_db_t *db, void **arg) {
    (void)db;
    scoring_state.cfg = cfg;
    if (scoring_reload(&scoring_state))
        return -1;
    *arg = &scoring_state;
    return 0;
}

static void s_teardown(void **arg) {
    scoring_t *self = *arg;
    if (self && self->default_model)
        crm__scoring__model__free_unpacked(self->default_model, NULL);
    if (self)
        self->default_model = NULL;
}

//  SIGHUP: noted by the handler, acted on by a timer on the loop.
static int s_attach(const crm_config_t *cfg, crm_service_t *service, zloop_t *loop, void *arg) {
    (void)cfg;
    (void)service;
    struct sigaction action = {.sa_handler = s_on_hangup};
    sigemptyset(&action.sa_mask);
    sigaction(SIGHUP, &action, NULL);
    return zloop_timer(loop, 200, 0, s_check_hangup, arg) < 0 ? -1 : 0;
}

static int s_workers(const crm_config_t *cfg) {
    return cfg->scoring_workers;
}

static int s_max_batch(const crm_config_t *cfg) {
    return cfg->scoring_max_batch;
}

//  The other services' events it follows (follow.c).
static const crm_follow_t s_follows[] = {{.source = "leads", .fn = scoring_follow_leads},
                                         {.source = "contacts", .fn = scoring_follow_contacts},
                                         {.source = "notify", .fn = scoring_follow_notify},
                                         {.source = NULL}};

//  The rescore jobs and the daily decay pass (rescore.c).
static const crm_job_t s_jobs[] = {{.name = "rescorer",
                                    .step = scoring_rescore_step,
                                    .period_ms = scoring_rescore_period_ms},
                                   {.name = NULL}};

int main(int argc, char **argv) {
    static const crm_daemon_t daemon = {
        .name = "scoring",
        .usage = "usage: crm-scoring [--config PATH]\n"
                 "Keeps each lead's score (0-100), band and the rules that made it from the\n"
                 "leads', contacts' and notify events, under the dealership's model\n"
                 "(scoring.model_file, or the dealership's own), publishes LeadScored, and\n"
                 "answers GET /v1/leads/{id}/score and /v1/scoring/* over the broker.\n"
                 "SIGHUP reads the model file again.\n",
        .migrations = scoring_migrations,
        .methods = scoring_methods,
        .setup = s_setup,
        .teardown = s_teardown,
        .attach = s_attach,
        .workers = s_workers,
        .max_batch = s_max_batch,
        .jobs = s_jobs,
        .follows = s_follows,
        .publishes = true,
    };
    return crm_daemon_main(&daemon, argc, argv);
}
