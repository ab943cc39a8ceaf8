/*  handlers: the contacts service's methods. Each validates its request completely
    before it touches the database, then calls the store. */
#include "contacts.h"
#include "ids.h"
#include "json_pb.h"
#include "validate.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NAME_MAX_LEN 100
#define ORG_NAME_MAX_LEN 200
#define MAX_EMAILS 20
#define MAX_PHONES 20
#define MAX_TAGS 50
#define TAG_MAX_LEN 64

//  A text[] literal of a JSON array of strings.
static char *s_text_array(const json_t *array) {
    size_t n = json_array_size(array);
    const char **items = calloc(n + 1, sizeof *items);
    for (size_t i = 0; i < n; i++)
        items[i] = json_string_value(json_array_get(array, i));
    char *literal = crm_db_text_array(items, n);
    free(items);
    return literal;
}

//  Validate and normalise c in place (phones to E.164, defaults filled), and render the
//  row for the store. Returns 0, or 422 with the field errors recorded.
static int s_prepare_row(crm_call_t *call, Crm__Contacts__Contact *c, const char *prefix,
                         contacts_row_t *row) {
    const contacts_t *self = call->arg;
    char field[128];
    if (c->kind == CRM__CONTACTS__CONTACT_KIND__CONTACT_KIND_UNSPECIFIED)
        c->kind = CRM__CONTACTS__CONTACT_KIND__CONTACT_KIND_PERSON;
    if (c->type == CRM__CONTACTS__CONTACT_TYPE__CONTACT_TYPE_UNSPECIFIED)
        c->type = CRM__CONTACTS__CONTACT_TYPE__CONTACT_TYPE_PROSPECT;

    if (c->kind == CRM__CONTACTS__CONTACT_KIND__CONTACT_KIND_PERSON) {
        snprintf(field, sizeof field, "%sfirstName", prefix);
        if (crm_text_blank(c->first_name))
            crm_call_field_error(call, field, "is required for a person");
        contacts_check_length(call, field, c->first_name, NAME_MAX_LEN);
        snprintf(field, sizeof field, "%slastName", prefix);
        if (crm_text_blank(c->last_name))
            crm_call_field_error(call, field, "is required for a person");
        contacts_check_length(call, field, c->last_name, NAME_MAX_LEN);
    } else {
        snprintf(field, sizeof field, "%sname", prefix);
        if (crm_text_blank(c->name))
            crm_call_field_error(call, field, "is required for an organization");
        contacts_check_length(call, field, c->name, ORG_NAME_MAX_LEN);
    }

    snprintf(field, sizeof field, "%semails", prefix);
    if (c->n_emails > MAX_EMAILS)
        crm_call_field_error(call, field, "may hold at most %d addresses", MAX_EMAILS);
    json_t *keys = json_array();
    int primaries = 0;
    for (size_t i = 0; i < c->n_emails && i < MAX_EMAILS; i++) {
        Crm__Contacts__Email *e = c->emails[i];
        snprintf(field, sizeof field, "%semails[%zu].address", prefix, i);
        if (!crm_email_valid(e->address)) {
            crm_call_field_error(call, field, "is not a valid email address");
            continue;
        }
        char key[320];
        snprintf(key, sizeof key, "%s", e->address);
        for (char *p = key; *p; p++)
            *p = tolower((unsigned char)*p);
        for (size_t j = 0; j < json_array_size(keys); j++)
            if (strcmp(json_string_value(json_array_get(keys, j)), key) == 0)
                crm_call_field_error(call, field, "appears twice");
        json_array_append_new(keys, json_string(key));
        primaries += e->primary;
    }
    if (primaries > 1) {
        snprintf(field, sizeof field, "%semails", prefix);
        crm_call_field_error(call, field, "may have only one primary address");
    } else if (primaries == 0 && c->n_emails > 0)
        c->emails[0]->primary = 1;

    snprintf(field, sizeof field, "%sphones", prefix);
    if (c->n_phones > MAX_PHONES)
        crm_call_field_error(call, field, "may hold at most %d numbers", MAX_PHONES);
    primaries = 0;
    for (size_t i = 0; i < c->n_phones && i < MAX_PHONES; i++) {
        Crm__Contacts__Phone *p = c->phones[i];
        snprintf(field, sizeof field, "%sphones[%zu].number", prefix, i);
        char e164[32];
        const char *reason = NULL;
        if (crm_phone_to_e164(p->number, self->cfg->contacts_default_region, e164, sizeof e164,
                              &reason)) {
            crm_call_field_error(call, field, "%s", reason ? reason : "is not a valid phone number");
            continue;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->phones[j]->number, e164) == 0)
                crm_call_field_error(call, field, "appears twice");
        crm_pb_string_set(&p->number, e164);
        primaries += p->primary;
    }
    if (primaries > 1) {
        snprintf(field, sizeof field, "%sphones", prefix);
        crm_call_field_error(call, field, "may have only one primary number");
    } else if (primaries == 0 && c->n_phones > 0)
        c->phones[0]->primary = 1;

    if (c->n_tags > MAX_TAGS) {
        snprintf(field, sizeof field, "%stags", prefix);
        crm_call_field_error(call, field, "may hold at most %d tags", MAX_TAGS);
    }
    //  Only the catalogue's tags, spelled as the catalogue spells them: looked up once
    //  every tag is well formed and nothing else is wrong.
    bool tags_ok = c->n_tags <= MAX_TAGS && !call->errors.n;
    for (size_t i = 0; i < c->n_tags && tags_ok; i++)
        tags_ok = !crm_text_blank(c->tags[i]) && crm_utf8_chars(c->tags[i]) <= TAG_MAX_LEN;
    if (tags_ok && c->n_tags) {
        int code = contacts_tags_resolve(call, prefix, c->tags, c->n_tags);
        if (code && code != 422) {
            json_decref(keys);
            return code;
        }
    }
    json_t *tags = json_array();
    size_t kept = 0;
    for (size_t i = 0; i < c->n_tags; i++) {
        snprintf(field, sizeof field, "%stags[%zu]", prefix, i);
        if (crm_text_blank(c->tags[i]))
            crm_call_field_error(call, field, "must not be empty");
        else if (crm_utf8_chars(c->tags[i]) > TAG_MAX_LEN)
            crm_call_field_error(call, field, "must be at most %d characters", TAG_MAX_LEN);
        //  A tag given twice is kept once (the stored contact is what is returned).
        bool seen = false;
        for (size_t j = 0; j < kept && !seen; j++)
            seen = strcmp(c->tags[j], c->tags[i]) == 0;
        if (seen) {
            free(c->tags[i]);
            continue;
        }
        c->tags[kept++] = c->tags[i];
        json_array_append_new(tags, json_string(c->tags[i]));
    }
    c->n_tags = kept;
    int code = contacts_profile_prepare(call, c, prefix, row);
    if (code) {
        json_decref(keys);
        json_decref(tags);
        return code;
    }

    //  A person's name is derived; an organization has no first or last name.
    if (c->kind == CRM__CONTACTS__CONTACT_KIND__CONTACT_KIND_PERSON) {
        char *full = zsys_sprintf("%s %s", c->first_name, c->last_name);
        crm_pb_string_set(&c->name, full);
        zstr_free(&full);
    } else {
        crm_pb_string_set(&c->first_name, "");
        crm_pb_string_set(&c->last_name, "");
    }
    json_t *emails = json_array();
    for (size_t i = 0; i < c->n_emails; i++)
        json_array_append_new(emails, crm_pb_to_json_value(&c->emails[i]->base));
    json_t *phones = json_array();
    for (size_t i = 0; i < c->n_phones; i++)
        json_array_append_new(phones, crm_pb_to_json_value(&c->phones[i]->base));
    row->tags_array = s_text_array(tags);
    row->emails_json = json_dumps(emails, JSON_COMPACT);
    row->phones_json = json_dumps(phones, JSON_COMPACT);
    row->email_keys_array = s_text_array(keys);
    json_decref(tags);
    json_decref(emails);
    json_decref(phones);
    json_decref(keys);
    row->id = c->id;
    row->first_name = c->first_name;
    row->last_name = c->last_name;
    row->name = c->name;
    return 0;
}

//  Point row's enum names at their store spelling, written into names (the caller's).
static void s_row_names(const Crm__Contacts__Contact *c, contacts_row_names_t *names,
                        contacts_row_t *row) {
    row->kind = crm_enum_api_name(&crm__contacts__contact_kind__descriptor, c->kind, names->kind,
                            sizeof names->kind);
    row->type = crm_enum_api_name(&crm__contacts__contact_type__descriptor, c->type, names->type,
                            sizeof names->type);
    row->source = crm_enum_api_name(&crm__contacts__contact_source__descriptor, c->source,
                              names->source, sizeof names->source);
}

int contacts_contact_prepare(crm_call_t *call, Crm__Contacts__Contact *c, contacts_row_t *row,
                             contacts_row_names_t *names) {
    int code = s_prepare_row(call, c, "", row);
    if (code == 0)
        s_row_names(c, names, row);
    return code;
}

static bool s_check_id(crm_call_t *call, const char *id) {
    if (crm_uuid_valid(id))
        return true;
    crm_call_field_error(call, "id", "is not a valid contact id");
    return false;
}

int contacts_contact_create(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response) {
    const Crm__Contacts__CreateContactRequest *req = (const void *)request;
    if (!req->contact) {
        crm_call_field_error(call, "contact", "is required");
        return 422;
    }
    //  Work on a copy: validation normalises fields in place.
    Crm__Contacts__Contact *c = (Crm__Contacts__Contact *)crm_pb_copy(&req->contact->base);
    char id[CRM_UUID_LEN + 1];
    crm_uuid_v7(id);
    crm_pb_string_set(&c->id, id);
    c->lead_count = 0;  // read-only: kept by the service
    crm_pb_string_set(&c->last_activity_at, "");
    contacts_row_t row = {0};
    contacts_row_names_t names;
    int code = s_prepare_row(call, c, "", &row);
    if (code == 0) {
        s_row_names(c, &names, &row);
        code = contacts_store_insert(call, &row, c);
    }
    contacts_row_reset(&row);
    if (code == 201) {
        *response = &c->base;
        c = NULL;
    }
    if (c)
        crm__contacts__contact__free_unpacked(c, NULL);
    return code;
}

int contacts_contact_get(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response) {
    const Crm__Contacts__GetContactRequest *req = (const void *)request;
    if (!s_check_id(call, req->id))
        return 404;
    return contacts_store_get(call, req->id, false, (Crm__Contacts__Contact **)response);
}

//  The contact an email address ($2, normalised) or phone number ($3, E.164) belongs to,
//  email first.
static const crm_stmt_t s_match_stmt = {
    .name = "contacts_match",
    .sql = "SELECT " CONTACT_JSON("c") ", m.how FROM ("
           "  SELECT e.contact_id AS id, 'email' AS how, 1 AS pref FROM contact_emails e"
           "  WHERE $2 <> '' AND e.tenant_id = $1 AND e.address_norm = $2"
           "  UNION ALL"
           "  (SELECT p.id, 'phone', 2 FROM contacts p"
           "   WHERE $3 <> '' AND p.tenant_id = $1 AND p.deleted_at IS NULL"
           "     AND jsonb_path_query_array(p.phones, '$[*].number') @> jsonb_build_array($3)"
           "   ORDER BY p.created_at LIMIT 1)) m"
           " JOIN contacts c ON c.tenant_id = $1 AND c.id = m.id AND c.deleted_at IS NULL"
           " ORDER BY m.pref LIMIT 1",
    .nparams = 3};

int contacts_contact_match(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response) {
    const Crm__Contacts__MatchContactRequest *req = (const void *)request;
    contacts_t *self = call->arg;
    char email[320] = "", phone[32] = "";
    if (req->email[0] && crm_email_normalize(req->email, email, sizeof email))
        crm_call_field_error(call, "email", "is not a valid email address");
    for (char *p = email; *p; p++)  // the key (contact_emails) is the whole address, lower-cased
        *p = (char)tolower((unsigned char)*p);
    const char *problem = NULL;
    if (req->phone[0] && crm_phone_to_e164(req->phone, self->cfg->contacts_default_region, phone,
                                           sizeof phone, &problem))
        crm_call_field_error(call, "phone", "%s", problem ? problem : "is not a phone number");
    if (!req->email[0] && !req->phone[0])
        crm_call_field_error(call, "email", "an email address or a phone number is required");
    if (call->errors.n)
        return 422;
    const char *params[] = {call->header->tenant_id, email, phone};
    PGresult *res = crm_db_query(call->db, &s_match_stmt, params);
    if (!res)
        return crm_call_db_failure(call);
    int code = 404;
    if (PQntuples(res) == 0)
        crm_call_error(call, "not_found", "no contact has that email address or phone number");
    else {
        Crm__Contacts__Contact *c = contacts_from_json(PQgetvalue(res, 0, 0));
        if (!c) {
            crm_call_error(call, "internal", "stored contact is unreadable");
            code = 500;
        } else {
            Crm__Contacts__MatchContactResponse *out = malloc(sizeof *out);
            crm__contacts__match_contact_response__init(out);
            out->contact = c;
            out->matched_on = strdup(PQgetvalue(res, 0, 1));
            *response = &out->base;
            code = 200;
        }
    }
    PQclear(res);
    return code;
}

//  Copy one masked field from patch into c. Returns -1 for a name that cannot change.
static int s_apply_field(Crm__Contacts__Contact *c, const Crm__Contacts__Contact *patch,
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

int contacts_contact_update(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response) {
    const Crm__Contacts__UpdateContactRequest *req = (const void *)request;
    if (!s_check_id(call, req->id))
        return 404;
    Crm__Contacts__Contact *patch =
        req->contact ? (Crm__Contacts__Contact *)crm_pb_copy(&req->contact->base) : NULL;
    for (size_t i = 0; i < req->n_update_mask; i++)
        if (!patch || !crm_pb_field_by_name(&crm__contacts__contact__descriptor,
                                            req->update_mask[i]))
            crm_call_field_error(call, req->update_mask[i], "is not a contact field");
    if (call->errors.n) {
        if (patch)
            crm__contacts__contact__free_unpacked(patch, NULL);
        return 422;
    }
    Crm__Contacts__Contact *c = NULL;
    int code = contacts_store_get(call, req->id, true, &c);
    contacts_row_t row = {0};
    contacts_row_names_t names;
    if (code == 200) {
        for (size_t i = 0; i < req->n_update_mask; i++)
            if (s_apply_field(c, patch, req->update_mask[i]))
                crm_call_field_error(call, req->update_mask[i], "cannot be changed");
        code = call->errors.n ? 422 : s_prepare_row(call, c, "", &row);
    }
    if (code == 0) {
        s_row_names(c, &names, &row);
        code = contacts_store_update(call, &row, c, (const char *const *)req->update_mask,
                                     req->n_update_mask);
    }
    contacts_row_reset(&row);
    if (code == 200) {
        *response = &c->base;
        c = NULL;
    }
    if (c)
        crm__contacts__contact__free_unpacked(c, NULL);
    if (patch)
        crm__contacts__contact__free_unpacked(patch, NULL);
    return code;
}

int contacts_contact_delete(crm_call_t *call, const ProtobufCMessage *request, ProtobufCMessage **response) {
    (void)response;
    const Crm__Contacts__DeleteContactRequest *req = (const void *)request;
    if (!s_check_id(call, req->id))
        return 404;
    return contacts_store_delete(call, req->id);
}

//  Apply or remove one tag (by its catalogue name, any case): the contact's tags with
//  it added at the end or taken out, written as a PATCH of tags would be.
static int s_change_tag(crm_call_t *call, const char *id, const char *tag, bool add,
                        ProtobufCMessage **response) {
    if (!s_check_id(call, id))
        return 404;
    char *name = strdup(tag);
    int code = contacts_tag_canonical(call, "tag", &name);
    Crm__Contacts__Contact *c = NULL;
    if (code == 0)
        code = contacts_store_get(call, id, true, &c);
    if (code == 200) {
        size_t n = 0;
        char **tags = calloc(c->n_tags + 2, sizeof *tags);
        bool present = false;
        for (size_t i = 0; i < c->n_tags; i++) {
            bool same = strcasecmp(c->tags[i], name) == 0;
            present |= same;
            if (add || !same)
                tags[n++] = c->tags[i];
        }
        if (add && !present)
            tags[n++] = name;
        Crm__Contacts__Contact patch = CRM__CONTACTS__CONTACT__INIT;
        patch.tags = tags;
        patch.n_tags = n;
        char *mask[] = {"tags"};
        Crm__Contacts__UpdateContactRequest req = CRM__CONTACTS__UPDATE_CONTACT_REQUEST__INIT;
        req.id = (char *)id;
        req.contact = &patch;
        req.update_mask = mask;
        req.n_update_mask = 1;
        code = contacts_contact_update(call, &req.base, response);
        free(tags);
    }
    if (c)
        crm__contacts__contact__free_unpacked(c, NULL);
    free(name);
    return code;
}

int contacts_contact_add_tag(crm_call_t *call, const ProtobufCMessage *request,
                     ProtobufCMessage **response) {
    const Crm__Contacts__AddContactTagRequest *req = (const void *)request;
    return s_change_tag(call, req->id, req->tag, true, response);
}

int contacts_contact_remove_tag(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response) {
    const Crm__Contacts__RemoveContactTagRequest *req = (const void *)request;
    return s_change_tag(call, req->id, req->tag, false, response);
}
