/*  merge: the rules of a merge (merge.h): the request's form, the survivorship, the
    survivor after an undo. Pure: contacts in the API's shape (JSON objects, as
    CONTACT_JSON reads them) in, a survivor and its sources out; no database.
    tests/unit/test_contacts_merge.c states the rules.
*/
#include "merge.h"
#include "ids.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

//  The fields a survivor takes whole from one contact (JSON names). kind is not among
//  them: every contact of a merge must be of the primary's kind.
static const char *const s_scalars[] = {
    "type",    "firstName",        "lastName", "name",        "source",          "supplier",
    "companyBuyer", "companyName", "organization", "foundUs", "preferredChannel", "bestTime",
    "dateOfBirth", "discountPercent", "assignee"};
#define S_N_SCALARS (sizeof s_scalars / sizeof *s_scalars)

//  The lists a survivor takes the union of, each item known by a key (case folded).
typedef void(s_key_fn)(const json_t *item, char *key, size_t size);

static void s_lower(char *s) {
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

static const char *s_str(const json_t *object, const char *member) {
    const char *v = json_string_value(json_object_get(object, member));
    return v ? v : "";
}

static void s_key_email(const json_t *item, char *key, size_t size) {
    snprintf(key, size, "%s", s_str(item, "address"));
    s_lower(key);
}

static void s_key_phone(const json_t *item, char *key, size_t size) {
    snprintf(key, size, "%s", s_str(item, "number"));
}

static void s_key_tag(const json_t *item, char *key, size_t size) {
    snprintf(key, size, "%s", json_string_value(item) ? json_string_value(item) : "");
    s_lower(key);
}

static void s_key_address(const json_t *item, char *key, size_t size) {
    snprintf(key, size, "%s|%s|%s|%s|%s", s_str(item, "line1"), s_str(item, "line2"),
             s_str(item, "city"), s_str(item, "postcode"), s_str(item, "country"));
    s_lower(key);
}

static void s_key_vehicle(const json_t *item, char *key, size_t size) {
    if (s_str(item, "vin")[0])
        snprintf(key, size, "%s|%s", s_str(item, "relation"), s_str(item, "vin"));
    else
        snprintf(key, size, "%s|%lld|%s|%s|%s", s_str(item, "relation"),
                 json_integer_value(json_object_get(item, "year")), s_str(item, "make"),
                 s_str(item, "model"), s_str(item, "trim"));
    s_lower(key);
}

static void s_key_social(const json_t *item, char *key, size_t size) {
    snprintf(key, size, "%s|%s", s_str(item, "network"), s_str(item, "handle"));
    s_lower(key);
}

static const struct {
    const char *field;
    s_key_fn *key;
    bool has_primary; // items carry "primary": the survivor keeps one
} s_lists[] = {
    {"emails", s_key_email, true},       {"phones", s_key_phone, true},
    {"tags", s_key_tag, false},          {"addresses", s_key_address, true},
    {"vehicles", s_key_vehicle, false},  {"socialProfiles", s_key_social, false},
};
#define S_N_LISTS (sizeof s_lists / sizeof *s_lists)

//  A value that says nothing: absent, null, "", false, 0, an empty object or array (the
//  transcoder leaves defaults out, so most empties are absent).
static bool s_empty(const json_t *v) {
    if (!v || json_is_null(v) || json_is_false(v))
        return true;
    if (json_is_string(v))
        return json_string_length(v) == 0;
    if (json_is_number(v))
        return json_number_value(v) == 0;
    if (json_is_object(v))
        return json_object_size(v) == 0;
    if (json_is_array(v))
        return json_array_size(v) == 0;
    return false;
}

static bool s_scalar_known(const char *field) {
    for (size_t i = 0; i < S_N_SCALARS; i++)
        if (strcmp(s_scalars[i], field) == 0)
            return true;
    return strncmp(field, "customFields.", 13) == 0 && field[13];
}

int contacts_merge_check(const Crm__Contacts__MergeContactsRequest *req, crm_errors_t *errors) {
    size_t before = errors->n;
    if (!req->primary_id[0])
        crm_errors_add(errors, "primaryId", "is required");
    else if (!crm_uuid_valid(req->primary_id))
        crm_errors_add(errors, "primaryId", "is not a valid contact id");
    if (req->n_merge_ids == 0)
        crm_errors_add(errors, "mergeIds", "is required: at least one contact to merge");
    else if (req->n_merge_ids > CONTACTS_MERGE_MAX)
        crm_errors_add(errors, "mergeIds", "may name at most %d contacts at once",
                       CONTACTS_MERGE_MAX);
    for (size_t i = 0; i < req->n_merge_ids && i < CONTACTS_MERGE_MAX; i++) {
        char field[32];
        snprintf(field, sizeof field, "mergeIds[%zu]", i);
        const char *id = req->merge_ids[i];
        if (!crm_uuid_valid(id)) {
            crm_errors_add(errors, field, "is not a valid contact id");
            continue;
        }
        if (strcasecmp(id, req->primary_id) == 0)
            crm_errors_add(errors, field, "is the primary: a contact cannot be merged with itself");
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(id, req->merge_ids[j]) == 0) {
                crm_errors_add(errors, field, "appears twice");
                break;
            }
    }
    for (size_t i = 0; i < req->n_choose; i++) {
        const char *field = req->choose[i]->key, *id = req->choose[i]->value;
        char name[160];
        snprintf(name, sizeof name, "choose.%.140s", field);
        if (!s_scalar_known(field)) {
            crm_errors_add(errors, name, "is not a field whose value can be chosen");
            continue;
        }
        bool member = strcasecmp(id, req->primary_id) == 0;
        for (size_t j = 0; !member && j < req->n_merge_ids; j++)
            member = strcasecmp(id, req->merge_ids[j]) == 0;
        if (!member)
            crm_errors_add(errors, name, "must be primaryId or one of mergeIds");
    }
    return errors->n > before ? -1 : 0;
}

//  The record choose names for field (its index), or -1.
static int s_chosen(json_t *const *records, size_t n, const json_t *choose, const char *field) {
    const char *id = json_string_value(json_object_get(choose, field));
    for (size_t i = 0; id && i < n; i++)
        if (strcasecmp(s_str(records[i], "id"), id) == 0)
            return (int)i;
    return -1;
}

static void s_source(json_t *sources, const char *field, const json_t *record) {
    json_array_append_new(sources, json_pack("{s:s, s:s}", "field", field, "contactId",
                                             s_str(record, "id")));
}

//  One field of the survivor: the chosen record's, the primary's, or the first other's
//  that is not empty. get/set address the field in a record and in the survivor.
static void s_take(json_t *const *records, size_t n, const json_t *choose, const char *field,
                   json_t *(*get)(const json_t *record, const char *name), const char *name,
                   json_t *survivor_obj, json_t *sources) {
    int from = s_chosen(records, n, choose, field);
    if (from < 0)
        for (size_t i = 0; i < n && from < 0; i++)
            if (!s_empty(get(records[i], name)))
                from = (int)i;
    json_t *value = from >= 0 ? get(records[from], name) : NULL;
    if (s_empty(value)) {
        json_object_del(survivor_obj, name);
        return;
    }
    json_object_set(survivor_obj, name, value);
    s_source(sources, field, records[from]);
}

static json_t *s_get_member(const json_t *record, const char *name) {
    return json_object_get(record, name);
}

static json_t *s_get_custom(const json_t *record, const char *name) {
    return json_object_get(json_object_get(record, "customFields"), name);
}

//  A phone held by two records: the opt-ins both allow (the most restrictive wins).
static void s_phone_restrict(json_t *kept, const json_t *other) {
    static const char *const opt_ins[] = {"sms", "whatsapp", "viber"};
    for (size_t i = 0; i < sizeof opt_ins / sizeof *opt_ins; i++)
        if (json_is_true(json_object_get(kept, opt_ins[i])) &&
            !json_is_true(json_object_get(other, opt_ins[i])))
            json_object_del(kept, opt_ins[i]);
}

//  The SMS order of the union: the texted lines numbered 1.. in the order of their
//  records (the primary's first), each record's by its own order (ranked lines by rank,
//  then the others in list order).
static void s_phone_ranks(json_t *phones, const size_t *origin, size_t n_records) {
    size_t n = json_array_size(phones);
    bool done[256] = {0};
    json_int_t next = 1;
    for (size_t r = 0; r < n_records; r++) {
        for (;;) {
            size_t best = n;
            json_int_t best_rank = 0;
            for (size_t i = 0; i < n; i++) {
                json_t *p = json_array_get(phones, i);
                json_int_t rank = json_integer_value(json_object_get(p, "smsRank"));
                if (origin[i] == r && !done[i] && json_is_true(json_object_get(p, "sms")) &&
                    rank > 0 && (best == n || rank < best_rank))
                    best = i, best_rank = rank;
            }
            if (best == n)
                break;
            done[best] = true;
            json_object_set_new(json_array_get(phones, best), "smsRank", json_integer(next++));
        }
        for (size_t i = 0; i < n; i++) {
            json_t *p = json_array_get(phones, i);
            if (origin[i] == r && !done[i] && json_is_true(json_object_get(p, "sms"))) {
                done[i] = true;
                json_object_set_new(p, "smsRank", json_integer(next++));
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        if (!done[i])
            json_object_del(json_array_get(phones, i), "smsRank");
}

//  The union of one list: the records' items in order, each key once (the first
//  record's item; a phone's opt-ins restricted by the others'), one primary at most.
static void s_union(json_t *const *records, size_t n, size_t list, json_t *survivor_obj,
                    json_t *sources) {
    const char *field = s_lists[list].field;
    json_t *out = json_array();
    json_t *seen = json_object();
    size_t origin[256];
    bool primary = false;
    for (size_t r = 0; r < n; r++) {
        size_t i;
        json_t *item;
        json_array_foreach(json_object_get(records[r], field), i, item) {
            char key[512];
            s_lists[list].key(item, key, sizeof key);
            json_t *at = json_object_get(seen, key);
            if (at) {
                if (strcmp(field, "phones") == 0)
                    s_phone_restrict(json_array_get(out, (size_t)json_integer_value(at)), item);
                continue;
            }
            if (json_array_size(out) >= sizeof origin / sizeof *origin)
                continue;
            json_t *copy = json_deep_copy(item);
            if (s_lists[list].has_primary) {
                if (json_is_true(json_object_get(copy, "primary")) && primary)
                    json_object_del(copy, "primary");
                primary |= json_is_true(json_object_get(copy, "primary"));
            }
            json_object_set_new(seen, key, json_integer((json_int_t)json_array_size(out)));
            origin[json_array_size(out)] = r;
            char name[64];
            snprintf(name, sizeof name, "%s[%zu]", field, json_array_size(out));
            s_source(sources, name, records[r]);
            json_array_append_new(out, copy);
        }
    }
    if (strcmp(field, "phones") == 0)
        s_phone_ranks(out, origin, n);
    json_decref(seen);
    if (json_array_size(out))
        json_object_set_new(survivor_obj, field, out);
    else {
        json_decref(out);
        json_object_del(survivor_obj, field);
    }
}

int contacts_merge_survivor(json_t *const *records, size_t n, const json_t *choose,
                            json_t **survivor, json_t **sources, crm_errors_t *errors) {
    const char *kind = s_str(records[0], "kind");
    size_t before = errors->n;
    for (size_t i = 1; i < n; i++)
        if (strcmp(s_str(records[i], "kind"), kind) != 0) {
            char field[32];
            snprintf(field, sizeof field, "mergeIds[%zu]", i - 1);
            crm_errors_add(errors, field, "is a%s %s; the primary is a%s %s",
                           s_str(records[i], "kind")[0] == 'o' ? "n" : "",
                           s_str(records[i], "kind"), kind[0] == 'o' ? "n" : "", kind);
        }
    if (errors->n > before)
        return -1;
    json_t *out = json_object();
    json_t *src = json_array();
    json_object_set_new(out, "id", json_string(s_str(records[0], "id")));
    json_object_set_new(out, "kind", json_string(kind));
    for (size_t f = 0; f < S_N_SCALARS; f++)
        s_take(records, n, choose, s_scalars[f], s_get_member, s_scalars[f], out, src);
    //  Custom fields, key by key, in the order the records name them.
    json_t *keys = json_object();
    for (size_t r = 0; r < n; r++) {
        const char *key;
        json_t *value;
        json_object_foreach(json_object_get(records[r], "customFields"), key, value)
            json_object_set(keys, key, json_true());
    }
    json_t *custom = json_object();
    const char *key;
    json_t *value;
    json_object_foreach(keys, key, value) {
        char field[160];
        snprintf(field, sizeof field, "customFields.%.140s", key);
        s_take(records, n, choose, field, s_get_custom, key, custom, src);
    }
    json_decref(keys);
    if (json_object_size(custom))
        json_object_set_new(out, "customFields", custom);
    else
        json_decref(custom);
    for (size_t l = 0; l < S_N_LISTS; l++)
        s_union(records, n, l, out, src);
    //  The read-only facts: the earliest creation, the latest activity, all the leads.
    const char *created = s_str(records[0], "createdAt"), *active = "";
    json_int_t leads = 0;
    for (size_t r = 0; r < n; r++) {
        const char *c = s_str(records[r], "createdAt"), *a = s_str(records[r], "lastActivityAt");
        if (c[0] && (!created[0] || strcmp(c, created) < 0))
            created = c;
        if (strcmp(a, active) > 0)
            active = a;
        leads += json_integer_value(json_object_get(records[r], "leadCount"));
    }
    if (created[0])
        json_object_set_new(out, "createdAt", json_string(created));
    if (active[0])
        json_object_set_new(out, "lastActivityAt", json_string(active));
    if (leads)
        json_object_set_new(out, "leadCount", json_integer(leads));
    *survivor = out;
    *sources = src;
    return 0;
}

//  The item of list whose key is key, or NULL.
static json_t *s_item(const json_t *list, size_t l, const char *key) {
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) {
        char k[512];
        s_lists[l].key(item, k, sizeof k);
        if (strcmp(k, key) == 0)
            return item;
    }
    return NULL;
}

//  One field of an undo: still as the merge set it, and the merge changed it: back to
//  before's (absent when before had none).
static void s_undo_value(json_t *out, const char *name, const json_t *before_v,
                         const json_t *after_v) {
    json_t *now = json_object_get(out, name);
    bool same_now = (s_empty(now) && s_empty(after_v)) || (now && after_v && json_equal(now, after_v));
    bool merge_changed = !((s_empty(before_v) && s_empty(after_v)) ||
                           (before_v && after_v && json_equal(before_v, after_v)));
    if (!same_now || !merge_changed)
        return;
    if (s_empty(before_v))
        json_object_del(out, name);
    else
        json_object_set(out, name, (json_t *)before_v);
}

json_t *contacts_merge_undo_survivor(const json_t *current, const json_t *before,
                                     const json_t *after) {
    json_t *out = json_deep_copy(current);
    s_undo_value(out, "createdAt", json_object_get(before, "createdAt"),
                 json_object_get(after, "createdAt"));
    for (size_t f = 0; f < S_N_SCALARS; f++)
        s_undo_value(out, s_scalars[f], json_object_get(before, s_scalars[f]),
                     json_object_get(after, s_scalars[f]));
    json_t *custom = json_object_get(out, "customFields");
    if (!custom) {
        custom = json_object();
        json_object_set_new(out, "customFields", custom);
    }
    const char *key;
    json_t *value;
    json_object_foreach(json_object_get(after, "customFields"), key, value)
        s_undo_value(custom, key, json_object_get(json_object_get(before, "customFields"), key),
                     value);
    if (!json_object_size(custom))
        json_object_del(out, "customFields");
    for (size_t l = 0; l < S_N_LISTS; l++) {
        const char *field = s_lists[l].field;
        const json_t *had = json_object_get(before, field), *made = json_object_get(after, field);
        json_t *list = json_object_get(out, field);
        json_t *kept = json_array();
        size_t i;
        json_t *item;
        json_array_foreach(list, i, item) {
            char k[512];
            s_lists[l].key(item, k, sizeof k);
            json_t *was = s_item(had, l, k), *merged = s_item(made, l, k);
            if (!was && merged)
                continue; // the merge brought it: it goes back with its contact
            if (was && merged && json_equal(item, merged) && !json_equal(was, merged))
                json_array_append(kept, was); // the merge changed it (an opt-in): back
            else
                json_array_append(kept, item);
        }
        if (json_array_size(kept))
            json_object_set_new(out, field, kept);
        else {
            json_decref(kept);
            json_object_del(out, field);
        }
    }
    return out;
}

size_t contacts_merge_changed(const json_t *a, const json_t *b, const char **names, size_t max) {
    static const char *const fields[] = {
        "type",    "firstName",        "lastName", "name",        "source",          "supplier",
        "companyBuyer", "companyName", "organization", "foundUs", "preferredChannel", "bestTime",
        "dateOfBirth", "discountPercent", "assignee", "customFields", "emails", "phones",
        "tags",    "addresses",        "vehicles", "socialProfiles"};
    size_t n = 0;
    for (size_t f = 0; f < sizeof fields / sizeof *fields && n < max; f++) {
        const json_t *x = json_object_get(a, fields[f]), *y = json_object_get(b, fields[f]);
        if ((s_empty(x) && s_empty(y)) || (x && y && json_equal(x, y)))
            continue;
        names[n++] = fields[f];
    }
    return n;
}
