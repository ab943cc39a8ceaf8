/*  search_store: the SQL of the contact list (search.c holds the rules, search_methods.c
    the List method): filters (consent among them), and a search box that takes
    whatever a person types: a name or part of one (misspellings forgiven), an email
    address or part of one, a phone number in any format or its last digits, a vehicle of
    interest, words of the contact's notes.

    The statement is built for the request (only the conditions asked for; the values
    searched for are parameters, made by search.c, never text in the SQL), so each
    shape finds its index: trigram indexes for parts of addresses and numbers, the
    full-text index (contacts.search_doc) for words and word prefixes, name indexes for
    names that start with the text.

    Without a search the list is newest first and pages by id (the cursor is the last
    id). A search is ranked, best first; its cursor is the offset of the next page
    ("s:<offset>"), as a ranking has no key to continue from.

    A search ranks a bounded set of candidates (SEARCH_CANDIDATES; so a broad search
    pages that deep at most), so that its time does not grow with the tenant: "mar"
    starts a hundred thousand names of a million, and ranking every one before the
    LIMIT took a second. It searches in tiers, each run only when the one before found
    nothing:
    - words: names or last names starting with the text, accents aside (both folded by
      contacts_fold, migration 0021: "garcia" starts "García"), in name order from their
      btree indexes; then words and word prefixes anywhere (company, vehicles,
      addresses, other parts of names) and in the contact's live notes; then each word as typed or one slip away (a
      letter dropped, added, changed, or two swapped) from a first or last name the
      tenant has, looked up in the name indexes, as full-text words;
    - numbers: those ending with it (contacts_phone_ends: a whole number or its last
      digits is one key); then those with it inside (trigrams of the last digits);
    - addresses: those with it inside, found by trigrams of the part up to the '@'
      (a common domain's trigrams are in millions of rows), checked whole.
    The sessions plan every statement generically (plan_cache_mode, common/db.c), the
    unnamed ones sent here included: so conditions are ones an index can take with
    values unknown (ranges rather than LIKE prefixes).

    Bulk changes and exports take the contacts a filter finds (contacts_select_for_job):
    with a search, what the search finds, as the list shows it.
*/
#include "contacts.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"
#include "page.h"
#include "validate.h"

#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define Q_MAX_LEN CONTACTS_SEARCH_Q_MAX_LEN
#define MAX_PARAMS 32
#define SEARCH_CANDIDATES 300
//  An address typed with at least this much before its '@' is looked up by that part
//  (trigrams of a common domain are in millions of rows), then checked whole.
#define EMAIL_LOCAL_MIN 4
//  Digits from which a leading 0 is a national trunk prefix rather than part of the text.
#define PHONE_NATIONAL_MIN 7
//  How many of a number's last digits its index is asked for.
#define PHONE_INDEXED_DIGITS 7

//  The statement under construction: its text and its parameters.
typedef struct {
    char *sql;
    size_t len, size;
    const char *params[MAX_PARAMS];
    char *owned[MAX_PARAMS];  // parameters made here, freed with the query
    int n;
} s_query_t;

static void s_add(s_query_t *q, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    int need = vsnprintf(NULL, 0, fmt, args);
    va_end(args);
    if (q->len + need + 1 > q->size) {
        q->size = (q->len + need + 1) * 2;
        q->sql = realloc(q->sql, q->size);
    }
    va_start(args, fmt);
    vsnprintf(q->sql + q->len, q->size - q->len, fmt, args);
    va_end(args);
    q->len += need;
}

//  Add a parameter; its number ($n). owned: a copy is freed with the query.
static int s_param(s_query_t *q, const char *value, bool owned) {
    assert(q->n < MAX_PARAMS);
    q->params[q->n] = value;
    q->owned[q->n] = owned ? (char *)value : NULL;
    return ++q->n;
}

static void s_query_free(s_query_t *q) {
    for (int i = 0; i < q->n; i++)
        free(q->owned[i]);
    free(q->sql);
}

//  The live contacts of the tenant that pass the filters and condition, SEARCH_CANDIDATES
//  of them at most, in no order: the index finds them, and the heap is read only until
//  there are enough (an order would have every match read and sorted first).
static void s_candidates(s_query_t *q, const char *filters, const char *condition) {
    s_add(q,
          "SELECT c.* FROM contacts c WHERE c.tenant_id = $1 AND c.deleted_at IS NULL%s"
          " AND %s LIMIT %d",
          filters, condition, SEARCH_CANDIDATES);
}

//  The search by what text looks like: WITH ... common table expressions of candidates
//  (appended to q), the relation c they are read from (*from) and their rank (*rank).
static void s_search(const char *region, s_query_t *q, const char *filters, const char *text,
                     char **from, char **rank) {
    char digits[64];
    if (strchr(text, '@')) {
        //  An address, whole or in part (trigrams); a whole one ranks first. The index is
        //  asked for the part up to the '@' when there is enough of it.
        int whole = s_param(q, contacts_search_lower_dup(text), true);
        size_t local = strchr(text, '@') - text;
        int part = s_param(q,
                           local >= EMAIL_LOCAL_MIN ? contacts_search_like_pattern(text, local + 1)
                                                    : contacts_search_contains_pattern(text),
                           true);
        char *inside = zsys_sprintf(
            "lower(jsonb_path_query_array(c.emails, '$[*].address')::text) LIKE $%d"
            " AND strpos(lower(jsonb_path_query_array(c.emails, '$[*].address')::text), $%d) > 0",
            part, whole);
        s_add(q, "WITH found AS MATERIALIZED (");
        s_candidates(q, filters, inside);
        s_add(q, ") ");
        zstr_free(&inside);
        *from = strdup("found c");
        *rank = zsys_sprintf("(c.id IN (SELECT contact_id FROM contact_emails"
                             " WHERE tenant_id = $1 AND address_norm = $%d))::int",
                             whole);
        return;
    }
    if (contacts_search_phone_like(text, digits, sizeof digits)) {
        //  A number: as E.164 when it parses as a whole one, else its digits anywhere.
        char e164[32];
        const char *reason = NULL;
        //  Digits typed with a national trunk prefix ("020 7946 0958") match without it;
        //  a few digits ("0142", the end of a number) are kept whole, or "0212" would
        //  find every number of area 212.
        const char *needle = digits;
        while (needle[0] == '0' && strlen(needle) >= PHONE_NATIONAL_MIN)
            needle++;
        if (crm_phone_to_e164(text, region, e164, sizeof e164,
                              &reason) == 0)
            needle = e164;
        //  The index is asked for its last digits (every number of a country or area
        //  shares the first ones); the whole is then checked in the rows found.
        size_t len = strlen(needle);
        const char *tail = len > PHONE_INDEXED_DIGITS ? needle + len - PHONE_INDEXED_DIGITS
                                                      : needle;
        int part = s_param(q, contacts_search_contains_pattern(tail), true);
        int whole = s_param(q, strdup(needle), true);
        char *condition = zsys_sprintf(
            "jsonb_path_query_array(c.phones, '$[*].number')::text LIKE $%d"
            " AND strpos(jsonb_path_query_array(c.phones, '$[*].number')::text, $%d) > 0",
            part, whole);
        //  The whole number first, then those it is a part of.
        *rank = zsys_sprintf("(c.phones @> jsonb_build_array(jsonb_build_object('number', $%d::text)))"
                             "::int",
                             whole);
        //  First the numbers that end with it (their ends are indexed: a whole number or
        //  its last digits is a key lookup), then, when none does, those with it inside.
        s_add(q, "WITH ends AS MATERIALIZED (");
        char *ends = zsys_sprintf("contacts_phone_ends(c.phones) @> ARRAY[$%d::text]", whole);
        s_candidates(q, filters, ends);
        zstr_free(&ends);
        s_add(q, "), found AS MATERIALIZED (");
        char *inside = zsys_sprintf("%s AND NOT EXISTS (SELECT FROM ends)", condition);
        s_candidates(q, filters, inside);
        zstr_free(&inside);
        s_add(q, ") ");
        *from = strdup("(SELECT * FROM ends UNION ALL SELECT * FROM found) c");
        zstr_free(&condition);
        return;
    }
    //  Words: names starting with the text (the name, or the last name), in name order;
    //  else words and word prefixes anywhere (names, company, vehicles of interest,
    //  addresses); else names one slip away from the words typed.
    int like = s_param(q, contacts_search_lower_dup(text), true);
    //  Names starting with the text: those from the text up to, not with, the text with
    //  its last byte one higher (in byte order, as text_pattern_ops sorts). A range of
    //  parameters rather than a LIKE pattern, so that a plan made without the values
    //  (the sessions' plan_cache_mode is force_generic_plan) still reads the index range.
    //  The bound is the text followed by the highest character (U+10FFFF): whatever
    //  follows the text in a name sorts below it, and the bound stays valid UTF-8.
    //  Names are compared folded (contacts_fold: accents off, lower case; migration
    //  0021), the text as the names: "garcia" starts "García López".
    char *lower = contacts_search_lower_dup(text);
    char *upper = zsys_sprintf("%s\xf4\x8f\xbf\xbf", lower);
    free(lower);
    int low = like, high = s_param(q, upper, true);
    char *tsquery = contacts_search_prefix_tsquery(text);
    char *from_low = zsys_sprintf("contacts_fold($%d)", low);
    char *below_high = zsys_sprintf("contacts_fold($%d)", high);
    s_add(q,
          "WITH named AS MATERIALIZED ("
          "(SELECT c.* FROM contacts c WHERE c.tenant_id = $1 AND c.deleted_at IS NULL%s"
          "  AND contacts_fold(c.name) ~>=~ %s AND contacts_fold(c.name) ~<~ %s"
          "  ORDER BY contacts_fold(c.name) USING ~<~ LIMIT %d)"
          " UNION ALL "
          "(SELECT c.* FROM contacts c WHERE c.tenant_id = $1 AND c.deleted_at IS NULL%s"
          "  AND contacts_fold(c.last_name) ~>=~ %s AND contacts_fold(c.last_name) ~<~ %s"
          "  AND NOT (contacts_fold(c.name) ~>=~ %s AND contacts_fold(c.name) ~<~ %s)"
          "  ORDER BY contacts_fold(c.last_name) USING ~<~ LIMIT %d)), ",
          filters, from_low, below_high, SEARCH_CANDIDATES / 2, filters, from_low, below_high,
          from_low, below_high, SEARCH_CANDIDATES / 2);
    zstr_free(&from_low);
    zstr_free(&below_high);
    if (tsquery) {
        int words = s_param(q, tsquery, true);
        s_add(q, "words AS MATERIALIZED (");
        char *match = zsys_sprintf("c.search_doc @@ to_tsquery('simple', $%d)"
                                   " AND NOT EXISTS (SELECT FROM named)",
                                   words);
        s_candidates(q, filters, match);
        zstr_free(&match);
        //  The words of live notes (their own index), for contacts not found already.
        s_add(q, "), noted AS MATERIALIZED (");
        match = zsys_sprintf("c.id IN (SELECT n.contact_id FROM notes n WHERE n.tenant_id = $1"
                             "  AND n.deleted_at IS NULL"
                             "  AND to_tsvector('simple', n.body) @@ to_tsquery('simple', $%d))"
                             " AND NOT EXISTS (SELECT FROM named)"
                             " AND c.id NOT IN (SELECT id FROM words)",
                             words);
        s_candidates(q, filters, match);
        zstr_free(&match);
        s_add(q, "), ");
        *rank = zsys_sprintf("ts_rank(c.search_doc, to_tsquery('simple', $%d))"
                             " + similarity(lower(c.name), $%d)",
                             words, like);
    } else
        *rank = zsys_sprintf("similarity(lower(c.name), $%d)", like);
    //  Misspelled: each word as typed or one slip away from a first or last name the
    //  tenant has (each spelling looked up in the name indexes), all words of the text,
    //  as full-text words. The slips are tried only when nothing else matched.
    int n_words = 0;
    char *edits = contacts_search_word_edits(text, &n_words);
    if (n_words > 0) {
        int fixes = s_param(q, edits, true);
        char count[16];
        snprintf(count, sizeof count, "%d", n_words);
        int words_count = s_param(q, strdup(count), true);
        s_add(q,
              "fixes AS MATERIALIZED ("
              " SELECT split_part(e, ':', 1) AS word, split_part(e, ':', 2) AS fix"
              " FROM unnest($%d::text[]) e"
              " WHERE EXISTS (SELECT FROM contacts n WHERE n.tenant_id = $1"
              "   AND n.deleted_at IS NULL AND contacts_fold(n.last_name) = split_part(e, ':', 2))"
              " OR EXISTS (SELECT FROM contacts n WHERE n.tenant_id = $1 AND n.deleted_at IS NULL"
              "   AND contacts_fold(n.name) ~>=~ (split_part(e, ':', 2) || ' ')"
              "   AND contacts_fold(n.name) ~<~ (split_part(e, ':', 2) || '!'))), "
              "alike AS MATERIALIZED (",
              fixes);
        char *alike = zsys_sprintf(
            "c.search_doc @@ (SELECT to_tsquery('simple', string_agg(alternatives, ' & '))"
            "  FROM (SELECT string_agg(quote_literal(fix), ' | ') AS alternatives FROM fixes"
            "        GROUP BY word) w HAVING count(*) = $%d::int)"
            " AND NOT EXISTS (SELECT FROM named)%s",
            words_count,
            tsquery ? " AND NOT EXISTS (SELECT FROM words) AND NOT EXISTS (SELECT FROM noted)"
                    : "");
        s_candidates(q, filters, alike);
        s_add(q, ") ");
        zstr_free(&alike);
    } else {
        free(edits);
        s_add(q, "alike AS (SELECT c.* FROM contacts c WHERE false) ");
    }
    *from = strdup(tsquery ? "(SELECT * FROM named UNION ALL SELECT * FROM words"
                             " UNION ALL SELECT * FROM noted UNION ALL SELECT * FROM alike) c"
                           : "(SELECT * FROM named UNION ALL SELECT * FROM alike) c");
}

//  The filters' conditions (" AND ..." each) into where, their parameters into q.
static void s_filters(const Crm__Contacts__ListContactsRequest *req, s_query_t *q,
                      s_query_t *where) {
    s_add(where, "%s", "");
    char name[32];
    if (crm_enum_api_name(&crm__contacts__contact_type__descriptor, req->type, name, sizeof name)[0])
        s_add(where, " AND c.type = $%d", s_param(q, strdup(name), true));
    if (crm_enum_api_name(&crm__contacts__contact_kind__descriptor, req->kind, name, sizeof name)[0])
        s_add(where, " AND c.kind = $%d", s_param(q, strdup(name), true));
    if (crm_enum_api_name(&crm__contacts__contact_source__descriptor, req->source, name, sizeof name)[0])
        s_add(where, " AND c.source = $%d", s_param(q, strdup(name), true));
    if (req->tag[0])
        s_add(where,
              " AND c.tags @> ARRAY[(SELECT name FROM tags WHERE tenant_id = $1"
              "                      AND name_norm = lower($%d))]",
              s_param(q, req->tag, false));
    if (req->assignee[0])
        s_add(where, " AND c.assignee = $%d", s_param(q, req->assignee, false));
    if (req->suppliers_only)
        s_add(where, " AND c.supplier");
    if (req->organization_id[0])
        s_add(where, " AND c.organization_id = $%d::uuid", s_param(q, req->organization_id, false));
    if (req->created_from[0])
        s_add(where, " AND c.created_at >= $%d::timestamptz",
              s_param(q, req->created_from, false));
    if (req->created_to[0])
        s_add(where, " AND c.created_at < $%d::timestamptz", s_param(q, req->created_to, false));
    if (req->activity_from[0])
        s_add(where, " AND c.last_activity_at >= $%d::timestamptz",
              s_param(q, req->activity_from, false));
    if (req->activity_to[0])
        s_add(where, " AND c.last_activity_at < $%d::timestamptz",
              s_param(q, req->activity_to, false));
    if (req->consent_channel != CRM__CONTACTS__CHANNEL__CHANNEL_UNSPECIFIED) {
        char channel[16], purpose[16];
        crm_enum_api_name(&crm__contacts__channel__descriptor, req->consent_channel, channel, sizeof channel);
        crm_enum_api_name(&crm__contacts__purpose__descriptor, req->consent_purpose, purpose, sizeof purpose);
        int ch = s_param(q, strdup(channel), true);
        if (purpose[0]) {
            const char *status = req->consent_status[0] ? req->consent_status : "granted";
            int pu = s_param(q, strdup(purpose), true);
            const char *exists = strcmp(status, "unknown") == 0 ? "NOT EXISTS" : "EXISTS";
            const char *granted = strcmp(status, "granted") == 0     ? " AND k.granted"
                                  : strcmp(status, "withdrawn") == 0 ? " AND NOT k.granted"
                                                                     : "";
            s_add(where,
                  " AND %s (SELECT 1 FROM consents k WHERE k.tenant_id = $1"
                  "   AND k.contact_id = c.id AND k.channel = $%d AND k.purpose = $%d%s)",
                  exists, ch, pu, granted);
        }
        if (req->reachable)
            s_add(where,
                  " AND NOT EXISTS (SELECT 1 FROM communication_rules r WHERE r.tenant_id = $1"
                  "   AND r.contact_id = c.id AND CASE $%d WHEN 'phone' THEN r.do_not_call"
                  "     WHEN 'sms' THEN r.do_not_sms WHEN 'whatsapp' THEN r.do_not_sms"
                  "     WHEN 'email' THEN r.do_not_email WHEN 'mail' THEN r.do_not_mail END)",
                  ch);
    }
}

int contacts_search_store_select_for_job(crm_db_t *db, const char *tenant_id, const char *region,
                                         const Crm__Contacts__ListContactsRequest *filter,
                                         const char *job_id, const char *condition,
                                         long *count) {
    char text[Q_MAX_LEN * 4 + 1];
    contacts_search_text(filter, text, sizeof text);
    s_query_t q = {0}, where = {0};
    s_param(&q, tenant_id, false);
    int job = s_param(&q, job_id, false);
    s_filters(filter, &q, &where);
    const char *also = condition ? " AND " : "";
    if (!condition)
        condition = "";
    if (text[0]) {
        //  The search's candidates, then the insert as one more common table expression.
        char *from = NULL, *rank = NULL;
        s_search(region, &q, where.sql, text, &from, &rank);
        s_add(&q,
              ", sel AS (INSERT INTO job_items (tenant_id, job_id, contact_id)"
              " SELECT $1, $%d::uuid, c.id FROM %s WHERE true%s%s"
              " ON CONFLICT DO NOTHING RETURNING 1)",
              job, from, also, condition);
        zstr_free(&from);
        zstr_free(&rank);
    } else
        s_add(&q,
              "WITH sel AS (INSERT INTO job_items (tenant_id, job_id, contact_id)"
              " SELECT $1, $%d::uuid, c.id FROM contacts c WHERE c.tenant_id = $1"
              " AND c.deleted_at IS NULL%s%s%s RETURNING 1)",
              job, where.sql, also, condition);
    s_add(&q, " SELECT count(*) FROM sel");
    free(where.sql);
    crm_stmt_t stmt = {
        .name = "contacts_select_for_job", .sql = q.sql, .nparams = q.n, .writes = true,
        .custom_plan = true};
    PGresult *res = crm_db_query(db, &stmt, q.params);
    s_query_free(&q);
    if (!res)
        return -1;
    *count = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

int contacts_search_store_list(crm_call_t *call, const Crm__Contacts__ListContactsRequest *req,
                               const char *text, int limit, long offset,
                               Crm__Contacts__ListContactsResponse **out) {
    //  The filters' conditions (their parameters are q's).
    s_query_t q = {0}, where = {0};
    s_param(&q, call->header->tenant_id, false);
    s_filters(req, &q, &where);

    char limit_text[16], offset_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", limit + 1);
    snprintf(offset_text, sizeof offset_text, "%ld", offset);
    bool search = text[0] != 0;
    if (search) {
        char *from = NULL, *rank = NULL;
        s_search(((const contacts_t *)call->arg)->cfg->contacts_default_region, &q, where.sql,
                 text, &from, &rank);
        int limit_param = s_param(&q, limit_text, false);
        int offset_param = s_param(&q, offset_text, false);
        s_add(&q,
              "SELECT " CONTACT_JSON("c") " FROM %s ORDER BY %s DESC, c.id DESC"
              " LIMIT $%d::int OFFSET $%d::int",
              from, rank, limit_param, offset_param);
        zstr_free(&from);
        zstr_free(&rank);
    } else {
        s_add(&q,
              "SELECT " CONTACT_JSON("c") " FROM contacts c WHERE c.tenant_id = $1"
              " AND c.deleted_at IS NULL%s",
              where.sql);
        if (req->cursor[0])
            s_add(&q, " AND c.id < $%d::uuid", s_param(&q, req->cursor, false));
        s_add(&q, " ORDER BY c.id DESC LIMIT $%d::int", s_param(&q, limit_text, false));
    }
    free(where.sql);
    crm_stmt_t stmt = {.name = "contacts_list", .sql = q.sql, .nparams = q.n, .custom_plan = true};
    PGresult *res = crm_db_query(call->db, &stmt, q.params);
    s_query_free(&q);
    if (!res)
        return crm_call_db_failure(call);

    int rows = PQntuples(res);
    int n = rows > limit ? limit : rows;
    Crm__Contacts__ListContactsResponse *list = malloc(sizeof *list);
    crm__contacts__list_contacts_response__init(list);
    list->items = n ? calloc(n, sizeof *list->items) : NULL;
    for (int i = 0; i < n; i++) {
        Crm__Contacts__Contact *c = contacts_from_json(PQgetvalue(res, i, 0));
        if (!c) {
            PQclear(res);
            crm__contacts__list_contacts_response__free_unpacked(list, NULL);
            crm_call_error(call, "internal", "stored contact is unreadable");
            return 500;
        }
        list->items[list->n_items++] = c;
    }
    if (rows > limit && n > 0)
        list->next_cursor = contacts_search_next_cursor(search, offset, n, list->items[n - 1]->id);
    PQclear(res);
    *out = list;
    return 200;
}

