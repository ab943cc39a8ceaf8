/*  handlers: the leads service's methods on leads. Each checks its request completely
    before it writes anything, then calls the store; a lead's contact is checked with
    the contacts service over the bus. */
#include "leads.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"
#include "replay.h"
#include "validate.h"
#include "vehicle.h"

#include "contacts.pb-c.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ASSIGNEE_MAX_LEN 64
#define NOTE_MAX_LEN 1000
#define CUSTOM_FIELDS_MAX 50
#define CUSTOM_KEY_MAX_LEN 64
#define CUSTOM_VALUE_MAX_LEN 1000

// --- checks --------------------------------------------------------------------------

static void s_check_text(crm_call_t *call, const char *field, const char *value, size_t max) {
    if (crm_utf8_chars(value) > max)
        crm_call_field_error(call, field, "must be at most %zu characters", max);
}

//  A vehicle (of interest, sold or traded in) by the shared vehicle rules, its VIN
//  upper-cased in place.
static void s_check_vehicle(crm_call_t *call, Crm__Leads__VehicleInterest *v, const char *prefix) {
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
            crm_call_field_error(call, field, "%s", checks[i].problem);
        }
}

//  A follow-up time: readable, and (when it is being set) not in the past.
static void s_check_follow_up(crm_call_t *call, const char *value, bool setting) {
    int64_t micros;
    if (!value[0])
        return;
    if (leads_time_parse(value, &micros)) {
        crm_call_field_error(call, "followUpAt", "must be an RFC 3339 date-time");
        return;
    }
    if (setting && micros < (int64_t)time(NULL) * 1000000)
        crm_call_field_error(call, "followUpAt", "must not be in the past");
}

//  The lead's own fields (not its contact, not its stage): 0, or 422 with the field
//  errors. Defaults are filled (priority cold), the VIN is upper-cased.
static int s_check_lead(crm_call_t *call, Crm__Leads__Lead *lead, bool setting_follow_up) {
    if (!crm_uuid_valid(lead->contact_id))
        crm_call_field_error(call, "contactId",
                             lead->contact_id[0] ? "is not a valid contact id" : "is required");
    if (lead->vehicle)
        s_check_vehicle(call, lead->vehicle, "vehicle");
    if (lead->budget_min_cents < 0)
        crm_call_field_error(call, "budgetMinCents", "must not be negative");
    if (lead->budget_max_cents < 0)
        crm_call_field_error(call, "budgetMaxCents", "must not be negative");
    else if (lead->budget_max_cents > 0 && lead->budget_min_cents > lead->budget_max_cents)
        crm_call_field_error(call, "budgetMaxCents", "must not be less than budgetMinCents");
    if (lead->source == CRM__LEADS__LEAD_SOURCE__LEAD_SOURCE_UNSPECIFIED)
        crm_call_field_error(call, "source",
                             "is required: chat, phone, walk_in, referral, web_form, import or "
                             "third_party");
    if (lead->priority == CRM__LEADS__PRIORITY__PRIORITY_UNSPECIFIED)
        lead->priority = CRM__LEADS__PRIORITY__PRIORITY_COLD;
    s_check_text(call, "assigneeId", lead->assignee_id, ASSIGNEE_MAX_LEN);
    s_check_follow_up(call, lead->follow_up_at, setting_follow_up);
    // --- team: the lead's territory, for territory rules
    if (lead->postcode[0]) {
        char postcode[16];
        if (leads_postcode_normalize(lead->postcode, postcode, sizeof postcode) != 0)
            crm_call_field_error(call, "postcode", "must be 1 to 12 letters and digits");
        else
            crm_pb_string_set(&lead->postcode, postcode);
    }
    crm_text_trim(lead->region);
    s_check_text(call, "region", lead->region, 60);
    if (lead->n_custom_fields > CUSTOM_FIELDS_MAX)
        crm_call_field_error(call, "customFields", "may hold at most %d fields",
                             CUSTOM_FIELDS_MAX);
    for (size_t i = 0; i < lead->n_custom_fields && i < CUSTOM_FIELDS_MAX; i++) {
        const char *key = lead->custom_fields[i]->key;
        char field[128];
        snprintf(field, sizeof field, "customFields.%.64s", key);
        bool ok = key[0] && strlen(key) <= CUSTOM_KEY_MAX_LEN;
        for (const char *p = key; ok && *p; p++)
            ok = isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.';
        if (!ok)
            crm_call_field_error(call, field,
                                 "keys are 1 to %d of A-Z a-z 0-9 _ - .", CUSTOM_KEY_MAX_LEN);
        s_check_text(call, field, lead->custom_fields[i]->value, CUSTOM_VALUE_MAX_LEN);
    }
    return call->errors.n ? 422 : 0;
}

static bool s_check_id(crm_call_t *call, const char *id) {
    if (crm_uuid_valid(id))
        return true;
    crm_call_error(call, "not_found", "no such lead (not a valid lead id)");
    return false;
}

static const crm_stmt_t s_contact_known = {
    .name = "leads_contact_known",
    .sql = "SELECT deleted FROM contact_ids WHERE tenant_id = $1 AND contact_id = $2::uuid",
    .nparams = 2};

//  Is contact_id a live contact of the caller's tenant? Known from the contacts
//  service's events (contact_ids, lifecycle.c) when they have been applied; else the
//  contacts service is asked (its "Get", with the caller's header, so it answers only
//  for the caller's tenant) and its yes noted. 0; 422 naming contactId; 503 when the
//  contacts service does not answer.
static int s_check_contact(crm_call_t *call, const char *contact_id) {
    const char *key[] = {call->header->tenant_id, contact_id};
    PGresult *known = crm_db_query(call->db, &s_contact_known, key);
    if (!known)
        return crm_call_db_failure(call);
    int rows = PQntuples(known);
    bool deleted = rows == 1 && strcmp(PQgetvalue(known, 0, 0), "t") == 0;
    PQclear(known);
    if (rows == 1 && !deleted)
        return 0;
    if (deleted) {
        crm_call_field_error(call, "contactId", "is not a contact of this dealership");
        return 422;
    }
    leads_t *self = call->arg;
    int timeout = self->cfg->leads_contacts_timeout_ms;
    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.method = "Get";
    header.tenant_id = call->header->tenant_id;
    header.actor_id = call->header->actor_id;
    header.role = call->header->role;
    header.request_id = call->header->request_id;
    header.deadline_ms = (uint32_t)timeout;
    Crm__Contacts__GetContactRequest get = CRM__CONTACTS__GET_CONTACT_REQUEST__INIT;
    get.id = (char *)contact_id;
    zmsg_t *body = crm_bus_request_new(&header, &get.base);
    zmsg_t *reply = crm_bus_client_request(self->contacts, "contacts", &body, timeout + 500);
    Crm__ReplyHeader *rh = reply ? crm_bus_reply_parse(&reply, NULL, NULL) : NULL;
    int code = rh ? (int)rh->code : 0;
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    if (code == 200)
        return leads_contact_ids_note(call->db, call->header->tenant_id, key + 1, 1, false)
                   ? crm_call_db_failure(call)
                   : 0;
    if (code == 404) {
        crm_call_field_error(call, "contactId", "is not a contact of this dealership");
        return 422;
    }
    crm_log_kv(CRM_LOG_WARN, "contacts service did not confirm a contact", "code",
               code ? (code == 503 ? "503" : code == 504 ? "504" : "other") : "no answer",
               "request_id", call->header->request_id, NULL);
    crm_call_error(call, "unavailable",
                   "the contacts service is unavailable, so the contact cannot be checked; "
                   "retry later");
    return 503;
}

// --- create, read, change, delete ----------------------------------------------------

//  Free a message field and leave it unset.
#define S_CLEAR_MESSAGE(field, free_fn)                                                        \
    do {                                                                                      \
        if (field)                                                                            \
            free_fn(field, NULL);                                                             \
        field = NULL;                                                                         \
    } while (0)

int leads_lead_create(crm_call_t *call, Crm__Leads__Lead *lead, bool contact_checked) {
    //  Read-only fields are the service's to set; an id is kept only from the service's
    //  own callers (the API's create clears it).
    if (!lead->id[0]) {
        char id[CRM_UUID_LEN + 1];
        crm_uuid_v7(id);
        crm_pb_string_set(&lead->id, id);
    }
    lead->score = 0;
    crm_pb_string_set(&lead->closed_at, "");
    S_CLEAR_MESSAGE(lead->won, crm__leads__won_details__free_unpacked);
    S_CLEAR_MESSAGE(lead->lost, crm__leads__lost_details__free_unpacked);
    for (size_t i = 0; i < lead->n_history; i++)
        crm__leads__stage_change__free_unpacked(lead->history[i], NULL);
    free(lead->history);
    lead->history = NULL;
    lead->n_history = 0;

    int code = leads_lead_check(call, lead);
    if (code == 0 && !contact_checked)
        code = s_check_contact(call, lead->contact_id);
    if (code == 0)
        code = leads_pipeline_ensure(call);
    if (code == 0 && lead->status[0]) {
        char outcome[8];
        code = leads_stage_lookup(call, lead->status, outcome, NULL);
        if (code == 404)
            crm_call_field_error(call, "status", "is not a stage of the pipeline");
        else if (code == 200 && strcmp(outcome, "open") != 0)
            crm_call_field_error(call, "status",
                                 "a lead starts in an open stage (it is closed by moving it)");
        code = call->errors.n ? 422 : code == 200 ? 0 : code;
    } else if (code == 0) {
        char key[64];
        code = leads_stage_first_open(call, key);
        if (code == 200) {
            crm_pb_string_set(&lead->status, key);
            code = 0;
        }
    }
    // --- team: a given assignee must be an active member; else the rules may choose one
    char rule_id[40] = "manual";
    if (code == 0 && lead->assignee_id[0])
        code = leads_team_check_assignee(call, lead->assignee_id, "assigneeId");
    else if (code == 0)
        code = leads_assign_auto(call, lead, rule_id);
    if (code == 0) {
        leads_row_t row;
        leads_row_render(lead, &row);
        code = leads_store_insert(call, &row, lead);
        leads_row_reset(&row);
    }
    if (code == 201 && lead->assignee_id[0]) {
        int recorded = leads_assign_record(call, lead->id, "", lead->assignee_id, rule_id, "");
        code = recorded ? recorded : 201;
    }
    if (code == 201 && lead->follow_up_at[0]) {
        int failed = leads_followups_on_create(call, lead);
        code = failed ? failed : code;
    }
    return code;
}

int leads_lead_check(crm_call_t *call, Crm__Leads__Lead *lead) {
    int code = s_check_lead(call, lead, true);
    if (lead->status[0] && !leads_stage_key_valid(lead->status)) {
        crm_call_field_error(call, "status", "is not a stage of the pipeline");
        code = 422;
    }
    return code;
}

static int s_create(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response) {
    const Crm__Leads__CreateLeadRequest *req = (const void *)request;
    if (!req->lead) {
        crm_call_field_error(call, "lead", "is required");
        return 422;
    }
    //  Work on a copy: checks normalise fields in place.
    Crm__Leads__Lead *lead = (Crm__Leads__Lead *)crm_pb_copy(&req->lead->base);
    crm_pb_string_set(&lead->id, "");
    int code = leads_lead_create(call, lead, false);
    if (code == 201)
        *response = &lead->base;
    else
        crm__leads__lead__free_unpacked(lead, NULL);
    return code;
}

static int s_get(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response) {
    const Crm__Leads__GetLeadRequest *req = (const void *)request;
    if (!s_check_id(call, req->id))
        return 404;
    return leads_store_get(call, req->id, false, true, (Crm__Leads__Lead **)response);
}

//  Fields a PATCH cannot set (proto names), and why.
static const leads_read_only_t s_read_only[] = {
    {"status", "is changed with POST /v1/leads/{id}/status"},
    {"contact_id", "cannot be changed: create a lead for the other contact"},
    {"id", "cannot be changed"},
    {"score", "is kept by the scoring service"},
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

static int s_update(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response) {
    const Crm__Leads__UpdateLeadRequest *req = (const void *)request;
    if (!s_check_id(call, req->id))
        return 404;
    char **changed = leads_patch_names(call, &crm__leads__lead__descriptor, req->lead != NULL,
                                       req->update_mask, req->n_update_mask, "a lead",
                                       s_read_only, sizeof s_read_only / sizeof *s_read_only);
    bool setting_follow_up = leads_patch_names_has(changed, req->n_update_mask, "followUpAt");
    Crm__Leads__Lead *stored = NULL, *lead = NULL;
    int code = call->errors.n ? 422 : leads_store_get(call, req->id, true, false, &stored);
    if (code == 200) {
        //  The stored lead with the masked fields taken from the request (a field the
        //  request leaves out goes back to its default), read back as a Lead.
        json_t *merged = crm_pb_to_json_value(&stored->base);
        leads_patch_apply(merged, req->lead ? &req->lead->base : NULL, changed,
                          req->n_update_mask);
        crm_json_error_t err;
        lead = (Crm__Leads__Lead *)crm_json_value_to_pb(&crm__leads__lead__descriptor, merged, "",
                                                        &err);
        json_decref(merged);
        if (!lead) {
            crm_call_field_error(call, err.field, "%s", err.message);
            code = 422;
        } else
            code = s_check_lead(call, lead, setting_follow_up);
    }
    // --- team: a new assignee must be an active member; the change is an assignment
    bool reassigned = code == 0 && strcmp(lead->assignee_id, stored->assignee_id) != 0;
    if (reassigned && lead->assignee_id[0])
        code = leads_team_check_assignee(call, lead->assignee_id, "assigneeId");
    if (code == 0 && setting_follow_up)
        code = leads_followups_on_update(call, lead);
    if (code == 0) {
        leads_row_t row;
        leads_row_render(lead, &row);
        code = leads_store_update(call, &row, lead, (const char *const *)changed,
                                  req->n_update_mask);
        leads_row_reset(&row);
    }
    if (code == 200 && reassigned) {
        int recorded = leads_assign_record(call, lead->id, stored->assignee_id,
                                           lead->assignee_id, "manual", "");
        code = recorded ? recorded : 200;
    }
    leads_patch_names_free(changed, req->n_update_mask);
    if (stored)
        crm__leads__lead__free_unpacked(stored, NULL);
    if (code == 200)
        *response = &lead->base;
    else if (lead)
        crm__leads__lead__free_unpacked(lead, NULL);
    return code;
}

static int s_delete(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response) {
    (void)response;
    const Crm__Leads__DeleteLeadRequest *req = (const void *)request;
    if (!s_check_id(call, req->id))
        return 404;
    Crm__Leads__Lead *lead = NULL;
    int code = leads_store_get(call, req->id, true, false, &lead);
    if (code == 200)
        code = leads_store_delete(call, lead);
    if (code == 204) {
        int failed = leads_followups_cancel_pending(call, req->id, "lead_deleted");
        code = failed ? failed : code;
    }
    if (lead)
        crm__leads__lead__free_unpacked(lead, NULL);
    return code;
}

// --- moving between stages -------------------------------------------------------------

//  What closing as won needs: the vehicle sold (make, model), a final price above 0 and
//  the financing.
static void s_check_won(crm_call_t *call, Crm__Leads__WonDetails *won) {
    const char *missing = "is required to close a lead as won";
    if (!won) {
        crm_call_field_error(call, "won.vehicleSold", "%s", missing);
        crm_call_field_error(call, "won.finalPriceCents", "%s", missing);
        crm_call_field_error(call, "won.financing", "%s: cash, finance or lease", missing);
        return;
    }
    if (!won->vehicle_sold)
        crm_call_field_error(call, "won.vehicleSold", "%s", missing);
    else {
        if (crm_text_blank(won->vehicle_sold->make))
            crm_call_field_error(call, "won.vehicleSold.make", "%s", missing);
        if (crm_text_blank(won->vehicle_sold->model))
            crm_call_field_error(call, "won.vehicleSold.model", "%s", missing);
        s_check_vehicle(call, won->vehicle_sold, "won.vehicleSold");
    }
    if (won->final_price_cents < 0)
        crm_call_field_error(call, "won.finalPriceCents", "must not be negative");
    else if (won->final_price_cents == 0)
        crm_call_field_error(call, "won.finalPriceCents", "%s (more than 0)", missing);
    if (won->financing == CRM__LEADS__FINANCING__FINANCING_UNSPECIFIED)
        crm_call_field_error(call, "won.financing", "%s: cash, finance or lease", missing);
    if (won->trade_in)
        s_check_vehicle(call, won->trade_in, "won.tradeIn");
    if (won->trade_in_value_cents < 0)
        crm_call_field_error(call, "won.tradeInValueCents", "must not be negative");
    if (won->delivery_date[0] && !crm_date_parse(won->delivery_date, NULL, NULL, NULL))
        crm_call_field_error(call, "won.deliveryDate", "must be a date YYYY-MM-DD");
}

static void s_check_lost(crm_call_t *call, const Crm__Leads__LostDetails *lost) {
    if (!lost || lost->reason == CRM__LEADS__LOST_REASON__LOST_REASON_UNSPECIFIED)
        crm_call_field_error(call, "lost.reason",
                             "is required to close a lead as lost: purchased_elsewhere, "
                             "price_too_high, wrong_vehicle_type, bad_credit, "
                             "no_longer_interested or other");
    else
        s_check_text(call, "lost.reasonText", lost->reason_text, NOTE_MAX_LEN);
    //  A long-term follow-up: a date or a time, not in the past (the statement that
    //  schedules it checks the exact instant on the tenant's clock).
    int64_t micros;
    if (lost && lost->follow_up_at[0]) {
        if (leads_time_parse(lost->follow_up_at, &micros))
            crm_call_field_error(call, "lost.followUpAt",
                                 "must be a date (YYYY-MM-DD) or an RFC 3339 time");
        else if (micros < ((int64_t)time(NULL) - 86400) * 1000000)
            crm_call_field_error(call, "lost.followUpAt", "must be in the future");
    }
}

static int s_change_status(crm_call_t *call, const ProtobufCMessage *request,
                           ProtobufCMessage **response) {
    const Crm__Leads__ChangeLeadStatusRequest *req = (const void *)request;
    if (!s_check_id(call, req->id))
        return 404;
    if (!req->status[0])
        crm_call_field_error(call, "status", "is required: the key of a stage");
    else if (!leads_stage_key_valid(req->status))
        crm_call_field_error(call, "status", "is not a stage of the pipeline");
    s_check_text(call, "note", req->note, NOTE_MAX_LEN);
    if (call->errors.n)
        return 422;
    //  The details are checked on a copy (a VIN is upper-cased).
    Crm__Leads__WonDetails *won =
        req->won ? (Crm__Leads__WonDetails *)crm_pb_copy(&req->won->base) : NULL;
    Crm__Leads__Lead *lead = NULL;
    int code = leads_pipeline_ensure(call);
    if (code == 0)
        code = leads_store_get(call, req->id, true, false, &lead);
    char from_outcome[8] = "open", to_outcome[8] = "", to_name[128] = "";
    if (code == 200) {
        code = leads_stage_lookup(call, lead->status, from_outcome, NULL);
        if (code == 404) // the lead's stage is locked by the lead: cannot happen
            code = 200;
    }
    if (code == 200) {
        code = leads_stage_lookup(call, req->status, to_outcome, to_name);
        if (code == 404) {
            crm_call_field_error(call, "status", "is not a stage of the pipeline");
            code = 422;
        }
    }
    bool reopened = false;
    if (code == 200) {
        switch (leads_move_check(lead->status, from_outcome, req->status, to_outcome)) {
        case LEADS_MOVE_SAME:
            crm_call_field_error(call, "status", "the lead is already in stage %s", req->status);
            crm_call_error(call, "illegal_transition", "the lead is already in stage %s",
                           req->status);
            code = 422;
            break;
        case LEADS_MOVE_CLOSED:
            crm_call_field_error(call, "status",
                                 "a closed lead (stage %s) moves only back into an open stage",
                                 lead->status);
            crm_call_error(call, "illegal_transition",
                           "a %s lead cannot move to another closed stage; reopen it first",
                           from_outcome);
            code = 422;
            break;
        case LEADS_MOVE_REOPEN:
            reopened = true;
            if (!leads_role_may_reopen(call->header->role)) {
                crm_call_error(call, "forbidden",
                               "reopening a closed lead needs the manager or admin role");
                code = 403;
            }
            break;
        case LEADS_MOVE_OK:
            break;
        }
    }
    if (code == 200) {
        if (strcmp(to_outcome, "won") == 0)
            s_check_won(call, won);
        else if (req->won)
            crm_call_field_error(call, "won", "is only for a move into a won stage");
        if (strcmp(to_outcome, "lost") == 0)
            s_check_lost(call, req->lost);
        else if (req->lost)
            crm_call_field_error(call, "lost", "is only for a move into a lost stage");
        if (call->errors.n)
            code = 422;
    }
    if (code == 200) {
        leads_move_args_t move = {
            .lead = lead,
            .to_stage = req->status,
            .to_outcome = to_outcome,
            .reopened = reopened,
            .note = req->note,
            .won = strcmp(to_outcome, "won") == 0 ? won : NULL,
            .lost = strcmp(to_outcome, "lost") == 0 ? req->lost : NULL,
        };
        code = leads_store_move(call, &move);
    }
    if (code == 200 && strcmp(to_outcome, "open") != 0) {
        int failed = leads_followups_cancel_pending(call, req->id, "lead_closed");
        code = failed ? failed : code;
    }
    if (code == 200 && strcmp(to_outcome, "lost") == 0 && req->lost->follow_up_at[0]) {
        char note[160], reason[48];
        crm_enum_api_name(&crm__leads__lost_reason__descriptor, req->lost->reason, reason,
                          sizeof reason);
        snprintf(note, sizeof note, "Long-term follow-up of a lead lost (%s)", reason);
        int failed = leads_followups_long_term(call, req->id, req->lost->follow_up_at, note);
        code = failed ? failed : code;
    }
    if (code == 200 && strcmp(to_outcome, "open") != 0) {  // its follow-ups went or came
        int failed = leads_store_announce(call, req->id, "followUpAt", lead->follow_up_at);
        code = failed ? failed : code;
    }
    if (code == 200)
        code = leads_store_get(call, req->id, false, true, (Crm__Leads__Lead **)response);
    if (lead)
        crm__leads__lead__free_unpacked(lead, NULL);
    if (won)
        crm__leads__won_details__free_unpacked(won, NULL);
    return code;
}

// --- the list ----------------------------------------------------------------------------

//  A time filter as UTC text for the statement ("" when not given): 0, or 422 naming it.
static void s_time_filter(crm_call_t *call, const char *field, const char *value, char out[64]) {
    int64_t micros;
    out[0] = 0;
    if (!value[0])
        return;
    if (leads_time_parse(value, &micros)) {
        crm_call_field_error(call, field, "must be a date (YYYY-MM-DD) or an RFC 3339 time");
        return;
    }
    time_t seconds = (time_t)(micros / 1000000);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 64, "%s.%06dZ", date, (int)(micros % 1000000));
}

static int s_list(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response) {
    const Crm__Leads__ListLeadsRequest *in = (const void *)request;
    Crm__Leads__ListLeadsRequest req = *in;
    if (req.status[0] && !leads_stage_key_valid(req.status))
        crm_call_field_error(call, "status", "is not a stage of the pipeline");
    if (req.contact_id[0] && !crm_uuid_valid(req.contact_id))
        crm_call_field_error(call, "contactId", "is not a valid contact id");
    s_check_text(call, "assigneeId", req.assignee_id, ASSIGNEE_MAX_LEN);
    char from[64], to[64];
    s_time_filter(call, "createdFrom", req.created_from, from);
    s_time_filter(call, "createdTo", req.created_to, to);
    req.created_from = from;
    req.created_to = to;
    int limit =
        crm_page_limit(call, "limit", req.limit, CRM_PAGE_DEFAULT_LIMIT, CRM_PAGE_MAX_LIMIT);
    char sort = req.sort == CRM__LEADS__LEAD_SORT__LEAD_SORT_LAST_ACTIVITY ? 'a'
                : req.sort == CRM__LEADS__LEAD_SORT__LEAD_SORT_FOLLOW_UP   ? 'f'
                                                                           : 'c';
    leads_cursor_t cursor = {0};
    if (req.cursor[0] && leads_cursor_decode(req.cursor, sort, &cursor))
        crm_call_field_error(call, "cursor", "is not a cursor of this list (and sort)");
    if (call->errors.n)
        return 422;
    // --- team: assigneeId=me is the caller's own member ("my leads")
    char me[40];
    if (strcmp(req.assignee_id, "me") == 0) {
        int code = leads_team_member_of_actor(call, me);
        if (code)
            return code;
        if (!me[0]) { // not a member: none of the leads is the caller's
            Crm__Leads__ListLeadsResponse *empty = malloc(sizeof *empty);
            crm__leads__list_leads_response__init(empty);
            *response = &empty->base;
            return 200;
        }
        req.assignee_id = me;
    }
    return leads_store_list(call, &req, sort, &cursor, limit,
                            (Crm__Leads__ListLeadsResponse **)response);
}

// --- for activities.c -------------------------------------------------------------------

void leads_vehicle_check(crm_call_t *call, Crm__Leads__VehicleInterest *v, const char *prefix) {
    s_check_vehicle(call, v, prefix);
}

const crm_method_t leads_methods[] = {
    {"Create", s_create, &crm__leads__create_lead_request__descriptor, true},
    {"Get", s_get, &crm__leads__get_lead_request__descriptor, false},
    {"Update", s_update, &crm__leads__update_lead_request__descriptor, true},
    {"Delete", s_delete, &crm__leads__delete_lead_request__descriptor, true},
    {"List", s_list, &crm__leads__list_leads_request__descriptor, false},
    {"CreateFromChat", leads_from_chat, &crm__leads__create_lead_from_chat_request__descriptor,
     true},
    {"ChangeStatus", s_change_status, &crm__leads__change_lead_status_request__descriptor, true},
    {"ListStages", leads_stage_list, &crm__leads__list_stages_request__descriptor, false},
    {"CreateStage", leads_stage_create, &crm__leads__create_stage_request__descriptor, true},
    {"UpdateStage", leads_stage_update, &crm__leads__update_stage_request__descriptor, true},
    {"DeleteStage", leads_stage_delete, &crm__leads__delete_stage_request__descriptor, true},
    //  Activities, the timeline and the hot sheet (activities.c, views.c).
    {"CreateActivity", leads_activity_create, &crm__leads__create_activity_request__descriptor,
     true},
    {"UpdateActivity", leads_activity_update, &crm__leads__update_activity_request__descriptor,
     true},
    {"ListActivities", leads_activity_list, &crm__leads__list_activities_request__descriptor,
     false},
    {"GetTimeline", leads_timeline, &crm__leads__get_timeline_request__descriptor, false},
    {"HotSheet", leads_hot_sheet, &crm__leads__hot_sheet_request__descriptor, false},
    // --- team.c, assign.c: the sales team, assignment rules, assignment
    {"ListTeamMembers", leads_team_list, &crm__leads__list_team_members_request__descriptor,
     false},
    {"GetTeamMember", leads_team_get, &crm__leads__get_team_member_request__descriptor, false},
    {"CreateTeamMember", leads_team_create, &crm__leads__create_team_member_request__descriptor,
     true},
    {"UpdateTeamMember", leads_team_update, &crm__leads__update_team_member_request__descriptor,
     true},
    {"DeleteTeamMember", leads_team_delete, &crm__leads__delete_team_member_request__descriptor,
     true},
    {"ListAssignmentRules", leads_rule_list,
     &crm__leads__list_assignment_rules_request__descriptor, false},
    {"GetAssignmentRule", leads_rule_get, &crm__leads__get_assignment_rule_request__descriptor,
     false},
    {"CreateAssignmentRule", leads_rule_create,
     &crm__leads__create_assignment_rule_request__descriptor, true},
    {"UpdateAssignmentRule", leads_rule_update,
     &crm__leads__update_assignment_rule_request__descriptor, true},
    {"DeleteAssignmentRule", leads_rule_delete,
     &crm__leads__delete_assignment_rule_request__descriptor, true},
    {"Assign", leads_assign, &crm__leads__assign_lead_request__descriptor, true},
    {"ListAssignments", leads_assignments_list, &crm__leads__list_assignments_request__descriptor,
     false},
    //  Follow-ups (followups.c) and the tenant's sales settings (settings.c).
    {"CreateFollowUp", leads_followup_create, &crm__leads__create_follow_up_request__descriptor,
     true},
    {"UpdateFollowUp", leads_followup_update, &crm__leads__update_follow_up_request__descriptor,
     true},
    {"ListFollowUps", leads_followup_list, &crm__leads__list_follow_ups_request__descriptor,
     false},
    {"GetFollowUp", leads_followup_get, &crm__leads__get_follow_up_request__descriptor, false},
    {"GetSettings", leads_settings_get, &crm__leads__get_pipeline_settings_request__descriptor,
     false},
    {"UpdateSettings", leads_settings_update,
     &crm__leads__update_pipeline_settings_request__descriptor, true},
    //  The leads' events for whoever missed some (common/replay.c).
    CRM_EVENTS_REPLAY_METHOD,
    {NULL, NULL, NULL, false},
};
