/*  entry: a contact (or a draft of one) as the match index keeps it: folded names, the
    formal names its first name stands for, email keys and their domains, E.164 phones,
    postcodes, street lines and cities of its addresses, its date of birth. Pure;
    entry_store.c writes it, score.c compares two.
*/
#include "dedupe.h"

#include <stdio.h>
#include <string.h>

static bool s_has(const char (*values)[DEDUPE_EMAIL_MAX], size_t n, const char *value) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(values[i], value) == 0)
            return true;
    return false;
}

void dedupe_entry_add_email(dedupe_entry_t *entry, const char *address) {
    char key[DEDUPE_EMAIL_MAX];
    if (dedupe_email_key(address, key, sizeof key) != 0)
        return;
    if (entry->n_emails < DEDUPE_VALUES_MAX && !s_has(entry->emails, entry->n_emails, key))
        strcpy(entry->emails[entry->n_emails++], key);
    const char *domain = strrchr(key, '@') + 1;
    if (entry->n_domains < DEDUPE_VALUES_MAX && !s_has(entry->domains, entry->n_domains, domain))
        strcpy(entry->domains[entry->n_domains++], domain);
}

void dedupe_entry_add_phone(dedupe_entry_t *entry, const char *e164) {
    if (!e164 || e164[0] != '+' || strlen(e164) >= sizeof entry->phones[0])
        return;
    for (size_t i = 0; i < entry->n_phones; i++)
        if (strcmp(entry->phones[i], e164) == 0)
            return;
    if (entry->n_phones < DEDUPE_VALUES_MAX)
        strcpy(entry->phones[entry->n_phones++], e164);
}

static void s_add_postcode(dedupe_entry_t *entry, const char *postcode) {
    char key[DEDUPE_POSTCODE_MAX];
    dedupe_postcode_key(postcode, key, sizeof key);
    if (!key[0])
        return;
    for (size_t i = 0; i < entry->n_postcodes; i++)
        if (strcmp(entry->postcodes[i], key) == 0)
            return;
    if (entry->n_postcodes < DEDUPE_VALUES_MAX)
        strcpy(entry->postcodes[entry->n_postcodes++], key);
}

//  Add text to a row of fixed-size strings once (no-op for "" or when full).
static void s_add_once(char *values, size_t size, size_t *n, size_t max, const char *text) {
    if (!text[0] || *n >= max || strlen(text) >= size)
        return;
    for (size_t i = 0; i < *n; i++)
        if (strcmp(values + i * size, text) == 0)
            return;
    strcpy(values + (*n)++ * size, text);
}

static void s_add_address(dedupe_entry_t *entry, const Crm__Contacts__Address *address) {
    s_add_postcode(entry, address->postcode);
    char key[DEDUPE_STREET_MAX];
    if (dedupe_street_key(address->line1, key, sizeof key) == 0)
        s_add_once((char *)entry->streets, sizeof entry->streets[0], &entry->n_streets,
                   DEDUPE_ADDRESSES_MAX, key);
    char city[DEDUPE_NAME_MAX];
    if (dedupe_name_fold(address->city, city, sizeof city) == 0)
        s_add_once((char *)entry->cities, sizeof entry->cities[0], &entry->n_cities,
                   DEDUPE_ADDRESSES_MAX, city);
}

//  The names, the addresses (postcodes, street lines, cities), the date of birth and the
//  first name's formal names; emails and
//  phones are the caller's (an event's as they are, a draft's once checked).
static void s_names(dedupe_entry_t *entry, const Crm__Contacts__Contact *contact,
                    const dedupe_nicknames_t *nicknames) {
    if (dedupe_name_fold(contact->first_name, entry->first, sizeof entry->first))
        entry->first[0] = 0; // unfoldable (too long): matched on the rest
    if (dedupe_name_fold(contact->last_name, entry->last, sizeof entry->last))
        entry->last[0] = 0;
    const char *groups[DEDUPE_NAME_GROUPS_MAX];
    entry->n_first_groups =
        dedupe_nicknames_groups(nicknames, entry->first, groups, DEDUPE_NAME_GROUPS_MAX);
    for (size_t i = 0; i < entry->n_first_groups; i++)
        snprintf(entry->first_groups[i], sizeof entry->first_groups[i], "%s", groups[i]);
    for (size_t i = 0; i < contact->n_addresses; i++)
        if (contact->addresses[i])
            s_add_address(entry, contact->addresses[i]);
    dedupe_birth_date_key(contact->date_of_birth, entry->birth_date);
}

void dedupe_entry_from_contact(dedupe_entry_t *entry, const Crm__Contacts__Contact *contact,
                               const dedupe_nicknames_t *nicknames) {
    memset(entry, 0, sizeof *entry);
    s_names(entry, contact, nicknames);
    for (size_t i = 0; i < contact->n_emails; i++)
        if (contact->emails[i])
            dedupe_entry_add_email(entry, contact->emails[i]->address);
    for (size_t i = 0; i < contact->n_phones; i++)
        if (contact->phones[i])
            dedupe_entry_add_phone(entry, contact->phones[i]->number);
}

bool dedupe_entry_empty(const dedupe_entry_t *entry) {
    return !entry->first[0] && !entry->last[0] && !entry->n_emails && !entry->n_phones;
}

//  FNV-1a, 64 bits, over a string and its NUL (so "ab","c" and "a","bc" differ).
static uint64_t s_hash(uint64_t h, const char *text) {
    for (const char *p = text;; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ULL;
        if (!*p)
            return h;
    }
}

static uint64_t s_hash_row(uint64_t h, const char *values, size_t size, size_t n) {
    h = s_hash(h, n ? "+" : "-");
    for (size_t i = 0; i < n; i++)
        h = s_hash(h, values + i * size);
    return h;
}

#define S_HASH_ROW(h, entry, field)                                                                \
    s_hash_row(h, (const char *)(entry)->field, sizeof(entry)->field[0], (entry)->n_##field)

void dedupe_entry_fingerprint(const dedupe_entry_t *entry, char out[DEDUPE_FINGERPRINT_MAX]) {
    uint64_t h = 14695981039346656037ULL;
    h = s_hash(h, entry->first);
    h = s_hash(h, entry->last);
    h = S_HASH_ROW(h, entry, first_groups);
    h = S_HASH_ROW(h, entry, emails);
    h = S_HASH_ROW(h, entry, phones);
    h = S_HASH_ROW(h, entry, postcodes);
    h = S_HASH_ROW(h, entry, streets);
    h = S_HASH_ROW(h, entry, cities);
    h = s_hash(h, entry->birth_date);
    snprintf(out, DEDUPE_FINGERPRINT_MAX, "%016llx", (unsigned long long)h);
}
