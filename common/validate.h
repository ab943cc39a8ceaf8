/*  validate: field rules shared by every service.

    Phone numbers go through libphonenumber (common/phone.cc wraps its C++ API).
*/
#ifndef CRM_VALIDATE_H
#define CRM_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {  //  phone.cc implements part of this header in C++
#endif

//  RFC 5321/5322 practical syntax: local@domain, local part up to 64 bytes of
//  atext/dots (no leading, trailing or double dot) or a quoted string, domain of
//  LDH labels (up to 63 each) with at least one dot, or an address literal; total <= 254.
bool crm_email_valid(const char *address);

//  Lower-case the domain part (and only it) into out; returns -1 if it does not fit.
//  Also returns -1 for an address that crm_email_valid rejects.
int crm_email_normalize(const char *address, char *out, size_t out_size);

//  Parse a phone number as typed ("(202) 555-0142", "+44 20 7946 0958", "202.555.0142")
//  using default_region (ISO 3166-1 alpha-2, e.g. "US") when it has no country code.
//  Writes E.164 ("+12025550142") to out and returns 0, or returns -1 and sets *reason
//  to a static message ("is not a valid phone number", "is too short", ...).
int crm_phone_to_e164(const char *input, const char *default_region, char *out, size_t out_size,
                      const char **reason);

//  True if s is valid UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool crm_utf8_valid(const char *s, size_t len);

//  Length in bytes (1-4) of the valid UTF-8 character at the start of s, looking at no
//  more than len bytes; 0 if s does not start with one (or len is 0). Same rules as
//  crm_utf8_valid; lets a caller walk text and repair bad bytes (the log does).
size_t crm_utf8_char_len(const char *s, size_t len);

//  Characters in s, valid UTF-8 (as the transcoder checked it): what a length limit in
//  a rule ("at most 64 characters") counts.
size_t crm_utf8_chars(const char *s);

//  True when s is empty or only whitespace: a required text left blank.
bool crm_text_blank(const char *s);

//  Remove leading and trailing whitespace from s in place. An empty s is left untouched
//  (it may be protobuf-c's shared, read-only empty string).
void crm_text_trim(char *s);

//  A vehicle identification number (ISO 3779, 17 characters, no I, O or Q) whose ninth
//  character is the check digit of the North American scheme (49 CFR 565): the
//  transliterated characters weighted 8 7 6 5 4 3 2 10 0 9 8 7 6 5 4 3 2, summed,
//  modulo 11, with 10 written X. Lower case is accepted (callers store upper case).
//  Returns NULL, or a static message saying what is wrong.
const char *crm_vin_check(const char *vin);

//  A calendar date "YYYY-MM-DD" (leap years counted); fills the parts when not NULL.
bool crm_date_parse(const char *text, int *year, int *month, int *day);

//  A date, or an RFC 3339 date-time: "2026-11-22", "2026-11-22T08:30:00Z",
//  "2026-11-22T08:30:00.123+01:00" (seconds required, fraction optional, Z or an offset).
bool crm_timestamp_valid(const char *text);

#ifdef __cplusplus
}
#endif

#endif
