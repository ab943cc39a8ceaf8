/*  growth: the rules of the contact growth report (GET /v1/reports/contacts/growth):
    which ranges and groupings a request may ask for. No database here: growth_store.c
    runs the report; tests/unit/test_reporting_growth.c states the rules.
*/
#include "reporting.h"

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

int reporting_growth_check(const Crm__Reporting__ContactsGrowthRequest *req, crm_errors_t *errors) {
    int64_t from = 0, to = 0;
    bool from_ok = false, to_ok = false;
    if (!req->from[0])
        crm_errors_add(errors, "from", "is required (YYYY-MM-DD)");
    else if (!(from_ok = reporting_day_parse(req->from, &from)))
        crm_errors_add(errors, "from", "is not a date (YYYY-MM-DD)");
    if (!req->to[0])
        crm_errors_add(errors, "to", "is required (YYYY-MM-DD)");
    else if (!(to_ok = reporting_day_parse(req->to, &to)))
        crm_errors_add(errors, "to", "is not a date (YYYY-MM-DD)");
    if (from_ok && to_ok && to < from)
        crm_errors_add(errors, "to", "must not be before from");
    else if (from_ok && to_ok && to - from + 1 > GROWTH_MAX_DAYS)
        crm_errors_add(errors, "to", "must be within %d days of from", GROWTH_MAX_DAYS);
    if (req->group_by[0] && strcmp(req->group_by, "source") != 0 &&
        strcmp(req->group_by, "type") != 0)
        crm_errors_add(errors, "groupBy", "must be source or type");
    return errors->n ? -1 : 0;
}
