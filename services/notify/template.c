/*  template: the rules of a message template (POST /v1/templates, PATCH
    /v1/templates/{id}), the placeholders it may use, the scanner that finds them and the
    renderer that fills them in (POST /v1/templates/{id}/preview). No database and no bus
    here: template_store.c holds the SQL, template_methods.c the methods;
    tests/unit/test_notify_template.c states the rules.

    A placeholder is written {{name}}, spaces allowed inside the braces ({{ lead.vehicle }}).
    A single brace is text. A "{{" without its "}}" and a name not in the table are
    refused when the template is saved (422 naming the field and the placeholder).
*/
#include "notify.h"
#include "json_pb.h"
#include "validate.h"

#include <assert.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

//  Every placeholder, the place its value comes from. Keep docs (README.md, "Templates")
//  in step with this table.
const notify_placeholder_t notify_placeholders[NOTIFY_PLACEHOLDER_COUNT] = {
    [NOTIFY_CONTACT_FIRST_NAME] = {"contact.firstName", "the contact's first name"},
    [NOTIFY_CONTACT_LAST_NAME] = {"contact.lastName", "the contact's last name"},
    [NOTIFY_CONTACT_NAME] = {"contact.name", "the contact's full name (an organization's name)"},
    [NOTIFY_CONTACT_EMAIL] = {"contact.email", "the contact's primary email address"},
    [NOTIFY_CONTACT_PHONE] = {"contact.phone", "the contact's primary phone number (E.164)"},
    [NOTIFY_LEAD_VEHICLE] = {"lead.vehicle", "the lead's vehicle: year make model trim"},
    [NOTIFY_LEAD_SOURCE] = {"lead.source", "the lead's source in words (\"walk in\")"},
    [NOTIFY_LEAD_STATUS] = {"lead.status", "the key of the lead's pipeline stage"},
    [NOTIFY_SALESPERSON_NAME] = {"salesperson.name", "the name of the lead's assignee"},
    [NOTIFY_SALESPERSON_EMAIL] = {"salesperson.email", "the email of the lead's assignee"},
    [NOTIFY_SALESPERSON_PHONE] = {"salesperson.phone", "the phone of the lead's assignee"},
    [NOTIFY_DEALERSHIP_NAME] = {"dealership.name", "config notify.dealership_name"},
    [NOTIFY_APPOINTMENT_TIME] = {"appointment.time",
                                 "an appointment's or test drive's day and time in the "
                                 "customer's time zone (appointment messages)"},
    [NOTIFY_APPOINTMENT_KIND] = {"appointment.kind", "\"appointment\" or \"test drive\""},
    [NOTIFY_NOTE_EXCERPT] = {"note.excerpt",
                             "the first 140 characters of the note that mentions the member "
                             "(mention alerts)"},
};

int notify_placeholder_find(const char *name, size_t len) {
    for (int i = 0; i < NOTIFY_PLACEHOLDER_COUNT; i++)
        if (strlen(notify_placeholders[i].name) == len &&
            memcmp(notify_placeholders[i].name, name, len) == 0)
            return i;
    return -1;
}

// --- the scanner ----------------------------------------------------------------------

//  Characters (not bytes) in the first n bytes of s, valid UTF-8.
static size_t s_chars(const char *s, size_t n) {
    size_t chars = 0;
    for (size_t i = 0; i < n; i++)
        chars += ((unsigned char)s[i] & 0xC0) != 0x80;
    return chars;
}

static bool s_blank(char c) {
    return c == ' ' || c == '\t';
}

int notify_template_next(const char **cursor, notify_token_t *token) {
    const char *p = *cursor;
    if (!p || !*p)
        return 0;
    if (p[0] == '{' && p[1] == '{') {
        const char *close = strstr(p + 2, "}}");
        if (!close)
            return -1;
        const char *start = p + 2, *end = close;
        while (start < end && s_blank(*start))
            start++;
        while (end > start && s_blank(end[-1]))
            end--;
        *token = (notify_token_t){.text = start, .len = (size_t)(end - start), .placeholder = true};
        *cursor = close + 2;
        return 1;
    }
    const char *next = strstr(p, "{{");
    size_t len = next ? (size_t)(next - p) : strlen(p);
    *token = (notify_token_t){.text = p, .len = len, .placeholder = false};
    *cursor = p + len;
    return 1;
}

int notify_template_scan(const char *text, const char *field, crm_errors_t *errors) {
    size_t before = errors->n;
    const char *cursor = text;
    notify_token_t token;
    int rc;
    while ((rc = notify_template_next(&cursor, &token)) == 1)
        if (token.placeholder && notify_placeholder_find(token.text, token.len) < 0) {
            //  A name is shown whole up to a sensible length.
            int shown = token.len > 60 ? 60 : (int)token.len;
            crm_errors_add(errors, field, "unknown placeholder {{%.*s}}%s", shown, token.text,
                           token.len > 60 ? " (cut short)" : "");
        }
    if (rc < 0)
        crm_errors_add(errors, field,
                       "unclosed {{ at character %zu (write placeholders as {{contact.firstName}})",
                       s_chars(text, (size_t)(cursor - text)) + 1);
    return errors->n > before ? -1 : 0;
}

// --- the field rules ------------------------------------------------------------------

int notify_template_check(Crm__Notify__Template *t, crm_errors_t *errors) {
    crm_text_trim(t->name);
    if (!t->name[0])
        crm_errors_add(errors, "name", "is required");
    else if (crm_utf8_chars(t->name) > NOTIFY_TEMPLATE_NAME_MAX)
        crm_errors_add(errors, "name", "must be at most %d characters", NOTIFY_TEMPLATE_NAME_MAX);

    bool email = t->channel == CRM__NOTIFY__CHANNEL__CHANNEL_EMAIL;
    bool sms = t->channel == CRM__NOTIFY__CHANNEL__CHANNEL_SMS;
    if (!email && !sms)
        crm_errors_add(errors, "channel", "is required (sms or email)");
    if (t->purpose != CRM__NOTIFY__PURPOSE__PURPOSE_TRANSACTIONAL &&
        t->purpose != CRM__NOTIFY__PURPOSE__PURPOSE_FOLLOW_UP &&
        t->purpose != CRM__NOTIFY__PURPOSE__PURPOSE_MARKETING)
        crm_errors_add(errors, "purpose", "is required (transactional, follow_up or marketing)");

    if (email) {
        if (crm_text_blank(t->subject))
            crm_errors_add(errors, "subject", "is required for an email template");
        else if (strpbrk(t->subject, "\r\n"))
            crm_errors_add(errors, "subject", "must be one line");
        else if (crm_utf8_chars(t->subject) > NOTIFY_TEMPLATE_SUBJECT_MAX)
            crm_errors_add(errors, "subject", "must be at most %d characters",
                           NOTIFY_TEMPLATE_SUBJECT_MAX);
        else
            notify_template_scan(t->subject, "subject", errors);
    } else if (sms && t->subject[0])
        crm_errors_add(errors, "subject", "is for email templates only");

    size_t body_max = sms ? NOTIFY_TEMPLATE_SMS_MAX : NOTIFY_TEMPLATE_BODY_MAX;
    if (crm_text_blank(t->body_text))
        crm_errors_add(errors, "bodyText", "is required");
    else if (crm_utf8_chars(t->body_text) > body_max)
        crm_errors_add(errors, "bodyText", "must be at most %zu characters%s", body_max,
                       sms ? " for an SMS template" : "");
    else
        notify_template_scan(t->body_text, "bodyText", errors);

    if (t->body_html[0] && !email)
        crm_errors_add(errors, "bodyHtml", "is for email templates only");
    else if (crm_utf8_chars(t->body_html) > NOTIFY_TEMPLATE_BODY_MAX)
        crm_errors_add(errors, "bodyHtml", "must be at most %d characters",
                       NOTIFY_TEMPLATE_BODY_MAX);
    else if (t->body_html[0])
        notify_template_scan(t->body_html, "bodyHtml", errors);
    return errors->n ? -1 : 0;
}

//  The fields a PATCH may change, by field number.
static const ProtobufCFieldDescriptor *s_mask_field(const char *name) {
    const ProtobufCFieldDescriptor *f =
        crm_pb_field_by_name(&crm__notify__template__descriptor, name);
    if (!f || f->id < 2 || f->id > 7)
        return NULL;
    return f;
}

int notify_template_mask_check(char *const *mask, size_t n, crm_errors_t *errors) {
    for (size_t i = 0; i < n; i++)
        if (!s_mask_field(mask[i]))
            crm_errors_add(
                errors, mask[i],
                "cannot be changed (name, channel, purpose, subject, bodyText, bodyHtml)");
    return errors->n ? -1 : 0;
}

void notify_template_apply(Crm__Notify__Template *t,
                           const Crm__Notify__UpdateTemplateRequest *req) {
    const Crm__Notify__Template *from = req->template_;
    for (size_t i = 0; i < req->n_update_mask && from; i++) {
        const ProtobufCFieldDescriptor *f = s_mask_field(req->update_mask[i]);
        if (!f)
            continue;
        if (f->type == PROTOBUF_C_TYPE_STRING)
            crm_pb_string_set((char **)((char *)t + f->offset),
                              *(char *const *)((const char *)from + f->offset));
        else
            *(int *)((char *)t + f->offset) = *(const int *)((const char *)from + f->offset);
    }
}

// --- values and rendering -----------------------------------------------------------

void notify_values_init(notify_values_t *self) {
    for (int i = 0; i < NOTIFY_PLACEHOLDER_COUNT; i++)
        self->values[i] = strdup("");
}

void notify_values_reset(notify_values_t *self) {
    for (int i = 0; i < NOTIFY_PLACEHOLDER_COUNT; i++) {
        free(self->values[i]);
        self->values[i] = NULL;
    }
}

void notify_values_set(notify_values_t *self, notify_placeholder_id_t id, const char *value) {
    assert(id < NOTIFY_PLACEHOLDER_COUNT);
    free(self->values[id]);
    self->values[id] = strdup(value ? value : "");
}

void notify_values_from_contact(notify_values_t *self, const Crm__Contacts__Contact *c) {
    notify_values_set(self, NOTIFY_CONTACT_FIRST_NAME, c->first_name);
    notify_values_set(self, NOTIFY_CONTACT_LAST_NAME, c->last_name);
    if (c->name && c->name[0])
        notify_values_set(self, NOTIFY_CONTACT_NAME, c->name);
    else {
        char *name = zsys_sprintf("%s%s%s", c->first_name,
                                  c->first_name[0] && c->last_name[0] ? " " : "", c->last_name);
        notify_values_set(self, NOTIFY_CONTACT_NAME, name);
        zstr_free(&name);
    }
    //  The primary address and line, else the first.
    for (size_t i = 0; i < c->n_emails; i++)
        if (c->emails[i]->primary || i == 0)
            notify_values_set(self, NOTIFY_CONTACT_EMAIL, c->emails[i]->address);
    for (size_t i = 0; i < c->n_phones; i++)
        if (c->phones[i]->primary || i == 0)
            notify_values_set(self, NOTIFY_CONTACT_PHONE, c->phones[i]->number);
}

void notify_vehicle_text(const Crm__Leads__VehicleInterest *v, char *out, size_t size) {
    char year[16] = "";
    out[0] = 0;
    if (!v)
        return;
    if (v->year)
        snprintf(year, sizeof year, "%u", v->year);
    const char *parts[] = {year, v->make, v->model, v->trim};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (parts[i][0])
            snprintf(out + strlen(out), size - strlen(out), "%s%s", out[0] ? " " : "", parts[i]);
}

void notify_values_from_lead(notify_values_t *self, const Crm__Leads__Lead *lead) {
    char vehicle[256];
    notify_vehicle_text(lead->vehicle, vehicle, sizeof vehicle);
    notify_values_set(self, NOTIFY_LEAD_VEHICLE, vehicle);
    char source[32];
    crm_enum_api_name(&crm__leads__lead_source__descriptor, (int)lead->source, source,
                      sizeof source);
    for (char *p = source; *p; p++)
        if (*p == '_')
            *p = ' ';
    notify_values_set(self, NOTIFY_LEAD_SOURCE, source);
    notify_values_set(self, NOTIFY_LEAD_STATUS, lead->status);
}

void notify_values_from_member(notify_values_t *self, const Crm__Leads__TeamMember *member) {
    notify_values_set(self, NOTIFY_SALESPERSON_NAME, member->name);
    notify_values_set(self, NOTIFY_SALESPERSON_EMAIL, member->email);
    notify_values_set(self, NOTIFY_SALESPERSON_PHONE, member->phone);
}

//  Append value to out, HTML-escaped when html.
static void s_append(zchunk_t *out, const char *value, size_t len, bool html) {
    for (size_t i = 0; html && i < len; i++) {
        const char *entity = NULL;
        switch (value[i]) {
        case '&':
            entity = "&amp;";
            break;
        case '<':
            entity = "&lt;";
            break;
        case '>':
            entity = "&gt;";
            break;
        case '"':
            entity = "&quot;";
            break;
        case '\'':
            entity = "&#39;";
            break;
        default:
            zchunk_extend(out, value + i, 1);
            continue;
        }
        zchunk_extend(out, entity, strlen(entity));
    }
    if (!html)
        zchunk_extend(out, value, len);
}

char *notify_template_render(const char *text, const notify_values_t *values, bool html) {
    zchunk_t *out = zchunk_new(NULL, strlen(text) + 64);
    const char *cursor = text;
    notify_token_t token;
    int rc;
    while ((rc = notify_template_next(&cursor, &token)) == 1) {
        if (!token.placeholder) {
            zchunk_extend(out, token.text, token.len);
            continue;
        }
        int id = notify_placeholder_find(token.text, token.len);
        if (id >= 0 && values->values[id])
            s_append(out, values->values[id], strlen(values->values[id]), html);
    }
    if (rc < 0)
        zchunk_extend(out, cursor, strlen(cursor));
    zchunk_extend(out, "", 1);
    char *result = strdup((const char *)zchunk_data(out));
    zchunk_destroy(&out);
    return result;
}

//  The values set (non-empty) as a JSON object by placeholder name (caller frees).
char *notify_values_to_json(const notify_values_t *self) {
    json_t *object = json_object();
    for (int i = 0; i < NOTIFY_PLACEHOLDER_COUNT; i++)
        if (self->values[i] && self->values[i][0])
            json_object_set_new(object, notify_placeholders[i].name, json_string(self->values[i]));
    char *text = json_dumps(object, JSON_COMPACT);
    json_decref(object);
    return text;
}

//  Set the values a JSON object (as notify_values_to_json writes) names; others stay.
void notify_values_from_json(notify_values_t *self, const char *text) {
    json_t *object = text ? json_loads(text, 0, NULL) : NULL;
    const char *name;
    json_t *value;
    json_object_foreach(object, name, value) {
        int id = notify_placeholder_find(name, strlen(name));
        if (id >= 0 && json_is_string(value))
            notify_values_set(self, (notify_placeholder_id_t)id, json_string_value(value));
    }
    json_decref(object);
}
