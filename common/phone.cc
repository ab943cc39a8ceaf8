/*  phone: crm_phone_to_e164 (validate.h), a thin C wrapper over libphonenumber.

    libphonenumber is the field's reference for numbering plans; we only parse, validate
    and format as E.164, and translate its error codes into short reasons that complete
    a sentence naming the field ("phones[0].number is too short"). No exception crosses
    into C. PhoneNumberUtil::GetInstance() is a thread-safe singleton.
*/
#include "validate.h"

#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

#include <cstring>
#include <string>

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

namespace {

const char *const s_not_valid = "is not a valid phone number";
const char *const s_bad_country_code = "has an invalid country code";
const char *const s_too_short = "is too short";
const char *const s_too_long = "is too long";
const char *const s_not_a_number = "is not a number";
const char *const s_no_room = "does not fit the output buffer";

//  Why Parse() refused the text.
const char *s_parse_reason(PhoneNumberUtil::ErrorType error) {
    switch (error) {
    case PhoneNumberUtil::INVALID_COUNTRY_CODE_ERROR:
        return s_bad_country_code;
    case PhoneNumberUtil::NOT_A_NUMBER:
        return s_not_a_number;
    case PhoneNumberUtil::TOO_SHORT_AFTER_IDD:
    case PhoneNumberUtil::TOO_SHORT_NSN:
        return s_too_short;
    case PhoneNumberUtil::TOO_LONG_NSN:
        return s_too_long;
    default:
        return s_not_valid;
    }
}

//  Why a number that parsed is still not a number anyone can dial.
const char *s_invalid_reason(const PhoneNumberUtil &util, const PhoneNumber &number) {
    switch (util.IsPossibleNumberWithReason(number)) {
    case PhoneNumberUtil::INVALID_COUNTRY_CODE:
        return s_bad_country_code;
    case PhoneNumberUtil::TOO_SHORT:
        return s_too_short;
    case PhoneNumberUtil::TOO_LONG:
        return s_too_long;
    default:
        return s_not_valid;
    }
}

//  Region codes are upper-case in libphonenumber's metadata ("gb" would not match).
//  NULL or empty: "ZZ", the unknown region, so only numbers with +country parse.
std::string s_region(const char *region) {
    std::string result = (region && *region) ? region : "ZZ";
    for (char &c : result)
        if (c >= 'a' && c <= 'z')
            c = static_cast<char>(c - 'a' + 'A');
    return result;
}

int s_to_e164(const char *input, const char *default_region, char *out, size_t out_size,
              const char **reason) {
    if (!input || !*input) {
        *reason = s_not_a_number;
        return -1;
    }
    const PhoneNumberUtil &util = *PhoneNumberUtil::GetInstance();
    PhoneNumber number;
    PhoneNumberUtil::ErrorType error = util.Parse(input, s_region(default_region), &number);
    if (error != PhoneNumberUtil::NO_PARSING_ERROR) {
        *reason = s_parse_reason(error);
        return -1;
    }
    if (!util.IsValidNumber(number)) {
        *reason = s_invalid_reason(util, number);
        return -1;
    }
    std::string e164;
    util.Format(number, PhoneNumberUtil::E164, &e164);
    if (!out || e164.size() + 1 > out_size) {
        *reason = s_no_room;
        return -1;
    }
    std::memcpy(out, e164.c_str(), e164.size() + 1);
    return 0;
}

} // namespace

extern "C" int crm_phone_to_e164(const char *input, const char *default_region, char *out,
                                 size_t out_size, const char **reason) {
    const char *ignored = nullptr;
    if (!reason)
        reason = &ignored;
    *reason = nullptr;
    try {
        return s_to_e164(input, default_region, out, out_size, reason);
    } catch (...) {
        *reason = s_not_valid;
        return -1;
    }
}
