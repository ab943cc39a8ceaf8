/*  process: what every daemon does first, before it starts any thread.

    crm_process_init stamps the log with the daemon's name and level, applies the CPU
    scheduling policy of process.scheduling, and starts CZMQ (whose ZeroMQ context
    starts the I/O thread, which inherits the policy). Call it once, from main, right
    after the configuration has loaded.

    Why batch is the default: a request crosses two threads in each daemon (ZeroMQ's
    I/O thread, then the loop). Under SCHED_OTHER a thread that is woken preempts the
    one that woke it, so on a busy host the loop is interrupted in the middle of a
    batch for every message its I/O thread hands on; SCHED_BATCH lets the running
    thread finish its slice. docs/ARCHITECTURE.md gives the measurements.
*/
#ifndef CRM_PROCESS_H
#define CRM_PROCESS_H

#include "config.h"

//  Returns 0, or -1 when the policy could not be applied (logged; the daemon still runs).
int crm_process_init(const crm_config_t *cfg, const char *name);

//  Apply "batch" or "normal" to the calling thread (and so to the threads it starts).
int crm_process_set_scheduling(const char *policy);

#endif
