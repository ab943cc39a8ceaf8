/*  bench_dedupe_accuracy: how well the duplicate scan finds duplicates (issue 18's
    accuracy targets), and how long it takes.

    Three data sets, each loaded as the contacts of a tenant of its own through the API
    (POST /v1/contacts, as a client would; the record's id kept in foundUs), then scanned
    (POST /v1/duplicates/scans, polled until it succeeded):
    - FEBRL dataset1 and dataset2 (../shared/data/febrl, or BENCH_FEBRL_DIR): given name,
      surname, street number + address_1 as the street line, address_2 as line 2, suburb,
      state, postcode, date of birth; records rec-N-org and rec-N-dup-K are one person.
    - A generator of dealership-like contacts with its ground truth (BENCH_DEALER people,
      default 3,000): emails (gmail dots and +tags), US phones in many formats,
      nicknames, accents left out, typos, first and last swapped, households sharing a
      phone and a street, and the same name on different people (the name lists are
      short on purpose).
    For each: precision, recall and F1 of the pairs found, both as the review list shows
    them (every pair within a group) and as scored (the pairs at or above the
    threshold), the blocking's recall (true pairs that share a key), the scan's time,
    and the dedupe daemon's peak RSS. Targets: F1 >= 0.95 on each; FEBRL precision >= 0.98.
    Every record is sent with allowDuplicate (a duplicate is what is measured); a field
    the contacts service refuses (a date that is not one) is left out, and what was
    refused is printed, counted by the service's answer. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static harness_t *h;

// --- records and their truth ----------------------------------------------------------------

typedef struct {
    char *json;     // the contact to create
    long entity;    // the person it is
    char id[40];    // the contact's id once created
} s_record_t;

typedef struct {
    s_record_t *items;
    size_t n, cap;
} s_records_t;

static void s_add(s_records_t *r, char *json, long entity) {
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 1024;
        r->items = realloc(r->items, r->cap * sizeof *r->items);
    }
    r->items[r->n++] = (s_record_t){.json = json, .entity = entity};
}

static void s_records_free(s_records_t *r) {
    for (size_t i = 0; i < r->n; i++)
        free(r->items[i].json);
    free(r->items);
}

// --- FEBRL ------------------------------------------------------------------------------------

static char *s_trim(char *s) {
    while (*s == ' ')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

static json_t *s_str(const char *s) {
    return json_string(s);
}

static int s_febrl(const char *path, s_records_t *out) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "bench_dedupe_accuracy: cannot read %s\n", path);
        return -1;
    }
    char line[2048];
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        char *cols[12];
        int n = 0;
        for (char *p = line, *c; n < 12 && (c = strsep(&p, ","));)
            cols[n++] = s_trim(c);
        if (n < 11)
            continue;
        long entity = 0;
        if (sscanf(cols[0], "rec-%ld", &entity) != 1)
            continue;
        json_t *c = json_object();
        json_object_set_new(c, "firstName", s_str(cols[1]));
        json_object_set_new(c, "lastName", s_str(cols[2]));
        char line1[256];
        snprintf(line1, sizeof line1, "%s%s%s", cols[3], cols[3][0] ? " " : "", cols[4]);
        json_t *a = json_object();
        json_object_set_new(a, "line1", s_str(line1));
        json_object_set_new(a, "line2", s_str(cols[5]));
        json_object_set_new(a, "city", s_str(cols[6]));
        json_object_set_new(a, "postcode", s_str(cols[7]));
        json_object_set_new(a, "region", s_str(cols[8]));
        json_object_set_new(a, "country", s_str("AU"));
        json_object_set_new(c, "addresses", json_pack("[o]", a));
        if (strlen(cols[9]) == 8) {
            char dob[16];
            snprintf(dob, sizeof dob, "%.4s-%.2s-%.2s", cols[9], cols[9] + 4, cols[9] + 6);
            json_object_set_new(c, "dateOfBirth", s_str(dob));
        }
        json_object_set_new(c, "foundUs", s_str(cols[0]));
        s_add(out, json_dumps(c, JSON_COMPACT), entity);
        json_decref(c);
    }
    fclose(f);
    return 0;
}

// --- the dealership generator ------------------------------------------------------------------

static uint64_t s_seed = 0x2545F4914F6CDD1DULL;
static uint32_t s_rand(void) {
    s_seed ^= s_seed << 13;
    s_seed ^= s_seed >> 7;
    s_seed ^= s_seed << 17;
    return (uint32_t)(s_seed >> 11);
}
#define PICK(list) (list)[s_rand() % (sizeof(list) / sizeof((list)[0]))]

//  First names with a nickname the shipped list knows (or none).
static const char *const s_firsts[][2] = {
    {"William", "Bill"},   {"Robert", "Bob"},      {"Margaret", "Peggy"}, {"Elizabeth", "Liz"},
    {"James", "Jim"},      {"Richard", "Dick"},    {"Michael", "Mike"},   {"Katherine", "Kate"},
    {"Jennifer", "Jen"},   {"Thomas", "Tom"},      {"Christopher", "Chris"}, {"Daniel", "Dan"},
    {"Anthony", "Tony"},   {"Joseph", "Joe"},      {"Patricia", "Pat"},   {"Susan", "Sue"},
    {"José", NULL},        {"María", NULL},        {"Zoë", NULL},         {"Renée", NULL},
    {"François", NULL},    {"Chloé", NULL},        {"Andrés", NULL},      {"Sofía", NULL},
    {"Ann", NULL},         {"Olivia", NULL},       {"Ethan", NULL},       {"Noah", NULL},
    {"Liam", NULL},        {"Ava", NULL},          {"Mia", NULL},         {"Lucas", NULL},
    {"Priya", NULL},       {"Wei", NULL},          {"Hiroshi", NULL},     {"Fatima", NULL},
    {"Omar", NULL},        {"Grace", NULL},        {"Henry", NULL},       {"Isabel", NULL}};
static const char *const s_lasts[] = {
    "Smith",   "Johnson", "Williams", "Brown",    "Jones",   "García",  "Miller",   "Davis",
    "Rodríguez", "Martínez", "Hernández", "López", "Gonzalez", "Wilson", "Anderson", "Thomas",
    "Taylor",  "Moore",   "Jackson",  "Martin",   "Lee",     "Pérez",   "Thompson", "White",
    "Harris",  "Sánchez", "Clark",    "Ramírez",  "Lewis",   "Robinson", "Walker",  "Young",
    "Allen",   "King",    "Wright",   "Scott",    "Torres",  "Nguyen",  "Hill",     "Flores",
    "Green",   "Adams",   "Nelson",   "Baker",    "Hall",    "Rivera",  "Campbell", "Mitchell",
    "Carter",  "Roberts", "Müller",   "Núñez",    "O'Brien", "Schmidt", "Kowalski", "Petrov",
    "Okafor",  "Haddad",  "Kim",      "Patel"};
static const char *const s_streets[] = {"Main", "Oak", "Pine", "Maple", "Cedar", "Elm",
                                        "Washington", "Lake", "Hill", "Park", "Sunset",
                                        "Lincoln", "Jackson", "Highland", "Ridge", "Walnut"};
static const char *const s_kinds[][2] = {{"Street", "St"}, {"Avenue", "Ave"}, {"Road", "Rd"},
                                         {"Drive", "Dr"},  {"Lane", "Ln"},    {"Court", "Ct"}};
static const char *const s_areas[] = {"212", "213", "305", "312", "415", "617", "702", "718",
                                      "202", "206", "303", "404", "503", "512", "602", "614"};
static const char *const s_companies[] = {"acme-motors.com", "northwind.com", "contoso.com",
                                          "globex.com", "initech.com"};

typedef struct {
    char first[48], nick[48], last[48];
    char area[4], exchange[4], number[5];
    char email_local[96], email_domain[48];
    int house;
    const char *street, *kind_long, *kind_short;
    char postcode[6], city[32];
    char dob[11];
} s_person_t;

//  ASCII letters only, accents left out (the way a hurried clerk types "Garcia").
static void s_unaccent(const char *in, char *out, size_t size) {
    static const char *const map[][2] = {{"á", "a"}, {"é", "e"}, {"í", "i"}, {"ó", "o"},
                                         {"ú", "u"}, {"ñ", "n"}, {"ü", "u"}, {"ë", "e"},
                                         {"ç", "c"}, {"Á", "A"}, {"É", "E"}};
    size_t w = 0;
    for (const char *p = in; *p && w + 1 < size;) {
        bool done = false;
        for (size_t i = 0; i < sizeof map / sizeof map[0] && !done; i++) {
            size_t len = strlen(map[i][0]);
            if (strncmp(p, map[i][0], len) == 0) {
                out[w++] = map[i][1][0];
                p += len;
                done = true;
            }
        }
        if (!done)
            out[w++] = *p++;
    }
    out[w] = 0;
}

static void s_lower_ascii(const char *in, char *out, size_t size) {
    char plain[96];
    s_unaccent(in, plain, sizeof plain);
    size_t w = 0;
    for (const char *p = plain; *p && w + 1 < size; p++)
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
            out[w++] = (char)(*p | 0x20);
    out[w] = 0;
}

//  One typo: a letter dropped, doubled, or two swapped (not the first letter).
static void s_typo(const char *in, char *out, size_t size) {
    snprintf(out, size, "%s", in);
    size_t n = strlen(out);
    if (n < 4)
        return;
    size_t i = 1 + s_rand() % (n - 2);
    if ((unsigned char)out[i] >= 0x80 || (unsigned char)out[i + 1] >= 0x80)
        return;
    switch (s_rand() % 3) {
    case 0:
        memmove(out + i, out + i + 1, n - i);
        break;
    case 1:
        if (n + 1 < size) {
            memmove(out + i + 1, out + i, n - i + 1);
        }
        break;
    default: {
        char t = out[i];
        out[i] = out[i + 1];
        out[i + 1] = t;
    }
    }
}

static void s_new_person(s_person_t *p, const s_person_t *household) {
    int f = (int)(s_rand() % (sizeof s_firsts / sizeof s_firsts[0]));
    snprintf(p->first, sizeof p->first, "%s", s_firsts[f][0]);
    snprintf(p->nick, sizeof p->nick, "%s", s_firsts[f][1] ? s_firsts[f][1] : "");
    if (household) {
        snprintf(p->last, sizeof p->last, "%s", household->last);
        memcpy(p->area, household->area, sizeof p->area);
        memcpy(p->exchange, household->exchange, sizeof p->exchange);
        memcpy(p->number, household->number, sizeof p->number);
        p->house = household->house;
        p->street = household->street;
        p->kind_long = household->kind_long;
        p->kind_short = household->kind_short;
        memcpy(p->postcode, household->postcode, sizeof p->postcode);
        memcpy(p->city, household->city, sizeof p->city);
    } else {
        snprintf(p->last, sizeof p->last, "%s", PICK(s_lasts));
        snprintf(p->area, sizeof p->area, "%s", PICK(s_areas));
        snprintf(p->exchange, sizeof p->exchange, "%03u", 201 + s_rand() % 700);
        if (p->exchange[1] == '1' && p->exchange[2] == '1')
            p->exchange[2] = '2';
        if (strcmp(p->exchange, "555") == 0)
            p->exchange[2] = '6';
        snprintf(p->number, sizeof p->number, "%04u", s_rand() % 10000);
        p->house = 1 + (int)(s_rand() % 9000);
        p->street = PICK(s_streets);
        int k = (int)(s_rand() % (sizeof s_kinds / sizeof s_kinds[0]));
        p->kind_long = s_kinds[k][0];
        p->kind_short = s_kinds[k][1];
        snprintf(p->postcode, sizeof p->postcode, "%05u", 10000 + s_rand() % 300);
        snprintf(p->city, sizeof p->city, "Town %u", s_rand() % 50);
    }
    char first[32], last[32];
    s_lower_ascii(p->first, first, sizeof first);
    s_lower_ascii(p->last, last, sizeof last);
    bool company = s_rand() % 5 == 0;
    snprintf(p->email_local, sizeof p->email_local, "%s.%s%u", first, last, s_rand() % 100);
    snprintf(p->email_domain, sizeof p->email_domain, "%s",
             company ? PICK(s_companies) : "gmail.com");
    snprintf(p->dob, sizeof p->dob, "%04u-%02u-%02u", 1940 + s_rand() % 65, 1 + s_rand() % 12,
             1 + s_rand() % 28);
}

//  A record of p: variant 0 is the record as first typed; others vary it as a second
//  visit, a web form or an import would.
static char *s_person_json(const s_person_t *p, int variant, long entity) {
    char first[64], last[64], email[160], phone[32], line1[96], tmp[64];
    snprintf(first, sizeof first, "%s", p->first);
    snprintf(last, sizeof last, "%s", p->last);
    bool has_email = true, has_phone = true, has_address = true, has_dob = s_rand() % 3 == 0;
    snprintf(email, sizeof email, "%s@%s", p->email_local, p->email_domain);
    snprintf(phone, sizeof phone, "(%s) %s-%s", p->area, p->exchange, p->number);
    snprintf(line1, sizeof line1, "%d %s %s", p->house, p->street, p->kind_long);
    if (variant > 0) {
        //  The channels: another phone format, a gmail variant, or one of them missing.
        static const char *const formats[] = {"%s-%s-%s", "%s.%s.%s", "+1 %s %s %s", "%s%s%s",
                                              "1-%s-%s-%s"};
        snprintf(phone, sizeof phone, PICK(formats), p->area, p->exchange, p->number);
        //  The contacts service keeps an address on one contact only: a second record
        //  has the address as Gmail also delivers it, or none.
        if (strcmp(p->email_domain, "gmail.com") != 0)
            has_email = false;
        else {
            char local[96];
            size_t w = 0;
            for (const char *c = p->email_local; *c; c++)
                if (*c != '.')
                    local[w++] = *c;
            local[w] = 0;
            snprintf(email, sizeof email, "%s+%s@gmail.com", local, variant == 1 ? "cars" : "web");
        }
        switch (s_rand() % 4) {
        case 0:
            has_email = false;
            break;
        case 1:
            has_phone = false;
            break;
        default:
            break;
        }
        //  The name: a nickname, accents left out, a typo, or first and last swapped.
        switch (s_rand() % 5) {
        case 0:
            if (p->nick[0])
                snprintf(first, sizeof first, "%s", p->nick);
            break;
        case 1:
            s_unaccent(p->first, first, sizeof first);
            s_unaccent(p->last, last, sizeof last);
            break;
        case 2:
            s_typo(p->last, tmp, sizeof tmp);
            snprintf(last, sizeof last, "%s", tmp);
            break;
        case 3:
            snprintf(first, sizeof first, "%s", p->last);
            snprintf(last, sizeof last, "%s", p->first);
            break;
        default:
            s_typo(p->first, tmp, sizeof tmp);
            snprintf(first, sizeof first, "%s", tmp);
        }
        if (s_rand() % 2)
            snprintf(line1, sizeof line1, "%d %s %s.", p->house, p->street, p->kind_short);
        has_address = s_rand() % 3 != 0;
    }
    json_t *c = json_object();
    json_object_set_new(c, "firstName", s_str(first));
    json_object_set_new(c, "lastName", s_str(last));
    if (has_email)
        json_object_set_new(c, "emails", json_pack("[{s:s}]", "address", email));
    if (has_phone)
        json_object_set_new(c, "phones", json_pack("[{s:s}]", "number", phone));
    if (has_address)
        json_object_set_new(c, "addresses", json_pack("[{s:s, s:s, s:s, s:s}]", "line1", line1,
                                                      "city", p->city, "postcode", p->postcode,
                                                      "country", "US"));
    if (has_dob)
        json_object_set_new(c, "dateOfBirth", s_str(p->dob));
    char found[32];
    snprintf(found, sizeof found, "person-%ld", entity);
    json_object_set_new(c, "foundUs", s_str(found));
    char *text = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    return text;
}

static void s_dealers(long people, s_records_t *out) {
    s_person_t *persons = calloc((size_t)people, sizeof *persons);
    for (long i = 0; i < people; i++) {
        //  One in eight shares a household (phone, street) with the one before.
        bool household = i > 0 && s_rand() % 8 == 0;
        s_new_person(&persons[i], household ? &persons[i - 1] : NULL);
        s_add(out, s_person_json(&persons[i], 0, i), i);
        //  A third come back once or twice as a duplicate.
        int copies = s_rand() % 3 == 0 ? 1 + (int)(s_rand() % 2) : 0;
        for (int k = 0; k < copies; k++)
            s_add(out, s_person_json(&persons[i], 1 + k, i), i);
    }
    free(persons);
}

// --- loading, scanning, measuring -------------------------------------------------------------

//  What the contacts service refused, counted by its answer's status, field and message
//  (the field left out when it was a field; the record left out otherwise).
typedef struct {
    char what[160];
    long n;
} s_refusal_t;
static s_refusal_t s_refusals[64];
static size_t s_n_refusals;

static void s_refused(long status, const char *field, const char *message, bool record) {
    char what[160];
    //  Counted by the message, without the id it names ("is already used by contact ...").
    int len = strstr(message, " by contact ") ? (int)(strstr(message, " by contact ") - message)
                                                : (int)strlen(message);
    snprintf(what, sizeof what, "%s %ld %s: %.*s", record ? "record refused" : "field left out",
             status, field, len, message);
    for (size_t i = 0; i < s_n_refusals; i++)
        if (strcmp(s_refusals[i].what, what) == 0) {
            s_refusals[i].n++;
            return;
        }
    if (s_n_refusals < sizeof s_refusals / sizeof s_refusals[0]) {
        snprintf(s_refusals[s_n_refusals].what, sizeof s_refusals[0].what, "%s", what);
        s_refusals[s_n_refusals++].n = 1;
    }
}

static const char *s_error_message(const harness_response_t *r) {
    json_t *e = json_object_get(r->json, "error");
    json_t *f = json_array_get(json_object_get(e, "fields"), 0);
    const char *m = json_string_value(json_object_get(f, "message"));
    if (!m)
        m = json_string_value(json_object_get(e, "message"));
    return m ? m : "";
}

//  Create every record as a contact of key's tenant, each with allowDuplicate (records
//  of one person are what is measured); a field the contacts service refuses is left
//  out and counted (s_refused). Returns how many were created.
static size_t s_load(const char *key, s_records_t *records) {
    size_t created = 0;
    s_n_refusals = 0;
    for (size_t i = 0; i < records->n; i++) {
        json_error_t err;
        json_t *c = json_loads(records->items[i].json, 0, &err);
        json_object_set_new(c, "allowDuplicate", json_true());
        for (int attempt = 0; attempt < 4; attempt++) {
            char *body = json_dumps(c, JSON_COMPACT);
            harness_response_t r = harness_http("POST", "/v1/contacts", key, body, NULL);
            free(body);
            if (r.status == 201) {
                snprintf(records->items[i].id, sizeof records->items[i].id, "%s",
                         harness_json_str(&r, "id"));
                created++;
                harness_response_free(&r);
                break;
            }
            char field[128];
            snprintf(field, sizeof field, "%s", harness_error_field(&r));
            //  A field that is wrong is left out; one that is required and missing (a
            //  person's first or last name) cannot be: the record is refused.
            bool drop = r.status == 422 && field[0] && attempt < 3 &&
                        !strstr(s_error_message(&r), "is required");
            s_refused(r.status, field, s_error_message(&r), !drop);
            if (drop && strncmp(field, "addresses", 9) == 0)
                json_object_del(c, "addresses");
            else if (drop)
                json_object_del(c, field);
            harness_response_free(&r);
            if (!drop)
                break;
        }
        json_decref(c);
    }
    for (size_t i = 0; i < s_n_refusals; i++)
        printf("  %6ld x %s\n", s_refusals[i].n, s_refusals[i].what);
    return created;
}

static void s_wait_index(void) {
    long long head = harness_contacts_head(30000);
    while (harness_sql_scalar("SELECT coalesce((SELECT last_seq FROM dedupe.inbox"
                              " WHERE source = 'contacts'), 0)") < head ||
           harness_sql_scalar("SELECT count(*) FROM dedupe.match_queue") > 0) {
        zclock_sleep(100);
        head = harness_contacts_head(30000);
    }
}

static double s_scan(const char *key) {
    int64_t start = zclock_usecs();
    harness_response_t r = harness_http("POST", "/v1/duplicates/scans", key, "{}", NULL);
    if (r.status != 202) {
        fprintf(stderr, "scan: %ld %s\n", r.status, r.body);
        harness_response_free(&r);
        return -1;
    }
    char path[128];
    snprintf(path, sizeof path, "/v1/duplicates/scans/%s", harness_json_str(&r, "id"));
    harness_response_free(&r);
    for (;;) {
        r = harness_http("GET", path, key, NULL, NULL);
        bool done = strcmp(harness_json_str(&r, "status"), "succeeded") == 0;
        harness_response_free(&r);
        if (done)
            break;
        zclock_sleep(20);
    }
    return (zclock_usecs() - start) / 1e6;
}

static int s_id_compare(const void *a, const void *b) {
    return strcmp(((const s_record_t *)a)->id, ((const s_record_t *)b)->id);
}

static long s_entity_of(const s_records_t *sorted, const char *id) {
    s_record_t key;
    snprintf(key.id, sizeof key.id, "%s", id);
    s_record_t *r = bsearch(&key, sorted->items, sorted->n, sizeof *sorted->items, s_id_compare);
    return r ? r->entity : -1;
}

//  True pairs among the records created: sum over entities of k(k-1)/2.
static long s_true_pairs(const s_records_t *records, bool created_only) {
    long max = 0;
    for (size_t i = 0; i < records->n; i++)
        if (records->items[i].entity > max)
            max = records->items[i].entity;
    long *count = calloc((size_t)max + 1, sizeof *count), pairs = 0;
    for (size_t i = 0; i < records->n; i++)
        if (!created_only || records->items[i].id[0])
            count[records->items[i].entity]++;
    for (long e = 0; e <= max; e++)
        pairs += count[e] * (count[e] - 1) / 2;
    free(count);
    return pairs;
}

static void s_report(const char *what, long found, long correct, long truth) {
    double p = found ? (double)correct / (double)found : 0, r = truth ? (double)correct / truth : 0;
    double f1 = p + r > 0 ? 2 * p * r / (p + r) : 0;
    printf("  %-28s pairs %6ld  correct %6ld  precision %.4f  recall %.4f  F1 %.4f\n", what,
           found, correct, p, r, f1);
}

//  The pairs of the tenant's open groups and of its scored pairs, against the truth.
static void s_measure(const char *name, const char *tenant, const char *key,
                      s_records_t *records, double seconds) {
    qsort(records->items, records->n, sizeof *records->items, s_id_compare);
    long truth = s_true_pairs(records, true);
    //  The review list, every page.
    long found = 0, correct = 0;
    char cursor[256] = "";
    for (;;) {
        char path[400];
        snprintf(path, sizeof path, "/v1/duplicates?limit=200%s%s", cursor[0] ? "&cursor=" : "",
                 cursor);
        harness_response_t r = harness_http("GET", path, key, NULL, NULL);
        json_t *items = json_object_get(r.json, "items");
        for (size_t g = 0; g < json_array_size(items); g++) {
            json_t *members = json_object_get(json_array_get(items, g), "members");
            size_t n = json_array_size(members);
            for (size_t i = 0; i < n; i++)
                for (size_t j = i + 1; j < n; j++) {
                    long a = s_entity_of(records, json_string_value(json_object_get(
                                                      json_array_get(members, i), "contactId")));
                    long b = s_entity_of(records, json_string_value(json_object_get(
                                                      json_array_get(members, j), "contactId")));
                    found++;
                    correct += a >= 0 && a == b;
                }
        }
        snprintf(cursor, sizeof cursor, "%s", harness_json_str(&r, "nextCursor"));
        harness_response_free(&r);
        if (!cursor[0])
            break;
    }
    printf("%s: %zu records, %ld true pairs; scan %.2f s\n", name, records->n, truth, seconds);
    s_report("review list (groups)", found, correct, truth);
    //  The scored pairs and the blocks' reach, from dedupe's own tables.
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM dedupe.pairs WHERE tenant_id = '%s'", tenant);
    long scored = harness_sql_scalar(sql);
    //  Correct scored pairs: contacts' foundUs names the record; compare in SQL.
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM dedupe.pairs p JOIN contacts.contacts a ON a.id = p.a"
             " JOIN contacts.contacts b ON b.id = p.b WHERE p.tenant_id = '%s'"
             " AND split_part(a.profile->>'foundUs', '-', 2) = split_part(b.profile->>'foundUs', '-', 2)",
             tenant);
    long scored_correct = harness_sql_scalar(sql);
    s_report("scored pairs", scored, scored_correct, truth);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM (SELECT DISTINCT x.contact_id AS a, y.contact_id AS b"
             " FROM dedupe.match_keys x JOIN dedupe.match_keys y ON y.tenant_id = x.tenant_id"
             "  AND y.key = x.key AND y.contact_id > x.contact_id"
             " JOIN contacts.contacts ca ON ca.id = x.contact_id"
             " JOIN contacts.contacts cb ON cb.id = y.contact_id"
             " WHERE x.tenant_id = '%s'"
             "  AND split_part(ca.profile->>'foundUs', '-', 2) = split_part(cb.profile->>'foundUs', '-', 2)) t",
             tenant);
    long blocked = harness_sql_scalar(sql);
    printf("  blocking recall %.4f (%ld of %ld true pairs share a key)\n",
           truth ? (double)blocked / truth : 0, blocked, truth);
}

static long s_hwm_kib(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

static void s_run(const char *name, const char *tenant, const char *key, s_records_t *records) {
    int64_t start = zclock_usecs();
    size_t created = s_load(key, records);
    s_wait_index();
    printf("%s: loaded %zu of %zu records in %.1f s (each matched as it arrived)\n", name, created,
           records->n, (zclock_usecs() - start) / 1e6);
    double seconds = s_scan(key);
    s_measure(name, tenant, key, records, seconds);
    printf("  crm-dedupe peak RSS %.1f MiB\n\n", s_hwm_kib(harness_daemon_pid("dedupe")) / 1024.0);
    fflush(stdout);
}

int main(void) {
    const char *dir = getenv("BENCH_FEBRL_DIR");
    char default_dir[600];
    snprintf(default_dir, sizeof default_dir, "%s/../shared/data/febrl",
             getenv("CRM_TOP_DIR") ? getenv("CRM_TOP_DIR") : ".");
    if (!dir)
        dir = default_dir;
    long people = getenv("BENCH_DEALER") ? atol(getenv("BENCH_DEALER")) : 3000;
    h = harness_start(NULL);
    printf("bench_dedupe_accuracy: threshold dedupe.check_threshold (default 0.50)\n\n");
    static const char *const sets[] = {"dataset1", "dataset2"};
    static const char *const tenants[] = {"tenant-a", "tenant-b"};
    const char *keys[] = {h->key_a, h->key_b};
    for (int s = 0; s < 2; s++) {
        char path[700], name[64];
        snprintf(path, sizeof path, "%s/%s.csv", dir, sets[s]);
        snprintf(name, sizeof name, "FEBRL %s", sets[s]);
        s_records_t records = {0};
        if (s_febrl(path, &records) == 0)
            s_run(name, tenants[s], keys[s], &records);
        s_records_free(&records);
    }
    char key_c[64];
    harness_create_key("tenant-c", "admin", key_c, sizeof key_c);
    s_records_t dealers = {0};
    s_dealers(people, &dealers);
    s_run("dealership generator", "tenant-c", key_c, &dealers);
    s_records_free(&dealers);
    harness_stop();
    return 0;
}
