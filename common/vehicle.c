/*  vehicle: the rules of a vehicle (model years, texts, the VIN), shared by contacts
    and leads. */
#include "vehicle.h"
#include "validate.h"

#include <ctype.h>
#include <stdio.h>
#include <time.h>

//  This year in UTC, the calendar every service's dates use.
static int s_this_year(void) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    return tm.tm_year + 1900;
}

int crm_vehicle_last_year(void) {
    return s_this_year() + CRM_VEHICLE_YEARS_AHEAD;
}

const char *crm_vehicle_year_check(uint32_t year, char *buf, size_t size) {
    int last = crm_vehicle_last_year();
    if (year == 0 || (year >= CRM_VEHICLE_FIRST_YEAR && year <= (uint32_t)last))
        return NULL;
    snprintf(buf, size, "must be from %d to %d", CRM_VEHICLE_FIRST_YEAR, last);
    return buf;
}

const char *crm_vehicle_text_check(const char *text) {
    //  The limit in the message follows CRM_VEHICLE_TEXT_MAX_LEN.
#define S_TEXT(n) #n
#define S_TEXT_OF(n) S_TEXT(n)
    if (crm_utf8_chars(text) > CRM_VEHICLE_TEXT_MAX_LEN)
        return "must be at most " S_TEXT_OF(CRM_VEHICLE_TEXT_MAX_LEN) " characters";
    return NULL;
#undef S_TEXT_OF
#undef S_TEXT
}

const char *crm_vehicle_vin_normalize(char *vin) {
    if (!vin[0])
        return NULL;
    const char *problem = crm_vin_check(vin);
    if (!problem)
        for (char *p = vin; *p; p++)
            *p = (char)toupper((unsigned char)*p);
    return problem;
}
