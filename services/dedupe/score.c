/*  score: how alike a draft and a candidate are, as a Fellegi-Sunter record linkage model.

    Each field is compared to a level: exact, close, different, or missing (either side
    has none). A level's weight is log2 of how much likelier it is for two records of the
    same person (m) than for two records of different people (u) within a block:
    log2(m/u) for an agreement, log2((1 - m_exact - m_close) / (1 - u_exact - u_close))
    for a disagreement, 0 when missing. The weights add up (the fields are taken as
    independent given match or non-match) and, with the prior odds of a block's pair
    being the same person, give the score: 1 / (1 + 2^-(prior + weight)), 0 to 1.

    field        m exact  m close  u exact  u close  close means
    email        0.60     -        0.0001   -        (people have several addresses)
    phone        0.60     -        0.0005   -        (a household shares a line)
    lastName     0.85     0.10     0.02     0.01     Jaro-Winkler >= 0.9, or same Double
                                                     Metaphone code
    firstName    0.85     0.13     0.02     0.02     the same, or a nickname of a formal
                                                     name in common (Bill, William)
    postcode     0.80     -        0.05     -
    emailDomain  0.50     -        0.01     -        counted only for a company's domain
                                                     (not free mail) when the emails differ
    dateOfBirth  0.85     0.08     0.0005   0.005    one digit off, two neighbouring digits
                                                     or day and month swapped
    address      0.70     0.15     0.002    0.005    the street line: same house number (or
                                                     one without) and Jaro-Winkler >= 0.9
    city         0.85     0.05     0.05     0.01     Jaro-Winkler >= 0.9

    How the figures were reasoned: m is one less the chance that a field of one person's
    two records disagrees (typing errors, a second address, a move: a few to 30 in a
    hundred, more for the lines people change); u is the chance that two different
    people's agree by chance, from how many values the field takes (a date of birth is
    one of ~20,000 likely ones, made ten times likelier for defaults like 1 January; a
    street line is shared by a household, one in a few hundred of a postcode's pairs; a
    name's sound is shared by a few in a hundred), counted among pairs that share a
    blocking key. A close level is as likely for a typo as an exact one is for a correct
    entry, and comes by chance about as often as the values one typo away.

    Corrections for what independence gets wrong:
    - A city says nothing more once the postcodes agree (one implies the other), and a
      different city adds nothing to a different postcode (one move, counted once): the
      city counts only when the postcodes are missing or differ, and then only if it
      agrees.
    - When both first names are given and differ, what a household or a company shares
      is the household's more than the person's: a shared email counts half, and of the
      phone, street line, postcode, city and company domain only the strongest agreement
      counts, and half.
    - Names written the other way round (the first name in the last name's place and
      the last in the first's) agree as they would in order: a reason says so.

    The m and u figures are judgement, not fitted to a data set (the FEBRL benchmark,
    bench/bench_dedupe_accuracy.c, measures them); they live in this one table.
    tests/unit/test_dedupe_score.c shows the model on the cases the check must find.
*/
#include "dedupe.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JARO_WINKLER_CLOSE 0.9

typedef struct {
    double m_exact, m_close, u_exact, u_close;
} s_odds_t;

static const s_odds_t s_odds[DEDUPE_FIELD_COUNT] = {
    [DEDUPE_FIELD_EMAIL] = {0.60, 0, 0.0001, 0},
    [DEDUPE_FIELD_PHONE] = {0.60, 0, 0.0005, 0},
    [DEDUPE_FIELD_LAST_NAME] = {0.85, 0.10, 0.02, 0.01},
    [DEDUPE_FIELD_FIRST_NAME] = {0.85, 0.13, 0.02, 0.02},
    [DEDUPE_FIELD_POSTCODE] = {0.80, 0, 0.05, 0},
    [DEDUPE_FIELD_EMAIL_DOMAIN] = {0.50, 0, 0.01, 0},
    [DEDUPE_FIELD_BIRTH_DATE] = {0.85, 0.08, 0.0005, 0.005},
    [DEDUPE_FIELD_ADDRESS] = {0.70, 0.15, 0.002, 0.005},
    [DEDUPE_FIELD_CITY] = {0.85, 0.05, 0.05, 0.01},
};

static const char *const s_names[DEDUPE_FIELD_COUNT] = {
    "email",       "phone",       "lastName", "firstName", "postcode",
    "emailDomain", "dateOfBirth", "address",  "city"};
static const char *const s_words[DEDUPE_FIELD_COUNT] = {
    "email",        "phone",         "last name",      "first name", "postcode",
    "email domain", "date of birth", "street address", "city"};

//  How far a tenant's own counts of a name are trusted: the name's share of the tenant is
//  taken as (count + NAME_PSEUDO_COUNT * the table's u) / (size + NAME_PSEUDO_COUNT), the
//  table's figure weighing as much as this many contacts (a small tenant's counts say
//  little; a large one's say nearly all).
#define NAME_PSEUDO_COUNT 100.0

//  The tenant size below which the table's figures hold as they are: where the prior
//  odds of a pair, DEDUPE_EXPECTED_MATCHES / (size - 1), reach DEDUPE_PRIOR_LOG2_ODDS.
static double s_block_size(void) {
    return DEDUPE_EXPECTED_MATCHES * exp2(-DEDUPE_PRIOR_LOG2_ODDS) + 1;
}

double dedupe_prior_log2(long tenant_size) {
    if (tenant_size <= 1)
        return DEDUPE_PRIOR_LOG2_ODDS;
    double prior = log2(DEDUPE_EXPECTED_MATCHES / (double)(tenant_size - 1));
    return prior < DEDUPE_PRIOR_LOG2_ODDS ? prior : DEDUPE_PRIOR_LOG2_ODDS;
}

//  The chance that an exact agreement on field comes by chance in a tenant of size
//  contacts, value_count of them holding the value (0s: unknown, the table's u).
static double s_u_exact(dedupe_field_t field, long value_count, long size) {
    double u = s_odds[field].u_exact;
    if (size <= 0)
        return u;
    switch (field) {
    case DEDUPE_FIELD_FIRST_NAME:
    case DEDUPE_FIELD_LAST_NAME: {
        //  A name: its share of the tenant (the contact itself counted once at least).
        double count = value_count > 0 ? (double)value_count : 1;
        return (count + NAME_PSEUDO_COUNT * u) / ((double)size + NAME_PSEUDO_COUNT);
    }
    case DEDUPE_FIELD_EMAIL:
    case DEDUPE_FIELD_PHONE:
    case DEDUPE_FIELD_ADDRESS: {
        //  An identifier (an address, a line, a house): the people who could share one
        //  by chance (a household, a reused number) do not grow with the tenant, so its
        //  u falls as the prior does, and it says as much in a large tenant as a small.
        double block = s_block_size();
        return size > block ? u * (block - 1) / (double)(size - 1) : u;
    }
    default:
        return u; // a date, a postcode, a city, a domain: one of as many values anywhere
    }
}

double dedupe_weight_in(dedupe_field_t field, dedupe_level_t level, long value_count,
                        long tenant_size) {
    if (level != DEDUPE_EXACT)
        return dedupe_weight(field, level);
    double weight = log2(s_odds[field].m_exact / s_u_exact(field, value_count, tenant_size));
    return weight > 0 ? weight : 0; // a name most of the tenant has says nothing
}

double dedupe_weight(dedupe_field_t field, dedupe_level_t level) {
    const s_odds_t *o = &s_odds[field];
    switch (level) {
    case DEDUPE_EXACT:
        return log2(o->m_exact / o->u_exact);
    case DEDUPE_CLOSE:
        return o->m_close > 0 ? log2(o->m_close / o->u_close) : 0;
    case DEDUPE_DIFFERENT:
        return log2((1 - o->m_exact - o->m_close) / (1 - o->u_exact - o->u_close));
    default:
        return 0;
    }
}

double dedupe_jaro_winkler(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la == 0 || lb == 0)
        return la == lb ? 1.0 : 0.0;
    size_t window = (la > lb ? la : lb) / 2;
    window = window ? window - 1 : 0;
    //  The matched flags: on the stack for the names and lines the index keeps (a scan
    //  compares millions), from the heap for longer text.
    bool stack_a[256] = {false}, stack_b[256] = {false};
    bool *ma = la <= 256 ? stack_a : calloc(la, sizeof *ma);
    bool *mb = lb <= 256 ? stack_b : calloc(lb, sizeof *mb);
    assert(ma && mb);
    size_t matches = 0;
    for (size_t i = 0; i < la; i++) {
        size_t lo = i > window ? i - window : 0, hi = i + window + 1 < lb ? i + window + 1 : lb;
        for (size_t j = lo; j < hi; j++)
            if (!mb[j] && a[i] == b[j]) {
                ma[i] = mb[j] = true;
                matches++;
                break;
            }
    }
    double jaro = 0;
    if (matches) {
        size_t transpositions = 0;
        for (size_t i = 0, j = 0; i < la; i++) {
            if (!ma[i])
                continue;
            while (!mb[j])
                j++;
            if (a[i] != b[j])
                transpositions++;
            j++;
        }
        double m = (double)matches;
        jaro = (m / (double)la + m / (double)lb + (m - (double)transpositions / 2) / m) / 3;
    }
    if (ma != stack_a)
        free(ma);
    if (mb != stack_b)
        free(mb);
    size_t prefix = 0;
    while (prefix < 4 && prefix < la && prefix < lb && a[prefix] == b[prefix])
        prefix++;
    return jaro + (double)prefix * 0.1 * (1 - jaro);
}

static bool s_intersect(const char *a, size_t size_a, size_t n_a, const char *b, size_t size_b,
                        size_t n_b) {
    for (size_t i = 0; i < n_a; i++)
        for (size_t j = 0; j < n_b; j++)
            if (strcmp(a + i * size_a, b + j * size_b) == 0)
                return true;
    return false;
}

#define S_INTERSECT(x, y, field)                                                                   \
    s_intersect((const char *)(x)->field, sizeof(x)->field[0], (x)->n_##field,                     \
                (const char *)(y)->field, sizeof(y)->field[0], (y)->n_##field)

static dedupe_level_t s_set_level(bool a_has, bool b_has, bool agree) {
    if (!a_has || !b_has)
        return DEDUPE_MISSING;
    return agree ? DEDUPE_EXACT : DEDUPE_DIFFERENT;
}

//  A name's level; *how says what made a close one.
static dedupe_level_t s_name_level(const char *a, const char *b, const char *phonetic_a,
                                   const char *phonetic_b, bool nickname, char *how,
                                   size_t how_size) {
    how[0] = 0;
    if (!a[0] || !b[0])
        return DEDUPE_MISSING;
    if (strcmp(a, b) == 0)
        return DEDUPE_EXACT;
    const char *what = nickname                                               ? "nickname"
                       : dedupe_jaro_winkler(a, b) >= JARO_WINKLER_CLOSE      ? "spelling"
                       : phonetic_a[0] && strcmp(phonetic_a, phonetic_b) == 0 ? "sound"
                                                                              : NULL;
    if (!what)
        return DEDUPE_DIFFERENT;
    snprintf(how, how_size, "%s", what);
    return DEDUPE_CLOSE;
}

dedupe_level_t dedupe_birth_date_level(const char *a, const char *b) {
    if (!a[0] || !b[0])
        return DEDUPE_MISSING;
    if (strcmp(a, b) == 0)
        return DEDUPE_EXACT;
    if (strlen(a) != 8 || strlen(b) != 8)
        return DEDUPE_DIFFERENT;
    int differ[8], n = 0;
    for (int i = 0; i < 8; i++)
        if (a[i] != b[i])
            differ[n++] = i;
    if (n == 1)
        return DEDUPE_CLOSE;
    if (n == 2 && differ[1] == differ[0] + 1 && a[differ[0]] == b[differ[1]] &&
        a[differ[1]] == b[differ[0]])
        return DEDUPE_CLOSE;
    //  Day and month swapped (the year the same): 1980-03-04 and 1980-04-03.
    if (memcmp(a, b, 4) == 0 && memcmp(a + 4, b + 6, 2) == 0 && memcmp(a + 6, b + 4, 2) == 0)
        return DEDUPE_CLOSE;
    return DEDUPE_DIFFERENT;
}

//  A street line's house number (its first word made of digits, "" when none) and the
//  rest, its words.
static void s_street_split(const char *line, char *number, size_t number_size, char *words,
                           size_t words_size) {
    number[0] = 0;
    words[0] = 0;
    const char *p = line;
    while (*p) {
        size_t len = strcspn(p, " ");
        bool digits = len > 0;
        for (size_t i = 0; i < len && digits; i++)
            digits = isdigit((unsigned char)p[i]);
        if (digits && !number[0] && len < number_size) {
            memcpy(number, p, len);
            number[len] = 0;
        } else if (len) {
            size_t w = strlen(words);
            snprintf(words + w, words_size - w, "%s%.*s", w ? " " : "", (int)len, p);
        }
        p += len;
        while (*p == ' ')
            p++;
    }
}

dedupe_level_t dedupe_street_level(const char *a, const char *b) {
    if (!a[0] || !b[0])
        return DEDUPE_MISSING;
    if (strcmp(a, b) == 0)
        return DEDUPE_EXACT;
    char number_a[16], number_b[16], words_a[DEDUPE_STREET_MAX], words_b[DEDUPE_STREET_MAX];
    s_street_split(a, number_a, sizeof number_a, words_a, sizeof words_a);
    s_street_split(b, number_b, sizeof number_b, words_b, sizeof words_b);
    if (number_a[0] && number_b[0] && strcmp(number_a, number_b) != 0)
        return DEDUPE_DIFFERENT;
    if (!words_a[0] || !words_b[0])
        return DEDUPE_DIFFERENT;
    return dedupe_jaro_winkler(words_a, words_b) >= JARO_WINKLER_CLOSE ? DEDUPE_CLOSE
                                                                       : DEDUPE_DIFFERENT;
}

//  The best level of any pair of two rows of values, by level_fn.
static dedupe_level_t s_best_level(const char *a, size_t size_a, size_t n_a, const char *b,
                                   size_t size_b, size_t n_b,
                                   dedupe_level_t (*level_fn)(const char *, const char *)) {
    if (!n_a || !n_b)
        return DEDUPE_MISSING;
    dedupe_level_t best = DEDUPE_DIFFERENT;
    for (size_t i = 0; i < n_a; i++)
        for (size_t j = 0; j < n_b; j++) {
            dedupe_level_t l = level_fn(a + i * size_a, b + j * size_b);
            if (l > best)
                best = l;
        }
    return best;
}

static dedupe_level_t s_city_level(const char *a, const char *b) {
    if (strcmp(a, b) == 0)
        return DEDUPE_EXACT;
    return dedupe_jaro_winkler(a, b) >= JARO_WINKLER_CLOSE ? DEDUPE_CLOSE : DEDUPE_DIFFERENT;
}

#define S_BEST_LEVEL(x, y, field, fn)                                                              \
    s_best_level((const char *)(x)->field, sizeof(x)->field[0], (x)->n_##field,                    \
                 (const char *)(y)->field, sizeof(y)->field[0], (y)->n_##field, fn)

static bool s_company_domains(const dedupe_entry_t *e) {
    for (size_t i = 0; i < e->n_domains; i++)
        if (!dedupe_free_mail_domain(e->domains[i]))
            return true;
    return false;
}

static bool s_company_domain_shared(const dedupe_entry_t *a, const dedupe_entry_t *b) {
    for (size_t i = 0; i < a->n_domains; i++)
        for (size_t j = 0; j < b->n_domains; j++)
            if (strcmp(a->domains[i], b->domains[j]) == 0 &&
                !dedupe_free_mail_domain(a->domains[i]))
                return true;
    return false;
}

//  When the names agree better the other way round (first with last: "Nguyen Van" and
//  "Van Nguyen"), take those levels and say so.
static void s_swapped_names(const dedupe_entry_t *a, const dedupe_entry_t *b,
                            dedupe_comparison_t *out) {
    dedupe_level_t *level = out->levels;
    dedupe_level_t first = level[DEDUPE_FIELD_FIRST_NAME], last = level[DEDUPE_FIELD_LAST_NAME];
    if (first != DEDUPE_DIFFERENT && last != DEDUPE_DIFFERENT)
        return;
    char first_how[16], last_how[16];
    dedupe_level_t cross_first = s_name_level(a->first, b->last, a->first_phonetic,
                                              b->last_phonetic, false, first_how, sizeof first_how);
    dedupe_level_t cross_last = s_name_level(a->last, b->first, a->last_phonetic,
                                             b->first_phonetic, false, last_how, sizeof last_how);
    if (cross_first < DEDUPE_CLOSE || cross_last < DEDUPE_CLOSE)
        return;
    level[DEDUPE_FIELD_FIRST_NAME] = cross_first;
    level[DEDUPE_FIELD_LAST_NAME] = cross_last;
    snprintf(out->first_how, sizeof out->first_how, "%s", first_how);
    snprintf(out->last_how, sizeof out->last_how, "%s", last_how);
    out->swapped = true;
}

void dedupe_compare(const dedupe_entry_t *draft, const dedupe_entry_t *candidate,
                    dedupe_comparison_t *out) {
    memset(out, 0, sizeof *out);
    dedupe_level_t *level = out->levels;
    level[DEDUPE_FIELD_EMAIL] =
        s_set_level(draft->n_emails, candidate->n_emails, S_INTERSECT(draft, candidate, emails));
    level[DEDUPE_FIELD_PHONE] =
        s_set_level(draft->n_phones, candidate->n_phones, S_INTERSECT(draft, candidate, phones));
    level[DEDUPE_FIELD_POSTCODE] = s_set_level(draft->n_postcodes, candidate->n_postcodes,
                                               S_INTERSECT(draft, candidate, postcodes));
    level[DEDUPE_FIELD_EMAIL_DOMAIN] =
        level[DEDUPE_FIELD_EMAIL] == DEDUPE_EXACT
            ? DEDUPE_MISSING
            : s_set_level(s_company_domains(draft), s_company_domains(candidate),
                          s_company_domain_shared(draft, candidate));
    level[DEDUPE_FIELD_LAST_NAME] =
        s_name_level(draft->last, candidate->last, draft->last_phonetic, candidate->last_phonetic,
                     false, out->last_how, sizeof out->last_how);
    level[DEDUPE_FIELD_FIRST_NAME] = s_name_level(
        draft->first, candidate->first, draft->first_phonetic, candidate->first_phonetic,
        S_INTERSECT(draft, candidate, first_groups), out->first_how, sizeof out->first_how);
    s_swapped_names(draft, candidate, out);
    level[DEDUPE_FIELD_BIRTH_DATE] =
        dedupe_birth_date_level(draft->birth_date, candidate->birth_date);
    level[DEDUPE_FIELD_ADDRESS] = S_BEST_LEVEL(draft, candidate, streets, dedupe_street_level);
    level[DEDUPE_FIELD_CITY] = S_BEST_LEVEL(draft, candidate, cities, s_city_level);
    //  The city only where the postcode says nothing, and only when it agrees.
    if (level[DEDUPE_FIELD_POSTCODE] == DEDUPE_EXACT ||
        (level[DEDUPE_FIELD_POSTCODE] == DEDUPE_DIFFERENT &&
         level[DEDUPE_FIELD_CITY] == DEDUPE_DIFFERENT))
        level[DEDUPE_FIELD_CITY] = DEDUPE_MISSING;
    bool household = level[DEDUPE_FIELD_FIRST_NAME] == DEDUPE_DIFFERENT;
    double shared = 0; // household: the strongest of what a household shares
    long size = candidate->tenant_size;
    for (int f = 0; f < DEDUPE_FIELD_COUNT; f++) {
        //  A name agreeing as written weighs by how common the candidate's is (names
        //  agreeing the other way round: the table's figure).
        long count = out->swapped                       ? 0
                     : f == DEDUPE_FIELD_FIRST_NAME ? candidate->first_count
                     : f == DEDUPE_FIELD_LAST_NAME  ? candidate->last_count
                                                    : 0;
        double weight = out->swapped && (f == DEDUPE_FIELD_FIRST_NAME ||
                                         f == DEDUPE_FIELD_LAST_NAME)
                            ? dedupe_weight((dedupe_field_t)f, level[f])
                            : dedupe_weight_in((dedupe_field_t)f, level[f], count, size);
        if (household && weight > 0 && f == DEDUPE_FIELD_EMAIL)
            weight /= 2;
        else if (household && weight > 0 &&
                 (f == DEDUPE_FIELD_PHONE || f == DEDUPE_FIELD_EMAIL_DOMAIN ||
                  f == DEDUPE_FIELD_ADDRESS || f == DEDUPE_FIELD_POSTCODE ||
                  f == DEDUPE_FIELD_CITY)) {
            if (weight / 2 > shared)
                shared = weight / 2;
            continue;
        }
        out->weight += weight;
    }
    out->weight += shared;
    out->score = 1 / (1 + exp2(-(dedupe_prior_log2(size) + out->weight)));
}

// --- the answer ----------------------------------------------------------------------------

static Crm__Dedupe__MatchReason *s_reason(dedupe_field_t field, dedupe_level_t level,
                                          const char *how) {
    Crm__Dedupe__MatchReason *r = malloc(sizeof *r);
    assert(r);
    crm__dedupe__match_reason__init(r);
    r->field = strdup(s_names[field]);
    r->level = strdup(level == DEDUPE_EXACT ? "exact" : "close");
    char text[64];
    if (level == DEDUPE_EXACT)
        snprintf(text, sizeof text, "same %s", s_words[field]);
    else
        snprintf(text, sizeof text, "similar %s%s%s%s", s_words[field], how[0] ? " (" : "", how,
                 how[0] ? ")" : "");
    r->text = strdup(text);
    return r;
}

//  The agreeing fields in a line: the channels, then the name as one (both parts
//  exact: "same name"; both at least close: "similar name"), then the rest.
static char *s_summary(const dedupe_comparison_t *c) {
    const char *parts[DEDUPE_FIELD_COUNT];
    size_t n = 0;
    const dedupe_level_t *l = c->levels;
    if (l[DEDUPE_FIELD_EMAIL] == DEDUPE_EXACT)
        parts[n++] = "same email";
    if (l[DEDUPE_FIELD_PHONE] == DEDUPE_EXACT)
        parts[n++] = "same phone";
    dedupe_level_t first = l[DEDUPE_FIELD_FIRST_NAME], last = l[DEDUPE_FIELD_LAST_NAME];
    if (c->swapped)
        parts[n++] = first == DEDUPE_EXACT && last == DEDUPE_EXACT
                         ? "same name (first and last swapped)"
                         : "similar name (first and last swapped)";
    else if (first == DEDUPE_EXACT && last == DEDUPE_EXACT)
        parts[n++] = "same name";
    else if (first >= DEDUPE_CLOSE && last >= DEDUPE_CLOSE)
        parts[n++] = "similar name";
    else {
        if (last == DEDUPE_EXACT)
            parts[n++] = "same last name";
        else if (last == DEDUPE_CLOSE)
            parts[n++] = "similar last name";
        if (first == DEDUPE_EXACT)
            parts[n++] = "same first name";
        else if (first == DEDUPE_CLOSE)
            parts[n++] = "similar first name";
    }
    if (l[DEDUPE_FIELD_BIRTH_DATE] == DEDUPE_EXACT)
        parts[n++] = "same date of birth";
    else if (l[DEDUPE_FIELD_BIRTH_DATE] == DEDUPE_CLOSE)
        parts[n++] = "similar date of birth";
    if (l[DEDUPE_FIELD_ADDRESS] == DEDUPE_EXACT)
        parts[n++] = "same street address";
    else if (l[DEDUPE_FIELD_ADDRESS] == DEDUPE_CLOSE)
        parts[n++] = "similar street address";
    if (l[DEDUPE_FIELD_CITY] == DEDUPE_EXACT)
        parts[n++] = "same city";
    if (l[DEDUPE_FIELD_POSTCODE] == DEDUPE_EXACT)
        parts[n++] = "same postcode";
    if (l[DEDUPE_FIELD_EMAIL_DOMAIN] == DEDUPE_EXACT)
        parts[n++] = "same email domain";
    char text[384] = "";
    for (size_t i = 0; i < n; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%s%s",
                 i == 0       ? ""
                 : i + 1 == n ? " and "
                              : ", ",
                 parts[i]);
    return strdup(text);
}

Crm__Dedupe__DuplicateMatch *dedupe_match_new(const char *contact_id,
                                              const dedupe_comparison_t *comparison) {
    Crm__Dedupe__DuplicateMatch *m = malloc(sizeof *m);
    assert(m);
    crm__dedupe__duplicate_match__init(m);
    m->contact_id = strdup(contact_id);
    m->score = round(comparison->score * 1000) / 1000;
    static const dedupe_field_t order[] = {
        DEDUPE_FIELD_EMAIL,   DEDUPE_FIELD_PHONE, DEDUPE_FIELD_FIRST_NAME,
        DEDUPE_FIELD_LAST_NAME, DEDUPE_FIELD_BIRTH_DATE, DEDUPE_FIELD_ADDRESS,
        DEDUPE_FIELD_CITY,    DEDUPE_FIELD_POSTCODE, DEDUPE_FIELD_EMAIL_DOMAIN};
    m->reasons = calloc(DEDUPE_FIELD_COUNT + 1, sizeof *m->reasons);
    assert(m->reasons);
    if (comparison->swapped) {
        Crm__Dedupe__MatchReason *r = malloc(sizeof *r);
        assert(r);
        crm__dedupe__match_reason__init(r);
        r->field = strdup("nameOrder");
        r->level = strdup("swapped");
        r->text = strdup("first and last names swapped");
        m->reasons[m->n_reasons++] = r;
    }
    for (size_t i = 0; i < DEDUPE_FIELD_COUNT; i++) {
        dedupe_field_t f = order[i];
        dedupe_level_t level = comparison->levels[f];
        if (level >= DEDUPE_CLOSE)
            m->reasons[m->n_reasons++] =
                s_reason(f, level,
                         f == DEDUPE_FIELD_FIRST_NAME  ? comparison->first_how
                         : f == DEDUPE_FIELD_LAST_NAME ? comparison->last_how
                                                       : "");
    }
    m->summary = s_summary(comparison);
    return m;
}
