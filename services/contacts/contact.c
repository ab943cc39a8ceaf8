/*  contact: the rules of a contact. A contact message in (a create's, or a stored one
    with a PATCH applied), normalised in place (phones in E.164, defaults filled, the
    catalogue's spellings), its field errors out, and the row the store writes. No
    database here: the few checks that need the tenant's data (its tag catalogue, its
    phone types, its custom fields, the linked organization) are asked of the store in
    a contacts_lookup_t between the two passes:

        contacts_contact_check(c, region, "", &errors, &lookup);        // the request alone
        contacts_contact_store_lookup(db, tenant_id, &lookup);           // contact_store.c
        contacts_contact_check_known(c, "", &lookup, &errors);           // with the answers
        contacts_contact_render(c, &row, &names);                        // for the store

    The Create and Update methods (contact_methods.c) and the import of a CSV row
    (import.c) go this way. tests/unit/test_contacts_contact.c states the rules.
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

#define NAME_MAX_LEN 100
#define ORG_NAME_MAX_LEN 200
#define MAX_EMAILS 20
#define MAX_PHONES 20
#define MAX_TAGS 50
#define TAG_MAX_LEN 64
#define TEXT_MAX_LEN 200
#define ROLE_MAX_LEN 100
#define CUSTOM_TEXT_MAX_LEN 1000
#define MAX_ADDRESSES 10
#define MAX_VEHICLES 50
#define MAX_SOCIAL 20
#define MAX_CUSTOM 100
#define MILEAGE_MAX 3000000


// --- questions for the store ----------------------------------------------------------

//  Ask about name, found at index in the contact.
static void s_ask(contacts_ask_t *ask, const char *name, size_t index) {
    ask->names = realloc(ask->names, (ask->n + 1) * sizeof *ask->names);
    ask->at = realloc(ask->at, (ask->n + 1) * sizeof *ask->at);
    ask->answers = realloc(ask->answers, (ask->n + 1) * sizeof *ask->answers);
    assert(ask->names && ask->at && ask->answers);
    ask->names[ask->n] = name;
    ask->at[ask->n] = index;
    ask->answers[ask->n] = NULL;
    ask->n++;
}

static void s_ask_reset(contacts_ask_t *ask) {
    for (size_t i = 0; i < ask->n; i++)
        free(ask->answers[i]);
    free(ask->names);
    free(ask->at);
    free(ask->answers);
    memset(ask, 0, sizeof *ask);
}

void contacts_lookup_reset(contacts_lookup_t *lookup) {
    s_ask_reset(&lookup->tags);
    s_ask_reset(&lookup->phone_types);
    s_ask_reset(&lookup->fields);
    memset(lookup, 0, sizeof *lookup);
}

void contacts_check_length(crm_errors_t *errors, const char *field, const char *value,
                           size_t max) {
    if (crm_utf8_chars(value) > max)
        crm_errors_add(errors, field, "must be at most %zu characters", max);
}

// --- names, emails, phones, tags -------------------------------------------------------

static void s_names(crm_errors_t *errors, Crm__Contacts__Contact *c, const char *prefix) {
    char field[128];
    if (c->kind == CRM__CONTACTS__CONTACT_KIND__CONTACT_KIND_PERSON) {
        snprintf(field, sizeof field, "%sfirstName", prefix);
        if (crm_text_blank(c->first_name))
            crm_errors_add(errors, field, "is required for a person");
        contacts_check_length(errors, field, c->first_name, NAME_MAX_LEN);
        snprintf(field, sizeof field, "%slastName", prefix);
        if (crm_text_blank(c->last_name))
            crm_errors_add(errors, field, "is required for a person");
        contacts_check_length(errors, field, c->last_name, NAME_MAX_LEN);
    } else {
        snprintf(field, sizeof field, "%sname", prefix);
        if (crm_text_blank(c->name))
            crm_errors_add(errors, field, "is required for an organization");
        contacts_check_length(errors, field, c->name, ORG_NAME_MAX_LEN);
    }
}

//  The key an address is unique under: the whole address, lower-cased.
static void s_email_key(const char *address, char *key, size_t size) {
    snprintf(key, size, "%s", address);
    for (char *p = key; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

static void s_emails(crm_errors_t *errors, Crm__Contacts__Contact *c, const char *prefix) {
    char field[128];
    snprintf(field, sizeof field, "%semails", prefix);
    if (c->n_emails > MAX_EMAILS)
        crm_errors_add(errors, field, "may hold at most %d addresses", MAX_EMAILS);
    int primaries = 0;
    for (size_t i = 0; i < c->n_emails && i < MAX_EMAILS; i++) {
        Crm__Contacts__Email *e = c->emails[i];
        snprintf(field, sizeof field, "%semails[%zu].address", prefix, i);
        if (!crm_email_valid(e->address)) {
            crm_errors_add(errors, field, "is not a valid email address");
            continue;
        }
        char key[320], other[320];
        s_email_key(e->address, key, sizeof key);
        for (size_t j = 0; j < i; j++) {
            s_email_key(c->emails[j]->address, other, sizeof other);
            if (crm_email_valid(c->emails[j]->address) && strcmp(key, other) == 0)
                crm_errors_add(errors, field, "appears twice");
        }
        primaries += e->primary;
    }
    if (primaries > 1) {
        snprintf(field, sizeof field, "%semails", prefix);
        crm_errors_add(errors, field, "may have only one primary address");
    } else if (primaries == 0 && c->n_emails > 0)
        c->emails[0]->primary = 1;
}

static void s_phones(crm_errors_t *errors, Crm__Contacts__Contact *c, const char *region,
                     const char *prefix) {
    char field[128];
    snprintf(field, sizeof field, "%sphones", prefix);
    if (c->n_phones > MAX_PHONES)
        crm_errors_add(errors, field, "may hold at most %d numbers", MAX_PHONES);
    int primaries = 0;
    for (size_t i = 0; i < c->n_phones && i < MAX_PHONES; i++) {
        Crm__Contacts__Phone *p = c->phones[i];
        snprintf(field, sizeof field, "%sphones[%zu].number", prefix, i);
        char e164[32];
        const char *reason = NULL;
        if (crm_phone_to_e164(p->number, region, e164, sizeof e164, &reason)) {
            crm_errors_add(errors, field, "%s", reason ? reason : "is not a valid phone number");
            continue;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->phones[j]->number, e164) == 0)
                crm_errors_add(errors, field, "appears twice");
        crm_pb_string_set(&p->number, e164);
        primaries += p->primary;
    }
    if (primaries > 1) {
        snprintf(field, sizeof field, "%sphones", prefix);
        crm_errors_add(errors, field, "may have only one primary number");
    } else if (primaries == 0 && c->n_phones > 0)
        c->phones[0]->primary = 1;
}

//  Tags are the catalogue's, spelled as it spells them: asked of the store once every
//  tag is well formed and nothing else is wrong so far.
static void s_tags(crm_errors_t *errors, Crm__Contacts__Contact *c, const char *prefix,
                   contacts_lookup_t *lookup) {
    char field[128];
    if (c->n_tags > MAX_TAGS) {
        snprintf(field, sizeof field, "%stags", prefix);
        crm_errors_add(errors, field, "may hold at most %d tags", MAX_TAGS);
    }
    bool ask = c->n_tags <= MAX_TAGS && !errors->n;
    for (size_t i = 0; i < c->n_tags; i++) {
        snprintf(field, sizeof field, "%stags[%zu]", prefix, i);
        if (crm_text_blank(c->tags[i]))
            crm_errors_add(errors, field, "must not be empty");
        else if (crm_utf8_chars(c->tags[i]) > TAG_MAX_LEN)
            crm_errors_add(errors, field, "must be at most %d characters", TAG_MAX_LEN);
        else
            continue;
        ask = false;
    }
    for (size_t i = 0; ask && i < c->n_tags; i++)
        s_ask(&lookup->tags, c->tags[i], i);
}

//  The catalogue's spelling of each tag; a tag given twice is kept once (the stored
//  contact is what is returned).
static void s_tags_known(crm_errors_t *errors, Crm__Contacts__Contact *c, const char *prefix,
                         const contacts_lookup_t *lookup) {
    char field[128];
    for (size_t k = 0; k < lookup->tags.n; k++) {
        size_t i = lookup->tags.at[k];
        snprintf(field, sizeof field, "%stags[%zu]", prefix, i);
        if (!lookup->tags.answers[k])
            crm_errors_add(errors, field,
                           "is not in the tag catalogue (create it with POST /v1/tags)");
        else
            crm_pb_string_set(&c->tags[i], lookup->tags.answers[k]);
    }
    size_t kept = 0;
    for (size_t i = 0; i < c->n_tags; i++) {
        bool seen = false;
        for (size_t j = 0; j < kept && !seen; j++)
            seen = strcmp(c->tags[j], c->tags[i]) == 0;
        if (seen)
            free(c->tags[i]);
        else
            c->tags[kept++] = c->tags[i];
    }
    c->n_tags = kept;
}

// --- phones -----------------------------------------------------------------------------

//  SMS order: the lines with sms set are ranked 1..n, by the ranks given (all or none,
//  each once) or else by their order in the list. A line without sms has no rank.
static void s_sms_order(crm_errors_t *errors, Crm__Contacts__Contact *c, const char *prefix) {
    char field[128];
    size_t texted = 0, ranked = 0;
    for (size_t i = 0; i < c->n_phones; i++) {
        Crm__Contacts__Phone *p = c->phones[i];
        if (!p->sms && p->sms_rank) {
            snprintf(field, sizeof field, "%sphones[%zu].smsRank", prefix, i);
            crm_errors_add(errors, field, "is set only for a line with sms opted in");
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
        crm_errors_add(errors, field,
                             "must give smsRank to every line with sms opted in, or to none");
        return;
    }
    for (size_t i = 0; i < c->n_phones; i++) {
        Crm__Contacts__Phone *p = c->phones[i];
        if (!p->sms)
            continue;
        snprintf(field, sizeof field, "%sphones[%zu].smsRank", prefix, i);
        if (p->sms_rank > texted)
            crm_errors_add(errors, field, "must be from 1 to %zu (the lines texted)", texted);
        for (size_t j = 0; j < i; j++)
            if (c->phones[j]->sms && c->phones[j]->sms_rank == p->sms_rank)
                crm_errors_add(errors, field, "is given to two lines");
    }
}

//  Phone types of the tenant's own: each must be one of its types, spelled as it spells
//  it (asked of the store: lookup->phone_types); the line's type is then "other".
static void s_custom_phone_types(crm_errors_t *errors, Crm__Contacts__Contact *c,
                                 const char *prefix, contacts_lookup_t *lookup) {
    char field[128];
    for (size_t i = 0; i < c->n_phones; i++) {
        Crm__Contacts__Phone *p = c->phones[i];
        crm_text_trim(p->custom_type);
        if (!p->custom_type[0])
            continue;
        snprintf(field, sizeof field, "%sphones[%zu].customType", prefix, i);
        if (crm_utf8_chars(p->custom_type) > 40)
            crm_errors_add(errors, field, "must be at most 40 characters");
        else
            s_ask(&lookup->phone_types, p->custom_type, i);
        p->type = CRM__CONTACTS__PHONE_TYPE__PHONE_TYPE_OTHER;
    }
}

static void s_custom_phone_types_known(crm_errors_t *errors, Crm__Contacts__Contact *c,
                                       const char *prefix, const contacts_lookup_t *lookup) {
    char field[128];
    for (size_t k = 0; k < lookup->phone_types.n; k++) {
        size_t i = lookup->phone_types.at[k];
        snprintf(field, sizeof field, "%sphones[%zu].customType", prefix, i);
        if (!lookup->phone_types.answers[k])
            crm_errors_add(errors, field, "is not a phone type of this tenant");
        else
            crm_pb_string_set(&c->phones[i]->custom_type, lookup->phone_types.answers[k]);
    }
}

// --- the organization ---------------------------------------------------------------------

static void s_organization(crm_errors_t *errors, Crm__Contacts__Contact *c, const char *prefix,
                           contacts_lookup_t *lookup) {
    char field[128];
    Crm__Contacts__OrganizationLink *org = c->organization;
    if (c->company_buyer && c->kind != CRM__CONTACTS__CONTACT_KIND__CONTACT_KIND_PERSON) {
        snprintf(field, sizeof field, "%scompanyBuyer", prefix);
        crm_errors_add(errors, field, "is for a person buying on behalf of a company");
    }
    crm_text_trim(c->company_name);
    snprintf(field, sizeof field, "%scompanyName", prefix);
    contacts_check_length(errors, field, c->company_name, TEXT_MAX_LEN);
    if (c->company_name[0] && !c->company_buyer)
        crm_errors_add(errors, field, "is given only with companyBuyer");
    if (c->company_buyer && !c->company_name[0] && !(org && org->id[0]))
        crm_errors_add(errors, field,
                             "is required for a company buyer not linked to an organization");
    if (!org)
        return;
    if (!org->id[0] && !org->role[0]) {  // an empty link is no link
        crm__contacts__organization_link__free_unpacked(org, NULL);
        c->organization = NULL;
        return;
    }
    crm_text_trim(org->role);
    snprintf(field, sizeof field, "%sorganization.role", prefix);
    contacts_check_length(errors, field, org->role, ROLE_MAX_LEN);
    snprintf(field, sizeof field, "%sorganization", prefix);
    if (c->kind != CRM__CONTACTS__CONTACT_KIND__CONTACT_KIND_PERSON) {
        crm_errors_add(errors, field, "is for a person (an organization is not linked)");
        return;
    }
    snprintf(field, sizeof field, "%sorganization.id", prefix);
    if (!crm_uuid_valid(org->id)) {
        crm_errors_add(errors, field, "is not a valid contact id");
        return;
    }
    for (char *p = org->id; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    lookup->organization_id = org->id;
}

//  The linked organization is a live organization of the tenant.
static void s_organization_known(crm_errors_t *errors, const char *prefix,
                                 const contacts_lookup_t *lookup) {
    if (!lookup->organization_id)
        return;
    char field[128];
    snprintf(field, sizeof field, "%sorganization.id", prefix);
    if (!lookup->organization_kind[0])
        crm_errors_add(errors, field, "is not a contact of this tenant");
    else if (strcmp(lookup->organization_kind, "organization") != 0)
        crm_errors_add(errors, field, "is a person, not an organization");
}

// --- addresses, vehicles, social profiles -------------------------------------------------

static void s_addresses(crm_errors_t *errors, Crm__Contacts__Contact *c, const char *prefix) {
    char field[128];
    if (c->n_addresses > MAX_ADDRESSES) {
        snprintf(field, sizeof field, "%saddresses", prefix);
        crm_errors_add(errors, field, "may hold at most %d addresses", MAX_ADDRESSES);
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
            contacts_check_length(errors, field, parts[k], TEXT_MAX_LEN);
        }
        if (!a->line1[0] && !a->city[0] && !a->postcode[0]) {
            snprintf(field, sizeof field, "%saddresses[%zu]", prefix, i);
            crm_errors_add(errors, field, "needs at least line1, city or postcode");
        }
        crm_text_trim(a->country);
        snprintf(field, sizeof field, "%saddresses[%zu].country", prefix, i);
        if (a->country[0] && (strlen(a->country) != 2 || !isalpha((unsigned char)a->country[0]) ||
                              !isalpha((unsigned char)a->country[1])))
            crm_errors_add(errors, field, "must be an ISO 3166-1 alpha-2 code such as US");
        for (char *p = a->country; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        if (a->type == CRM__CONTACTS__ADDRESS_TYPE__ADDRESS_TYPE_UNSPECIFIED)
            a->type = CRM__CONTACTS__ADDRESS_TYPE__ADDRESS_TYPE_HOME;
        primaries += a->primary;
    }
    if (primaries > 1) {
        snprintf(field, sizeof field, "%saddresses", prefix);
        crm_errors_add(errors, field, "may have only one primary address");
    } else if (primaries == 0 && c->n_addresses > 0)
        c->addresses[0]->primary = 1;
}

//  One vehicle by the shared vehicle rules (common/vehicle.h) and a contact's own: a
//  relation, a mileage, and a trade-in's year, make and model. Texts are trimmed and
//  the VIN upper-cased in place.
static void s_vehicle(crm_errors_t *errors, Crm__Contacts__Vehicle *v, const char *path) {
    char field[128], rule[64];
#define S_FIELD(name) (snprintf(field, sizeof field, "%s.%s", path, name), field)
    if (v->relation == CRM__CONTACTS__VEHICLE_RELATION__VEHICLE_RELATION_UNSPECIFIED)
        crm_errors_add(errors, S_FIELD("relation"),
                             "is required (owned, interest or trade_in)");
    char *texts[] = {v->make, v->model, v->trim};
    const char *names[] = {"make", "model", "trim"};
    for (size_t k = 0; k < 3; k++) {
        crm_text_trim(texts[k]);
        const char *problem = crm_vehicle_text_check(texts[k]);
        if (problem)
            crm_errors_add(errors, S_FIELD(names[k]), "%s", problem);
    }
    const char *problem = crm_vehicle_year_check(v->year, rule, sizeof rule);
    if (problem)
        crm_errors_add(errors, S_FIELD("year"), "%s", problem);
    if (v->relation == CRM__CONTACTS__VEHICLE_RELATION__VEHICLE_RELATION_TRADE_IN) {
        if (!v->year)
            crm_errors_add(errors, S_FIELD("year"), "is required for a trade-in");
        if (!v->make[0])
            crm_errors_add(errors, S_FIELD("make"), "is required for a trade-in");
        if (!v->model[0])
            crm_errors_add(errors, S_FIELD("model"), "is required for a trade-in");
    }
    if (v->mileage > MILEAGE_MAX)
        crm_errors_add(errors, S_FIELD("mileage"), "must be at most %d", MILEAGE_MAX);
    crm_text_trim(v->vin);
    problem = crm_vehicle_vin_normalize(v->vin);
    if (problem)
        crm_errors_add(errors, S_FIELD("vin"), "%s", problem);
#undef S_FIELD
}

static void s_vehicles(crm_errors_t *errors, Crm__Contacts__Contact *c, const char *prefix) {
    char path[96];
    if (c->n_vehicles > MAX_VEHICLES) {
        snprintf(path, sizeof path, "%svehicles", prefix);
        crm_errors_add(errors, path, "may hold at most %d vehicles", MAX_VEHICLES);
        return;
    }
    for (size_t i = 0; i < c->n_vehicles; i++) {
        snprintf(path, sizeof path, "%svehicles[%zu]", prefix, i);
        s_vehicle(errors, c->vehicles[i], path);
    }
}

static void s_social(crm_errors_t *errors, Crm__Contacts__Contact *c, const char *prefix) {
    char field[128];
    if (c->n_social_profiles > MAX_SOCIAL) {
        snprintf(field, sizeof field, "%ssocialProfiles", prefix);
        crm_errors_add(errors, field, "may hold at most %d profiles", MAX_SOCIAL);
        return;
    }
    for (size_t i = 0; i < c->n_social_profiles; i++) {
        Crm__Contacts__SocialProfile *s = c->social_profiles[i];
        if (s->network == CRM__CONTACTS__SOCIAL_NETWORK__SOCIAL_NETWORK_UNSPECIFIED) {
            snprintf(field, sizeof field, "%ssocialProfiles[%zu].network", prefix, i);
            crm_errors_add(errors, field, "is required");
        }
        crm_text_trim(s->handle);
        snprintf(field, sizeof field, "%ssocialProfiles[%zu].handle", prefix, i);
        if (!s->handle[0])
            crm_errors_add(errors, field, "is required");
        contacts_check_length(errors, field, s->handle, TEXT_MAX_LEN);
    }
}

// --- personal details -----------------------------------------------------------------------

static void s_details(crm_errors_t *errors, Crm__Contacts__Contact *c, const char *prefix) {
    char field[128];
    crm_text_trim(c->found_us);
    snprintf(field, sizeof field, "%sfoundUs", prefix);
    contacts_check_length(errors, field, c->found_us, TEXT_MAX_LEN);

    snprintf(field, sizeof field, "%sdateOfBirth", prefix);
    int year, month, day;
    if (c->date_of_birth[0]) {
        if (!crm_date_parse(c->date_of_birth, &year, &month, &day))
            crm_errors_add(errors, field, "must be a date as YYYY-MM-DD");
        else {
            time_t now = time(NULL);
            struct tm tm;
            gmtime_r(&now, &tm);
            char today[16];
            strftime(today, sizeof today, "%Y-%m-%d", &tm);
            if (year < 1900)
                crm_errors_add(errors, field, "must be in 1900 or later");
            else if (strcmp(c->date_of_birth, today) > 0)
                crm_errors_add(errors, field, "must not be in the future");
        }
    }

    snprintf(field, sizeof field, "%sdiscountPercent", prefix);
    if (!isfinite(c->discount_percent) || c->discount_percent < 0 || c->discount_percent > 100)
        crm_errors_add(errors, field, "must be from 0 to 100");
    else
        c->discount_percent = round(c->discount_percent * 100) / 100;

    snprintf(field, sizeof field, "%sassignee", prefix);
    crm_text_trim(c->assignee);
    if (!contacts_assignee_valid(c->assignee))
        crm_errors_add(errors, field,
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

static void s_custom_fields(crm_errors_t *errors, Crm__Contacts__Contact *c, const char *prefix,
                            contacts_lookup_t *lookup) {
    char field[200];
    snprintf(field, sizeof field, "%scustomFields", prefix);
    if (c->n_custom_fields > MAX_CUSTOM) {
        crm_errors_add(errors, field, "may hold at most %d values", MAX_CUSTOM);
        return;
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
    for (size_t i = 0; i < kept; i++)
        s_ask(&lookup->fields, c->custom_fields[i]->key, i);
}

//  Each value against its field's definition (type and options, asked of the store),
//  written back in canonical form.
static void s_custom_fields_known(crm_errors_t *errors, Crm__Contacts__Contact *c,
                                  const char *prefix, const contacts_lookup_t *lookup) {
    char field[200], buf[64];
    for (size_t k = 0; k < lookup->fields.n; k++) {
        Crm__Contacts__Contact__CustomFieldsEntry *e = c->custom_fields[lookup->fields.at[k]];
        snprintf(field, sizeof field, "%scustomFields.%.64s", prefix, e->key);
        const char *definition = lookup->fields.answers[k];  // "type options-json"
        if (!definition) {
            crm_errors_add(errors, field, "is not a custom field of this tenant");
            continue;
        }
        char type[16];
        size_t len = strcspn(definition, " ");
        snprintf(type, sizeof type, "%.*s", (int)len, definition);
        const char *why = s_custom_value(&e->value, type, definition + len + (definition[len] != 0),
                                         buf, sizeof buf);
        if (why)
            crm_errors_add(errors, field, "%s", why);
    }
}

// --- the whole contact -------------------------------------------------------------------

int contacts_contact_check(Crm__Contacts__Contact *c, const char *region, const char *prefix,
                           crm_errors_t *errors, contacts_lookup_t *lookup) {
    if (c->kind == CRM__CONTACTS__CONTACT_KIND__CONTACT_KIND_UNSPECIFIED)
        c->kind = CRM__CONTACTS__CONTACT_KIND__CONTACT_KIND_PERSON;
    if (c->type == CRM__CONTACTS__CONTACT_TYPE__CONTACT_TYPE_UNSPECIFIED)
        c->type = CRM__CONTACTS__CONTACT_TYPE__CONTACT_TYPE_PROSPECT;
    s_names(errors, c, prefix);
    s_emails(errors, c, prefix);
    s_phones(errors, c, region, prefix);
    s_tags(errors, c, prefix, lookup);
    s_sms_order(errors, c, prefix);
    s_addresses(errors, c, prefix);
    s_vehicles(errors, c, prefix);
    s_social(errors, c, prefix);
    s_details(errors, c, prefix);
    s_custom_phone_types(errors, c, prefix, lookup);
    s_organization(errors, c, prefix, lookup);
    s_custom_fields(errors, c, prefix, lookup);
    return errors->n ? -1 : 0;
}

int contacts_contact_check_known(Crm__Contacts__Contact *c, const char *prefix,
                                 const contacts_lookup_t *lookup, crm_errors_t *errors) {
    s_tags_known(errors, c, prefix, lookup);
    s_custom_phone_types_known(errors, c, prefix, lookup);
    s_organization_known(errors, prefix, lookup);
    s_custom_fields_known(errors, c, prefix, lookup);
    return errors->n ? -1 : 0;
}

// --- rendering for the store ----------------------------------------------------------------

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


//  A text[] literal of n strings.
static char *s_text_array(char *const *items, size_t n) {
    return crm_db_text_array((const char *const *)items, n);
}

static void s_row_names(const Crm__Contacts__Contact *c, contacts_row_names_t *names,
                        contacts_row_t *row) {
    row->kind = crm_enum_api_name(&crm__contacts__contact_kind__descriptor, c->kind, names->kind,
                            sizeof names->kind);
    row->type = crm_enum_api_name(&crm__contacts__contact_type__descriptor, c->type, names->type,
                            sizeof names->type);
    row->source = crm_enum_api_name(&crm__contacts__contact_source__descriptor, c->source,
                              names->source, sizeof names->source);
}

void contacts_contact_render(Crm__Contacts__Contact *c, contacts_row_t *row,
                            contacts_row_names_t *names) {
    //  A person's name is derived; an organization has no first or last name.
    if (c->kind == CRM__CONTACTS__CONTACT_KIND__CONTACT_KIND_PERSON) {
        char *full = zsys_sprintf("%s %s", c->first_name, c->last_name);
        crm_pb_string_set(&c->name, full);
        zstr_free(&full);
    } else {
        crm_pb_string_set(&c->first_name, "");
        crm_pb_string_set(&c->last_name, "");
    }
    json_t *emails = json_array(), *phones = json_array();
    char **keys = calloc(c->n_emails + 1, sizeof *keys);
    assert(keys);
    for (size_t i = 0; i < c->n_emails; i++) {
        json_array_append_new(emails, crm_pb_to_json_value(&c->emails[i]->base));
        keys[i] = malloc(320);
        assert(keys[i]);
        s_email_key(c->emails[i]->address, keys[i], 320);
    }
    for (size_t i = 0; i < c->n_phones; i++)
        json_array_append_new(phones, crm_pb_to_json_value(&c->phones[i]->base));
    row->tags_array = s_text_array(c->tags, c->n_tags);
    row->emails_json = json_dumps(emails, JSON_COMPACT);
    row->phones_json = json_dumps(phones, JSON_COMPACT);
    row->email_keys_array = s_text_array(keys, c->n_emails);
    for (size_t i = 0; i < c->n_emails; i++)
        free(keys[i]);
    free(keys);
    json_decref(emails);
    json_decref(phones);
    row->id = c->id;
    row->first_name = c->first_name;
    row->last_name = c->last_name;
    row->name = c->name;
    row->supplier = c->supplier ? "true" : "false";
    row->assignee = c->assignee;
    row->organization_id = c->organization ? c->organization->id : NULL;
    row->profile_json = s_render(c);
    s_row_names(c, names, row);
}

//  Copy one masked field from patch into c. Returns -1 for a name that cannot change.
int contacts_contact_apply_field(Crm__Contacts__Contact *c, const Crm__Contacts__Contact *patch,
                         const char *name) {
    const ProtobufCFieldDescriptor *f =
        crm_pb_field_by_name(&crm__contacts__contact__descriptor, name);
    static const char *const read_only[] = {"id", "created_at", "updated_at", "last_activity_at",
                                            "lead_count"};
    for (size_t i = 0; f && i < sizeof read_only / sizeof *read_only; i++)
        if (strcmp(f->name, read_only[i]) == 0)
            f = NULL;
    if (!f)
        return -1;
    //  Swap the field's storage between the two messages: the patch is a private copy.
    char *dst = (char *)c + f->offset;
    char *src = (char *)patch + f->offset;
    size_t size = f->label == PROTOBUF_C_LABEL_REPEATED ? sizeof(void *) : 0;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t *dst_n = (size_t *)((char *)c + f->quantifier_offset);
        size_t *src_n = (size_t *)((char *)patch + f->quantifier_offset);
        size_t n = *dst_n;
        *dst_n = *src_n;
        *src_n = n;
    } else if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)
        size = sizeof(void *);
    else if (f->type == PROTOBUF_C_TYPE_ENUM || f->type == PROTOBUF_C_TYPE_INT32 ||
             f->type == PROTOBUF_C_TYPE_UINT32 || f->type == PROTOBUF_C_TYPE_BOOL)
        size = sizeof(int32_t);
    else if (f->type == PROTOBUF_C_TYPE_DOUBLE)
        size = sizeof(double);
    else
        return -1;
    char tmp[sizeof(void *)];
    memcpy(tmp, dst, size);
    memcpy(dst, src, size);
    memcpy(src, tmp, size);
    return 0;
}


int contacts_match_check(const Crm__Contacts__MatchContactRequest *req, const char *region,
                         char *email, size_t email_size, char *phone, size_t phone_size,
                         crm_errors_t *errors) {
    email[0] = phone[0] = 0;
    if (req->email[0] && crm_email_normalize(req->email, email, email_size))
        crm_errors_add(errors, "email", "is not a valid email address");
    for (char *p = email; *p; p++)  // the key (contact_emails) is the whole address, lower-cased
        *p = (char)tolower((unsigned char)*p);
    const char *problem = NULL;
    if (req->phone[0] && crm_phone_to_e164(req->phone, region, phone, phone_size, &problem))
        crm_errors_add(errors, "phone", "%s", problem ? problem : "is not a phone number");
    if (!req->email[0] && !req->phone[0])
        crm_errors_add(errors, "email", "an email address or a phone number is required");
    return errors->n ? -1 : 0;
}

int contacts_update_check(const Crm__Contacts__UpdateContactRequest *req, crm_errors_t *errors) {
    for (size_t i = 0; i < req->n_update_mask; i++)
        if (!req->contact ||
            !crm_pb_field_by_name(&crm__contacts__contact__descriptor, req->update_mask[i]))
            crm_errors_add(errors, req->update_mask[i], "is not a contact field");
    return errors->n ? -1 : 0;
}
