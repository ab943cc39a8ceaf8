/*  dedupe: the daemon's internal interface.

    Reading order: main.c (wiring: the follows table), methods.c (the method table: the
    index of what the service answers, each row naming its rules and its SQL), then:
    - normalize.c: the match keys of one value (an email, a name, a postcode), pure;
      ICU folds names; nicknames.c: the nickname list of data/nicknames.tsv;
    - entry.c: a contact (or a draft of one) as the index keeps it, from a Contact;
      entry_store.c: its SQL (the index and its blocking keys); follow.c: the contacts'
      events that keep the index;
    - check.c: the rules of POST /v1/contacts/duplicates/check (a draft in, field errors out);
      score.c: comparing two entries (Jaro-Winkler, the Fellegi-Sunter weights, the
      reasons in words), pure; check_store.c: the candidates a draft's blocking keys
      find;
    - group.c: likely duplicate pairs into groups (pure); match.c: one contact, or a
      page of a scan, matched within its blocks, its pairs kept and its groups made
      again (match_store.c: pairs and groups in SQL), for the matching job and the scan;
    - queue.c: the matching job: the contacts follow.c queued, matched a batch at a time
      on a thread of their own (not on the loop);
    - scan.c: the scan job (main.c's job table) and the methods of the review list
      (start, progress, list, dismiss); scan_store.c: their SQL;
    migrations/ (the schema).
*/
#ifndef DEDUPE_H
#define DEDUPE_H

#include "contacts.pb-c.h"
#include "dedupe.pb-c.h"
#include "errors.h"
#include "events.pb-c.h"
#include "follower.h"
#include "outbox.h"
#include "runner.h"
#include "service.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _dedupe_nicknames_t dedupe_nicknames_t; // nicknames.c

//  The daemon's state, shared by its methods and its follower (one loop).
typedef struct {
    const crm_config_t *cfg;
    dedupe_nicknames_t *nicknames;
} dedupe_t;

extern const crm_method_t dedupe_methods[];
extern const crm_migration_t dedupe_migrations[];

// --- normalize.c: the match keys of one value ----------------------------------------------

#define DEDUPE_EMAIL_MAX 256
#define DEDUPE_NAME_MAX 128
#define DEDUPE_POSTCODE_MAX 16
#define DEDUPE_STREET_MAX 96
#define DEDUPE_BIRTH_DATE_MAX 9 // YYYYMMDD

//  An email address as it matches: lower case; at gmail.com and googlemail.com (one
//  mailbox) the dots of the local part and a +tag removed and the domain gmail.com; at
//  the providers of dedupe_plus_tag_domains a +tag removed. 0, or -1 when it is not an
//  address (no @, empty local part or domain) or does not fit.
int dedupe_email_key(const char *address, char *out, size_t size);

//  The providers that deliver local+tag@domain to local@domain (dots still count).
extern const char *const dedupe_plus_tag_domains[];

//  True when domain (lower case) is a free mail provider, whose domain says nothing
//  about who holds an address there (a company's domain does).
bool dedupe_free_mail_domain(const char *domain);

//  A name folded for matching: transliterated to Latin, accents removed and lower case
//  through ICU ("García" -> "garcia", "Müller" -> "muller", "Ørsted" -> "orsted"), then
//  only letters a-z kept ("O'Brien" -> "obrien", "Smith-Jones" -> "smithjones"). "" for
//  a name with no letters. 0, or -1 when ICU failed or it does not fit.
int dedupe_name_fold(const char *name, char *out, size_t size);

//  A postcode as it matches: letters and digits only, upper case; a US ZIP+4 ("20500-0003",
//  "205000003") its five digits. "" for none.
void dedupe_postcode_key(const char *postcode, char *out, size_t size);

//  A street line as it matches: folded as names are (ICU: Latin, no accents, lower case),
//  letters and digits in words one space apart, the usual street words in their postal
//  short forms ("Street" -> "st", "Avenue" -> "ave", "North" -> "n": USPS Publication 28
//  and Australia Post's list), so "12 Main Street" and "12 main st." agree. "" for a line
//  with no letter or digit. 0, or -1 when ICU failed or it does not fit.
int dedupe_street_key(const char *line, char *out, size_t size);

//  A date of birth (YYYY-MM-DD, as contacts keeps it) as "YYYYMMDD"; "" when it is not one.
void dedupe_birth_date_key(const char *date, char out[DEDUPE_BIRTH_DATE_MAX]);

// --- nicknames.c: the nickname list ---------------------------------------------------------

#define DEDUPE_NAME_GROUPS_MAX 8

//  Load the list (data/nicknames.tsv: "formal<TAB>nick,nick,..." lines, names folded as
//  dedupe_name_fold does). NULL when it cannot be read (*error says why; caller frees).
dedupe_nicknames_t *dedupe_nicknames_new(const char *path, char **error);
void dedupe_nicknames_destroy(dedupe_nicknames_t **self_p);

//  The formal names a folded first name stands for: itself, and each formal name it is a
//  nickname of ("bill" -> "bill", "william"). Writes up to max (static strings or first
//  itself) to out; returns how many. self may be NULL (no list: the name alone).
size_t dedupe_nicknames_groups(const dedupe_nicknames_t *self, const char *first, const char **out,
                               size_t max);

// --- entry.c: a contact as the index keeps it -----------------------------------------------

#define DEDUPE_VALUES_MAX 16   // emails, phones or postcodes of one contact considered
#define DEDUPE_ADDRESSES_MAX 4 // street lines and cities of one contact considered

typedef struct {
    char first[DEDUPE_NAME_MAX], last[DEDUPE_NAME_MAX];         // folded; "" when none
    char first_groups[DEDUPE_NAME_GROUPS_MAX][DEDUPE_NAME_MAX]; // dedupe_nicknames_groups
    size_t n_first_groups;
    char emails[DEDUPE_VALUES_MAX][DEDUPE_EMAIL_MAX]; // dedupe_email_key
    size_t n_emails;
    char domains[DEDUPE_VALUES_MAX][DEDUPE_EMAIL_MAX]; // of the emails, free mail's too
    size_t n_domains;
    char phones[DEDUPE_VALUES_MAX][32]; // E.164
    size_t n_phones;
    char postcodes[DEDUPE_VALUES_MAX][DEDUPE_POSTCODE_MAX]; // dedupe_postcode_key
    size_t n_postcodes;
    char birth_date[DEDUPE_BIRTH_DATE_MAX];                 // dedupe_birth_date_key
    char streets[DEDUPE_ADDRESSES_MAX][DEDUPE_STREET_MAX];  // dedupe_street_key of line1
    size_t n_streets;
    char cities[DEDUPE_ADDRESSES_MAX][DEDUPE_NAME_MAX]; // folded as names
    size_t n_cities;
    //  The Double Metaphone codes of last and first (the database's fuzzystrmatch):
    //  set by the store, "" until then.
    char last_phonetic[16], first_phonetic[16];
    //  Read with a stored entry (the index's name_counts): how many of the tenant's
    //  contacts have its first and its last name, and how many contacts the tenant has.
    //  0 when not known (a draft; a unit test): the model's table figures then.
    long first_count, last_count, tenant_size;
} dedupe_entry_t;

//  A hash of everything the model compares (17 hex digits and a NUL): two entries whose
//  fingerprints are equal score alike against anyone. A dismissal holds while both
//  contacts keep theirs.
#define DEDUPE_FINGERPRINT_MAX 17
void dedupe_entry_fingerprint(const dedupe_entry_t *entry, char out[DEDUPE_FINGERPRINT_MAX]);

//  The entry of a contact whose phones are E.164 already (an event's). Values that make
//  no key (an invalid email, an empty postcode) are left out; repeats are kept once.
void dedupe_entry_from_contact(dedupe_entry_t *entry, const Crm__Contacts__Contact *contact,
                               const dedupe_nicknames_t *nicknames);

//  Add one value, once (no-ops when full or already there).
void dedupe_entry_add_email(dedupe_entry_t *entry, const char *address);
void dedupe_entry_add_phone(dedupe_entry_t *entry, const char *e164);

//  True when it has nothing to match on.
bool dedupe_entry_empty(const dedupe_entry_t *entry);

// --- entry_store.c: the index's SQL -----------------------------------------------------------

//  Put a contact's entry and its blocking keys (replacing what it had); nothing for an
//  erased contact. Returns 1 when what the model compares changed (or the contact is
//  new), 0 when not (or erased), -1 on failure.
int dedupe_entry_store_put(crm_db_t *db, const char *tenant_id, const char *contact_id,
                           const dedupe_entry_t *entry);

//  The columns an entry is read back from (entries e, with DEDUPE_ENTRY_JOINS), in the order
//  dedupe_entry_from_row reads them from column first on.
#define DEDUPE_ENTRY_COLUMNS                                                                       \
    "e.first_name, e.last_name, array_to_string(e.first_groups, chr(31)), e.first_phonetic,"      \
    " e.last_phonetic, array_to_string(e.emails, chr(31)), array_to_string(e.domains, chr(31)),"  \
    " array_to_string(e.phones, chr(31)), array_to_string(e.postcodes, chr(31)), e.birth_date,"   \
    " array_to_string(e.streets, chr(31)), array_to_string(e.cities, chr(31)), e.fingerprint,"   \
    " coalesce(cf.n, 0), coalesce(cl.n, 0), coalesce(ct.n, 0)"
#define DEDUPE_ENTRY_NCOLUMNS 16
//  What DEDUPE_ENTRY_COLUMNS reads beside entries e: the counts of its names and the
//  tenant's size (name_counts), joined after entries e in the statement's FROM.
#define DEDUPE_ENTRY_JOINS                                                                         \
    " LEFT JOIN name_counts cf ON cf.tenant_id = e.tenant_id AND cf.kind = 'f'"                    \
    "  AND cf.value = e.first_name"                                                                \
    " LEFT JOIN name_counts cl ON cl.tenant_id = e.tenant_id AND cl.kind = 'l'"                    \
    "  AND cl.value = e.last_name"                                                                 \
    " LEFT JOIN name_counts ct ON ct.tenant_id = e.tenant_id AND ct.kind = 't' AND ct.value = ''"
//  Read an entry from DEDUPE_ENTRY_COLUMNS at column first of row; its fingerprint into
//  fingerprint (may be NULL).
void dedupe_entry_from_row(const PGresult *res, int row, int first, dedupe_entry_t *entry,
                           char *fingerprint);
//  A text[] parameter of n values of a row of fixed-size strings (size bytes apart), the
//  free mail domains left out when companies_only. Caller frees.
char *dedupe_store_array(const char *values, size_t size, size_t n, bool companies_only);
#define DEDUPE_ARRAY(entry, field, companies_only)                                                 \
    dedupe_store_array((const char *)(entry)->field, sizeof(entry)->field[0], (entry)->n_##field,  \
                       companies_only)

//  Take a contact out of the index (deleted or merged away).
int dedupe_entry_store_remove(crm_db_t *db, const char *tenant_id, const char *contact_id);
//  Erasure: out of the index for good (a later event puts nothing back).
int dedupe_entry_store_erase(crm_db_t *db, const char *tenant_id, const char *contact_id);

// --- follow.c: the contacts' events -----------------------------------------------------------

crm_follow_fn dedupe_follow_contacts;
//  ContactUnmerged (merge_follow.c): the restored contacts back in the index. 0, 1
//  unreadable, -1 failed.
int dedupe_follow_unmerged(crm_db_t *db, const Crm__Event *event, const dedupe_t *self);

// --- check.c: the check's rules ---------------------------------------------------------------

//  The draft of POST /v1/contacts/duplicates/check as an entry: phones to E.164 through
//  libphonenumber (default_region for numbers without +country, as contacts does),
//  emails checked. Field errors name the JSON path ("phones[0].number"); a draft with
//  nothing to match on (no name, email or phone) is refused naming "lastName".
int dedupe_check_draft(const Crm__Contacts__Contact *draft, const char *default_region,
                       const dedupe_nicknames_t *nicknames, dedupe_entry_t *entry,
                       crm_errors_t *errors);

// --- score.c: comparing two entries -----------------------------------------------------------

typedef enum { DEDUPE_MISSING, DEDUPE_DIFFERENT, DEDUPE_CLOSE, DEDUPE_EXACT } dedupe_level_t;

typedef enum {
    DEDUPE_FIELD_EMAIL,
    DEDUPE_FIELD_PHONE,
    DEDUPE_FIELD_LAST_NAME,
    DEDUPE_FIELD_FIRST_NAME,
    DEDUPE_FIELD_POSTCODE,
    DEDUPE_FIELD_EMAIL_DOMAIN,
    DEDUPE_FIELD_BIRTH_DATE,
    DEDUPE_FIELD_ADDRESS, // the street line
    DEDUPE_FIELD_CITY,
    DEDUPE_FIELD_COUNT
} dedupe_field_t;

//  A field's weight at a level (score.c's table: log2 of m/u; 0 when missing).
double dedupe_weight(dedupe_field_t field, dedupe_level_t level);

//  The same in a tenant of tenant_size contacts (0: unknown, the table's figure), where
//  value_count of them hold the agreeing value (a name's; 0: unknown). A name's exact
//  agreement weighs by how common the name is in the tenant; an identifier's (email,
//  phone, street line) by how many people could share it by chance (score.c).
double dedupe_weight_in(dedupe_field_t field, dedupe_level_t level, long value_count,
                        long tenant_size);

//  The model's prior: log2 of the odds that two records are the same person before their
//  fields are compared, in a tenant of tenant_size contacts: a record has about
//  DEDUPE_EXPECTED_MATCHES others of its person among the tenant's others, never more
//  likely than a pair of a block (DEDUPE_PRIOR_LOG2_ODDS: small and unknown tenants).
#define DEDUPE_PRIOR_LOG2_ODDS (-8.0)
#define DEDUPE_EXPECTED_MATCHES 1.0
double dedupe_prior_log2(long tenant_size);

//  Jaro-Winkler similarity of two ASCII strings (prefix scale 0.1, up to 4 characters).
double dedupe_jaro_winkler(const char *a, const char *b);

//  Two dates of birth (YYYYMMDD): exact; close when one digit differs, two neighbouring
//  digits are swapped, or day and month are swapped (a typo, or a date written the other
//  way round); different; missing when either has none.
dedupe_level_t dedupe_birth_date_level(const char *a, const char *b);

//  Two street lines (dedupe_street_key): exact; close when the house numbers agree (or
//  one has none) and the words are alike (Jaro-Winkler >= 0.9); different (another house
//  number is another house); missing when either has none.
dedupe_level_t dedupe_street_level(const char *a, const char *b);

typedef struct {
    dedupe_level_t levels[DEDUPE_FIELD_COUNT];
    bool swapped;       // the names agree the other way round (first with last)
    char first_how[16]; // the first name's "close": "nickname", "spelling" or "sound"
    char last_how[16];
    double weight; // the sum of the fields' weights
    double score;  // 0..1: 1 / (1 + 2^-(prior + weight))
} dedupe_comparison_t;

//  Compare a draft with a candidate (both with their phonetic codes set).
void dedupe_compare(const dedupe_entry_t *draft, const dedupe_entry_t *candidate,
                    dedupe_comparison_t *out);

//  The comparison as the API answers it: contact_id, score (three decimals), the
//  reasons of the fields that agree and their summary. Caller frees
//  (crm__dedupe__duplicate_match__free_unpacked).
Crm__Dedupe__DuplicateMatch *dedupe_match_new(const char *contact_id,
                                              const dedupe_comparison_t *comparison);

// --- check_store.c: the candidates ------------------------------------------------------------

//  The contacts of the caller's tenant the draft's blocking keys find (an email, a phone,
//  the sound of the last name with a postcode or a company email domain), at most
//  limit, as entries; sets the draft's phonetic codes. 0 with *out (caller frees, each
//  entry and the arrays) or a failure code.
typedef struct {
    char contact_id[40];
    dedupe_entry_t entry;
} dedupe_candidate_t;

int dedupe_check_store_candidates(crm_call_t *call, dedupe_entry_t *draft, size_t limit,
                                  dedupe_candidate_t **out, size_t *n_out);

//  The same for n drafts in one statement: out[i] the candidates of drafts[i] (each
//  out[i].items the caller's to free), each draft's phonetic codes set.
typedef struct {
    dedupe_candidate_t *items;
    size_t n;
} dedupe_candidates_t;
int dedupe_check_store_candidates_batch(crm_call_t *call, dedupe_entry_t **drafts, size_t n,
                                        size_t limit, dedupe_candidates_t *out);

// --- group.c: pairs into groups ---------------------------------------------------------------

//  A likely duplicate pair: a and b index the contacts being grouped.
typedef struct {
    uint32_t a, b;
    double score;
} dedupe_link_t;

//  The most contacts in one group (a merge takes at most 10 at once).
#define DEDUPE_GROUP_MAX 10

//  Group n contacts by their links (best first, greedy average linkage): two groups
//  join through a link only when at least half the pairs between them are links too
//  and together they hold at most max_size, so that a chain of look-alikes (A like B,
//  B like C, C like D) does not become one group of people who are not alike. Writes
//  each contact's group number to group_of (-1: in none) and returns how many groups
//  (of two or more) there are. links may be reordered.
size_t dedupe_group(size_t n, dedupe_link_t *links, size_t n_links, size_t max_size,
                    int *group_of);

// --- match.c: contacts matched within their blocks --------------------------------------------

//  The most contacts of one blocking key compared: a key held by more (a shared office
//  number, a placeholder address) says too little to be worth its pairs.
#define DEDUPE_BLOCK_MAX 100

//  Match one contact (new, or changed in a field the model compares) against its blocks:
//  its pairs scoring at least threshold (0..1) replace the ones it had (its dismissals
//  lapse with the change), each new pair a DuplicateFound in outbox, and its groups are
//  made again. Also for a contact gone (deleted, merged, erased): its pairs go and the
//  groups it was in are made again without it.
int dedupe_match_contact(crm_db_t *db, crm_outbox_t *outbox, const char *tenant_id,
                         const char *contact_id, double threshold);

//  A scan's page: the contacts after after_id (id order, at most page), each matched
//  with the contacts of its blocks after it; their pairs kept (a dismissal kept while
//  both fingerprints are unchanged), new ones published. *processed: contacts done
//  (0: the scan is through), *last_id: the last one, *pairs: pairs at or above threshold.
int dedupe_match_page(crm_db_t *db, crm_outbox_t *outbox, const char *tenant_id,
                      const char *after_id, int page, double threshold, int *processed,
                      char last_id[40], int *pairs);

//  Make every group of the tenant again from its open pairs; *groups: how many are open.
int dedupe_match_regroup_all(crm_db_t *db, const char *tenant_id, int *groups);

// --- queue.c: live matching, a job of the daemon ---------------------------------------------

//  Queue a contact (new, changed in what the model compares, or gone) for the matching
//  job, in the caller's transaction (follow.c: the index update's).
int dedupe_queue_add(crm_db_t *db, const char *tenant_id, const char *contact_id);
//  The job's step: a batch of the queue matched (dedupe_match_contact) in one transaction.
crm_step_fn dedupe_queue_step;
int dedupe_queue_period_ms(const crm_config_t *cfg);

// --- scan.c: the scan job and the review list's methods --------------------------------------

crm_step_fn dedupe_scan_step;
int dedupe_scan_period_ms(const crm_config_t *cfg);
crm_method_fn dedupe_scan_start, dedupe_scan_get, dedupe_duplicates_list, dedupe_duplicate_get,
    dedupe_duplicate_dismiss;

#endif
