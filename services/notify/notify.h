/*  notify: the daemon's internal interface.

    Reading order: main.c (wiring), methods.c (the method table: the index of what the
    service answers, each row naming its rules and its SQL), then the resource:
    - template.c: a template's rules, the placeholder table, the placeholder scanner and
      the renderer (no database, no bus);
    - template_store.c: its SQL;
    - template_methods.c: its methods, with Preview's calls to the contacts and leads
      services;
    migrations/ (the schema).

    This is the notifications issue's first part: templates and their preview. Nothing
    is sent yet.
*/
#ifndef NOTIFY_H
#define NOTIFY_H

#include "bus_client.h"
#include "contacts.pb-c.h"
#include "errors.h"
#include "leads.pb-c.h"
#include "notify.pb-c.h"
#include "service.h"

#include <stdbool.h>
#include <stddef.h>

//  The daemon's state, shared by its methods (one loop).
typedef struct {
    const crm_config_t *cfg;
    crm_bus_client_t *client; // Preview's calls to the contacts and leads services
} notify_t;

extern const crm_method_t notify_methods[];
extern const crm_migration_t notify_migrations[];

// --- template.c: the rules --------------------------------------------------------------

#define NOTIFY_TEMPLATE_NAME_MAX 100    // characters
#define NOTIFY_TEMPLATE_SUBJECT_MAX 200 // characters
#define NOTIFY_TEMPLATE_SMS_MAX 1600    // characters of an SMS body (ten segments and more)
#define NOTIFY_TEMPLATE_BODY_MAX 100000 // characters of an email's text or HTML part

//  The placeholders a template may use, in the order of notify_placeholders[].
typedef enum {
    NOTIFY_CONTACT_FIRST_NAME,
    NOTIFY_CONTACT_LAST_NAME,
    NOTIFY_CONTACT_NAME,
    NOTIFY_CONTACT_EMAIL,
    NOTIFY_CONTACT_PHONE,
    NOTIFY_LEAD_VEHICLE,
    NOTIFY_LEAD_SOURCE,
    NOTIFY_LEAD_STATUS,
    NOTIFY_SALESPERSON_NAME,
    NOTIFY_SALESPERSON_EMAIL,
    NOTIFY_SALESPERSON_PHONE,
    NOTIFY_DEALERSHIP_NAME,
    NOTIFY_PLACEHOLDER_COUNT
} notify_placeholder_id_t;

typedef struct {
    const char *name;        // as written between the braces: "contact.firstName"
    const char *description; // where its value comes from
} notify_placeholder_t;

extern const notify_placeholder_t notify_placeholders[NOTIFY_PLACEHOLDER_COUNT];

//  The placeholder named name (len bytes), or -1.
int notify_placeholder_find(const char *name, size_t len);

//  One piece of a template's text: a literal run, or a placeholder's name (the text
//  between "{{" and "}}", spaces and tabs around it removed).
typedef struct {
    const char *text;
    size_t len;
    bool placeholder;
} notify_token_t;

//  The next piece of the text at *cursor, which it moves past it: 1 with *token, 0 at
//  the end, -1 at a "{{" without its "}}" (*cursor is left on the "{{").
int notify_template_next(const char **cursor, notify_token_t *token);

//  Check the placeholders of one text (field: its JSON name, for the errors): each must
//  be in the table, and every "{{" closed.
int notify_template_scan(const char *text, const char *field, crm_errors_t *errors);

//  Check a template as it is to be stored (a new one, or one as a PATCH leaves it), name
//  trimmed in place: the field rules and the placeholders of each text.
int notify_template_check(Crm__Notify__Template *t, crm_errors_t *errors);

//  Check a PATCH's field names (JSON or proto names of the template's changeable fields).
int notify_template_mask_check(char *const *mask, size_t n, crm_errors_t *errors);

//  Apply a PATCH (its mask checked) to t.
void notify_template_apply(Crm__Notify__Template *t, const Crm__Notify__UpdateTemplateRequest *req);

//  The values of the placeholders for one rendering, each "" until set (owned).
typedef struct {
    char *values[NOTIFY_PLACEHOLDER_COUNT];
} notify_values_t;

void notify_values_init(notify_values_t *self);
void notify_values_reset(notify_values_t *self);
void notify_values_set(notify_values_t *self, notify_placeholder_id_t id, const char *value);
//  The contact's, the lead's and its assignee's values.
void notify_values_from_contact(notify_values_t *self, const Crm__Contacts__Contact *contact);
void notify_values_from_lead(notify_values_t *self, const Crm__Leads__Lead *lead);
void notify_values_from_member(notify_values_t *self, const Crm__Leads__TeamMember *member);

//  text with each placeholder replaced by its value (HTML-escaped when html); an unknown
//  placeholder renders empty and an unclosed "{{" as written. Caller frees.
char *notify_template_render(const char *text, const notify_values_t *values, bool html);

// --- template_store.c: the SQL ------------------------------------------------------------

int notify_template_store_get(crm_call_t *call, const char *id, Crm__Notify__Template **out);
int notify_template_store_list(crm_call_t *call, const char *after_id, const char *channel,
                               int limit, Crm__Notify__ListTemplatesResponse **out);
//  0 when no other template (but except_id) has name, else 409 naming it, or a failure code.
int notify_template_store_name_free(crm_call_t *call, const char *name, const char *except_id);
//  t->id set; created_at and updated_at set here. 201, 409, or a failure code.
int notify_template_store_insert(crm_call_t *call, Crm__Notify__Template *t);
int notify_template_store_update(crm_call_t *call, Crm__Notify__Template *t);
int notify_template_store_delete(crm_call_t *call, const char *id);

// --- template_methods.c: the methods --------------------------------------------------------

crm_method_fn notify_template_create, notify_template_get, notify_template_list,
    notify_template_update, notify_template_delete, notify_template_preview;

#endif
