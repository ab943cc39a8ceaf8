/*  followup: the rules of a lead's follow-ups (no database, no call): a due time (an
    RFC 3339 date-time not in the past, or a quick pick: in_1_hour, tomorrow_9am,
    in_3_days, in_1_week, which PostgreSQL turns into a time on the tenant's clock), the
    method, the note, the assignee's length, what a PATCH may change and into what
    status, the list's filters and page; and the scheduler's timing rule. Whether an
    assignee is a member, and every state of the lead or the follow-up, are
    followup_store.c's questions; followup_methods.c holds the methods, scheduler.c the
    runner's job. Unit-tested in tests/unit/test_leads_followup.c and
    tests/unit/test_leads_followups.c (the scheduler's timing).
*/
#include "leads.h"
#include "json_pb.h"
#include "validate.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define NOTE_MAX_LEN 1000
#define ASSIGNEE_MAX_LEN 64

//  A due time being set: an RFC 3339 date-time not in the past (naming dueAt).
static void s_check_due(const char *value, crm_errors_t *errors) {
    int64_t micros;
    if (leads_time_parse(value, &micros) || strlen(value) <= 10)
        crm_errors_add(errors, "dueAt", "must be an RFC 3339 date-time");
    else if (micros < (int64_t)time(NULL) * 1000000)
        crm_errors_add(errors, "dueAt", "must not be in the past");
}

//  The due time of a create or a reschedule: dueAt or pick, one of them.
static void s_check_when(const Crm__Leads__FollowUp *f, crm_errors_t *errors) {
    bool picked = f->pick != CRM__LEADS__FOLLOW_UP_PICK__FOLLOW_UP_PICK_UNSPECIFIED;
    if (f->due_at[0] && picked)
        crm_errors_add(errors, "pick", "give dueAt or pick, not both");
    else if (f->due_at[0])
        s_check_due(f->due_at, errors);
    else if (!picked)
        crm_errors_add(errors, "dueAt",
                       "is required (or pick: in_1_hour, tomorrow_9am, in_3_days, "
                       "in_1_week)");
}

static void s_check_note(const char *note, crm_errors_t *errors) {
    if (crm_utf8_chars(note) > NOTE_MAX_LEN)
        crm_errors_add(errors, "note", "must be at most %d characters", NOTE_MAX_LEN);
}

static void s_check_assignee(const char *assignee, crm_errors_t *errors) {
    if (crm_utf8_chars(assignee) > ASSIGNEE_MAX_LEN)
        crm_errors_add(errors, "assigneeId", "must be at most %d characters", ASSIGNEE_MAX_LEN);
}

int leads_followup_check_new(const Crm__Leads__FollowUp *f, crm_errors_t *errors) {
    size_t before = errors->n;
    s_check_when(f, errors);
    s_check_note(f->note, errors);
    s_check_assignee(f->assignee_id, errors);
    if (f->status != CRM__LEADS__FOLLOW_UP_STATUS__FOLLOW_UP_STATUS_UNSPECIFIED &&
        f->status != CRM__LEADS__FOLLOW_UP_STATUS__FOLLOW_UP_STATUS_PENDING)
        crm_errors_add(errors, "status", "a follow-up starts pending");
    return errors->n > before ? -1 : 0;
}

//  What a PATCH may change (proto names); the rest is read-only.
static const char *const s_changeable[] = {"due_at", "pick",   "method",
                                           "note",   "status", "assignee_id"};

static bool s_changeable_field(const char *name) {
    for (size_t i = 0; i < sizeof s_changeable / sizeof s_changeable[0]; i++)
        if (strcmp(s_changeable[i], name) == 0)
            return true;
    return false;
}

int leads_followup_update_check(const Crm__Leads__UpdateFollowUpRequest *req,
                                leads_followup_change_t *set, crm_errors_t *errors) {
    static const Crm__Leads__FollowUp empty = CRM__LEADS__FOLLOW_UP__INIT;
    const Crm__Leads__FollowUp *f = req->follow_up ? req->follow_up : &empty;
    size_t before = errors->n;
    memset(set, 0, sizeof *set);
    set->follow_up = f;
    set->status = "";
    for (size_t i = 0; i < req->n_update_mask; i++) {
        const ProtobufCFieldDescriptor *fd =
            crm_pb_field_by_name(&crm__leads__follow_up__descriptor, req->update_mask[i]);
        if (!fd) {
            crm_errors_add(errors, req->update_mask[i], "is not a field of a follow-up");
            continue;
        }
        if (!s_changeable_field(fd->name)) {
            crm_errors_add(errors, req->update_mask[i],
                           "cannot be changed (dueAt or pick, method, note, status, "
                           "assigneeId can)");
            continue;
        }
        set->when |= strcmp(fd->name, "due_at") == 0 || strcmp(fd->name, "pick") == 0;
        set->method |= strcmp(fd->name, "method") == 0;
        set->note |= strcmp(fd->name, "note") == 0;
        set->assignee |= strcmp(fd->name, "assignee_id") == 0;
        set->closing |= strcmp(fd->name, "status") == 0;
    }
    if (set->when)
        s_check_when(f, errors);
    if (set->method && f->method == CRM__LEADS__FOLLOW_UP_METHOD__FOLLOW_UP_METHOD_UNSPECIFIED)
        crm_errors_add(errors, "method",
                       "is required: call, email, sms, whatsapp, in_person, video_call "
                       "or other");
    if (set->note)
        s_check_note(f->note, errors);
    if (set->assignee)
        s_check_assignee(f->assignee_id, errors);
    if (set->closing) {
        if (f->status == CRM__LEADS__FOLLOW_UP_STATUS__FOLLOW_UP_STATUS_COMPLETED)
            set->status = "completed";
        else if (f->status == CRM__LEADS__FOLLOW_UP_STATUS__FOLLOW_UP_STATUS_CANCELLED)
            set->status = "cancelled";
        else
            crm_errors_add(errors, "status",
                           "may be set to completed or cancelled (a pending follow-up "
                           "is rescheduled with dueAt or pick)");
        if (set->status[0] && set->when)
            crm_errors_add(errors, "status", "reschedule or close a follow-up, not both");
    }
    return errors->n > before ? -1 : 0;
}

int leads_followup_list_check(const Crm__Leads__ListFollowUpsRequest *req,
                              leads_followup_list_t *out, crm_errors_t *errors) {
    size_t before = errors->n;
    memset(out, 0, sizeof *out);
    s_check_assignee(req->assignee_id, errors);
    crm_enum_api_name(&crm__leads__follow_up_status__descriptor, req->status, out->status,
                      sizeof out->status);
    if (req->due_before[0]) {
        int64_t micros;
        if (leads_time_parse(req->due_before, &micros))
            crm_errors_add(errors, "dueBefore", "must be a date (YYYY-MM-DD) or an RFC 3339 time");
        else // as UTC text for the statement
            leads_utc_text(micros, out->due_before);
    }
    out->limit = (int)req->limit;
    if (req->limit == 0)
        out->limit = CRM_PAGE_DEFAULT_LIMIT;
    else if (req->limit > CRM_PAGE_MAX_LIMIT) {
        crm_errors_add(errors, "limit", "must be at most %d", CRM_PAGE_MAX_LIMIT);
        out->limit = CRM_PAGE_MAX_LIMIT;
    }
    if (req->cursor[0] &&
        (leads_cursor_decode(req->cursor, 'd', &out->cursor) || !out->cursor.value[0]))
        crm_errors_add(errors, "cursor", "is not a cursor of this list");
    return errors->n > before ? -1 : 0;
}

// --- the scheduler's timing ----------------------------------------------------------------

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
