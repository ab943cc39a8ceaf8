/*  member: the rules of a sales team member (no database, no call): the fields and
    their stored forms (trimmed, email domain lower-cased, phone E.164, postcodes
    upper-cased, handle lower-cased, role defaulted), working hours, the list's cursor.
    member_store.c holds the team's SQL (and asks PostgreSQL whether a time zone is
    known); unit-tested in tests/unit/test_leads_member.c and tests/unit/test_leads_assign.c. */
#include "leads.h"
#include "ids.h"
#include "json_pb.h"
#include "mentions.h"
#include "validate.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMBER_NAME_MAX_LEN 100
#define MEMBER_TEXT_MAX_LEN 60
#define MEMBER_LIST_MAX 50
#define MEMBER_ACTOR_MAX_LEN 128
#define MEMBER_TZ_MAX_LEN 64
#define MEMBER_LIST_DEFAULT_LIMIT 100
#define MEMBER_LIST_MAX_LIMIT 500

int leads_hhmm_parse(const char *text, int *minutes) {
    if (!text || strlen(text) != 5 || text[2] != ':')
        return -1;
    for (int i = 0; i < 5; i++)
        if (i != 2 && !isdigit((unsigned char)text[i]))
            return -1;
    int h = (text[0] - '0') * 10 + (text[1] - '0');
    int m = (text[3] - '0') * 10 + (text[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m != 0))
        return -1;
    *minutes = h * 60 + m;
    return 0;
}

int leads_postcode_normalize(const char *text, char *out, size_t size) {
    size_t n = 0;
    if (size == 0)
        return -1;
    out[0] = 0;
    for (const char *p = text; *p; p++) {
        if (*p == ' ' || *p == '-')
            continue;
        if (!isalnum((unsigned char)*p) || n + 1 >= size)
            return -1;
        out[n++] = (char)toupper((unsigned char)*p);
    }
    out[n] = 0;
    return n ? 0 : -1;
}

static void s_check_text_list(crm_errors_t *errors, const char *field, char **items, size_t n,
                              size_t max_len) {
    if (n > MEMBER_LIST_MAX)
        crm_errors_add(errors, field, "may hold at most %d entries", MEMBER_LIST_MAX);
    for (size_t i = 0; i < n && i < MEMBER_LIST_MAX; i++) {
        char path[64];
        snprintf(path, sizeof path, "%s[%zu]", field, i);
        crm_text_trim(items[i]);
        if (crm_text_blank(items[i]))
            crm_errors_add(errors, path, "must not be blank");
        else if (crm_utf8_chars(items[i]) > max_len)
            crm_errors_add(errors, path, "must be at most %zu characters", max_len);
    }
}

int leads_member_check(Crm__Leads__TeamMember *m, const char *default_region,
                       crm_errors_t *errors) {
    size_t before = errors->n;
    crm_text_trim(m->name);
    if (crm_text_blank(m->name))
        crm_errors_add(errors, "name", "is required");
    else if (crm_utf8_chars(m->name) > MEMBER_NAME_MAX_LEN)
        crm_errors_add(errors, "name", "must be at most %d characters", MEMBER_NAME_MAX_LEN);
    crm_text_trim(m->email);
    if (m->email[0]) {
        char email[256];
        if (crm_email_normalize(m->email, email, sizeof email) != 0)
            crm_errors_add(errors, "email", "is not a valid email address");
        else
            crm_pb_string_set(&m->email, email);
    }
    crm_text_trim(m->phone);
    if (m->phone[0]) {
        char e164[32];
        const char *reason = NULL;
        if (crm_phone_to_e164(m->phone, default_region, e164, sizeof e164, &reason) != 0)
            crm_errors_add(errors, "phone", "%s", reason ? reason : "is not a valid phone number");
        else
            crm_pb_string_set(&m->phone, e164);
    }
    if (m->role == CRM__LEADS__TEAM_ROLE__TEAM_ROLE_UNSPECIFIED)
        m->role = CRM__LEADS__TEAM_ROLE__TEAM_ROLE_SALESPERSON;
    for (size_t i = 0; i < m->n_conditions; i++)
        if (m->conditions[i] == CRM__LEADS__VEHICLE_CONDITION__VEHICLE_CONDITION_UNSPECIFIED) {
            char path[48];
            snprintf(path, sizeof path, "conditions[%zu]", i);
            crm_errors_add(errors, path, "must be new, used or certified");
        }
    s_check_text_list(errors, "makes", m->makes, m->n_makes, MEMBER_TEXT_MAX_LEN);
    s_check_text_list(errors, "regions", m->regions, m->n_regions, MEMBER_TEXT_MAX_LEN);
    if (m->price_min_cents < 0)
        crm_errors_add(errors, "priceMinCents", "must not be negative");
    if (m->price_max_cents < 0)
        crm_errors_add(errors, "priceMaxCents", "must not be negative");
    else if (m->price_max_cents > 0 && m->price_min_cents > m->price_max_cents)
        crm_errors_add(errors, "priceMaxCents",
                       "must not be less than priceMinCents (0: no upper bound)");
    if (m->n_postcode_prefixes > MEMBER_LIST_MAX)
        crm_errors_add(errors, "postcodePrefixes", "may hold at most %d entries", MEMBER_LIST_MAX);
    for (size_t i = 0; i < m->n_postcode_prefixes && i < MEMBER_LIST_MAX; i++) {
        char path[48], prefix[16];
        snprintf(path, sizeof path, "postcodePrefixes[%zu]", i);
        if (leads_postcode_normalize(m->postcode_prefixes[i], prefix, sizeof prefix) != 0)
            crm_errors_add(errors, path, "must be 1 to 12 letters and digits");
        else
            crm_pb_string_set(&m->postcode_prefixes[i], prefix);
    }
    if (m->n_working_hours > 7 * 4)
        crm_errors_add(errors, "workingHours", "may hold at most %d ranges", 7 * 4);
    for (size_t i = 0; i < m->n_working_hours && i < 7 * 4; i++) {
        Crm__Leads__WorkingHours *w = m->working_hours[i];
        char path[48];
        int start = 0, end = 0;
        if (w->day == CRM__LEADS__WEEKDAY__WEEKDAY_UNSPECIFIED) {
            snprintf(path, sizeof path, "workingHours[%zu].day", i);
            crm_errors_add(errors, path, "is required: mon, tue, wed, thu, fri, sat or sun");
        }
        bool start_ok = leads_hhmm_parse(w->start, &start) == 0 && start < 24 * 60;
        if (!start_ok) {
            snprintf(path, sizeof path, "workingHours[%zu].start", i);
            crm_errors_add(errors, path, "must be a time HH:MM from 00:00 to 23:59");
        }
        if (leads_hhmm_parse(w->end, &end) != 0) {
            snprintf(path, sizeof path, "workingHours[%zu].end", i);
            crm_errors_add(errors, path, "must be a time HH:MM from 00:01 to 24:00");
        } else if (start_ok && end <= start) {
            snprintf(path, sizeof path, "workingHours[%zu].end", i);
            crm_errors_add(errors, path, "must be after start");
        }
    }
    crm_text_trim(m->handle);
    if (m->handle[0]) {
        for (char *p = m->handle; *p; p++)
            *p = (char)tolower((unsigned char)*p); // mentions are not case sensitive
        if (m->handle[0] == '@')
            crm_errors_add(errors, "handle", "is written without the @ (\"sam\" for @sam)");
        else if (!crm_mention_handle_valid(m->handle))
            crm_errors_add(errors, "handle",
                           "must be 1 to %d of a-z, 0-9, '.', '_' and '-', not ending in '.' or "
                           "'-' (as @mentions write it)",
                           CRM_MENTION_MAX_LEN);
    }
    if (crm_utf8_chars(m->actor_id) > MEMBER_ACTOR_MAX_LEN)
        crm_errors_add(errors, "actorId", "must be at most %d characters", MEMBER_ACTOR_MAX_LEN);
    crm_text_trim(m->time_zone);
    if (m->time_zone[0]) {
        if (strlen(m->time_zone) > MEMBER_TZ_MAX_LEN)
            crm_errors_add(errors, "timeZone", "is not a known IANA time zone");
    }
    return errors->n > before ? -1 : 0;
}

int leads_member_list_check(const Crm__Leads__ListTeamMembersRequest *req, leads_member_list_t *out,
                            crm_errors_t *errors) {
    size_t before = errors->n;
    out->limit = (int)req->limit;
    if (req->limit == 0)
        out->limit = MEMBER_LIST_DEFAULT_LIMIT;
    else if (req->limit > MEMBER_LIST_MAX_LIMIT) {
        crm_errors_add(errors, "limit", "must be at most %d", MEMBER_LIST_MAX_LIMIT);
        out->limit = MEMBER_LIST_MAX_LIMIT;
    }
    //  A handle as a mention writes it, in any case (the stored ones are lower case).
    out->handle[0] = 0;
    if (req->handle[0]) {
        size_t len = strlen(req->handle);
        if (len > CRM_MENTION_MAX_LEN)
            crm_errors_add(errors, "handle", "must be at most %d characters", CRM_MENTION_MAX_LEN);
        else
            for (size_t i = 0; i <= len; i++)
                out->handle[i] = (char)tolower((unsigned char)req->handle[i]);
    }
    char *cursor_id = out->cursor_id, *cursor_name = out->cursor_name;
    memset(out->cursor_id, 0, sizeof out->cursor_id);
    memset(out->cursor_name, 0, sizeof out->cursor_name);
    //  The cursor: "<uuid>.<name in hex>" of the last member of the page before.
    if (req->cursor[0]) {
        const char *hex = req->cursor + CRM_UUID_LEN + 1;
        size_t len = strlen(req->cursor) > CRM_UUID_LEN ? strlen(hex) : 0;
        bool ok = len > 0 && len % 2 == 0 && len / 2 < sizeof out->cursor_name &&
                  req->cursor[CRM_UUID_LEN] == '.';
        for (size_t i = 0; ok && i < len / 2; i++) {
            unsigned byte;
            ok = sscanf(hex + 2 * i, "%2x", &byte) == 1 && byte > 0;
            cursor_name[i] = (char)byte;
        }
        if (ok) {
            cursor_name[len / 2] = 0;
            memcpy(cursor_id, req->cursor, CRM_UUID_LEN);
            ok = crm_uuid_valid(cursor_id) && crm_utf8_valid(cursor_name, len / 2);
        }
        if (!ok) {
            cursor_id[0] = 0;
            crm_errors_add(errors, "cursor", "is not a cursor of this list");
        }
    }
    return errors->n > before ? -1 : 0;
}

const leads_read_only_t leads_member_read_only[] = {
    {"id", "cannot be changed"},
    {"created_at", "cannot be changed"},
    {"updated_at", "cannot be changed"},
    {"open_leads", "is counted from the leads"},
};
const size_t leads_member_n_read_only =
    sizeof leads_member_read_only / sizeof *leads_member_read_only;
