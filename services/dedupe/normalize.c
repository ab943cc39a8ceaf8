/*  normalize: the match keys of one value (an email address, a name, a postcode, a street
    line, a date of birth). Pure:
    no database; tests/unit/test_dedupe_normalize.c states the rules by example. Phones
    need nothing here: the contacts' events carry E.164 already, and a draft's numbers go
    through libphonenumber (check.c), as the contacts service's do.
*/
#include "dedupe.h"

#include <ctype.h>
#include <pthread.h>
#include <string.h>
#include <unicode/ustring.h>
#include <unicode/utrans.h>

// --- email -------------------------------------------------------------------------------

//  Providers that deliver local+tag@domain to local@domain, from their own help pages
//  (Google, Microsoft, Apple, Fastmail, Proton). Yahoo's tags use "-" and a separate
//  base name, so it is not here; a company's own server may treat "+" as a letter, so
//  tags are kept everywhere else.
const char *const dedupe_plus_tag_domains[] = {
    "gmail.com",   "googlemail.com", "outlook.com",    "hotmail.com", "live.com",
    "msn.com",     "icloud.com",     "me.com",         "mac.com",     "fastmail.com",
    "fastmail.fm", "proton.me",      "protonmail.com", "pm.me",       NULL};

//  Free mail providers: many unrelated people share their domains.
static const char *const s_free_mail[] = {
    "gmail.com",    "googlemail.com", "outlook.com", "hotmail.com", "live.com",       "msn.com",
    "icloud.com",   "me.com",         "mac.com",     "yahoo.com",   "ymail.com",      "aol.com",
    "gmx.com",      "gmx.net",        "mail.com",    "proton.me",   "protonmail.com", "pm.me",
    "fastmail.com", "fastmail.fm",    "zoho.com",    "yandex.com",  "comcast.net",    "att.net",
    "verizon.net",  "sbcglobal.net",  NULL};

static bool s_in(const char *const *list, const char *domain) {
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], domain) == 0)
            return true;
    return false;
}

bool dedupe_free_mail_domain(const char *domain) {
    return s_in(s_free_mail, domain);
}

int dedupe_email_key(const char *address, char *out, size_t size) {
    if (!address)
        return -1;
    size_t len = strlen(address);
    const char *at = strrchr(address, '@');
    if (!at || at == address || !at[1] || len >= size || len >= DEDUPE_EMAIL_MAX)
        return -1;
    char local[DEDUPE_EMAIL_MAX], domain[DEDUPE_EMAIL_MAX];
    size_t n_local = 0;
    for (const char *p = address; p < at; p++)
        local[n_local++] = (char)tolower((unsigned char)*p);
    local[n_local] = 0;
    size_t n_domain = 0;
    for (const char *p = at + 1; *p; p++)
        domain[n_domain++] = (char)tolower((unsigned char)*p);
    domain[n_domain] = 0;
    bool google = strcmp(domain, "gmail.com") == 0 || strcmp(domain, "googlemail.com") == 0;
    if (google || s_in(dedupe_plus_tag_domains, domain)) {
        char *plus = strchr(local, '+');
        if (plus && plus != local)
            *plus = 0;
    }
    if (google) {
        size_t w = 0;
        for (size_t r = 0; local[r]; r++)
            if (local[r] != '.')
                local[w++] = local[r];
        local[w] = 0;
        strcpy(domain, "gmail.com");
    }
    if (!local[0])
        return -1;
    snprintf(out, size, "%s@%s", local, domain);
    return 0;
}

// --- names -------------------------------------------------------------------------------

//  One transliterator for the process (ICU's are not for concurrent use: a lock).
static UTransliterator *s_fold;
static pthread_once_t s_fold_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t s_fold_lock = PTHREAD_MUTEX_INITIALIZER;

static void s_fold_open(void) {
    static const char id[] = "Any-Latin; Latin-ASCII; Lower";
    UChar uid[64];
    u_uastrcpy(uid, id);
    UErrorCode status = U_ZERO_ERROR;
    s_fold = utrans_openU(uid, -1, UTRANS_FORWARD, NULL, 0, NULL, &status);
    if (U_FAILURE(status))
        s_fold = NULL;
}

//  Fold text through the transliterator into UTF-16 text[] (*len characters). 0, or -1.
static int s_fold_utf16(const char *in, UChar *text, int32_t capacity, int32_t *len) {
    pthread_once(&s_fold_once, s_fold_open);
    if (!s_fold)
        return -1;
    UErrorCode status = U_ZERO_ERROR;
    u_strFromUTF8(text, capacity / 2, len, in, -1, &status);
    if (U_FAILURE(status) || status == U_STRING_NOT_TERMINATED_WARNING)
        return -1;
    int32_t limit = *len;
    pthread_mutex_lock(&s_fold_lock);
    utrans_transUChars(s_fold, text, len, capacity, 0, &limit, &status);
    pthread_mutex_unlock(&s_fold_lock);
    return U_FAILURE(status) ? -1 : 0;
}

int dedupe_name_fold(const char *name, char *out, size_t size) {
    if (size == 0)
        return -1;
    out[0] = 0;
    if (!name || !name[0])
        return 0;
    UChar text[2 * DEDUPE_NAME_MAX];
    int32_t len = 0;
    if (s_fold_utf16(name, text, (int32_t)(sizeof text / sizeof text[0]), &len))
        return -1;
    size_t w = 0;
    for (int32_t i = 0; i < len; i++) {
        UChar c = text[i];
        if (c >= 'a' && c <= 'z') {
            if (w + 1 >= size)
                return -1;
            out[w++] = (char)c;
        }
    }
    out[w] = 0;
    return 0;
}

// --- street lines -------------------------------------------------------------------------

//  Street words and their postal short forms: USPS Publication 28 (suffixes and
//  directions) and Australia Post's street types; written here, not copied.
static const char *const s_street_words[][2] = {
    {"street", "st"},     {"str", "st"},       {"road", "rd"},      {"avenue", "ave"},
    {"av", "ave"},        {"drive", "dr"},     {"court", "ct"},     {"place", "pl"},
    {"lane", "ln"},       {"boulevard", "blvd"}, {"circuit", "cct"}, {"crescent", "cres"},
    {"terrace", "tce"},   {"parade", "pde"},   {"highway", "hwy"},  {"parkway", "pkwy"},
    {"square", "sq"},     {"circle", "cir"},   {"close", "cl"},     {"way", "way"},
    {"apartment", "apt"}, {"suite", "ste"},    {"unit", "unit"},    {"north", "n"},
    {"south", "s"},       {"east", "e"},       {"west", "w"},       {"northeast", "ne"},
    {"northwest", "nw"},  {"southeast", "se"}, {"southwest", "sw"}, {"mount", "mt"},
    {"saint", "st"},      {"grove", "gr"},     {"cove", "cv"},      {"trail", "trl"},
    {"expressway", "expy"}, {"freeway", "fwy"}, {"heights", "hts"}, {"point", "pt"}};

static const char *s_street_word(const char *word) {
    for (size_t i = 0; i < sizeof s_street_words / sizeof s_street_words[0]; i++)
        if (strcmp(word, s_street_words[i][0]) == 0)
            return s_street_words[i][1];
    return word;
}

int dedupe_street_key(const char *line, char *out, size_t size) {
    if (size == 0)
        return -1;
    out[0] = 0;
    if (!line || !line[0])
        return 0;
    UChar text[2 * DEDUPE_STREET_MAX];
    int32_t len = 0;
    if (s_fold_utf16(line, text, (int32_t)(sizeof text / sizeof text[0]), &len))
        return -1;
    size_t w = 0;
    for (int32_t i = 0; i <= len;) {
        char word[DEDUPE_STREET_MAX];
        size_t n = 0;
        while (i < len && ((text[i] >= 'a' && text[i] <= 'z') || (text[i] >= '0' && text[i] <= '9'))) {
            if (n + 1 < sizeof word)
                word[n++] = (char)text[i];
            i++;
        }
        word[n] = 0;
        if (n) {
            const char *shortened = s_street_word(word);
            size_t need = strlen(shortened) + (w ? 1 : 0);
            if (w + need + 1 > size)
                return -1;
            w += (size_t)snprintf(out + w, size - w, "%s%s", w ? " " : "", shortened);
        }
        if (i == len)
            break;
        if (!n)
            i++;
    }
    out[w] = 0;
    return 0;
}

// --- dates of birth ------------------------------------------------------------------------

void dedupe_birth_date_key(const char *date, char out[DEDUPE_BIRTH_DATE_MAX]) {
    out[0] = 0;
    if (!date || strlen(date) != 10 || date[4] != '-' || date[7] != '-')
        return;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)date[i]))
            return;
    memcpy(out, date, 4);
    memcpy(out + 4, date + 5, 2);
    memcpy(out + 6, date + 8, 2);
    out[8] = 0;
}

// --- postcodes -----------------------------------------------------------------------------

void dedupe_postcode_key(const char *postcode, char *out, size_t size) {
    size_t w = 0;
    if (size == 0)
        return;
    for (const char *p = postcode ? postcode : ""; *p && w + 1 < size; p++)
        if (isalnum((unsigned char)*p))
            out[w++] = (char)toupper((unsigned char)*p);
    out[w] = 0;
    //  A US ZIP+4: nine digits (or five, a dash and four) match on the five.
    bool digits = w == 9;
    for (size_t i = 0; digits && i < w; i++)
        digits = isdigit((unsigned char)out[i]);
    if (digits)
        out[5] = 0;
}
