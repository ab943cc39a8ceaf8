/*  followup_rules: the follow-up scheduler's pure rules (no database, no bus), unit-tested
    in tests/unit/test_leads_followups.c. */
#include "leads.h"

//  Rows due but locked by another process are that process's: a pass that found fewer
//  than a batch waits at least this long before it looks again, rather than spin.
#define SCHEDULER_MIN_WAIT_MS 10

int leads_scheduler_wait_ms(int claimed, int batch, long long next_due_ms, int poll_ms) {
    if (claimed >= batch)
        return 0;
    if (next_due_ms < 0 || next_due_ms >= poll_ms)
        return poll_ms;
    if (next_due_ms < SCHEDULER_MIN_WAIT_MS)
        return SCHEDULER_MIN_WAIT_MS < poll_ms ? SCHEDULER_MIN_WAIT_MS : poll_ms;
    return (int)next_due_ms;
}
