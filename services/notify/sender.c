/*  sender: the jobs that send the queued messages, one per channel (main.c's job table:
    each on a thread of the runner, with a database connection of its own), so no slow
    provider call ever runs on the daemon's loop.

    One step:
    1. now and then, what gone senders held is recovered (sender_store.c, "Ownership"),
       and SMS whose outcome is unknown are resolved by asking the provider whether it
       has them (notify_sms_find): it has: sent; it has not: queued again (safe);
    2. up to notify.send_batch due messages of the channel are claimed;
    3. each is prepared with what is known now: the recipient's facts and the permission
       (permission.h: a refused message is suppressed with the reason, or handed to the
       other channel when its trigger allows), quiet hours for automated texts
       (quiet.h: deferred to the window's start; an appointment's message only while
       that is before the appointment, else suppressed), a mention alert's member found
       by its handle, and the text
       (its template, or the trigger's built-in one, rendered with the contact's, lead's,
       salesperson's and dealership's values; an email's links made trackable and, for
       marketing, its one-click unsubscribe);
    4. the attempt is recorded (committed, and its first counted against the tenant's daily
       cap: over it, suppressed) before the provider is called, the call is made (at most
       notify.*_per_second), and its outcome recorded with its event:
       accepted: sent; refused for good: the next permitted SMS line, else failed;
       a transient failure: queued again after a backoff with jitter (a 429's
       Retry-After when longer), dead after notify.max_attempts; a lost connection after
       the request was written: unknown, never blindly resent.

    A message is thus handed to the provider at most once per attempt that was recorded,
    and an attempt whose outcome is not known is not repeated without evidence.
*/
#include "notify.h"
#include "bus_client.h"
#include "channel.h"
#include "json_pb.h"
#include "log.h"
#include "quiet.h"
#include "webhook.h"

#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SENDER_RECOVER_MS 2000  // how often gone senders are looked for
#define UNKNOWN_GRACE_MS 10000  // an unknown SMS waits this long for its status callback
#define CONTACT_WAIT_SECONDS 60 // a trigger may come before the contact's own event
#define SUMMARY_CHARS 200
#define MEMBER_RETRY_MS 5000 // a mention's member, when the leads service did not answer

typedef struct {
    const crm_config_t *cfg;
    Crm__Notify__Channel channel;
    const char *channel_name;
    int64_t owner;
    notify_accounts_t *accounts; // each dealership's provider account (accounts.c)
    zhashx_t *clients;           // a channel client per account used, kept open (reuse)
    zhashx_t *settings;          // the tenants' settings, read once per step
    crm_bus_client_t *bus;       // team members, from the leads service
    notify_quiet_rules_t *quiet;
    unsigned char link_key[NOTIFY_TOKEN_KEY_BYTES];
    double per_second; // the rate limit
    double tokens;
    int64_t refilled_ms;
    int64_t recovered_ms;
} s_sender_t;

static int64_t s_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_rfc3339(int64_t ms, char *out, size_t size) {
    time_t seconds = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, size, "%s.%03dZ", base, (int)(ms % 1000));
}

static void s_sms_client_free(void **item) {
    notify_sms_client_destroy((notify_sms_client_t **)item);
}

static void s_smtp_client_free(void **item) {
    notify_smtp_client_destroy((notify_smtp_client_t **)item);
}

//  The client of the tenant's account for this sender's channel, made at first use and
//  kept (its connection reused); NULL when the account has no provider for the channel.
static void *s_client(s_sender_t *self, const char *tenant_id) {
    const notify_account_t *a = notify_accounts_for(self->accounts, tenant_id);
    bool sms = self->channel == CRM__NOTIFY__CHANNEL__CHANNEL_SMS;
    if (sms ? !a->sms_base_url[0] : !a->smtp_url[0])
        return NULL;
    char key[32];
    snprintf(key, sizeof key, "%p", (const void *)a);
    void *client = zhashx_lookup(self->clients, key);
    if (!client) {
        int timeout = self->cfg->notify_send_timeout_ms;
        client = sms ? (void *)notify_sms_client_new(a->sms_base_url, a->sms_account_sid,
                                                     a->sms_auth_token, timeout)
                     : (void *)notify_smtp_client_new(a->smtp_url, a->smtp_user, a->smtp_password,
                                                      self->cfg->notify_smtp_verify_tls,
                                                      self->cfg->notify_smtp_ca_file, timeout);
        if (client)
            zhashx_insert(self->clients, key, client);
    }
    return client;
}

static void *s_new(const crm_config_t *cfg, crm_db_t *db, Crm__Notify__Channel channel) {
    s_sender_t *self = calloc(1, sizeof *self);
    assert(self);
    self->cfg = cfg;
    self->channel = channel;
    bool sms = channel == CRM__NOTIFY__CHANNEL__CHANNEL_SMS;
    self->channel_name = sms ? "sms" : "email";
    randombytes_buf(&self->owner, sizeof self->owner);
    self->owner &= INT64_MAX;
    unsigned char fresh[NOTIFY_TOKEN_KEY_BYTES];
    randombytes_buf(fresh, sizeof fresh);
    char fresh_hex[2 * NOTIFY_TOKEN_KEY_BYTES + 1], hex[2 * NOTIFY_TOKEN_KEY_BYTES + 1];
    sodium_bin2hex(fresh_hex, sizeof fresh_hex, fresh, sizeof fresh);
    char *error = NULL;
    self->quiet = notify_quiet_rules_new(cfg->notify_data_dir, &error);
    if (!self->quiet) {
        crm_log_kv(CRM_LOG_ERROR, "could not read the quiet-hours data", "detail",
                   error ? error : "", "hint", "set notify.data_dir to services/notify/data", NULL);
        free(error);
        free(self);
        return NULL;
    }
    if (notify_sender_store_lock(db, self->owner) ||
        notify_sender_store_link_key(db, fresh_hex, hex, sizeof hex) ||
        sodium_hex2bin(self->link_key, sizeof self->link_key, hex, strlen(hex), NULL, NULL, NULL)) {
        notify_quiet_rules_destroy(&self->quiet);
        free(self);
        return NULL;
    }
    char mailbox[320];
    if (cfg->notify_unsubscribe_mailbox[0] &&
        (notify_email_address(cfg->notify_unsubscribe_mailbox, mailbox, sizeof mailbox) ||
         strcmp(mailbox, cfg->notify_unsubscribe_mailbox) != 0)) {
        crm_log_kv(CRM_LOG_ERROR, "notify.unsubscribe_mailbox is not an address", "hint",
                   "a bare address such as unsubscribe@mail.dealer.example", NULL);
        notify_quiet_rules_destroy(&self->quiet);
        free(self);
        return NULL;
    }
    self->accounts = notify_accounts_new(cfg, &error);
    if (!self->accounts) {
        crm_log_kv(CRM_LOG_ERROR, "could not read the dealerships' provider accounts", "detail",
                   error ? error : "", "hint", "see notify.accounts_file", NULL);
        free(error);
        notify_quiet_rules_destroy(&self->quiet);
        free(self);
        return NULL;
    }
    self->clients = zhashx_new();
    zhashx_set_destructor(self->clients, sms ? s_sms_client_free : s_smtp_client_free);
    self->bus = crm_bus_client_new(crm_config_broker(cfg));
    //  The process's limit for the channel, shared by its senders.
    self->per_second = (sms ? cfg->notify_sms_per_second : cfg->notify_email_per_second) /
                       (double)cfg->notify_senders;
    self->tokens = 1;
    self->refilled_ms = s_now_ms();
    const notify_account_t *fallback = notify_accounts_for(self->accounts, "");
    crm_log_kv(CRM_LOG_INFO, "sender started", "channel", self->channel_name, "provider",
               (sms ? fallback->sms_base_url[0] : fallback->smtp_url[0]) ? "configured" : "none",
               NULL);
    return self;
}

void *notify_sms_sender_new(const crm_config_t *cfg, crm_db_t *db) {
    return s_new(cfg, db, CRM__NOTIFY__CHANNEL__CHANNEL_SMS);
}

void *notify_email_sender_new(const crm_config_t *cfg, crm_db_t *db) {
    return s_new(cfg, db, CRM__NOTIFY__CHANNEL__CHANNEL_EMAIL);
}

void notify_sender_destroy(void **state_p) {
    s_sender_t *self = *state_p;
    if (!self)
        return;
    zhashx_destroy(&self->clients);
    zhashx_destroy(&self->settings);
    notify_accounts_destroy(&self->accounts);
    crm_bus_client_destroy(&self->bus);
    notify_quiet_rules_destroy(&self->quiet);
    free(self);
    *state_p = NULL;
}

int notify_senders(const crm_config_t *cfg) {
    return cfg->notify_senders;
}

int notify_sender_period_ms(const crm_config_t *cfg) {
    (void)cfg;
    return 100; // idle: look for due messages ten times a second
}

//  The rate limit: a token bucket of one second's worth, and at least one token (a
//  sender's share of the limit may be below one a second). The wait in ms before the
//  next token (0: one is there).
static int s_pace_wait_ms(s_sender_t *self) {
    double burst = self->per_second > 1 ? self->per_second : 1;
    int64_t now = s_now_ms();
    self->tokens += (double)(now - self->refilled_ms) * self->per_second / 1000.0;
    if (self->tokens > burst)
        self->tokens = burst;
    self->refilled_ms = now;
    return self->tokens >= 1 ? 0 : (int)((1 - self->tokens) * 1000.0 / self->per_second) + 1;
}

//  Wait for the rate limit's next token, and take it.
static void s_pace(s_sender_t *self) {
    for (int wait; (wait = s_pace_wait_ms(self)) > 0;)
        zclock_sleep(wait);
    self->tokens -= 1;
}

// --- events ---------------------------------------------------------------------------------

static Crm__Notify__Channel s_channel_of(const char *name) {
    return strcmp(name, "sms") == 0 ? CRM__NOTIFY__CHANNEL__CHANNEL_SMS
                                    : CRM__NOTIFY__CHANNEL__CHANNEL_EMAIL;
}

static Crm__Notify__Purpose s_purpose_of(const char *name) {
    if (strcmp(name, "marketing") == 0)
        return CRM__NOTIFY__PURPOSE__PURPOSE_MARKETING;
    if (strcmp(name, "follow_up") == 0)
        return CRM__NOTIFY__PURPOSE__PURPOSE_FOLLOW_UP;
    return CRM__NOTIFY__PURPOSE__PURPOSE_TRANSACTIONAL;
}

static void s_ref(Crm__Events__NotificationRef *ref, const notify_claimed_t *m) {
    notify_ref_set(ref, m->id, m->contact_id, m->lead_id, m->member_id, m->channel, m->purpose,
                   m->trigger, m->template_id);
}

//  The first characters of text (at most SUMMARY_CHARS, whole UTF-8 sequences).
static char *s_summary(const char *text) {
    size_t chars = 0, i = 0;
    for (; text[i]; i++) {
        if (((unsigned char)text[i] & 0xC0) != 0x80 && ++chars > SUMMARY_CHARS)
            break;
    }
    return strndup(text, i);
}

static int s_suppress(crm_db_t *db, const notify_claimed_t *m, const char *reason,
                      const char *detail) {
    Crm__Events__NotificationSuppressed event = CRM__EVENTS__NOTIFICATION_SUPPRESSED__INIT;
    Crm__Events__NotificationRef ref;
    s_ref(&ref, m);
    event.ref = &ref;
    event.reason = (char *)reason;
    event.detail = (char *)detail;
    notify_outcome_t o = {.status = "suppressed", .reason = reason, .detail = detail};
    return notify_sender_store_outcome(db, m, &o, &event.base);
}

static int s_fail(crm_db_t *db, const notify_claimed_t *m, const char *status, const char *reason,
                  const char *detail, bool dead) {
    Crm__Events__NotificationFailed event = CRM__EVENTS__NOTIFICATION_FAILED__INIT;
    Crm__Events__NotificationRef ref;
    s_ref(&ref, m);
    event.ref = &ref;
    event.error = (char *)detail;
    event.attempts = (uint32_t)m->attempts;
    event.permanent = true;
    event.dead = dead;
    notify_outcome_t o = {.status = status, .reason = reason, .detail = detail};
    return notify_sender_store_outcome(db, m, &o, &event.base);
}

// --- preparing a message ----------------------------------------------------------------------

//  The built-in texts of the triggers a tenant gave no template for.
typedef struct {
    const char *trigger;
    const char *subject;
    const char *text;
} s_builtin_t;

static const s_builtin_t s_builtins[] = {
    {"speed_to_lead", "Thanks for contacting {{dealership.name}}",
     "Hi {{contact.firstName}}, thanks for contacting {{dealership.name}}. We have your "
     "enquiry and will be in touch shortly."},
    {"lead_assigned", "New lead assigned to you: {{contact.name}}",
     "New lead assigned to you: {{contact.name}} ({{lead.source}}), {{lead.vehicle}}."},
    {"follow_up_due", "Follow-up due: {{contact.name}}",
     "A follow-up with {{contact.name}} is due now."},
    //  Appointments (trigger appointment_confirmation: the booking's text, or the move's;
    //  the message's context names which, "_builtin").
    {"appointment_confirmation", "Your {{appointment.kind}} at {{dealership.name}}",
     "Hi {{contact.firstName}}, your {{appointment.kind}} at {{dealership.name}} is booked "
     "for {{appointment.time}}. See you then!"},
    {"appointment_moved", "Your {{appointment.kind}} at {{dealership.name}} has moved",
     "Hi {{contact.firstName}}, your {{appointment.kind}} at {{dealership.name}} has moved "
     "to {{appointment.time}}."},
    {"appointment_reminder", "Reminder: your {{appointment.kind}} at {{dealership.name}}",
     "Hi {{contact.firstName}}, a reminder of your {{appointment.kind}} at "
     "{{dealership.name}} on {{appointment.time}}."},
    {"mention", "You were mentioned in a note on {{contact.name}}",
     "You were mentioned in a note on {{contact.name}}: \"{{note.excerpt}}\""},
    {NULL, NULL, NULL}};

//  The built-in text of a message: its context's "_builtin", else its trigger's.
static const s_builtin_t *s_builtin(const char *trigger, json_t *context) {
    const char *name = json_string_value(json_object_get(context, "_builtin"));
    for (const s_builtin_t *b = s_builtins; b->trigger; b++)
        if (strcmp(b->trigger, name ? name : trigger) == 0)
            return b;
    return NULL;
}

//  A call to the leads service in notify's name: *out (the caller frees it) when it
//  answered 200, else NULL; false when it did not answer, or failed (5xx).
static bool s_leads_call(s_sender_t *self, const char *tenant_id, const char *method,
                         const ProtobufCMessage *request, const ProtobufCMessageDescriptor *answer,
                         ProtobufCMessage **out) {
    Crm__RequestHeader header = CRM__REQUEST_HEADER__INIT;
    header.method = (char *)method;
    header.tenant_id = (char *)tenant_id;
    header.actor_id = "notify";
    header.role = "admin";
    header.deadline_ms = (uint32_t)self->cfg->notify_call_timeout_ms;
    zmsg_t *body = crm_bus_request_new(&header, request);
    zmsg_t *reply =
        crm_bus_client_request(self->bus, "leads", &body, self->cfg->notify_call_timeout_ms + 500);
    *out = NULL;
    Crm__ReplyHeader *rh = reply ? crm_bus_reply_parse(&reply, answer, out) : NULL;
    bool ok = rh && rh->code == 200 && *out, answered = rh && rh->code < 500;
    if (rh)
        crm__reply_header__free_unpacked(rh, NULL);
    if (!ok && *out) {
        protobuf_c_message_free_unpacked(*out, NULL);
        *out = NULL;
    }
    return answered;
}

//  A team member of the tenant, from the leads service (NULL when not there).
static Crm__Leads__TeamMember *s_member(s_sender_t *self, const char *tenant_id,
                                        const char *member_id) {
    if (!member_id[0])
        return NULL;
    Crm__Leads__GetTeamMemberRequest req = CRM__LEADS__GET_TEAM_MEMBER_REQUEST__INIT;
    req.id = (char *)member_id;
    ProtobufCMessage *out;
    s_leads_call(self, tenant_id, "GetTeamMember", &req.base, &crm__leads__team_member__descriptor,
                 &out);
    return (Crm__Leads__TeamMember *)out;
}

//  The active team member with a handle (a mention alert's recipient), from the leads
//  service: 1 with *member, 0 when none has it, -1 when the service did not answer.
static int s_member_by_handle(s_sender_t *self, const char *tenant_id, const char *handle,
                              Crm__Leads__TeamMember **member) {
    Crm__Leads__ListTeamMembersRequest req = CRM__LEADS__LIST_TEAM_MEMBERS_REQUEST__INIT;
    req.handle = (char *)handle;
    req.active_only = true;
    req.limit = 1;
    ProtobufCMessage *out;
    *member = NULL;
    if (!s_leads_call(self, tenant_id, "ListTeamMembers", &req.base,
                      &crm__leads__list_team_members_response__descriptor, &out))
        return -1;
    Crm__Leads__ListTeamMembersResponse *list = (Crm__Leads__ListTeamMembersResponse *)out;
    if (list && list->n_items == 1) {
        *member = list->items[0]; // taken out of the list
        list->items[0] = NULL;
        list->n_items = 0;
    }
    if (out)
        protobuf_c_message_free_unpacked(out, NULL);
    return *member ? 1 : 0;
}

//  The text of m: its own (a salesperson's), its template's, or the trigger's built-in.
//  0, or -1 when its template is gone (*why set).
static int s_texts(crm_db_t *db, const notify_claimed_t *m, json_t *context, char **subject,
                   char **text, char **html, const char **why) {
    const char *template_id = m->template_id;
    const char *from_context = json_string_value(json_object_get(
        context, strcmp(m->channel, "sms") == 0 ? "_smsTemplateId" : "_emailTemplateId"));
    if (!template_id[0] && from_context)
        template_id = from_context;
    if (template_id[0]) {
        Crm__Notify__Template *t = NULL;
        if (notify_template_store_read(db, m->tenant_id, template_id, &t) || !t) {
            *why = "its template was deleted";
            return -1;
        }
        *subject = strdup(t->subject);
        *text = strdup(t->body_text);
        *html = strdup(t->body_html);
        crm__notify__template__free_unpacked(t, NULL);
        return 0;
    }
    if (m->body_text[0]) {
        *subject = strdup(m->subject);
        *text = strdup(m->body_text);
        *html = strdup(m->body_html);
        return 0;
    }
    const s_builtin_t *b = s_builtin(m->trigger, context);
    *subject = strdup(b ? b->subject : "");
    *text = strdup(b ? b->text : "");
    *html = strdup("");
    return 0;
}

//  text with every http(s) link of its href attributes replaced by a tracking link
//  (its index in links), and the open pixel before </body> (or at the end).
static char *s_track_html(s_sender_t *self, const notify_claimed_t *m, const char *html,
                          json_t *links) {
    const char *base = self->cfg->notify_public_url;
    zchunk_t *out = zchunk_new(NULL, strlen(html) + 256);
    const char *p = html;
    for (;;) {
        const char *href = strstr(p, "href=\"");
        if (!href)
            break;
        const char *url = href + 6;
        const char *end = strchr(url, '"');
        if (!end)
            break;
        zchunk_extend(out, p, (size_t)(url - p));
        bool web = strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
        char *token = web ? notify_token_make(self->link_key, NOTIFY_TOKEN_CLICK, m->tenant_id,
                                              m->id, (uint32_t)json_array_size(links))
                          : NULL;
        if (token) {
            //  The URL as the message carried it, HTML entities as written (&amp; stays).
            json_array_append_new(links, json_stringn(url, (size_t)(end - url)));
            char *tracked = zsys_sprintf("%s/v1/t/%s", base, token);
            zchunk_extend(out, tracked, strlen(tracked));
            zstr_free(&tracked);
            free(token);
        } else
            zchunk_extend(out, url, (size_t)(end - url));
        p = end;
    }
    const char *body_end = strstr(p, "</body>");
    size_t rest = body_end ? (size_t)(body_end - p) : strlen(p);
    zchunk_extend(out, p, rest);
    char *token = notify_token_make(self->link_key, NOTIFY_TOKEN_OPEN, m->tenant_id, m->id, 0);
    if (token) {
        char *pixel =
            zsys_sprintf("<img src=\"%s/v1/t/%s\" width=\"1\" height=\"1\" alt=\"\">", base, token);
        zchunk_extend(out, pixel, strlen(pixel));
        zstr_free(&pixel);
        free(token);
    }
    if (body_end)
        zchunk_extend(out, body_end, strlen(body_end));
    zchunk_extend(out, "", 1);
    char *result = strdup((char *)zchunk_data(out));
    zchunk_destroy(&out);
    return result;
}

typedef enum { S_READY, S_DONE, S_FAILED } s_prepared_t;

static void s_settings_free(void **item) {
    crm__notify__notification_settings__free_unpacked(*item, NULL);
    *item = NULL;
}

//  The tenant's settings as this step reads them (once per step; NULL on a failure).
static Crm__Notify__NotificationSettings *s_settings(s_sender_t *self, crm_db_t *db,
                                                     const char *tenant_id) {
    if (!self->settings) {
        self->settings = zhashx_new();
        zhashx_set_destructor(self->settings, s_settings_free);
    }
    Crm__Notify__NotificationSettings *settings = zhashx_lookup(self->settings, tenant_id);
    if (!settings && notify_settings_store_load(db, tenant_id, &settings) == 0)
        zhashx_insert(self->settings, tenant_id, settings);
    return settings;
}

//  The facts the message is decided and rendered with.
typedef struct {
    Crm__Notify__NotificationSettings *settings; // borrowed from the step's s_settings
    notify_contact_t *contact;
    Crm__Leads__TeamMember *member;      // a staff alert's recipient
    Crm__Leads__TeamMember *salesperson; // the lead's assignee, for {{salesperson.*}}
    json_t *context;
    char *unsubscribe_url;
    char *unsubscribe_mailto; // made with it when notify.unsubscribe_mailbox is set
    int chosen;             // the SMS line chosen (an index in the contact's phones)
    int64_t appointment_ms; // an appointment message's appointment (0: not one)
} s_facts_t;

static void s_facts_reset(s_facts_t *f) {
    notify_contact_destroy(&f->contact);
    if (f->member)
        crm__leads__team_member__free_unpacked(f->member, NULL);
    if (f->salesperson)
        crm__leads__team_member__free_unpacked(f->salesperson, NULL);
    json_decref(f->context);
    free(f->unsubscribe_url);
    zstr_free(&f->unsubscribe_mailto);
    memset(f, 0, sizeof *f);
}

//  Where the contact is, for quiet hours and {{appointment.time}}: the zone (and US
//  state) of its address, else the dealership's.
static void s_place(s_sender_t *self, const s_facts_t *f, notify_quiet_place_t *place) {
    notify_quiet_address_t home = {
        .country = f->contact->country, .region = f->contact->region, .primary = true};
    const char *zone =
        f->settings->time_zone[0] ? f->settings->time_zone : self->cfg->notify_time_zone;
    notify_quiet_place(self->quiet, &home, 1, zone, place);
}

//  Hand m to its fallback channel when its trigger gave one and it has not been
//  handed on before: true when it was.
static bool s_fall_back(s_sender_t *self, crm_db_t *db, notify_claimed_t *m, s_facts_t *f,
                        const char *why, int *rc) {
    const char *named = json_string_value(json_object_get(f->context, "_fallback"));
    if (!named || strcmp(named, m->channel) == 0 ||
        json_is_true(json_object_get(f->context, "_switched")))
        return false;
    char fallback[8]; // copied: the context's own text goes when _fallback is set below
    snprintf(fallback, sizeof fallback, "%s", named);
    json_object_set_new(f->context, "_switched", json_true());
    json_object_set_new(f->context, "_fallback", json_string(m->channel));
    char *context = json_dumps(f->context, JSON_COMPACT);
    char detail[200];
    snprintf(detail, sizeof detail, "%s not possible (%s): trying %s", m->channel, why, fallback);
    *rc = notify_sender_store_switch(db, self->owner, m, fallback, context, detail);
    free(context);
    return true;
}

//  A mention alert's member ("@handle" until now): the active member with the handle,
//  recorded on the message. S_READY with f->member, else settled (suppressed: nobody
//  has the handle, or the author mentioned themselves; deferred: no answer).
static s_prepared_t s_mentioned(s_sender_t *self, crm_db_t *db, notify_claimed_t *m, s_facts_t *f) {
    int found = s_member_by_handle(self, m->tenant_id, m->member_id + 1, &f->member);
    if (found < 0) {
        char due[40];
        s_rfc3339(s_now_ms() + MEMBER_RETRY_MS, due, sizeof due);
        return notify_sender_store_defer(db, self->owner, m, due,
                                         "the leads service did not answer: trying again")
                   ? S_FAILED
                   : S_DONE;
    }
    if (!found) {
        char why[120];
        snprintf(why, sizeof why, "no active team member has the handle %s", m->member_id);
        return s_suppress(db, m, "unknown_handle", why) ? S_FAILED : S_DONE;
    }
    if (notify_message_store_member(db, m->tenant_id, m->id, f->member->id))
        return S_FAILED;
    free(m->member_id);
    m->member_id = strdup(f->member->id);
    const char *author = json_string_value(json_object_get(f->context, "_authorId"));
    if (author && author[0] && strcmp(author, f->member->actor_id) == 0)
        return s_suppress(db, m, "self_mention", "the member mentioned themselves") ? S_FAILED
                                                                                    : S_DONE;
    return S_READY;
}

//  The one-click unsubscribe link of a marketing email (NULL when none can be made), and
//  into f->unsubscribe_mailto its mailto when notify.unsubscribe_mailbox is set: an email
//  to that mailbox with the same token in its Subject (crmctl notify unsubscribe-mail).
static char *s_unsubscribe_url(s_sender_t *self, const notify_claimed_t *m, s_facts_t *f) {
    char *token =
        notify_token_make(self->link_key, NOTIFY_TOKEN_UNSUBSCRIBE, m->tenant_id, m->id, 0);
    char *url =
        token ? zsys_sprintf("%s/v1/unsubscribe/%s", self->cfg->notify_public_url, token) : NULL;
    const char *mailbox = self->cfg->notify_unsubscribe_mailbox;
    if (token && mailbox[0] && !f->unsubscribe_mailto)
        f->unsubscribe_mailto = zsys_sprintf("mailto:%s?subject=unsubscribe%%20%s", mailbox, token);
    free(token);
    return url;
}

static s_prepared_t s_render(s_sender_t *self, crm_db_t *db, notify_claimed_t *m, s_facts_t *f);

//  Decide, render and fill m's recipient and text: S_READY to send, S_DONE when it was
//  settled otherwise (suppressed, deferred, handed on), S_FAILED on a database failure.
static s_prepared_t s_prepare(s_sender_t *self, crm_db_t *db, notify_claimed_t *m, s_facts_t *f) {
    int rc = 0;
    const crm_config_t *cfg = self->cfg;
    f->context = json_loads(m->context, 0, NULL);
    if (!f->context)
        f->context = json_object();
    f->settings = s_settings(self, db, m->tenant_id);
    if (!f->settings)
        return S_FAILED;
    Crm__Notify__Channel channel = s_channel_of(m->channel);
    bool sms = channel == CRM__NOTIFY__CHANNEL__CHANNEL_SMS;
    const notify_account_t *account = notify_accounts_for(self->accounts, m->tenant_id);
    bool configured = s_client(self, m->tenant_id) != NULL;
    if (!configured || (!sms && !account->mail_from[0] && !f->settings->mail_from[0]))
        return s_fail(db, m, "failed", "not_configured",
                      sms ? "no SMS provider is configured (notify.sms_base_url)"
                          : "no SMTP server or sender is configured (notify.smtp_url, "
                            "notify.mail_from)",
                      false)
                   ? S_FAILED
                   : S_DONE;
    if (m->contact_id[0] && notify_contact_load(db, m->tenant_id, m->contact_id, &f->contact))
        return S_FAILED;
    if (m->member_id[0]) {
        //  A staff alert: the member's own lines, no consumer rules.
        if (m->member_id[0] == NOTIFY_HANDLE_PREFIX) {
            s_prepared_t mentioned = s_mentioned(self, db, m, f);
            if (mentioned != S_READY)
                return mentioned;
        } else
            f->member = s_member(self, m->tenant_id, m->member_id);
        const char *line = !f->member ? "" : sms ? f->member->phone : f->member->email;
        if (!f->member || !f->member->active || !line[0]) {
            const char *why = !f->member           ? "not a team member"
                              : !f->member->active ? "the member is deactivated"
                                                   : "the member has no line";
            if (f->member && f->member->active && s_fall_back(self, db, m, f, why, &rc))
                return rc ? S_FAILED : S_DONE;
            return s_suppress(db, m, "no_permitted_line", why) ? S_FAILED : S_DONE;
        }
        free(m->to);
        m->to = strdup(line);
    } else {
        if (!f->contact || f->contact->deleted) {
            if (!f->contact && m->age_seconds < CONTACT_WAIT_SECONDS) {
                //  The trigger came before the contact's own event: soon.
                char due[40];
                s_rfc3339(s_now_ms() + 1000, due, sizeof due);
                return notify_sender_store_defer(db, self->owner, m, due, NULL) ? S_FAILED : S_DONE;
            }
            return s_suppress(db, m, "unknown_contact", "the contact is not (or no longer) known")
                       ? S_FAILED
                       : S_DONE;
        }
        //  An appointment's message goes before the appointment, or not at all.
        const char *at = json_string_value(json_object_get(f->context, "_appointmentAt"));
        if (at && notify_time_parse(at, &f->appointment_ms) == 0 &&
            notify_appointment_too_late(f->appointment_ms, s_now_ms(), s_now_ms()))
            return s_suppress(db, m, "appointment_passed",
                              "the appointment's time came before the message could go")
                       ? S_FAILED
                       : S_DONE;
        notify_permission_t decision;
        if (!notify_contact_decide(f->contact, channel, s_purpose_of(m->purpose), m->line,
                                   &decision)) {
            if (s_fall_back(self, db, m, f, decision.code, &rc))
                return rc ? S_FAILED : S_DONE;
            return s_suppress(db, m, decision.code, decision.detail) ? S_FAILED : S_DONE;
        }
        f->chosen = decision.line;
        free(m->to);
        m->to = strdup(decision.to);
        //  Speed to lead follows the contact's preference when the rule leaves it open.
        const char *preferred = f->contact->preferred;
        if (json_is_true(json_object_get(f->context, "_preferContact")) &&
            (strcmp(preferred, "sms") == 0 || strcmp(preferred, "email") == 0) &&
            strcmp(preferred, m->channel) != 0 && s_fall_back(self, db, m, f, "preference", &rc))
            return rc ? S_FAILED : S_DONE;
        //  Quiet hours: automated texts only inside the recipient's window.
        if (m->automated && sms) {
            notify_quiet_place_t place;
            s_place(self, f, &place);
            notify_quiet_window_t window = {8 * 60, 21 * 60};
            if (f->settings->quiet_hours)
                notify_quiet_window_parse(f->settings->quiet_hours->start,
                                          f->settings->quiet_hours->end, &window);
            int64_t now = s_now_ms(), allowed = now;
            notify_quiet_next(self->quiet, place.time_zone, place.us_state, &window, now, &allowed);
            if (allowed > now + 1000) {
                char due[40], detail[200];
                s_rfc3339(allowed, due, sizeof due);
                //  An appointment's reminder waits for the window only if it opens
                //  before the appointment: a reminder after it is none.
                if (f->appointment_ms &&
                    notify_appointment_too_late(f->appointment_ms, now, allowed)) {
                    char at[NOTIFY_TIME_TEXT];
                    notify_time_text(f->appointment_ms, at);
                    snprintf(detail, sizeof detail,
                             "quiet hours in %s until %s, not before the appointment at %s",
                             place.time_zone, due, at);
                    return s_suppress(db, m, "quiet_hours", detail) ? S_FAILED : S_DONE;
                }
                snprintf(detail, sizeof detail, "quiet hours in %s: deferred to %s",
                         place.time_zone, due);
                return notify_sender_store_defer(db, self->owner, m, due, detail) ? S_FAILED
                                                                                  : S_DONE;
            }
        }
    }
    //  A message tried before keeps the text it was first sent with (its links tracked).
    bool marketing_email = !sms && strcmp(m->purpose, "marketing") == 0;
    if (m->rendered) {
        if (marketing_email && cfg->notify_public_url[0])
            f->unsubscribe_url = s_unsubscribe_url(self, m, f);
        return S_READY;
    }
    return s_render(self, db, m, f);
}

//  m's text, rendered now with what is known of its contact, lead, salesperson and
//  dealership: S_READY, or S_DONE when its template is gone (failed), S_FAILED.
static s_prepared_t s_render(s_sender_t *self, crm_db_t *db, notify_claimed_t *m, s_facts_t *f) {
    const crm_config_t *cfg = self->cfg;
    bool sms = strcmp(m->channel, "sms") == 0;
    char *subject = NULL, *text = NULL, *html = NULL;
    const char *why = NULL;
    if (s_texts(db, m, f->context, &subject, &text, &html, &why))
        return s_fail(db, m, "failed", "template_deleted", why, false) ? S_FAILED : S_DONE;
    notify_values_t values;
    notify_values_init(&values);
    notify_values_from_json(&values, m->context);
    if (f->contact)
        notify_values_from_contact_facts(&values, f->contact);
    char assignee[64] = "";
    if (m->lead_id[0] &&
        notify_lead_store_assignee_of(db, m->tenant_id, m->lead_id, assignee, sizeof assignee) ==
            0 &&
        assignee[0])
        f->salesperson = strcmp(assignee, m->member_id) == 0 && f->member
                             ? NULL
                             : s_member(self, m->tenant_id, assignee);
    if (f->salesperson)
        notify_values_from_member(&values, f->salesperson);
    else if (f->member)
        notify_values_from_member(&values, f->member);
    const char *dealership = f->settings->dealership_name[0]  ? f->settings->dealership_name
                             : cfg->notify_dealership_name[0] ? cfg->notify_dealership_name
                                                              : "us";
    notify_values_set(&values, NOTIFY_DEALERSHIP_NAME, dealership);
    if (f->appointment_ms && f->contact) {
        //  The appointment's time on the customer's clock.
        notify_quiet_place_t place;
        s_place(self, f, &place);
        char words[160];
        if (notify_appointment_time_words(f->appointment_ms, place.time_zone, words,
                                          sizeof words) != 0)
            notify_time_text(f->appointment_ms, words); // ICU failed: at least the time
        notify_values_set(&values, NOTIFY_APPOINTMENT_TIME, words);
    }
    free(m->subject);
    free(m->body_text);
    free(m->body_html);
    m->subject = notify_template_render(subject, &values, false);
    m->body_text = notify_template_render(text, &values, false);
    char *rendered_html = html[0] ? notify_template_render(html, &values, true) : strdup("");
    notify_values_reset(&values);
    free(subject);
    free(text);
    free(html);
    json_t *links = json_array();
    if (!sms && cfg->notify_public_url[0]) {
        if (strcmp(m->purpose, "marketing") == 0) {
            f->unsubscribe_url = s_unsubscribe_url(self, m, f);
            if (f->unsubscribe_url) {
                char *with =
                    zsys_sprintf("%s\n\nUnsubscribe: %s", m->body_text, f->unsubscribe_url);
                free(m->body_text);
                m->body_text = strdup(with);
                zstr_free(&with);
            }
        }
        m->body_html = rendered_html[0] ? s_track_html(self, m, rendered_html, links) : strdup("");
        free(rendered_html);
    } else
        m->body_html = rendered_html;
    free(m->links);
    m->links = json_dumps(links, JSON_COMPACT);
    json_decref(links);
    return S_READY;
}

// --- sending --------------------------------------------------------------------------------

static int s_sent(crm_db_t *db, notify_claimed_t *m, const notify_send_result_t *r) {
    Crm__Events__NotificationSent event = CRM__EVENTS__NOTIFICATION_SENT__INIT;
    Crm__Events__NotificationRef ref;
    s_ref(&ref, m);
    event.ref = &ref;
    event.provider_id = (char *)r->provider_id;
    char now[40];
    crm_time_now(now, sizeof now);
    event.sent_at = now;
    event.subject = m->subject;
    char *summary = s_summary(m->body_text);
    event.summary = summary;
    event.segments = r->segments;
    event.attempts = (uint32_t)m->attempts;
    notify_outcome_t o = {.status = "sent", .provider_id = r->provider_id, .segments = r->segments};
    int rc = notify_sender_store_outcome(db, m, &o, &event.base);
    free(summary);
    return rc;
}

static int s_outcome(s_sender_t *self, crm_db_t *db, notify_claimed_t *m, s_facts_t *f,
                     const notify_send_result_t *r) {
    const crm_config_t *cfg = self->cfg;
    switch (r->outcome) {
    case NOTIFY_SEND_ACCEPTED:
        return s_sent(db, m, r);
    case NOTIFY_SEND_RETRY: {
        if (m->attempts >= cfg->notify_max_attempts)
            return s_fail(db, m, "dead", "max_attempts", r->error, true);
        long delay = notify_retry_delay_ms(m->attempts, cfg->notify_retry_base_ms,
                                           r->retry_after_ms, randombytes_random());
        char due[40];
        s_rfc3339(s_now_ms() + delay, due, sizeof due);
        notify_outcome_t o = {.status = "queued",
                              .history_status = "failed",
                              .reason = "retrying",
                              .detail = r->error,
                              .due_at = due};
        return notify_sender_store_outcome(db, m, &o, NULL);
    }
    case NOTIFY_SEND_REJECTED: {
        //  This line refused for good: the next permitted SMS line, if any.
        notify_permission_t next;
        if (m->member_id[0] == '\0' && f->contact && strcmp(m->channel, "sms") == 0 &&
            notify_contact_decide(f->contact, s_channel_of(m->channel), s_purpose_of(m->purpose),
                                  f->chosen, &next)) {
            m->line = f->chosen; // the next attempt takes the line after it
            notify_outcome_t o = {.status = "queued",
                                  .history_status = "failed",
                                  .reason = "line_refused",
                                  .detail = r->error};
            return notify_sender_store_outcome(db, m, &o, NULL);
        }
        return s_fail(db, m, "failed", "rejected", r->error, false);
    }
    case NOTIFY_SEND_AMBIGUOUS:
    default: {
        notify_outcome_t o = {.status = "unknown", .reason = "ambiguous", .detail = r->error};
        return notify_sender_store_outcome(db, m, &o, NULL);
    }
    }
}

static void s_send(s_sender_t *self, notify_claimed_t *m, s_facts_t *f, notify_send_result_t *r) {
    const crm_config_t *cfg = self->cfg;
    memset(r, 0, sizeof *r);
    if (strcmp(m->channel, "sms") == 0) {
        const notify_account_t *account = notify_accounts_for(self->accounts, m->tenant_id);
        const char *from = f->settings->sms_from[0] ? f->settings->sms_from : account->sms_from;
        char *callback = cfg->notify_public_url[0]
                             ? zsys_sprintf("%s/v1/webhooks/sms/status?tenant=%s&message=%s",
                                            cfg->notify_public_url, m->tenant_id, m->id)
                             : NULL;
        notify_sms_send(s_client(self, m->tenant_id), from, m->to, m->body_text,
                        callback ? callback : "", r);
        zstr_free(&callback);
        if (!r->segments)
            r->segments = notify_sms_segments(m->body_text, NULL);
        return;
    }
    const notify_account_t *account = notify_accounts_for(self->accounts, m->tenant_id);
    const char *from = f->settings->mail_from[0] ? f->settings->mail_from : account->mail_from;
    char *message_id = notify_email_message_id(from);
    notify_email_t mail = {.from = from,
                           .to = m->to,
                           .reply_to = f->settings->reply_to,
                           .subject = m->subject,
                           .text = m->body_text,
                           .html = m->body_html,
                           .message_id = message_id,
                           .unsubscribe_url = f->unsubscribe_url,
                           .unsubscribe_mailto = f->unsubscribe_mailto};
    char *message = notify_email_format(&mail, time(NULL));
    char from_address[320];
    if (!message || notify_email_address(from, from_address, sizeof from_address)) {
        r->outcome = NOTIFY_SEND_REJECTED;
        snprintf(r->error, sizeof r->error, "the message could not be made: %s",
                 notify_email_check(&mail) ? notify_email_check(&mail) : "bad sender");
    } else
        notify_smtp_send(s_client(self, m->tenant_id), from_address, m->to, message, r);
    if (r->outcome == NOTIFY_SEND_ACCEPTED && message_id)
        snprintf(r->provider_id, sizeof r->provider_id, "%s", message_id);
    free(message);
    free(message_id);
}

//  Ask the provider about SMS whose outcome is unknown.
static int s_resolve_unknown(s_sender_t *self, crm_db_t *db) {
    if (self->channel != CRM__NOTIFY__CHANNEL__CHANNEL_SMS)
        return 0;
    notify_claimed_t *rows = NULL;
    int n = notify_sender_store_unknown(db, UNKNOWN_GRACE_MS, &rows);
    int events = 0;
    for (int i = 0; i < n; i++) {
        notify_claimed_t *m = &rows[i];
        notify_send_result_t r;
        memset(&r, 0, sizeof r);
        time_t since = time(NULL) - 86400; // the provider's DateSent is a day
        notify_sms_client_t *client = s_client(self, m->tenant_id);
        if (!client) {
            notify_claimed_reset(m);
            continue;
        }
        notify_sms_find(client, m->to, m->body_text, since, &r);
        if (r.outcome == NOTIFY_SEND_ACCEPTED) {
            Crm__Events__NotificationSent event = CRM__EVENTS__NOTIFICATION_SENT__INIT;
            Crm__Events__NotificationRef ref;
            s_ref(&ref, m);
            event.ref = &ref;
            event.provider_id = r.provider_id;
            event.sent_at = m->attempted_at;
            char *summary = s_summary(m->body_text);
            event.summary = summary;
            event.attempts = (uint32_t)m->attempts;
            if (notify_sender_store_resolve(db, m, "sent", r.provider_id, "the provider has it",
                                            &event.base) == 1)
                events++;
            free(summary);
        } else if (r.outcome == NOTIFY_SEND_RETRY)
            notify_sender_store_resolve(db, m, "queued", "",
                                        "the provider does not have it: sending again", NULL);
        notify_claimed_reset(m);
    }
    free(rows);
    return events;
}

//  A message handed to the provider whose outcome is not recorded yet: it is recorded
//  in the transaction that records the next attempt (one commit per message instead of
//  two), or on its own when no attempt follows in the step.
typedef struct {
    notify_claimed_t *m; // NULL: none
    s_facts_t facts;
    notify_send_result_t result;
} s_pending_t;

//  Record the pending outcome (when there is one) and forget it: 0, or -1.
static int s_settle(s_sender_t *self, crm_db_t *db, s_pending_t *p, crm_step_t *step) {
    if (!p->m)
        return 0;
    int rc = s_outcome(self, db, p->m, &p->facts, &p->result);
    if (rc == 0)
        step->events++;
    s_facts_reset(&p->facts);
    notify_claimed_reset(p->m);
    p->m = NULL;
    return rc;
}

//  Record m's attempt, with the pending outcome in the same transaction: 0 (recorded:
//  send it), 1 (no longer this sender's), 2 (over the daily cap: suppressed), -1.
static int s_attempt(s_sender_t *self, crm_db_t *db, notify_claimed_t *m, const s_facts_t *f,
                     s_pending_t *pending, crm_step_t *step) {
    int cap = f->settings->daily_cap ? (int)f->settings->daily_cap : self->cfg->notify_daily_cap;
    bool together = pending->m != NULL;
    if (together && crm_db_begin(db))
        return -1;
    int rc = s_settle(self, db, pending, step) ? -1 : notify_sender_store_attempt(db, self->owner, cap, m);
    if (rc == 2) {
        if (s_suppress(db, m, "daily_cap", "the dealership's daily message cap is reached"))
            rc = -1;
        else
            step->events++;
    }
    if (together && (rc < 0 ? crm_db_rollback(db) : crm_db_commit(db)))
        rc = -1;
    return rc;
}

crm_step_result_t notify_sender_step(crm_step_t *step) {
    s_sender_t *self = step->state;
    crm_db_t *db = step->db;
    int64_t now = s_now_ms();
    if (now - self->recovered_ms >= SENDER_RECOVER_MS) {
        self->recovered_ms = now;
        if (notify_sender_store_recover(db, self->owner, self->channel_name) < 0)
            return CRM_STEP_FAILED;
        step->events += s_resolve_unknown(self, db);
    }
    notify_claimed_t *claimed = NULL;
    int n = notify_sender_store_claim(db, self->owner, self->channel_name,
                                      self->cfg->notify_send_batch, &claimed);
    if (n < 0)
        return CRM_STEP_FAILED;
    bool failed = false;
    s_pending_t pending = {0};
    for (int i = 0; i < n; i++) {
        notify_claimed_t *m = &claimed[i];
        s_facts_t facts;
        memset(&facts, 0, sizeof facts);
        s_prepared_t prepared = failed ? S_FAILED : s_prepare(self, db, m, &facts);
        if (prepared == S_DONE)
            step->events++;
        else if (prepared == S_READY) {
            //  The rate limit's wait comes before the attempt is recorded: a sender
            //  stopped while it waits leaves the message queued, not unknown; and an
            //  outcome does not wait for it (it is recorded on its own first).
            if (s_pace_wait_ms(self) > 0 && s_settle(self, db, &pending, step)) {
                failed = true;
                s_facts_reset(&facts);
                notify_claimed_reset(m);
                continue;
            }
            s_pace(self);
            int rc = s_attempt(self, db, m, &facts, &pending, step);
            if (rc < 0)
                failed = true;
            else if (rc == 0) {
                s_send(self, m, &facts, &pending.result);
                pending.m = m; // its outcome goes with the next attempt
                pending.facts = facts;
                continue;
            }
        } else
            failed = true;
        s_facts_reset(&facts);
        notify_claimed_reset(m);
    }
    if (!failed && s_settle(self, db, &pending, step))
        failed = true;
    if (pending.m) { // not recorded: the recovery makes it unknown, never sent again blindly
        s_facts_reset(&pending.facts);
        notify_claimed_reset(pending.m);
    }
    free(claimed);
    zhashx_destroy(&self->settings); // a setting changed now is read by the next step
    if (failed) {
        //  What is still claimed goes back to the queue at once.
        notify_sender_store_release(db, self->owner);
        return CRM_STEP_FAILED;
    }
    return n >= self->cfg->notify_send_batch ? CRM_STEP_WORKED : CRM_STEP_IDLE;
}
