/*  profile: a contact's profile beyond names, emails, phones and tags — the SMS order
    and channel opt-ins of its phones, the organization it belongs to, addresses,
    vehicles, social profiles, personal details, the assignee, and the values of the
    tenant's custom fields — checked, normalised, and rendered for the store.

    Three checks read the tenant's definitions: custom field values (contact_fields),
    phone types of the tenant's own (contact_phone_types) and the linked organization.
    Each is one query, made only when the contact uses it.
*/
#include "contacts.h"
#include "ids.h"
#include "json_pb.h"
#include "validate.h"
#include "vehicle.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define TEXT_MAX_LEN 200
#define ROLE_MAX_LEN 100
#define CUSTOM_TEXT_MAX_LEN 1000
#define MAX_ADDRESSES 10
#define MAX_VEHICLES 50
#define MAX_SOCIAL 20
#define MAX_CUSTOM 100
#define MILEAGE_MAX 3000000

//  The kind of a live contact of the tenant ($2), if any.
static const crm_stmt_t s_contact_kind = {
    .name = "profile_contact_kind",
    .sql = "SELECT kind FROM contacts WHERE tenant_id = $1 AND id = $2::uuid"
           " AND deleted_at IS NULL",
    .nparams = 2};

//  The definitions of the keys in $2 (absent keys give no row).
static const crm_stmt_t s_field_defs = {
    .name = "profile_field_defs",
    .sql = "SELECT key, type, to_json(options)::text FROM contact_fields"
           " WHERE tenant_id = $1 AND key = ANY ($2::text[])",
    .nparams = 2};

//  The tenant's spelling of each phone type in $2, in order (NULL: not one of its types).
static const crm_stmt_t s_phone_types = {
    .name = "profile_phone_types",
    .sql = "SELECT t.name FROM unnest($2::text[]) WITH ORDINALITY AS k(name, ord)"
           " LEFT JOIN contact_phone_types t ON t.tenant_id = $1 AND t.name_norm = lower(k.name)"
           " ORDER BY k.ord",
    .nparams = 2};

void contacts_check_length(crm_call_t *call, const char *field, const char *value, size_t max) {
    if (crm_utf8_chars(value) > max)
        crm_call_field_error(call, field, "must be at most %zu characters", max);
}

// --- phones -----------------------------------------------------------------------------

//  SMS order: the lines with sms set are ranked 1..n, by the ranks given (all or none,
//  each once) or else by their order in the list. A line without sms has no rank.
static void s_sms_order(crm_call_t *call, Crm__Contacts__Contact *c, const char *prefix) {
    char field[128];
    size_t texted = 0, ranked = 0;
    for (size_t i = 0; i < c->n_phones; i++) {
        Crm__Contacts__Phone *p = c->phones[i];
        if (!p->sms && p->sms_rank) {
            snprintf(field, sizeof field, "%sphones[%zu].smsRank", prefix, i);
            crm_call_field_error(call, field, "is set only for a line with sms opted in");
        }
        texted += p->sms;
        ranked += p->sms && p->sms_rank;
    }
    if (ranked == 0) {
        uint32_t next = 1;
        for (size_t i = 0; i < c->n_phones; i++)
            if (c->phones[i]->sms)
                c->phones[i]->sms_rank = next++;
        return;
    }
    snprintf(field, sizeof field, "%sphones", prefix);
    if (ranked != texted) {
        crm_call_field_error(call, field,
                             "must give smsRank to every line with sms opted in, or to none");
        return;
    }
    for (size_t i = 0; i < c->n_phones; i++) {
        Crm__Contacts__Phone *p = c->phones[i];
        if (!p->sms)
            continue;
        snprintf(field, sizeof field, "%sphones[%zu].smsRank", prefix, i);
        if (p->sms_rank > texted)
            crm_call_field_error(call, field, "must be from 1 to %zu (the lines texted)", texted);
        for (size_t j = 0; j < i; j++)
            if (c->phones[j]->sms && c->phones[j]->sms_rank == p->sms_rank)
                crm_call_field_error(call, field, "is given to two lines");
    }
}

//  Phone types of the tenant's own: each must be one of its types, spelled as it spells
//  it; the line's type is then "other".
static int s_custom_phone_types(crm_call_t *call, Crm__Contacts__Contact *c, const char *prefix) {
    char field[128];
    const char **names = calloc(c->n_phones + 1, sizeof *names);
    size_t *where = calloc(c->n_phones + 1, sizeof *where);
    size_t n = 0;
    for (size_t i = 0; i < c->n_phones; i++) {
        Crm__Contacts__Phone *p = c->phones[i];
        crm_text_trim(p->custom_type);
        if (!p->custom_type[0])
            continue;
        snprintf(field, sizeof field, "%sphones[%zu].customType", prefix, i);
        if (crm_utf8_chars(p->custom_type) > 40)
            crm_call_field_error(call, field, "must be at most 40 characters");
        else {
            where[n] = i;
            names[n++] = p->custom_type;
        }
        p->type = CRM__CONTACTS__PHONE_TYPE__PHONE_TYPE_OTHER;
    }
    int code = 0;
    if (n) {
        char *array = crm_db_text_array(names, n);
        const char *params[] = {call->header->tenant_id, array};
        PGresult *res = crm_db_query(call->db, &s_phone_types, params);
        free(array);
        if (!res)
            code = crm_call_db_failure(call);
        for (size_t k = 0; res && k < n && k < (size_t)PQntuples(res); k++) {
            snprintf(field, sizeof field, "%sphones[%zu].customType", prefix, where[k]);
            if (PQgetisnull(res, (int)k, 0))
                crm_call_field_error(call, field, "is not a phone type of this tenant");
            else
                crm_pb_string_set(&c->phones[where[k]]->custom_type, PQgetvalue(res, (int)k, 0));
        }
        PQclear(res);
    }
    free(names);
    free(where);
    return code;
}

// --- the organization ---------------------------------------------------------------------

static int s_organization(crm_call_t *call, Crm__Contacts__Contact *c, const char *prefix) {
    char field[128];
    Crm__Contacts__OrganizationLink *org = c->organization;
    if (c->company_buyer && c->kind != CRM__CONTACTS__CONTACT_KIND__CONTACT_KIND_PERSON) {
        snprintf(field, sizeof field, "%scompanyBuyer", prefix);
        crm_call_field_error(call, field, "is for a person buying on behalf of a company");
    }
    crm_text_trim(c->company_name);
    snprintf(field, sizeof field, "%scompanyName", prefix);
    contacts_check_length(call, field, c->company_name, TEXT_MAX_LEN);
    if (c->company_name[0] && !c->company_buyer)
        crm_call_field_error(call, field, "is given only with companyBuyer");
    if (c->company_buyer && !c->company_name[0] && !(org && org->id[0]))
        crm_call_field_error(call, field,
                             "is required for a company buyer not linked to an organization");
    if (!org)
        return 0;
    if (!org->id[0] && !org->role[0]) {  // an empty link is no link
        crm__contacts__organization_link__free_unpacked(org, NULL);
        c->organization = NULL;
        return 0;
    }
    crm_text_trim(org->role);
    snprintf(field, sizeof field, "%sorganization.role", prefix);
    contacts_check_length(call, field, org->role, ROLE_MAX_LEN);
    snprintf(field, sizeof field, "%sorganization", prefix);
    if (c->kind != CRM__CONTACTS__CONTACT_KIND__CONTACT_KIND_PERSON) {
        crm_call_field_error(call, field, "is for a person (an organization is not linked)");
        return 0;
    }
    snprintf(field, sizeof field, "%sorganization.id", prefix);
    if (!crm_uuid_valid(org->id)) {
        crm_call_field_error(call, field, "is not a valid contact id");
        return 0;
    }
    for (char *p = org->id; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    const char *params[] = {call->header->tenant_id, org->id};
    PGresult *res = crm_db_query(call->db, &s_contact_kind, params);
    if (!res)
        return crm_call_db_failure(call);
    if (PQntuples(res) == 0)
        crm_call_field_error(call, field, "is not a contact of this tenant");
    else if (strcmp(PQgetvalue(res, 0, 0), "organization") != 0)
        crm_call_field_error(call, field, "is a person, not an organization");
    PQclear(res);
    return 0;
}

// --- addresses, vehicles, social profiles -------------------------------------------------

static void s_addresses(crm_call_t *call, Crm__Contacts__Contact *c, const char *prefix) {
    char field[128];
    if (c->n_addresses > MAX_ADDRESSES) {
        snprintf(field, sizeof field, "%saddresses", prefix);
        crm_call_field_error(call, field, "may hold at most %d addresses", MAX_ADDRESSES);
        return;
    }
    int primaries = 0;
    for (size_t i = 0; i < c->n_addresses; i++) {
        Crm__Contacts__Address *a = c->addresses[i];
        char *parts[] = {a->line1, a->line2, a->city, a->region, a->postcode};
        const char *names[] = {"line1", "line2", "city", "region", "postcode"};
        for (size_t k = 0; k < 5; k++) {
            crm_text_trim(parts[k]);
            snprintf(field, sizeof field, "%saddresses[%zu].%s", prefix, i, names[k]);
            contacts_check_length(call, field, parts[k], TEXT_MAX_LEN);
        }
        if (!a->line1[0] && !a->city[0] && !a->postcode[0]) {
            snprintf(field, sizeof field, "%saddresses[%zu]", prefix, i);
            crm_call_field_error(call, field, "needs at least line1, city or postcode");
        }
        crm_text_trim(a->country);
        snprintf(field, sizeof field, "%saddresses[%zu].country", prefix, i);
        if (a->country[0] && (strlen(a->country) != 2 || !isalpha((unsigned char)a->country[0]) ||
                              !isalpha((unsigned char)a->country[1])))
            crm_call_field_error(call, field, "must be an ISO 3166-1 alpha-2 code such as US");
        for (char *p = a->country; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        if (a->type == CRM__CONTACTS__ADDRESS_TYPE__ADDRESS_TYPE_UNSPECIFIED)
            a->type = CRM__CONTACTS__ADDRESS_TYPE__ADDRESS_TYPE_HOME;
        primaries += a->primary;
    }
    if (primaries > 1) {
        snprintf(field, sizeof field, "%saddresses", prefix);
        crm_call_field_error(call, field, "may have only one primary address");
    } else if (primaries == 0 && c->n_addresses > 0)
        c->addresses[0]->primary = 1;
}

//  One vehicle by the shared vehicle rules (common/vehicle.h) and a contact's own: a
//  relation, a mileage, and a trade-in's year, make and model. Texts are trimmed and
//  the VIN upper-cased in place.
static void s_vehicle(crm_call_t *call, Crm__Contacts__Vehicle *v, const char *path) {
    char field[128], rule[64];
#define S_FIELD(name) (snprintf(field, sizeof field, "%s.%s", path, name), field)
    if (v->relation == CRM__CONTACTS__VEHICLE_RELATION__VEHICLE_RELATION_UNSPECIFIED)
        crm_call_field_error(call, S_FIELD("relation"),
                             "is required (owned, interest or trade_in)");
    char *texts[] = {v->make, v->model, v->trim};
    const char *names[] = {"make", "model", "trim"};
    for (size_t k = 0; k < 3; k++) {
        crm_text_trim(texts[k]);
        const char *problem = crm_vehicle_text_check(texts[k]);
        if (problem)
            crm_call_field_error(call, S_FIELD(names[k]), "%s", problem);
    }
    const char *problem = crm_vehicle_year_check(v->year, rule, sizeof rule);
    if (problem)
        crm_call_field_error(call, S_FIELD("year"), "%s", problem);
    if (v->relation == CRM__CONTACTS__VEHICLE_RELATION__VEHICLE_RELATION_TRADE_IN) {
        if (!v->year)
            crm_call_field_error(call, S_FIELD("year"), "is required for a trade-in");
        if (!v->make[0])
            crm_call_field_error(call, S_FIELD("make"), "is required for a trade-in");
        if (!v->model[0])
            crm_call_field_error(call, S_FIELD("model"), "is required for a trade-in");
    }
    if (v->mileage > MILEAGE_MAX)
        crm_call_field_error(call, S_FIELD("mileage"), "must be at most %d", MILEAGE_MAX);
    crm_text_trim(v->vin);
    problem = crm_vehicle_vin_normalize(v->vin);
    if (problem)
        crm_call_field_error(call, S_FIELD("vin"), "%s", problem);
#undef S_FIELD
}

static void s_vehicles(crm_call_t *call, Crm__Contacts__Contact *c, const char *prefix) {
    char path[96];
    if (c->n_vehicles > MAX_VEHICLES) {
        snprintf(path, sizeof path, "%svehicles", prefix);
        crm_call_field_error(call, path, "may hold at most %d vehicles", MAX_VEHICLES);
        return;
    }
    for (size_t i = 0; i < c->n_vehicles; i++) {
        snprintf(path, sizeof path, "%svehicles[%zu]", prefix, i);
        s_vehicle(call, c->vehicles[i], path);
    }
}

static void s_social(crm_call_t *call, Crm__Contacts__Contact *c, const char *prefix) {
    char field[128];
    if (c->n_social_profiles > MAX_SOCIAL) {
        snprintf(field, sizeof field, "%ssocialProfiles", prefix);
        crm_call_field_error(call, field, "may hold at most %d profiles", MAX_SOCIAL);
        return;
    }
    for (size_t i = 0; i < c->n_social_profiles; i++) {
        Crm__Contacts__SocialProfile *s = c->social_profiles[i];
        if (s->network == CRM__CONTACTS__SOCIAL_NETWORK__SOCIAL_NETWORK_UNSPECIFIED) {
            snprintf(field, sizeof field, "%ssocialProfiles[%zu].network", prefix, i);
            crm_call_field_error(call, field, "is required");
        }
        crm_text_trim(s->handle);
        snprintf(field, sizeof field, "%ssocialProfiles[%zu].handle", prefix, i);
        if (!s->handle[0])
            crm_call_field_error(call, field, "is required");
        contacts_check_length(call, field, s->handle, TEXT_MAX_LEN);
    }
}

// --- personal details -----------------------------------------------------------------------

static void s_details(crm_call_t *call, Crm__Contacts__Contact *c, const char *prefix) {
    char field[128];
    crm_text_trim(c->found_us);
    snprintf(field, sizeof field, "%sfoundUs", prefix);
    contacts_check_length(call, field, c->found_us, TEXT_MAX_LEN);

    snprintf(field, sizeof field, "%sdateOfBirth", prefix);
    int year, month, day;
    if (c->date_of_birth[0]) {
        if (!crm_date_parse(c->date_of_birth, &year, &month, &day))
            crm_call_field_error(call, field, "must be a date as YYYY-MM-DD");
        else {
            time_t now = time(NULL);
            struct tm tm;
            gmtime_r(&now, &tm);
            char today[16];
            strftime(today, sizeof today, "%Y-%m-%d", &tm);
            if (year < 1900)
                crm_call_field_error(call, field, "must be in 1900 or later");
            else if (strcmp(c->date_of_birth, today) > 0)
                crm_call_field_error(call, field, "must not be in the future");
        }
    }

    snprintf(field, sizeof field, "%sdiscountPercent", prefix);
    if (!isfinite(c->discount_percent) || c->discount_percent < 0 || c->discount_percent > 100)
        crm_call_field_error(call, field, "must be from 0 to 100");
    else
        c->discount_percent = round(c->discount_percent * 100) / 100;

    snprintf(field, sizeof field, "%sassignee", prefix);
    crm_text_trim(c->assignee);
    if (!contacts_assignee_valid(c->assignee))
        crm_call_field_error(call, field,
                             "must be a team member's id: up to 100 letters, digits and . _ @ + -");
}

bool contacts_assignee_valid(const char *assignee) {
    bool ok = strlen(assignee) <= 100;
    for (const char *p = assignee; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || strchr("._@+-", *p);
    return ok;
}

// --- custom fields ------------------------------------------------------------------------

//  Check a value against its definition (type, options) and write it back in canonical
//  form; a message, or NULL when it fits.
static const char *s_custom_value(char **value, const char *type, const char *options_json,
                                  char *buf, size_t size) {
    if (strcmp(type, "text") == 0)
        return crm_utf8_chars(*value) > CUSTOM_TEXT_MAX_LEN ? "must be at most 1000 characters"
                                                             : NULL;
    if (strcmp(type, "number") == 0) {
        char *end;
        double d = strtod(*value, &end);
        if (end == *value || *end || !isfinite(d) || isspace((unsigned char)**value))
            return "must be a number";
        snprintf(buf, size, "%.15g", d);
        crm_pb_string_set(value, buf);
        return NULL;
    }
    if (strcmp(type, "date") == 0)
        return crm_date_parse(*value, NULL, NULL, NULL) ? NULL : "must be a date as YYYY-MM-DD";
    //  select: one of the options, compared without regard to case; the option's spelling.
    json_t *options = json_loads(options_json, 0, NULL);
    const char *match = NULL;
    for (size_t i = 0; i < json_array_size(options) && !match; i++)
        if (strcasecmp(json_string_value(json_array_get(options, i)), *value) == 0)
            match = json_string_value(json_array_get(options, i));
    if (match)
        crm_pb_string_set(value, match);
    json_decref(options);
    return match ? NULL : "is not one of the field's options";
}

static int s_custom_fields(crm_call_t *call, Crm__Contacts__Contact *c, const char *prefix) {
    char field[200];
    snprintf(field, sizeof field, "%scustomFields", prefix);
    if (c->n_custom_fields > MAX_CUSTOM) {
        crm_call_field_error(call, field, "may hold at most %d values", MAX_CUSTOM);
        return 0;
    }
    //  An empty value is no value.
    size_t kept = 0;
    for (size_t i = 0; i < c->n_custom_fields; i++) {
        Crm__Contacts__Contact__CustomFieldsEntry *e = c->custom_fields[i];
        crm_text_trim(e->value);
        if (e->value[0])
            c->custom_fields[kept++] = e;
        else
            protobuf_c_message_free_unpacked(&e->base, NULL);
    }
    c->n_custom_fields = kept;
    if (!kept)
        return 0;
    const char **keys = calloc(kept, sizeof *keys);
    for (size_t i = 0; i < kept; i++)
        keys[i] = c->custom_fields[i]->key;
    char *array = crm_db_text_array(keys, kept);
    free(keys);
    const char *params[] = {call->header->tenant_id, array};
    PGresult *res = crm_db_query(call->db, &s_field_defs, params);
    free(array);
    if (!res)
        return crm_call_db_failure(call);
    char buf[64];
    for (size_t i = 0; i < kept; i++) {
        Crm__Contacts__Contact__CustomFieldsEntry *e = c->custom_fields[i];
        snprintf(field, sizeof field, "%scustomFields.%.64s", prefix, e->key);
        int row = -1;
        for (int r = 0; r < PQntuples(res) && row < 0; r++)
            if (strcmp(PQgetvalue(res, r, 0), e->key) == 0)
                row = r;
        if (row < 0) {
            crm_call_field_error(call, field, "is not a custom field of this tenant");
            continue;
        }
        const char *why = s_custom_value(&e->value, PQgetvalue(res, row, 1),
                                         PQgetvalue(res, row, 2), buf, sizeof buf);
        if (why)
            crm_call_field_error(call, field, "%s", why);
    }
    PQclear(res);
    return 0;
}

// --- rendering ----------------------------------------------------------------------------

//  The profile as stored: the contact's JSON without what has columns of its own.
static char *s_render(const Crm__Contacts__Contact *c) {
    static const char *const columns[] = {"id",     "kind",     "type",      "firstName",
                                          "lastName", "name",   "emails",    "phones",
                                          "source", "tags",     "createdAt", "updatedAt",
                                          "supplier", "assignee", "lastActivityAt",
                                          "leadCount"};
    json_t *profile = crm_pb_to_json_value(&c->base);
    for (size_t i = 0; i < sizeof columns / sizeof *columns; i++)
        json_object_del(profile, columns[i]);
    char *text = json_dumps(profile, JSON_COMPACT);
    json_decref(profile);
    return text;
}

int contacts_profile_prepare(crm_call_t *call, Crm__Contacts__Contact *c, const char *prefix,
                             contacts_row_t *row) {
    s_sms_order(call, c, prefix);
    s_addresses(call, c, prefix);
    s_vehicles(call, c, prefix);
    s_social(call, c, prefix);
    s_details(call, c, prefix);
    int code = s_custom_phone_types(call, c, prefix);
    if (!code)
        code = s_organization(call, c, prefix);
    if (!code)
        code = s_custom_fields(call, c, prefix);
    if (code)
        return code;
    if (call->errors.n)
        return 422;
    row->supplier = c->supplier ? "true" : "false";
    row->assignee = c->assignee;
    row->organization_id = c->organization ? c->organization->id : NULL;
    row->profile_json = s_render(c);
    return 0;
}
