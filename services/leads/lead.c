/*  lead: the rules of a lead (no database, no bus, no call): its own fields, a move
    between stages and what closing it as won or lost needs, the list's filters, times
    and cursors. A request message in, field errors (crm_errors_t) or the message
    normalised out. The checks that need the database (the contact is live, the stage
    exists, the assignee is a member) are store queries the methods call (lead_store.c,
    stage_store.c, member_store.c). Unit-tested in tests/unit/test_leads_rules.c and
    tests/unit/test_leads_lead.c. */
#include "leads.h"
#include "ids.h"
#include "json_pb.h"
#include "validate.h"
#include "vehicle.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

leads_move_t leads_move_check(const char *from_key, const char *from_outcome, const char *to_key,
                              const char *to_outcome) {
    if (strcmp(from_key, to_key) == 0)
        return LEADS_MOVE_SAME;
    bool from_closed = strcmp(from_outcome, "open") != 0;
    bool to_closed = strcmp(to_outcome, "open") != 0;
    if (from_closed && to_closed)
        return LEADS_MOVE_CLOSED;
    if (from_closed)
        return LEADS_MOVE_REOPEN;
    return LEADS_MOVE_OK;
}

bool leads_role_may_reopen(const char *role) {
    return role && (strcmp(role, "manager") == 0 || strcmp(role, "admin") == 0);
}

//  Digits of text[from, from + n) as a number, or -1.
static long s_digits(const char *text, size_t from, size_t n) {
    long v = 0;
    for (size_t i = from; i < from + n; i++) {
        if (!isdigit((unsigned char)text[i]))
            return -1;
        v = v * 10 + (text[i] - '0');
    }
    return v;
}

int leads_time_parse(const char *text, int64_t *micros) {
    if (!text || !crm_timestamp_valid(text))
        return -1;
    int year, month, day;
    char date[11];
    memcpy(date, text, 10);
    date[10] = 0;
    if (!crm_date_parse(date, &year, &month, &day))
        return -1;
    long hour = 0, minute = 0, second = 0, fraction = 0, offset = 0;
    size_t len = strlen(text);
    if (len > 10) {
        //  YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), as crm_timestamp_valid checked.
        hour = s_digits(text, 11, 2);
        minute = s_digits(text, 14, 2);
        second = s_digits(text, 17, 2);
        size_t i = 19;
        if (text[i] == '.') {
            int places = 0;
            for (i++; isdigit((unsigned char)text[i]); i++)
                if (places < 6) {
                    fraction = fraction * 10 + (text[i] - '0');
                    places++;
                }
            for (; places < 6; places++)
                fraction *= 10;
        }
        if (text[i] == '+' || text[i] == '-') {
            long oh = s_digits(text, i + 1, 2), om = s_digits(text, i + 4, 2);
            if (oh < 0 || om < 0)
                return -1;
            offset = (oh * 60 + om) * 60 * (text[i] == '-' ? -1 : 1);
        }
        if (hour < 0 || minute < 0 || second < 0)
            return -1;
    }
    struct tm tm = {.tm_year = year - 1900,
                    .tm_mon = month - 1,
                    .tm_mday = day,
                    .tm_hour = (int)hour,
                    .tm_min = (int)minute,
                    .tm_sec = (int)second};
    int64_t seconds = (int64_t)timegm(&tm) - offset;
    *micros = seconds * 1000000 + fraction;
    return 0;
}

char *leads_cursor_encode(char sort, const char *value, const char *id) {
    return crm_cursor_encode(sort, value, id);
}

int leads_cursor_decode(const char *text, char sort, leads_cursor_t *out) {
    if (crm_cursor_decode(text, sort, out))
        return -1;
    if (sort == 'c' && out->value[0])
        return -1; // created order carries no value
    if (sort == 'a' && !out->value[0])
        return -1; // every lead has a last activity
    if (sort == 's') { // a score, 0 to 100
        char *end = NULL;
        long score = out->value[0] ? strtol(out->value, &end, 10) : -1;
        if (score < 0 || score > 100 || *end)
            return -1;
    }
    return 0;
}

// --- a lead's fields -------------------------------------------------------------------

#define ASSIGNEE_MAX_LEN 64
#define NOTE_MAX_LEN 1000
#define REGION_MAX_LEN 60
#define CUSTOM_FIELDS_MAX 50
#define CUSTOM_KEY_MAX_LEN 64
#define CUSTOM_VALUE_MAX_LEN 1000

static void s_check_text(crm_errors_t *errors, const char *field, const char *value, size_t max) {
    if (crm_utf8_chars(value) > max)
        crm_errors_add(errors, field, "must be at most %zu characters", max);
}

void leads_vehicle_check(Crm__Leads__VehicleInterest *v, const char *prefix, crm_errors_t *errors) {
    char field[96], rule[64];
    const struct {
        const char *name;
        const char *problem;
    } checks[] = {{"year", crm_vehicle_year_check(v->year, rule, sizeof rule)},
                  {"make", crm_vehicle_text_check(v->make)},
                  {"model", crm_vehicle_text_check(v->model)},
                  {"trim", crm_vehicle_text_check(v->trim)},
                  {"stockNumber", crm_vehicle_text_check(v->stock_number)},
                  {"vin", crm_vehicle_vin_normalize(v->vin)}};
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
        if (checks[i].problem) {
            snprintf(field, sizeof field, "%s.%s", prefix, checks[i].name);
            crm_errors_add(errors, field, "%s", checks[i].problem);
        }
}

//  A follow-up time: readable, and (when it is being set) not in the past.
static void s_check_follow_up(crm_errors_t *errors, const char *value, bool setting) {
    int64_t micros;
    if (!value[0])
        return;
    if (leads_time_parse(value, &micros)) {
        crm_errors_add(errors, "followUpAt", "must be an RFC 3339 date-time");
        return;
    }
    if (setting && micros < (int64_t)time(NULL) * 1000000)
        crm_errors_add(errors, "followUpAt", "must not be in the past");
}

int leads_lead_check(Crm__Leads__Lead *lead, bool setting_follow_up, crm_errors_t *errors) {
    size_t before = errors->n;
    if (!crm_uuid_valid(lead->contact_id))
        crm_errors_add(errors, "contactId", "%s",
                       lead->contact_id[0] ? "is not a valid contact id" : "is required");
    if (lead->vehicle)
        leads_vehicle_check(lead->vehicle, "vehicle", errors);
    if (lead->budget_min_cents < 0)
        crm_errors_add(errors, "budgetMinCents", "must not be negative");
    if (lead->budget_max_cents < 0)
        crm_errors_add(errors, "budgetMaxCents", "must not be negative");
    else if (lead->budget_max_cents > 0 && lead->budget_min_cents > lead->budget_max_cents)
        crm_errors_add(errors, "budgetMaxCents", "must not be less than budgetMinCents");
    if (lead->source == CRM__LEADS__LEAD_SOURCE__LEAD_SOURCE_UNSPECIFIED)
        crm_errors_add(errors, "source",
                       "is required: chat, phone, walk_in, referral, web_form, import or "
                       "third_party");
    if (lead->priority == CRM__LEADS__PRIORITY__PRIORITY_UNSPECIFIED)
        lead->priority = CRM__LEADS__PRIORITY__PRIORITY_COLD;
    s_check_text(errors, "assigneeId", lead->assignee_id, ASSIGNEE_MAX_LEN);
    s_check_follow_up(errors, lead->follow_up_at, setting_follow_up);
    //  The lead's territory, for territory rules (assignment.c).
    if (lead->postcode[0]) {
        char postcode[16];
        if (leads_postcode_normalize(lead->postcode, postcode, sizeof postcode) != 0)
            crm_errors_add(errors, "postcode", "must be 1 to 12 letters and digits");
        else
            crm_pb_string_set(&lead->postcode, postcode);
    }
    crm_text_trim(lead->region);
    s_check_text(errors, "region", lead->region, REGION_MAX_LEN);
    if (lead->n_custom_fields > CUSTOM_FIELDS_MAX)
        crm_errors_add(errors, "customFields", "may hold at most %d fields", CUSTOM_FIELDS_MAX);
    for (size_t i = 0; i < lead->n_custom_fields && i < CUSTOM_FIELDS_MAX; i++) {
        const char *key = lead->custom_fields[i]->key;
        char field[128];
        snprintf(field, sizeof field, "customFields.%.64s", key);
        bool ok = key[0] && strlen(key) <= CUSTOM_KEY_MAX_LEN;
        for (const char *p = key; ok && *p; p++)
            ok = isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.';
        if (!ok)
            crm_errors_add(errors, field, "keys are 1 to %d of A-Z a-z 0-9 _ - .",
                           CUSTOM_KEY_MAX_LEN);
        s_check_text(errors, field, lead->custom_fields[i]->value, CUSTOM_VALUE_MAX_LEN);
    }
    return errors->n > before ? -1 : 0;
}

int leads_lead_check_new(Crm__Leads__Lead *lead, crm_errors_t *errors) {
    int rc = leads_lead_check(lead, true, errors);
    if (lead->status[0] && !leads_stage_key_valid(lead->status)) {
        crm_errors_add(errors, "status", "is not a stage of the pipeline");
        rc = -1;
    }
    return rc;
}

void leads_lead_clear_read_only(Crm__Leads__Lead *lead) {
    lead->score = 0;
    lead->band = CRM__LEADS__PRIORITY__PRIORITY_UNSPECIFIED;
    lead->priority_manual = false;
    crm_pb_string_set(&lead->closed_at, "");
    if (lead->won)
        crm__leads__won_details__free_unpacked(lead->won, NULL);
    lead->won = NULL;
    if (lead->lost)
        crm__leads__lost_details__free_unpacked(lead->lost, NULL);
    lead->lost = NULL;
    for (size_t i = 0; i < lead->n_history; i++)
        crm__leads__stage_change__free_unpacked(lead->history[i], NULL);
    free(lead->history);
    lead->history = NULL;
    lead->n_history = 0;
}

const leads_read_only_t leads_lead_read_only[] = {
    {"status", "is changed with POST /v1/leads/{id}/status"},
    {"contact_id", "cannot be changed: create a lead for the other contact"},
    {"id", "cannot be changed"},
    {"score", "is kept by the scoring service"},
    {"band", "is kept by the scoring service (GET /v1/leads/{id}/score explains it)"},
    {"priority_manual", "is set by setting priority, and cleared by {\"priority\": null}"},
    {"created_at", "cannot be changed"},
    {"updated_at", "cannot be changed"},
    {"last_activity_at", "cannot be changed"},
    {"created_by", "cannot be changed"},
    {"closed_at", "is set by moving the lead"},
    {"won", "is set by moving the lead into a won stage"},
    {"lost", "is set by moving the lead into a lost stage"},
    {"history", "cannot be changed"},
    {"overdue", "is computed from followUpAt"},
    {"missed_response_target", "is computed from the lead's stage and activity"},
};
const size_t leads_lead_n_read_only = sizeof leads_lead_read_only / sizeof *leads_lead_read_only;

void leads_lead_priority_set(Crm__Leads__Lead *lead, bool names_priority) {
    if (!names_priority)
        return;
    lead->priority_manual = lead->priority != CRM__LEADS__PRIORITY__PRIORITY_UNSPECIFIED;
    if (!lead->priority_manual) // cleared: the band's again
        lead->priority = lead->band != CRM__LEADS__PRIORITY__PRIORITY_UNSPECIFIED
                             ? lead->band
                             : CRM__LEADS__PRIORITY__PRIORITY_COLD;
}

// --- a move between stages -------------------------------------------------------------

int leads_move_request_check(const Crm__Leads__ChangeLeadStatusRequest *req, crm_errors_t *errors) {
    size_t before = errors->n;
    if (!req->status[0])
        crm_errors_add(errors, "status", "is required: the key of a stage");
    else if (!leads_stage_key_valid(req->status))
        crm_errors_add(errors, "status", "is not a stage of the pipeline");
    s_check_text(errors, "note", req->note, NOTE_MAX_LEN);
    return errors->n > before ? -1 : 0;
}

//  What closing as won needs: the vehicle sold (make, model), a final price above 0 and
//  the financing.
static void s_check_won(Crm__Leads__WonDetails *won, crm_errors_t *errors) {
    const char *missing = "is required to close a lead as won";
    if (!won) {
        crm_errors_add(errors, "won.vehicleSold", "%s", missing);
        crm_errors_add(errors, "won.finalPriceCents", "%s", missing);
        crm_errors_add(errors, "won.financing", "%s: cash, finance or lease", missing);
        return;
    }
    if (!won->vehicle_sold)
        crm_errors_add(errors, "won.vehicleSold", "%s", missing);
    else {
        if (crm_text_blank(won->vehicle_sold->make))
            crm_errors_add(errors, "won.vehicleSold.make", "%s", missing);
        if (crm_text_blank(won->vehicle_sold->model))
            crm_errors_add(errors, "won.vehicleSold.model", "%s", missing);
        leads_vehicle_check(won->vehicle_sold, "won.vehicleSold", errors);
    }
    if (won->final_price_cents < 0)
        crm_errors_add(errors, "won.finalPriceCents", "must not be negative");
    else if (won->final_price_cents == 0)
        crm_errors_add(errors, "won.finalPriceCents", "%s (more than 0)", missing);
    if (won->financing == CRM__LEADS__FINANCING__FINANCING_UNSPECIFIED)
        crm_errors_add(errors, "won.financing", "%s: cash, finance or lease", missing);
    if (won->trade_in)
        leads_vehicle_check(won->trade_in, "won.tradeIn", errors);
    if (won->trade_in_value_cents < 0)
        crm_errors_add(errors, "won.tradeInValueCents", "must not be negative");
    if (won->delivery_date[0] && !crm_date_parse(won->delivery_date, NULL, NULL, NULL))
        crm_errors_add(errors, "won.deliveryDate", "must be a date YYYY-MM-DD");
}

static void s_check_lost(const Crm__Leads__LostDetails *lost, crm_errors_t *errors) {
    if (!lost || lost->reason == CRM__LEADS__LOST_REASON__LOST_REASON_UNSPECIFIED)
        crm_errors_add(errors, "lost.reason",
                       "is required to close a lead as lost: purchased_elsewhere, "
                       "price_too_high, wrong_vehicle_type, bad_credit, "
                       "no_longer_interested or other");
    else
        s_check_text(errors, "lost.reasonText", lost->reason_text, NOTE_MAX_LEN);
    //  A long-term follow-up: a date or a time, not in the past (the statement that
    //  schedules it checks the exact instant on the tenant's clock).
    int64_t micros;
    if (lost && lost->follow_up_at[0]) {
        if (leads_time_parse(lost->follow_up_at, &micros))
            crm_errors_add(errors, "lost.followUpAt",
                           "must be a date (YYYY-MM-DD) or an RFC 3339 time");
        else if (micros < ((int64_t)time(NULL) - 86400) * 1000000)
            crm_errors_add(errors, "lost.followUpAt", "must be in the future");
    }
}

int leads_close_check(const char *to_outcome, Crm__Leads__WonDetails *won,
                      const Crm__Leads__LostDetails *lost, crm_errors_t *errors) {
    size_t before = errors->n;
    if (strcmp(to_outcome, "won") == 0)
        s_check_won(won, errors);
    else if (won)
        crm_errors_add(errors, "won", "is only for a move into a won stage");
    if (strcmp(to_outcome, "lost") == 0)
        s_check_lost(lost, errors);
    else if (lost)
        crm_errors_add(errors, "lost", "is only for a move into a lost stage");
    return errors->n > before ? -1 : 0;
}

// --- the list --------------------------------------------------------------------------

//  A time filter as UTC text for the statement ("" when not given), or an error naming it.
static void s_time_filter(crm_errors_t *errors, const char *field, const char *value,
                          char out[64]) {
    int64_t micros;
    out[0] = 0;
    if (!value[0])
        return;
    if (leads_time_parse(value, &micros)) {
        crm_errors_add(errors, field, "must be a date (YYYY-MM-DD) or an RFC 3339 time");
        return;
    }
    time_t seconds = (time_t)(micros / 1000000);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 64, "%s.%06dZ", date, (int)(micros % 1000000));
}

int leads_list_check(const Crm__Leads__ListLeadsRequest *req, leads_list_t *out,
                     crm_errors_t *errors) {
    size_t before = errors->n;
    if (req->status[0] && !leads_stage_key_valid(req->status))
        crm_errors_add(errors, "status", "is not a stage of the pipeline");
    if (req->contact_id[0] && !crm_uuid_valid(req->contact_id))
        crm_errors_add(errors, "contactId", "is not a valid contact id");
    s_check_text(errors, "assigneeId", req->assignee_id, ASSIGNEE_MAX_LEN);
    s_time_filter(errors, "createdFrom", req->created_from, out->created_from);
    s_time_filter(errors, "createdTo", req->created_to, out->created_to);
    out->limit = (int)req->limit;
    if (req->limit == 0)
        out->limit = CRM_PAGE_DEFAULT_LIMIT;
    else if (req->limit > CRM_PAGE_MAX_LIMIT) {
        crm_errors_add(errors, "limit", "must be at most %d", CRM_PAGE_MAX_LIMIT);
        out->limit = CRM_PAGE_MAX_LIMIT;
    }
    if (req->min_score > 100)
        crm_errors_add(errors, "minScore", "must be from 0 to 100");
    out->sort = req->sort == CRM__LEADS__LEAD_SORT__LEAD_SORT_LAST_ACTIVITY ? 'a'
                : req->sort == CRM__LEADS__LEAD_SORT__LEAD_SORT_FOLLOW_UP   ? 'f'
                : req->sort == CRM__LEADS__LEAD_SORT__LEAD_SORT_SCORE       ? 's'
                                                                            : 'c';
    memset(&out->cursor, 0, sizeof out->cursor);
    if (req->cursor[0] && leads_cursor_decode(req->cursor, out->sort, &out->cursor))
        crm_errors_add(errors, "cursor", "is not a cursor of this list (and sort)");
    return errors->n > before ? -1 : 0;
}
