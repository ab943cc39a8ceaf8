/*  vehicle: the rules of a vehicle, the same in every service that takes one (a
    contact's vehicles, a lead's vehicle of interest, the one sold and the trade-in).

    Each check is pure: it returns NULL when the value keeps the rule, or the rule
    broken as a field error's message, and the caller names the field (its path differs
    per message: "vehicles[0].year", "won.tradeIn.year"). The test, test_vehicle.c,
    shows every rule at its bounds.
*/
#ifndef CRM_VEHICLE_H
#define CRM_VEHICLE_H

#include <stddef.h>
#include <stdint.h>

//  The first model year taken (1886, the first production car: a classic is a vehicle
//  like any other), and how far ahead of this year a model year may be
//  (next year's models are on sale from this summer, the year after's are ordered
//  ahead of launch).
#define CRM_VEHICLE_FIRST_YEAR 1886
#define CRM_VEHICLE_YEARS_AHEAD 2

//  Most characters in a vehicle's make, model, trim or stock number.
#define CRM_VEHICLE_TEXT_MAX_LEN 60

//  The last model year taken today (UTC): this year + CRM_VEHICLE_YEARS_AHEAD.
int crm_vehicle_last_year(void);

//  A model year (0: not given, which is fine): NULL, or the rule written into buf
//  ("must be from 1886 to 2028") and returned.
const char *crm_vehicle_year_check(uint32_t year, char *buf, size_t size);

//  A make, model, trim or stock number: NULL, or "must be at most 60 characters".
const char *crm_vehicle_text_check(const char *text);

//  A VIN (empty: not given, which is fine): NULL with the VIN upper-cased in place, or
//  crm_vin_check's message (the VIN is then left as it was given). vin must be writable
//  when not empty.
const char *crm_vehicle_vin_normalize(char *vin);

#endif
