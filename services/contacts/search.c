/*  search: the contact list — filters, and a search box that takes whatever a person
    types: a name or part of one (misspellings forgiven), an email address or part of
    one, a phone number in any format or its last digits, a vehicle of interest.

    The statement is built for the request (only the conditions asked for) and planned
    for its values, so each shape finds its index: contact_emails' key for a whole
    address, trigram indexes for parts of addresses and numbers and for similar names,
    the full-text index (contacts.search_doc) for words and word prefixes.

    Without a search the list is newest first and pages by id (the cursor is the last
    id). A search is ranked, best first; its cursor is the offset of the next page
    ("s:<offset>"), as a ranking has no key to continue from.
*/
#include "contacts.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"
#include "validate.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define LIST_DEFAULT_LIMIT 50
#define LIST_MAX_LIMIT 200
#define Q_MAX_LEN 200
#define MAX_OFFSET 10000
#define MAX_PARAMS 24

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
    q->params[q->n] = value;
    q->owned[q->n] = owned ? (char *)value : NULL;
    return ++q->n;
}

static void s_query_free(s_query_t *q) {
    for (int i = 0; i < q->n; i++)
        free(q->owned[i]);
    free(q->sql);
}

//  A LIKE pattern matching text anywhere: % and _ and \ in it are literal.
static char *s_contains_pattern(const char *text) {
    char *out = malloc(strlen(text) * 2 + 3), *p = out;
    *p++ = '%';
    for (const char *s = text; *s; s++) {
        if (*s == '%' || *s == '_' || *s == '\\')
            *p++ = '\\';
        *p++ = (char)tolower((unsigned char)*s);
    }
    *p++ = '%';
    *p = 0;
    return out;
}

//  A prefix tsquery of the words of text: "ann le" -> "ann:* & le:*". Each word keeps
//  letters and digits (any script) and is quoted, so nothing a person types is read as
//  an operator. NULL when text has no word.
static char *s_prefix_tsquery(const char *text) {
    size_t size = strlen(text) * 3 + 16;
    char *out = malloc(size), *p = out;
    const char *s = text;
    bool any = false;
    while (*s) {
        while (*s && !isalnum((unsigned char)*s) && !((unsigned char)*s & 0x80))
            s++;
        if (!*s)
            break;
        if (any) {
            memcpy(p, " & ", 3);
            p += 3;
        }
        *p++ = '\'';
        while (*s && (isalnum((unsigned char)*s) || ((unsigned char)*s & 0x80)))
            *p++ = (char)tolower((unsigned char)*s++);
        memcpy(p, "':*", 3);
        p += 3;
        any = true;
    }
    *p = 0;
    if (!any) {
        free(out);
        return NULL;
    }
    return out;
}

//  Is q a phone number as people type them: digits (at least 3) and + ( ) - . space?
static bool s_phone_like(const char *q, char *digits, size_t size) {
    size_t n = 0;
    for (const char *s = q; *s; s++) {
        if (isdigit((unsigned char)*s)) {
            if (n + 1 < size)
                digits[n++] = *s;
        } else if (!strchr("+()-. ", *s))
            return false;
    }
    digits[n] = 0;
    return n >= 3;
}

//  The search condition and its rank, by what q looks like.
static void s_search(crm_call_t *call, s_query_t *q, const char *text, char **rank) {
    const contacts_t *self = call->arg;
    char digits[64];
    if (strchr(text, '@')) {
        //  An address, whole (its key) or in part (trigrams); a whole one ranks first.
        char *lower = strdup(text);
        for (char *p = lower; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        int whole = s_param(q, lower, true);
        int part = s_param(q, s_contains_pattern(text), true);
        s_add(q,
              " AND (c.id IN (SELECT contact_id FROM contact_emails"
              "               WHERE tenant_id = $1 AND address_norm = $%d)"
              "      OR lower(jsonb_path_query_array(c.emails, '$[*].address')::text)"
              "         LIKE $%d)",
              whole, part);
        *rank = zsys_sprintf("(c.id IN (SELECT contact_id FROM contact_emails"
                             " WHERE tenant_id = $1 AND address_norm = $%d))::int",
                             whole);
    } else if (s_phone_like(text, digits, sizeof digits)) {
        //  A number: as E.164 when it parses as a whole one, else its digits anywhere.
        char e164[32];
        const char *reason = NULL;
        //  Digits typed with a national trunk prefix ("020 7946 0958") match without it.
        const char *needle = digits;
        while (needle[0] == '0' && strlen(needle) > 3)
            needle++;
        if (crm_phone_to_e164(text, self->cfg->contacts_default_region, e164, sizeof e164,
                              &reason) == 0)
            needle = e164;
        int part = s_param(q, s_contains_pattern(needle), true);
        int whole = s_param(q, strdup(needle), true);
        s_add(q, " AND (jsonb_path_query_array(c.phones, '$[*].number')::text LIKE $%d)", part);
        //  The whole number first, then those it is a part of.
        *rank = zsys_sprintf("(c.phones @> jsonb_build_array(jsonb_build_object('number', $%d::text)))"
                             "::int",
                             whole);
    } else {
        //  Words and word prefixes (names, company, vehicles of interest, addresses, the
        //  words of live notes), or a name like the one typed.
        char *lower = strdup(text);
        for (char *p = lower; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        int like = s_param(q, lower, true);
        char *tsquery = s_prefix_tsquery(text);
        if (tsquery) {
            int words = s_param(q, tsquery, true);
            s_add(q,
                  " AND (c.search_doc @@ to_tsquery('simple', $%d) OR lower(c.name) %% $%d"
                  "      OR c.id IN (SELECT contact_id FROM notes WHERE tenant_id = $1"
                  "                  AND deleted_at IS NULL"
                  "                  AND to_tsvector('simple', body) @@ to_tsquery('simple', $%d)))",
                  words, like, words);
            *rank = zsys_sprintf("ts_rank(c.search_doc, to_tsquery('simple', $%d))"
                                 " + similarity(lower(c.name), $%d)",
                                 words, like);
        } else {
            s_add(q, " AND lower(c.name) %% $%d", like);
            *rank = zsys_sprintf("similarity(lower(c.name), $%d)", like);
        }
    }
}

static const char *s_enum(const ProtobufCEnumDescriptor *desc, int value, char *buf,
                          size_t size) {
    if (value == 0 || crm_enum_json_name(desc, value, buf, size))
        buf[0] = 0;
    return buf;
}

int contacts_list_check(crm_call_t *call, const Crm__Contacts__ListContactsRequest *req,
                        const char *prefix, long *offset) {
    char field[64];
#define S_FIELD(name) (snprintf(field, sizeof field, "%s%s", prefix, name), field)
    if (req->limit > LIST_MAX_LIMIT)
        crm_call_field_error(call, S_FIELD("limit"), "must be at most %d", LIST_MAX_LIMIT);
    *offset = 0;
    if (req->cursor[0]) {
        char *end = NULL;
        if (req->q[0] && strncmp(req->cursor, "s:", 2) == 0)
            *offset = strtol(req->cursor + 2, &end, 10);
        bool ok = req->q[0] ? end && !*end && *offset > 0 && *offset <= MAX_OFFSET
                            : crm_uuid_valid(req->cursor);
        if (!ok)
            crm_call_field_error(call, S_FIELD("cursor"), "is not a cursor returned by this list");
    }
    if (crm_utf8_chars(req->q) > Q_MAX_LEN)
        crm_call_field_error(call, S_FIELD("q"), "must be at most %d characters", Q_MAX_LEN);
    const char *times[][2] = {{"createdFrom", req->created_from},
                              {"createdTo", req->created_to},
                              {"activityFrom", req->activity_from},
                              {"activityTo", req->activity_to}};
    for (size_t i = 0; i < 4; i++)
        if (times[i][1][0] && !crm_timestamp_valid(times[i][1]))
            crm_call_field_error(call, S_FIELD(times[i][0]),
                                 "must be a date (YYYY-MM-DD) or an RFC 3339 time");
    if (req->organization_id[0] && !crm_uuid_valid(req->organization_id))
        crm_call_field_error(call, S_FIELD("organizationId"), "is not a valid contact id");
    if (strlen(req->assignee) > 100)
        crm_call_field_error(call, S_FIELD("assignee"), "must be at most 100 characters");
    if (crm_utf8_chars(req->tag) > 64)
        crm_call_field_error(call, S_FIELD("tag"), "must be at most 64 characters");
    bool channel = req->consent_channel != CRM__CONTACTS__CHANNEL__CHANNEL_UNSPECIFIED;
    bool purpose = req->consent_purpose != CRM__CONTACTS__PURPOSE__PURPOSE_UNSPECIFIED;
    if (purpose && !channel)
        crm_call_field_error(call, S_FIELD("consentChannel"), "is required with consentPurpose");
    if (channel && !purpose && !req->reachable)
        crm_call_field_error(call, S_FIELD("consentPurpose"), "is required with consentChannel");
    if (req->consent_purpose == CRM__CONTACTS__PURPOSE__PURPOSE_FOLLOW_UP)
        crm_call_field_error(call, S_FIELD("consentPurpose"),
                             "must be marketing or analytics (follow-ups need no consent)");
    const char *status = req->consent_status;
    if (status[0] && strcmp(status, "granted") && strcmp(status, "withdrawn") &&
        strcmp(status, "unknown"))
        crm_call_field_error(call, S_FIELD("consentStatus"),
                             "must be granted, withdrawn or unknown");
    if (status[0] && !purpose)
        crm_call_field_error(call, S_FIELD("consentPurpose"), "is required with consentStatus");
    if (req->reachable && !channel)
        crm_call_field_error(call, S_FIELD("consentChannel"), "is required with reachable");
#undef S_FIELD
    return call->n_fields ? 422 : 0;
}

//  The contacts req finds (every condition but order and paging): "FROM contacts c
//  WHERE ..." appended to q; with a search, *rank is its ranking expression.
static void s_conditions(crm_call_t *call, const Crm__Contacts__ListContactsRequest *req,
                         const char *text, s_query_t *q, char **rank) {
    s_add(q, " FROM contacts c WHERE c.tenant_id = $1 AND c.deleted_at IS NULL");
    char name[32];
    if (s_enum(&crm__contacts__contact_type__descriptor, req->type, name, sizeof name)[0])
        s_add(q, " AND c.type = $%d", s_param(q, strdup(name), true));
    if (s_enum(&crm__contacts__contact_kind__descriptor, req->kind, name, sizeof name)[0])
        s_add(q, " AND c.kind = $%d", s_param(q, strdup(name), true));
    if (s_enum(&crm__contacts__contact_source__descriptor, req->source, name, sizeof name)[0])
        s_add(q, " AND c.source = $%d", s_param(q, strdup(name), true));
    if (req->tag[0])
        s_add(q,
              " AND c.tags @> ARRAY[(SELECT name FROM tags WHERE tenant_id = $1"
              "                      AND name_norm = lower($%d))]",
              s_param(q, req->tag, false));
    if (req->assignee[0])
        s_add(q, " AND c.assignee = $%d", s_param(q, req->assignee, false));
    if (req->suppliers_only)
        s_add(q, " AND c.supplier");
    if (req->organization_id[0])
        s_add(q, " AND c.organization_id = $%d::uuid", s_param(q, req->organization_id, false));
    if (req->created_from[0])
        s_add(q, " AND c.created_at >= $%d::timestamptz", s_param(q, req->created_from, false));
    if (req->created_to[0])
        s_add(q, " AND c.created_at < $%d::timestamptz", s_param(q, req->created_to, false));
    if (req->activity_from[0])
        s_add(q, " AND c.last_activity_at >= $%d::timestamptz",
              s_param(q, req->activity_from, false));
    if (req->activity_to[0])
        s_add(q, " AND c.last_activity_at < $%d::timestamptz",
              s_param(q, req->activity_to, false));
    if (req->consent_channel != CRM__CONTACTS__CHANNEL__CHANNEL_UNSPECIFIED) {
        char channel[16], purpose[16];
        s_enum(&crm__contacts__channel__descriptor, req->consent_channel, channel, sizeof channel);
        s_enum(&crm__contacts__purpose__descriptor, req->consent_purpose, purpose, sizeof purpose);
        int ch = s_param(q, strdup(channel), true);
        if (purpose[0]) {
            const char *status = req->consent_status[0] ? req->consent_status : "granted";
            int pu = s_param(q, strdup(purpose), true);
            const char *exists = strcmp(status, "unknown") == 0 ? "NOT EXISTS" : "EXISTS";
            const char *granted = strcmp(status, "granted") == 0     ? " AND k.granted"
                                  : strcmp(status, "withdrawn") == 0 ? " AND NOT k.granted"
                                                                     : "";
            s_add(q,
                  " AND %s (SELECT 1 FROM consents k WHERE k.tenant_id = $1"
                  "   AND k.contact_id = c.id AND k.channel = $%d AND k.purpose = $%d%s)",
                  exists, ch, pu, granted);
        }
        if (req->reachable)
            s_add(q,
                  " AND NOT EXISTS (SELECT 1 FROM communication_rules r WHERE r.tenant_id = $1"
                  "   AND r.contact_id = c.id AND CASE $%d WHEN 'phone' THEN r.do_not_call"
                  "     WHEN 'sms' THEN r.do_not_sms WHEN 'whatsapp' THEN r.do_not_sms"
                  "     WHEN 'email' THEN r.do_not_email WHEN 'mail' THEN r.do_not_mail END)",
                  ch);
    }
    if (text[0])
        s_search(call, q, text, rank);
}

int contacts_select_for_job(crm_call_t *call, const Crm__Contacts__ListContactsRequest *filter,
                            const char *job_id, long *count) {
    return contacts_select_for_job_where(call, filter, job_id, NULL, count);
}

int contacts_select_for_job_where(crm_call_t *call,
                                  const Crm__Contacts__ListContactsRequest *filter,
                                  const char *job_id, const char *condition, long *count) {
    long offset;
    if (contacts_list_check(call, filter, "filter.", &offset))
        return 422;
    char text[Q_MAX_LEN * 4 + 1];
    snprintf(text, sizeof text, "%s", filter->q);
    crm_text_trim(text);
    s_query_t q = {0};
    s_param(&q, call->header->tenant_id, false);
    int job = s_param(&q, job_id, false);
    s_add(&q, "WITH sel AS (INSERT INTO job_items (tenant_id, job_id, contact_id)"
              " SELECT $1, $%d::uuid, c.id",
          job);
    char *rank = NULL;
    s_conditions(call, filter, text, &q, &rank);
    zstr_free(&rank);
    if (condition)
        s_add(&q, " AND %s", condition);
    s_add(&q, " RETURNING 1) SELECT count(*) FROM sel");
    crm_stmt_t stmt = {
        .name = "contacts_select_for_job", .sql = q.sql, .nparams = q.n, .writes = true,
        .custom_plan = true};
    PGresult *res = crm_db_query(call->db, &stmt, q.params);
    s_query_free(&q);
    if (!res)
        return crm_call_db_failure(call);
    *count = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

int contacts_list_run(crm_call_t *call, const Crm__Contacts__ListContactsRequest *req,
                      Crm__Contacts__ListContactsResponse **out) {
    long offset;
    if (contacts_list_check(call, req, "", &offset))
        return 422;
    int limit = req->limit ? (int)req->limit : LIST_DEFAULT_LIMIT;
    char text[Q_MAX_LEN * 4 + 1];
    snprintf(text, sizeof text, "%s", req->q);
    crm_text_trim(text);

    s_query_t q = {0};
    s_param(&q, call->header->tenant_id, false);
    s_add(&q, "SELECT " CONTACT_JSON("c"));
    char *rank = NULL;
    s_conditions(call, req, text, &q, &rank);

    char limit_text[16], offset_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", limit + 1);
    snprintf(offset_text, sizeof offset_text, "%ld", offset);
    bool search = text[0] != 0;
    if (search) {
        s_add(&q, " ORDER BY %s DESC, c.id DESC LIMIT $%d::int OFFSET $%d::int", rank,
              s_param(&q, limit_text, false), s_param(&q, offset_text, false));
        zstr_free(&rank);
    } else {
        if (req->cursor[0])
            s_add(&q, " AND c.id < $%d::uuid", s_param(&q, req->cursor, false));
        s_add(&q, " ORDER BY c.id DESC LIMIT $%d::int", s_param(&q, limit_text, false));
    }
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
    if (rows > limit && n > 0) {
        if (search && offset + n < MAX_OFFSET)
            list->next_cursor = zsys_sprintf("s:%ld", offset + n);
        else if (!search)
            list->next_cursor = strdup(list->items[n - 1]->id);
    }
    PQclear(res);
    *out = list;
    return 200;
}

int contacts_list(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response) {
    return contacts_list_run(call, (const Crm__Contacts__ListContactsRequest *)request,
                             (Crm__Contacts__ListContactsResponse **)response);
}
