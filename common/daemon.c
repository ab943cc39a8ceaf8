/*  daemon: the standard life of a service daemon. See daemon.h. */
#include "daemon.h"
#include "curve.h"
#include "health.h"
#include "relay.h"
#include "log.h"
#include "process.h"

//  What a daemon holds while it lives, made in crm_daemon_main's order.
typedef struct {
    const crm_daemon_t *daemon;
    crm_config_t *cfg;
    crm_db_t *db;
    void *arg; // the setup hook's
    crm_service_t *service;
    zloop_t *loop;
    crm_relay_t *relay;
    crm_runner_t *runner;
    crm_follower_t *followers[8]; // one per row of daemon->follows
    bool attached; // the attach hook succeeded: detach is owed
    crm_health_t *health; // the probe endpoint (daemon.health_listen), or NULL
    int health_timer;
} s_life_t;

#define S_HEALTH_PUBLISH_MS 1000 // the loop tells the health endpoint its state this often

//  Tell the health endpoint what the loop sees (and that it turns).
static int s_on_health_timer(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    s_life_t *self = arg;
    bool database, broker;
    crm_service_health(self->service, &database, &broker);
    crm_health_publish(self->health, database, broker, crm_service_requests(self->service),
                       crm_service_batches(self->service));
    return 0;
}

//  Start the health endpoint when daemon.health_listen names one for this daemon.
//  0, or -1 (a malformed setting, or a port that cannot be had: logged).
static int s_start_health(s_life_t *self) {
    const crm_config_t *cfg = self->cfg;
    char host[256];
    int port = 0;
    int rc = crm_health_address(cfg->daemon_health_listen, self->daemon->name, host, sizeof host,
                                &port);
    if (rc == 1)
        return 0;
    if (rc < 0) {
        crm_log_kv(CRM_LOG_ERROR, "daemon.health_listen is malformed", "hint",
                   "HOST:PORT, or NAME=HOST:PORT separated by spaces", NULL);
        return -1;
    }
    self->health = crm_health_new(self->daemon->name, host, port, cfg->daemon_health_stall_ms);
    if (!self->health)
        return -1;
    s_on_health_timer(self->loop, 0, self);
    self->health_timer = zloop_timer(self->loop, S_HEALTH_PUBLISH_MS, 0, s_on_health_timer, self);
    return self->health_timer < 0 ? -1 : 0;
}

//  Connect to the database (as long as it takes: SIGTERM still stops us), migrate, run
//  the setup hook and prepare the framework's tables. 0 or -1.
static int s_prepare(s_life_t *self) {
    const crm_daemon_t *daemon = self->daemon;
    const crm_config_t *cfg = self->cfg;
    self->db = crm_db_new(cfg->database_dsn, cfg->database_retry_max_ms);
    crm_db_set_connect_timeout(self->db, cfg->database_connect_timeout_ms);
    while (crm_db_connect(self->db, cfg->database_retry_max_ms) != 0)
        if (zsys_interrupted)
            return -1;
    if (cfg->database_migrate && crm_db_migrate(self->db, daemon->name, daemon->migrations))
        return -1;
    crm_db_set_schema(self->db, daemon->name);
    if (daemon->setup && daemon->setup(cfg, self->db, &self->arg))
        return -1;
    //  The schema is complete before the service is made: making it registers its
    //  workers with the broker, and from then on /readyz counts the service as ready.
    return crm_service_prepare_db_schema(self->db, daemon->name);
}

static bool s_refollow_asked; // crm_daemon_refollow was called: the timer acts on it

//  Start the followers, each from its inbox row. 0 or -1.
static int s_follow(s_life_t *self) {
    const crm_daemon_t *daemon = self->daemon;
    for (size_t i = 0; daemon->follows && daemon->follows[i].source; i++) {
        assert(i < sizeof self->followers / sizeof *self->followers);
        self->followers[i] =
            crm_follower_start(self->cfg, self->service, self->loop, daemon->name,
                               daemon->follows[i].source, daemon->follows[i].fn, self->arg);
        if (!self->followers[i])
            return -1;
    }
    return 0;
}

void crm_daemon_refollow(void) {
    s_refollow_asked = true;
}

//  A refollow asked for: the followers made anew (one that cannot start is tried again
//  on the next tick).
static int s_on_refollow(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    s_life_t *self = arg;
    if (!s_refollow_asked)
        return 0;
    for (size_t i = 0; i < sizeof self->followers / sizeof *self->followers; i++)
        crm_follower_stop(&self->followers[i]);
    s_refollow_asked = s_follow(self) != 0;
    crm_log_kv(CRM_LOG_INFO, "following again from the inbox", "service", self->daemon->name,
               NULL);
    return 0;
}

//  Make the service and put it on the loop with its relay, jobs, followers and attach
//  hook. 0 or -1.
static int s_start(s_life_t *self) {
    const crm_daemon_t *daemon = self->daemon;
    const crm_config_t *cfg = self->cfg;
    int workers = daemon->workers ? daemon->workers(cfg) : 1;
    int max_batch = daemon->max_batch ? daemon->max_batch(cfg) : 1;
    self->service = crm_service_new(cfg, daemon->name, daemon->methods, self->db, workers,
                                    max_batch, self->arg);
    crm_service_set_aheads(self->service, daemon->aheads);
    self->loop = zloop_new();
    //  The probes answer from here on: alive once the loop turns, ready once the
    //  workers hear the broker.
    if (s_start_health(self))
        return -1;
    if (crm_service_attach(self->service, self->loop))
        return -1;
    if (daemon->publishes) {
        self->relay = crm_relay_new(cfg, daemon->name);
        if (!self->relay || crm_relay_attach(self->relay, self->loop))
            return -1;
        crm_service_set_relay(self->service, self->relay);
    }
    if (daemon->jobs) {
        self->runner = crm_runner_new(cfg, daemon->name, daemon->jobs);
        if (crm_runner_attach(self->runner, self->loop, self->relay))
            return -1;
    }
    if (s_follow(self))
        return -1;
    if (daemon->follows && zloop_timer(self->loop, 200, 0, s_on_refollow, self) < 0)
        return -1;
    if (daemon->attach && daemon->attach(cfg, self->service, self->loop, self->arg))
        return -1;
    self->attached = true;
    return 0;
}

//  Serve until SIGINT/SIGTERM.
static void s_serve(s_life_t *self) {
    crm_log_kv(CRM_LOG_INFO, "serving", "broker", crm_config_broker(self->cfg), NULL);
    zloop_start(self->loop);
    crm_info("stopping after %llu requests in %llu transactions",
             (unsigned long long)crm_service_requests(self->service),
             (unsigned long long)crm_service_batches(self->service));
}

//  Undo what was made, in the reverse order.
static void s_stop(s_life_t *self) {
    crm_health_destroy(&self->health);
    crm_runner_destroy(&self->runner); // each job after its step in progress
    if (self->attached && self->daemon->detach)
        self->daemon->detach(self->arg);
    for (size_t i = 0; i < sizeof self->followers / sizeof *self->followers; i++)
        crm_follower_stop(&self->followers[i]);
    crm_service_destroy(&self->service); // its workers leave the loop first
    crm_relay_destroy(&self->relay);
    zloop_destroy(&self->loop);
    if (self->daemon->teardown)
        self->daemon->teardown(&self->arg);
    crm_db_destroy(&self->db);
    crm_config_destroy(&self->cfg);
}

int crm_daemon_main(const crm_daemon_t *daemon, int argc, char **argv) {
    int exit_code = 0;
    s_life_t life = {.daemon = daemon};
    life.cfg = crm_config_from_args(argc, argv, daemon->usage, &exit_code);
    if (!life.cfg)
        return exit_code;
    crm_process_init(life.cfg, daemon->name);
    exit_code = 1;
    if (crm_curve_init(life.cfg, daemon->name) == 0 && s_prepare(&life) == 0 && s_start(&life) == 0) {
        s_serve(&life);
        exit_code = 0;
    }
    s_stop(&life);
    return exit_code;
}
