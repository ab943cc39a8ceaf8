/*  process: logging, CPU scheduling policy and CZMQ start-up for a daemon's main. */
#include "process.h"

#include "log.h"

#include <czmq.h>
#include <errno.h>
#include <sched.h>
#include <string.h>

int crm_process_set_scheduling(const char *policy) {
    int which;
    if (policy && strcmp(policy, "batch") == 0)
        which = SCHED_BATCH;
    else if (policy && strcmp(policy, "normal") == 0)
        which = SCHED_OTHER;
    else {
        crm_log_kv(CRM_LOG_ERROR, "unknown scheduling policy", "detail", policy ? policy : "(null)",
                   "hint", "process.scheduling is batch or normal", NULL);
        return -1;
    }
    //  Nice-level policies: no privilege needed, priority 0 is the only one allowed.
    struct sched_param param = {.sched_priority = 0};
    if (sched_setscheduler(0, which, &param) != 0) {
        crm_log_kv(CRM_LOG_WARN, "could not set the scheduling policy", "detail", strerror(errno),
                   "policy", policy, NULL);
        return -1;
    }
    return 0;
}

int crm_process_init(const crm_config_t *cfg, const char *name) {
    crm_log_level_t level = CRM_LOG_INFO;
    crm_log_level_parse(cfg->log_level, &level);
    crm_log_init(name, level);
    //  Before zsys_init: ZeroMQ's I/O thread takes the policy of the thread creating it.
    int rc = crm_process_set_scheduling(cfg->process_scheduling);
    zsys_init();
    zsys_set_logstream(NULL);
    return rc;
}
