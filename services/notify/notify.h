/*  notify: the daemon's internal interface.

    Reading order: main.c (wiring: the follows table, the senders in the job table),
    methods.c (the method table: the index of what the service answers, each row naming
    its rules and its SQL), then the resources, each <resource>.c (rules: no database,
    no bus), <resource>_store.c (its SQL), <resource>_methods.c (its methods):
    - template: the placeholder table, scanner and renderer; Preview;
    - message: a salesperson's message, reading one with its history, lists, retries;
    - settings: the dealership's notification settings;
    - webhook: the keyless routes (provider callbacks, inbound texts, unsubscribe,
      tracking links);
    then what sending reads and does:
    - recipient.c, recipient_store.c, permission_store.c: notify's copy of the contacts
      and the facts a permission is decided from; permission.c (permission.h): the rules;
    - quiet.c (quiet.h): quiet hours, over the data files in data/;
    - lead_store.c: notify's copy of the leads; follow.c: the events that keep the copies
      and the triggers that queue messages; appointment.c, appointment_store.c: an
      appointment's confirmation and reminders; mention.c: the alerts of @mentions;
    - sender.c, sender_store.c: the senders; sms.c, email.c (channel.h): the channels;
      accounts.c: each dealership's provider account;
    - campaign.c, campaign_store.c, campaign_methods.c: campaigns (one marketing email
      to many contacts); campaign_job.c: the job that queues their recipients, read from
      the contacts service a page at a time;
    migrations/ (the schema).
*/
#ifndef NOTIFY_H
#define NOTIFY_H

#include "bus_client.h"
#include "contacts.pb-c.h"
#include "errors.h"
#include "follower.h"
#include "events.pb-c.h"
#include "ids.h"
#include "leads.pb-c.h"
#include "notify.pb-c.h"
#include "permission.h"
#include <jansson.h>
#include "runner.h"
#include "service.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct _notify_accounts_t notify_accounts_t; // accounts.c

//  The daemon's state, shared by its methods (one loop).
typedef struct {
    const crm_config_t *cfg;
    crm_bus_client_t *client;    // Preview's calls to the contacts and leads services
    unsigned char link_key[32];  // signs and checks the links' tokens (webhook.h)
    notify_accounts_t *accounts; // the providers' accounts (webhooks' signatures)
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
    NOTIFY_APPOINTMENT_TIME,
    NOTIFY_APPOINTMENT_KIND,
    NOTIFY_NOTE_EXCERPT,
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
//  A vehicle as {{lead.vehicle}} shows it: year make model trim ("" for none).
void notify_vehicle_text(const Crm__Leads__VehicleInterest *vehicle, char *out, size_t size);
//  The contact's, the lead's and its assignee's values.
void notify_values_from_contact(notify_values_t *self, const Crm__Contacts__Contact *contact);
void notify_values_from_lead(notify_values_t *self, const Crm__Leads__Lead *lead);
void notify_values_from_member(notify_values_t *self, const Crm__Leads__TeamMember *member);

//  text with each placeholder replaced by its value (HTML-escaped when html); an unknown
//  placeholder renders empty and an unclosed "{{" as written. Caller frees.
char *notify_template_render(const char *text, const notify_values_t *values, bool html);

//  The values set, as a JSON object by placeholder name ({"lead.vehicle": "2024 Kia
//  EV6"}), and back (only the names it holds are set). Caller frees the text.
char *notify_values_to_json(const notify_values_t *self);
void notify_values_from_json(notify_values_t *self, const char *text);

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
//  The same read by a job (the senders): 0 with *out (NULL when not there), or -1.
int notify_template_store_read(crm_db_t *db, const char *tenant_id, const char *id,
                               Crm__Notify__Template **out);

// --- template_methods.c: the methods --------------------------------------------------------

crm_method_fn notify_template_create, notify_template_get, notify_template_list,
    notify_template_update, notify_template_delete, notify_template_preview;

// --- recipient.c, recipient_store.c: notify's copy of the contacts ------------------------

//  A contact as notify keeps it (borrowed strings, but the JSON texts, which are owned).
typedef struct {
    const char *contact_id;
    const char *first_name, *last_name, *display_name;
    char *emails_json;            // [{"address", "primary", "consent"}]
    char *phones_json;            // [{"number", "sms", "rank", "primary"}]
    const char *region, *country; // of the primary address
    const char *preferred;        // sms | email | phone | ""
} notify_recipient_row_t;

void notify_recipient_from_contact(notify_recipient_row_t *row,
                                   const Crm__Contacts__Contact *contact);
void notify_recipient_row_reset(notify_recipient_row_t *row);

int notify_recipient_store_put(crm_db_t *db, const char *tenant_id,
                               const notify_recipient_row_t *row);
int notify_recipient_store_deleted(crm_db_t *db, const char *tenant_id, const char *contact_id);
//  Erasure: the contact's personal data out of every table of notify's schema, and out
//  of the payloads of its messages' past events.
int notify_recipient_store_erase(crm_db_t *db, const char *tenant_id, const char *contact_id);
//  A merge: the merged contacts' copies gone, their messages and inbound texts the
//  survivor's, remembered under merge_id (NULL or "": not) for the undo.
int notify_recipient_store_merged(crm_db_t *db, const char *tenant_id, const char *survivor,
                                  const char *const *merged_ids, size_t n, const char *merge_id);
//  A merge undone: the restored contacts' copies back (put from the event's contacts),
//  the messages and inbound texts merge_id re-pointed, still the survivor's, back.
int notify_recipient_store_unmerged(crm_db_t *db, const char *tenant_id, const char *merge_id,
                                    const char *survivor, const char *const *restored_ids,
                                    size_t n);
//  One consent (channel "email" | "sms", purpose "marketing" | ...) now status.
int notify_recipient_store_consent(crm_db_t *db, const char *tenant_id, const char *contact_id,
                                   const char *channel, const char *purpose, const char *status);
int notify_recipient_store_rules(crm_db_t *db, const char *tenant_id, const char *contact_id,
                                 bool dnc_call, bool dnc_email, bool dnc_sms, bool dnc_mail,
                                 bool stop_follow_ups);

// --- message.c: a message's rules -------------------------------------------------------------

//  Characters (code points) of a UTF-8 text.
size_t notify_utf8_length(const char *text);

//  Check a salesperson's message (POST /v1/messages); purpose defaults to transactional.
int notify_message_check_send(Crm__Notify__Message *m, crm_errors_t *errors);

//  A message's key: the same trigger of the same source (an event, a request) on the
//  same channel to the same recipient is the same message.
void notify_message_key(char *out, size_t size, const char *trigger, const char *source_id,
                        const char *channel, const char *recipient);

//  The wait before attempt attempts + 1: base doubling per attempt (capped at an hour),
//  jittered by random into its upper half; a provider's Retry-After when longer.
long notify_retry_delay_ms(int attempts, int base_ms, int retry_after_ms, uint32_t random);

// --- message_store.c: its SQL ---------------------------------------------------------------

//  A message to queue. Strings may be NULL for none, but tenant_id, key, channel,
//  purpose, trigger and created_by.
typedef struct {
    const char *tenant_id, *key;
    const char *contact_id, *lead_id, *member_id;
    const char *channel, *purpose, *trigger, *template_id;
    const char *context_json; // placeholder values the trigger knows ({"lead.vehicle": ...})
    bool automated;           // quiet hours apply
    bool rendered;            // subject and bodies are final (else rendered when sent)
    const char *subject, *body_text, *body_html;
    const char *due_at; // RFC 3339; NULL: now
    const char *created_by;
    const char *campaign_id; // the campaign it is one of (NULL: none)
} notify_enqueue_t;

//  The reference every event about a message carries (borrowing the strings; NULL: "").
void notify_ref_set(Crm__Events__NotificationRef *ref, const char *id, const char *contact_id,
                    const char *lead_id, const char *member_id, const char *channel,
                    const char *purpose, const char *trigger, const char *template_id);

//  Queue e in the caller's transaction, its NotificationQueued into outbox: 1 queued
//  (id set), 0 its key was queued before (nothing written), -1 failed.
int notify_message_store_enqueue(crm_db_t *db, crm_outbox_t *outbox, const notify_enqueue_t *e,
                                 char id[CRM_UUID_LEN + 1]);

typedef struct {
    const char *after_id, *contact_id, *lead_id, *status, *channel; // "" for any
} notify_message_filter_t;

int notify_message_store_get(crm_call_t *call, const char *id, Crm__Notify__Message **out);
int notify_message_store_list(crm_call_t *call, const notify_message_filter_t *filter, int limit,
                              Crm__Notify__ListMessagesResponse **out);
//  0 queued again, 404, 409 (not dead, failed or unknown), or a failure code.
int notify_message_store_retry(crm_call_t *call, const char *id);

// --- message_methods.c ----------------------------------------------------------------------

crm_method_fn notify_message_send, notify_message_get, notify_message_list, notify_message_retry;

// --- lead_store.c: notify's copy of the leads ---------------------------------------------------

int notify_lead_store_put(crm_db_t *db, const char *tenant_id, const char *lead_id,
                          const char *contact_id, const char *assignee_id, bool open);
int notify_lead_store_open(crm_db_t *db, const char *tenant_id, const char *lead_id, bool open);
int notify_lead_store_assignee(crm_db_t *db, const char *tenant_id, const char *lead_id,
                               const char *assignee_id);
//  The lead's assignee into out ("" when none or unknown): 0, or -1.
int notify_lead_store_assignee_of(crm_db_t *db, const char *tenant_id, const char *lead_id,
                                  char *out, size_t size);
//  The lead's contact ("" when the lead is unknown).
int notify_lead_store_contact(crm_db_t *db, const char *tenant_id, const char *lead_id,
                              char contact_id[CRM_UUID_LEN + 1]);

// --- settings.c, settings_store.c, settings_methods.c ------------------------------------------

//  A tenant's settings before it sets any (caller frees).
Crm__Notify__NotificationSettings *notify_settings_default(void);
int notify_settings_check(const Crm__Notify__NotificationSettings *s, crm_errors_t *errors);
//  "HH:MM" as minutes since midnight (24:00 is 1440), or -1.
int notify_settings_minutes(const char *text);
bool notify_settings_mailbox_valid(const char *text);
const Crm__Notify__SpeedToLead *
notify_settings_speed_to_lead(const Crm__Notify__NotificationSettings *s, const char *source);
Crm__Notify__NotificationSettings *
notify_settings_apply(const Crm__Notify__NotificationSettings *current,
                      const Crm__Notify__UpdateNotificationSettingsRequest *req,
                      crm_errors_t *errors);

//  The tenant's settings (the defaults when it set none): 0, or -1.
int notify_settings_store_load(crm_db_t *db, const char *tenant_id,
                               Crm__Notify__NotificationSettings **out);
//  Save s (updated_at set): 0, or a failure code.
int notify_settings_store_save(crm_call_t *call, Crm__Notify__NotificationSettings *s);
//  The zone's spelling as PostgreSQL knows it into out ("" when unknown): 0, or a code.
int notify_settings_store_zone(crm_call_t *call, const char *zone, char *out, size_t size);

crm_method_fn notify_settings_get, notify_settings_update;

// --- recipient.c, permission_store.c: a contact's facts, for a message's permission ------------

//  What the permission of a message to a contact is decided from (owned; the lines'
//  strings live in the two JSON documents it keeps).
typedef struct {
    char *contact_id;
    bool erased, deleted;
    bool dnc_call, dnc_email, dnc_sms, dnc_mail, stop_follow_ups;
    Crm__Contacts__ConsentStatus email_marketing, sms_marketing;
    notify_permission_phone_t *phones;
    size_t n_phones;
    notify_permission_email_t *emails;
    size_t n_emails;
    char *region, *country, *preferred;
    char *first_name, *last_name, *display_name;
    json_t *emails_doc, *phones_doc;
} notify_contact_t;

//  The columns of permission_store.c's statement, in its order.
#define NOTIFY_CONTACT_COLUMNS 18

notify_contact_t *notify_contact_new(const char *contact_id, const char *const *cols);
void notify_contact_destroy(notify_contact_t **self_p);
//  The contact as permission.h reads a recipient (borrowing its lines).
void notify_contact_view(const notify_contact_t *self, notify_permission_recipient_t *out);
//  permission.h's decision for the line after after_line (-1: the first).
bool notify_contact_decide(const notify_contact_t *self, Crm__Notify__Channel channel,
                           Crm__Notify__Purpose purpose, int after_line,
                           notify_permission_t *decision);
//  {{contact.*}} from the facts.
void notify_values_from_contact_facts(notify_values_t *values, const notify_contact_t *self);

//  The contact's facts (NULL when notify has never heard of it): 0, or -1.
int notify_contact_load(crm_db_t *db, const char *tenant_id, const char *contact_id,
                        notify_contact_t **out);
//  May the contact be sent a message of channel and purpose now? 0, 422 naming
//  contactId with the reason, or a failure code.
int notify_permission_store_check(crm_call_t *call, const char *contact_id,
                                  Crm__Notify__Channel channel, Crm__Notify__Purpose purpose);

// --- sender.c, sender_store.c: the senders ----------------------------------------------------

//  A message as a sender claimed it (owned strings; notify_claimed_reset frees them).
typedef struct {
    char *tenant_id;
    char id[CRM_UUID_LEN + 1];
    char contact_id[CRM_UUID_LEN + 1], lead_id[CRM_UUID_LEN + 1];
    char *member_id;
    char channel[8], purpose[16], trigger[32];
    char template_id[CRM_UUID_LEN + 1];
    char *context; // JSON
    bool automated, rendered;
    char *to;
    int line;
    char *subject, *body_text, *body_html, *links;
    int attempts;
    long long age_seconds;
    char attempted_at[40];
} notify_claimed_t;

void notify_claimed_reset(notify_claimed_t *m);

//  What became of an attempt, as sender_store records it.
typedef struct {
    const char *status;         // the message's status now (queued when retried)
    const char *history_status; // its history entry's (NULL: status)
    const char *reason, *detail, *provider_id;
    unsigned segments;
    const char *due_at; // queued again: when
} notify_outcome_t;

int notify_sender_store_lock(crm_db_t *db, int64_t owner);
//  The key that signs links, made from fresh_hex by the first sender ever (hex out).
int notify_sender_store_link_key(crm_db_t *db, const char *fresh_hex, char *hex, size_t size);
//  Claim up to batch due messages of channel: how many (*out, caller frees), or -1.
int notify_sender_store_claim(crm_db_t *db, int64_t owner, const char *channel, int batch,
                              notify_claimed_t **out);
//  SMS whose outcome has been unknown for grace_ms (to ask the provider about).
int notify_sender_store_unknown(crm_db_t *db, int grace_ms, notify_claimed_t **out);
//  Recover what gone senders of channel held: how many senders, or -1.
int notify_sender_store_recover(crm_db_t *db, int64_t owner, const char *channel);
int notify_sender_store_release(crm_db_t *db, int64_t owner);
//  Record the attempt (m's prepared text and recipient; attempts counted into m) and
//  count it against the tenant's cap for today (0: none), one commit: 0, 1 when the
//  message is no longer this sender's, 2 when the cap is reached (nothing recorded), -1.
int notify_sender_store_attempt(crm_db_t *db, int64_t owner, int cap, notify_claimed_t *m);
int notify_sender_store_switch(crm_db_t *db, int64_t owner, const notify_claimed_t *m,
                               const char *channel, const char *context, const char *detail);
int notify_sender_store_defer(crm_db_t *db, int64_t owner, const notify_claimed_t *m,
                              const char *due_at, const char *detail);
//  Record an outcome with its event (NULL: none), in one transaction: 0, or -1.
int notify_sender_store_outcome(crm_db_t *db, const notify_claimed_t *m, const notify_outcome_t *o,
                                const ProtobufCMessage *event);
//  An unknown SMS resolved (status sent or queued): 1 resolved, 0 no longer unknown, -1.
int notify_sender_store_resolve(crm_db_t *db, const notify_claimed_t *m, const char *status,
                                const char *provider_id, const char *detail,
                                const ProtobufCMessage *event);

void *notify_sms_sender_new(const crm_config_t *cfg, crm_db_t *db);
void *notify_email_sender_new(const crm_config_t *cfg, crm_db_t *db);
void notify_sender_destroy(void **state_p);
crm_step_result_t notify_sender_step(crm_step_t *step);
int notify_sender_period_ms(const crm_config_t *cfg);
//  How many senders of each channel run in a process (notify.senders).
int notify_senders(const crm_config_t *cfg);

// --- webhook_store.c, webhook_methods.c: what comes back from outside ----------------------------

//  A message as a webhook finds it (owned strings; notify_message_facts_reset frees).
typedef struct {
    char *tenant_id;
    char id[CRM_UUID_LEN + 1];
    char status[16];
    char contact_id[CRM_UUID_LEN + 1], lead_id[CRM_UUID_LEN + 1];
    char *member_id;
    char channel[8], purpose[16], trigger[32];
    char template_id[CRM_UUID_LEN + 1];
    char *to, *provider_id, *links, *subject, *body_text;
    long long seconds_since_delivery; // -1: not sent
    int attempts;
    bool opened, clicked; // by a person, before
} notify_message_facts_t;

void notify_message_facts_reset(notify_message_facts_t *f);
//  The message (tenant_id, id), else the SMS of provider_id: 0 found, 1 not, -1.
int notify_webhook_store_message(crm_db_t *db, const char *tenant_id, const char *id,
                                 const char *provider_id, notify_message_facts_t *out);
//  A report: the message's status moves to status ("": stays), a history entry
//  history_status with detail and the callback's parameters (data_json, may be NULL).
int notify_webhook_store_report(crm_db_t *db, const notify_message_facts_t *m, const char *status,
                                const char *history_status, const char *detail,
                                const char *data_json, const char *provider_id, bool machine);
//  The (tenant, contact) pairs whose lines hold number (*out: the caller PQclears).
int notify_webhook_store_holders(crm_db_t *db, const char *number, PGresult **out);
int notify_webhook_store_opt(crm_db_t *db, const char *tenant_id, const char *number,
                             bool opted_out, const char *keyword);
//  Keep an inbound text (once per provider id): 0 kept (lead_id: the contact's open
//  lead, or ""), 1 kept before, -1.
int notify_webhook_store_inbound(crm_db_t *db, const char *tenant_id, const char *id,
                                 const char *contact_id, const char *provider_id, const char *from,
                                 const char *to, const char *body, char *lead_id, size_t lead_size,
                                 char *at, size_t at_size);
int notify_webhook_store_cancel_follow_ups(crm_db_t *db, const char *tenant_id,
                                           const char *contact_id);
//  0 unsubscribed now, 1 before, -1.
int notify_webhook_store_unsubscribe(crm_db_t *db, const char *tenant_id, const char *address,
                                     const char *message_id);

crm_method_fn notify_webhook_sms_status, notify_webhook_sms_inbound, notify_webhook_unsubscribe,
    notify_webhook_unsubscribe_page, notify_webhook_track;

// --- accounts.c: each dealership's provider account and mail relay --------------------------

typedef struct {
    char tenant[65]; // "" for the default (the notify.* settings)
    char *sms_base_url, *sms_account_sid, *sms_auth_token, *sms_from;
    char *smtp_url, *smtp_user, *smtp_password, *mail_from;
} notify_account_t;

//  The default account and notify.accounts_file's; NULL with *error (caller frees) when
//  the file cannot be read or is wrong.
notify_accounts_t *notify_accounts_new(const crm_config_t *cfg, char **error);
void notify_accounts_destroy(notify_accounts_t **self_p);
//  The tenant's account (the default when it has none of its own).
const notify_account_t *notify_accounts_for(const notify_accounts_t *self, const char *tenant_id);
//  The account of an SMS provider's AccountSid (the default when none has it).
const notify_account_t *notify_accounts_by_sid(const notify_accounts_t *self,
                                               const char *account_sid);

// --- campaign.c: a campaign's rules ----------------------------------------------------------

#define NOTIFY_CAMPAIGN_NAME_MAX 100  // characters
#define NOTIFY_CAMPAIGN_IDS_MAX 10000 // contact ids of one campaign (more: a filter)
#define NOTIFY_CAMPAIGN_PAGE 200      // contacts the job reads and queues in one step

//  Check a new campaign (name trimmed in place, the filter's limit and cursor cleared):
//  the template's id, exactly one of contactIds and filter, the limits.
int notify_campaign_check(Crm__Notify__Campaign *c, crm_errors_t *errors);
//  Its template (NULL: not the tenant's) must be an email of purpose marketing.
int notify_campaign_check_template(const Crm__Notify__Template *t, crm_errors_t *errors);
//  Starting and cancelling campaigns: managers and admins.
bool notify_campaign_may_manage(const char *role);
//  The key of the campaign's message to a contact: queued once, whatever the retries.
void notify_campaign_message_key(char *out, size_t size, const char *campaign_id,
                                 const char *contact_id);

// --- campaign_store.c: its SQL ---------------------------------------------------------------

//  Store the checked campaign c (c->id set) with its creator: 0, or a failure code.
int notify_campaign_store_insert(crm_call_t *call, const Crm__Notify__Campaign *c);
//  One campaign with its progress (its contactIds too when with_ids): 200, 404, or a code.
int notify_campaign_store_get(crm_call_t *call, const char *id, bool with_ids,
                              Crm__Notify__Campaign **out);
int notify_campaign_store_list(crm_call_t *call, const char *after_id, int limit,
                               Crm__Notify__ListCampaignsResponse **out);
//  Cancel: the campaign, then its queued messages. 0, 1 already cancelled, 404, 409 (it
//  is completed or failed), or a failure code.
int notify_campaign_store_cancel(crm_call_t *call, const char *id);

//  A campaign as its job claimed it (owned strings; notify_claimed_campaign_reset).
typedef struct {
    char *tenant_id, *id, *template_id, *created_by, *created_role, *cursor;
    char *filter; // JSON, or NULL when chosen by ids
    int ids;      // how many contact ids (0 with a filter)
} notify_claimed_campaign_t;

void notify_claimed_campaign_reset(notify_claimed_campaign_t *c);
//  The oldest campaign still resolving, locked for the caller's transaction: 1, 0 (none), -1.
int notify_campaign_store_claim(crm_db_t *db, notify_claimed_campaign_t *out);
//  Its contact ids from offset on, n at most (*out: the caller PQclears; column 0).
int notify_campaign_store_ids(crm_db_t *db, const notify_claimed_campaign_t *c, int offset, int n,
                              PGresult **out);
//  Queue the campaign's message to contact_id (its NotificationQueued into outbox):
//  1 queued, 0 queued before, -1.
int notify_campaign_store_enqueue(crm_db_t *db, crm_outbox_t *outbox,
                                  const notify_claimed_campaign_t *c, const char *contact_id);
//  Where the job goes on (cursor), and resolved when it is done: 0, or -1.
int notify_campaign_store_advance(crm_db_t *db, const notify_claimed_campaign_t *c,
                                  const char *cursor, bool done);
int notify_campaign_store_fail(crm_db_t *db, const notify_claimed_campaign_t *c, const char *error);

// --- campaign_methods.c, campaign_job.c ----------------------------------------------------

crm_method_fn notify_campaign_create, notify_campaign_create_from_bulk, notify_campaign_get,
    notify_campaign_list, notify_campaign_cancel;

void *notify_campaign_job_new(const crm_config_t *cfg, crm_db_t *db);
void notify_campaign_job_destroy(void **state_p);
crm_step_result_t notify_campaign_job_step(crm_step_t *step);
int notify_campaign_job_period_ms(const crm_config_t *cfg);

// --- appointment.c: an appointment's messages to the customer (no database) -----------------

#define NOTIFY_REMINDERS 2
#define NOTIFY_TIME_TEXT 24 // "2026-03-03T19:30:00Z" and its NUL

//  The reminders before an appointment: "24h" and "2h".
typedef struct {
    const char *name;  // in the reminder's key and context
    int64_t before_ms; // how long before the appointment it goes
} notify_reminder_t;

extern const notify_reminder_t notify_reminders[NOTIFY_REMINDERS];

//  An RFC 3339 time (Z or an offset; a fraction is read to the millisecond) as ms since
//  1970: 0, or -1 when it is not one.
int notify_time_parse(const char *text, int64_t *ms);
//  ms as "YYYY-MM-DDTHH:MM:SSZ" (an appointment's time in its messages' keys and context).
void notify_time_text(int64_t ms, char out[NOTIFY_TIME_TEXT]);
//  {{appointment.time}}: ms in time_zone (IANA; NULL or "": UTC) in words, by ICU, in
//  US English: "Tuesday, March 3 at 2:30 PM EST". 0, or -1 (out "").
int notify_appointment_time_words(int64_t ms, const char *time_zone, char *out, size_t size);

//  An appointment as notify knows it.
typedef struct {
    bool known;     // seen before (else the rest is empty)
    int64_t at_ms;  // its time
    bool scheduled; // its status is scheduled (not cancelled, completed, no_show)
} notify_appointment_state_t;

//  An appointment's status (LeadActivityLogged's outcome) is scheduled ("" counts).
bool notify_appointment_scheduled(const char *status);

typedef enum {
    NOTIFY_APPOINTMENT_SAME,   // nothing new for the customer (its notes, its vehicle)
    NOTIFY_APPOINTMENT_BOOKED, // booked, or booked again after it was called off
    NOTIFY_APPOINTMENT_MOVED,  // a new time
    NOTIFY_APPOINTMENT_ENDED   // cancelled, completed or missed
} notify_appointment_change_t;

//  What the appointment's event (now; changed: its changed names, none for a log) says
//  after before (not known: the event's changed names tell).
notify_appointment_change_t notify_appointment_change(const notify_appointment_state_t *before,
                                                      const notify_appointment_state_t *now,
                                                      char *const *changed, size_t n_changed);

//  What to do about an appointment's event.
typedef struct {
    notify_appointment_change_t change;
    //  The reason its queued messages are withdrawn with: all of them when it ended
    //  (appointment_cancelled, appointment_completed, appointment_no_show), those for
    //  another time otherwise (appointment_moved).
    const char *cancel_reason;
    bool confirm;                              // a confirmation (of the booking, of the move)
    int64_t reminder_due_ms[NOTIFY_REMINDERS]; // each reminder's due time; 0: none
} notify_appointment_plan_t;

//  The plan for an appointment's event at now_ms (status: the event's outcome).
void notify_appointment_plan(const notify_appointment_state_t *before,
                             const notify_appointment_state_t *now, const char *status,
                             char *const *changed, size_t n_changed, int64_t now_ms,
                             notify_appointment_plan_t *plan);

//  A reminder's key: one per (activity, time, reminder) and customer, so a reminder is
//  queued once for a time however often the appointment's events come.
void notify_appointment_reminder_key(char *out, size_t size, const char *activity_id, int64_t at_ms,
                                     const char *reminder, const char *contact_id);

//  Whether a message about an appointment at at_ms may still go at allowed_ms (now, or
//  when quiet hours end): NULL, else the reason it is suppressed: appointment_passed (its
//  time came before it could go), quiet_hours (the window opens only at or after it).
const char *notify_appointment_too_late(int64_t at_ms, int64_t now_ms, int64_t allowed_ms);

// --- appointment_store.c: notify's copy of the appointments, their messages withdrawn ---------

//  The appointment (before->known false when never seen): 0, or -1.
int notify_appointment_store_get(crm_db_t *db, const char *tenant_id, const char *activity_id,
                                 notify_appointment_state_t *before);
//  Keep the appointment as it is now (at: notify_time_text's; status: the event's).
int notify_appointment_store_put(crm_db_t *db, const char *tenant_id, const char *activity_id,
                                 const char *lead_id, const char *at, const char *status);
//  Withdraw the appointment messages still queued of the lead (of one activity, unless
//  activity_id is ""; but those for the time keep_at, unless ""): cancelled with reason
//  and detail in their history, their keys freed (a later booking for that time queues
//  its own). 0, or -1.
int notify_appointment_store_cancel(crm_db_t *db, const char *tenant_id, const char *lead_id,
                                    const char *activity_id, const char *keep_at,
                                    const char *reason, const char *detail);

// --- mention.c: alerts to the team members a contact's note @mentions (no database) ----------

#define NOTIFY_MENTION_EXCERPT_CHARS 140
//  A message's member_id before the sender has found the member: "@" and the handle.
#define NOTIFY_HANDLE_PREFIX '@'

//  The note's first NOTIFY_MENTION_EXCERPT_CHARS characters (whitespace runs made one
//  space; "…" after it when cut) for {{note.excerpt}}. Caller frees.
char *notify_mention_excerpt(const char *body);
//  A mention alert's key: one per (note, revision, handle).
void notify_mention_key(char *out, size_t size, const char *note_id, unsigned revision,
                        const char *handle);

// --- message_store.c: the sender's finding of a mention's member --------------------------------

//  Record the member a handle named (member_id "@handle" until then): 0, or -1.
int notify_message_store_member(crm_db_t *db, const char *tenant_id, const char *id,
                                const char *member_id);

// --- follow.c: the other services' events ---------------------------------------------------

crm_follow_fn notify_follow_contacts, notify_follow_leads;

#endif
