/*  handlers: the reporting service's methods. Each validates its request completely
    before it touches the database, then calls the store (or rebuild.c). */
#include "reporting.h"
#include "replay.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define GROWTH_MAX_DAYS 366 // a year of days, leap or not

bool reporting_day_parse(const char *text, int64_t *days) {
    if (!text || strlen(text) != 10 || text[4] != '-' || text[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)text[i]))
            return false;
    int y = atoi(text), m = atoi(text + 5), d = atoi(text + 8);
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > month_days[m - 1] + (m == 2 && leap))
        return false;
    //  Days since 1970-01-01 (the civil calendar algorithm of H. Hinnant).
    y -= m <= 2;
    int64_t era = y / 400;
    int64_t year_of_era = y - era * 400;
    int64_t day_of_year = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    if (days)
        *days = era * 146097 + day_of_era - 719468;
    return true;
}

//  GET /v1/reports/contacts/growth: live contacts created per day, by source or type.
static int s_contacts_growth(crm_call_t *call, const ProtobufCMessage *request,
                             ProtobufCMessage **response) {
    const Crm__Reporting__ContactsGrowthRequest *req = (const void *)request;
    int64_t from = 0, to = 0;
    bool from_ok = false, to_ok = false;
    if (!req->from[0])
        crm_call_field_error(call, "from", "is required (YYYY-MM-DD)");
    else if (!(from_ok = reporting_day_parse(req->from, &from)))
        crm_call_field_error(call, "from", "is not a date (YYYY-MM-DD)");
    if (!req->to[0])
        crm_call_field_error(call, "to", "is required (YYYY-MM-DD)");
    else if (!(to_ok = reporting_day_parse(req->to, &to)))
        crm_call_field_error(call, "to", "is not a date (YYYY-MM-DD)");
    if (from_ok && to_ok && to < from)
        crm_call_field_error(call, "to", "must not be before from");
    else if (from_ok && to_ok && to - from + 1 > GROWTH_MAX_DAYS)
        crm_call_field_error(call, "to", "must be within %d days of from", GROWTH_MAX_DAYS);
    if (req->group_by[0] && strcmp(req->group_by, "source") != 0 &&
        strcmp(req->group_by, "type") != 0)
        crm_call_field_error(call, "groupBy", "must be source or type");
    if (call->n_fields)
        return 422;
    return reporting_store_growth(call, req->from, req->to, req->group_by,
                                  (Crm__Reporting__ContactsGrowthResponse **)response);
}

//  Rebuild (bus only, role admin): 202 with how it runs; see rebuild.c.
static int s_rebuild(crm_call_t *call, const ProtobufCMessage *request,
                     ProtobufCMessage **response) {
    const Crm__Reporting__RebuildRequest *req = (const void *)request;
    reporting_t *self = call->arg;
    int code = reporting_rebuild_start(self, call, req->mode);
    if (code == 202)
        *response = &reporting_rebuild_status(self)->base;
    return code;
}

//  RebuildStatus: how far the running (or last) rebuild got.
static int s_rebuild_status(crm_call_t *call, const ProtobufCMessage *request,
                            ProtobufCMessage **response) {
    (void)request;
    *response = &reporting_rebuild_status(call->arg)->base;
    return 200;
}

const crm_method_t reporting_methods[] = {
    {"ContactsGrowth", s_contacts_growth, &crm__reporting__contacts_growth_request__descriptor,
     false},
    {"Rebuild", s_rebuild, &crm__reporting__rebuild_request__descriptor, false},
    {"RebuildStatus", s_rebuild_status, &crm__empty__descriptor, false},
    //  Reporting's own events (ContactsDaily) for whoever missed some (common/replay.c).
    CRM_EVENTS_REPLAY_METHOD,
    {NULL, NULL, NULL, false},
};
