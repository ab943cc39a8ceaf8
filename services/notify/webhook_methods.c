/*  webhook_methods: what comes back from outside, rows of methods.c's table, each a raw
    route of the gateway (no API key: the HTTP request as received, crm.HttpRequest, and
    the answer as written, crm.HttpResponse):

    SmsStatusWebhook   POST /v1/webhooks/sms/status   the provider's status callbacks
    SmsInboundWebhook  POST /v1/webhooks/sms/inbound  a customer's text: STOP, START,
                                                     HELP, or a reply
    Unsubscribe        POST /v1/unsubscribe/{token}   one-click unsubscribe (RFC 8058)
    UnsubscribePage    GET  /v1/unsubscribe/{token}   the page with its button
    Track              GET  /v1/t/{token}             an email's open pixel or a click

    Each proves who it is before it changes anything: the provider's X-Twilio-Signature
    over the URL it called (notify.public_url and the path) and its parameters, or a
    link's token signed by notify (webhook.c). A request that does not prove it is 403
    (signature) or 404 (token), and changes nothing.
*/
#include "notify.h"
#include "log.h"
#include "outbox.h"
#include "webhook.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

//  A transparent 1x1 GIF: the open pixel.
static const unsigned char s_pixel[] = {
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00,
    0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b};

static int s_answer(ProtobufCMessage **response, unsigned status, const char *type,
                    const void *body, size_t len, const char *location) {
    Crm__HttpResponse *r = calloc(1, sizeof *r);
    crm__http_response__init(r);
    r->status = status;
    r->content_type = strdup(type ? type : "");
    if (len) {
        r->body.data = malloc(len);
        memcpy(r->body.data, body, len);
        r->body.len = len;
    }
    r->location = strdup(location ? location : "");
    //  Nothing here may be cached: every request counts (an open, a click).
    r->headers = calloc(1, sizeof *r->headers);
    r->headers[0] = calloc(1, sizeof **r->headers);
    crm__http_field__init(r->headers[0]);
    r->headers[0]->name = strdup("Cache-Control");
    r->headers[0]->value = strdup("no-store");
    r->n_headers = 1;
    *response = &r->base;
    return 200;
}

static int s_text(ProtobufCMessage **response, unsigned status, const char *type,
                  const char *text) {
    return s_answer(response, status, type, text, strlen(text), NULL);
}

//  The URL the provider called, as it signed it: notify.public_url, the path, the query.
static char *s_called_url(const crm_config_t *cfg, const Crm__HttpRequest *req) {
    return zsys_sprintf("%s%s%s%s", cfg->notify_public_url, req->path, req->query[0] ? "?" : "",
                        req->query);
}

//  The form of a provider's request, verified: 0, or the code (400, 403) with the error.
static int s_verified_form(crm_call_t *call, const Crm__HttpRequest *req, notify_form_t *form) {
    const notify_t *self = call->arg;
    char error[NOTIFY_FORM_ERROR_SIZE];
    if (notify_form_parse((const char *)req->body.data, req->body.len, form, error)) {
        crm_call_error(call, "bad_form", "%s", error);
        return 400;
    }
    char *url = s_called_url(self->cfg, req);
    bool ok = notify_twilio_verify(
        notify_accounts_by_sid(self->accounts, notify_form_get(form, "AccountSid"))->sms_auth_token,
        url, form, req->twilio_signature);
    zstr_free(&url);
    if (!ok) {
        notify_form_reset(form);
        crm_call_error(call, "bad_signature",
                       "X-Twilio-Signature does not match this request: nothing was changed");
        return 403;
    }
    return 0;
}

//  The form's fields as a JSON object (kept with the history entry; unknown ones too).
static char *s_form_json(const notify_form_t *form) {
    json_t *object = json_object();
    for (size_t i = 0; i < form->count; i++)
        json_object_set_new(object, form->pairs[i].name, json_string(form->pairs[i].value));
    char *text = json_dumps(object, JSON_COMPACT);
    json_decref(object);
    return text;
}

static void s_ref(Crm__Events__NotificationRef *ref, const notify_message_facts_t *m) {
    notify_ref_set(ref, m->id, m->contact_id, m->lead_id, m->member_id, m->channel, m->purpose,
                   m->trigger, m->template_id);
}

static int s_event(crm_call_t *call, const notify_message_facts_t *m,
                   const ProtobufCMessage *event) {
    crm_outbox_t *outbox = crm_outbox_new();
    crm_outbox_add(outbox, m->tenant_id, m->id, event, NULL);
    int rc = crm_outbox_write(outbox, call->db);
    crm_outbox_destroy(&outbox);
    return rc;
}

// --- SmsStatusWebhook -------------------------------------------------------------------------

//  A delivery status's rank: a report never moves a message back (callbacks come out of
//  order and repeated).
static int s_rank(const char *status) {
    if (strcmp(status, "delivered") == 0 || strcmp(status, "failed") == 0)
        return 3;
    if (strcmp(status, "sent") == 0)
        return 2;
    return 1; // queued, sending, unknown
}

static int s_status_report(crm_call_t *call, const notify_message_facts_t *m,
                           const notify_form_t *form) {
    const char *reported = notify_form_get(form, "MessageStatus");
    if (!reported)
        reported = notify_form_get(form, "SmsStatus");
    if (!reported)
        reported = "";
    const char *sid = notify_form_get(form, "MessageSid");
    const char *error_code = notify_form_get(form, "ErrorCode");
    const char *to = "";
    if (strcmp(reported, "sent") == 0)
        to = "sent";
    else if (strcmp(reported, "delivered") == 0)
        to = "delivered";
    else if (strcmp(reported, "failed") == 0 || strcmp(reported, "undelivered") == 0)
        to = "failed";
    bool moves = to[0] && s_rank(to) > s_rank(m->status) && strcmp(m->status, "suppressed") != 0 &&
                 strcmp(m->status, "cancelled") != 0;
    char detail[160] = "";
    if (strcmp(to, "failed") == 0)
        snprintf(detail, sizeof detail, "the provider reports %s (error %s)", reported,
                 error_code ? error_code : "none");
    char *data = s_form_json(form);
    //  A repeated report of the status it has is kept once.
    int rc = 0;
    if (moves || (!to[0] && reported[0]))
        rc = notify_webhook_store_report(call->db, m, moves ? to : "", moves ? to : reported,
                                         detail, data, sid, false);
    free(data);
    if (rc || !moves)
        return rc;
    Crm__Events__NotificationRef ref;
    s_ref(&ref, m);
    char now[40];
    crm_time_now(now, sizeof now);
    if (strcmp(m->status, "sent") != 0 && strcmp(to, "failed") != 0) {
        //  Not yet known to be sent (an unknown outcome): it was.
        Crm__Events__NotificationSent sent = CRM__EVENTS__NOTIFICATION_SENT__INIT;
        sent.ref = &ref;
        sent.provider_id = (char *)(sid ? sid : m->provider_id);
        sent.sent_at = now;
        sent.subject = m->subject;
        sent.summary = m->body_text;
        sent.attempts = (uint32_t)m->attempts;
        rc = s_event(call, m, &sent.base);
    }
    if (rc == 0 && strcmp(to, "delivered") == 0) {
        Crm__Events__NotificationDelivered event = CRM__EVENTS__NOTIFICATION_DELIVERED__INIT;
        event.ref = &ref;
        event.delivered_at = now;
        rc = s_event(call, m, &event.base);
    } else if (rc == 0 && strcmp(to, "failed") == 0) {
        Crm__Events__NotificationFailed event = CRM__EVENTS__NOTIFICATION_FAILED__INIT;
        event.ref = &ref;
        event.error = detail;
        event.attempts = (uint32_t)m->attempts;
        event.permanent = true;
        rc = s_event(call, m, &event.base);
    }
    return rc;
}

int notify_webhook_sms_status(crm_call_t *call, const ProtobufCMessage *request,
                              ProtobufCMessage **response) {
    const Crm__HttpRequest *req = (const void *)request;
    notify_form_t form = {0};
    int code = s_verified_form(call, req, &form);
    if (code)
        return code;
    //  The callback URL names the message (?tenant=&message=); the sid finds it too.
    notify_form_t query = {0};
    char error[NOTIFY_FORM_ERROR_SIZE];
    notify_form_parse(req->query, strlen(req->query), &query, error);
    notify_message_facts_t m;
    int found = notify_webhook_store_message(call->db, notify_form_get(&query, "tenant"),
                                             notify_form_get(&query, "message"),
                                             notify_form_get(&form, "MessageSid"), &m);
    notify_form_reset(&query);
    if (found < 0)
        code = crm_call_db_failure(call);
    else if (found == 0) {
        if (s_status_report(call, &m, &form))
            code = crm_call_db_failure(call);
        notify_message_facts_reset(&m);
    }
    //  A message we do not have (erased, another system's): acknowledged, not retried.
    notify_form_reset(&form);
    return code ? code : s_text(response, 204, "", "");
}

// --- SmsInboundWebhook ------------------------------------------------------------------------

static const char *s_keyword_name(notify_keyword_t keyword) {
    return keyword == NOTIFY_KEYWORD_OPT_OUT  ? "opt-out"
           : keyword == NOTIFY_KEYWORD_OPT_IN ? "opt-in"
           : keyword == NOTIFY_KEYWORD_HELP   ? "help"
                                              : "reply";
}

//  text for an XML element's content.
static char *s_xml_escape(const char *text) {
    zchunk_t *out = zchunk_new(NULL, strlen(text) + 16);
    for (const char *p = text; *p; p++) {
        const char *entity = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : NULL;
        if (entity)
            zchunk_extend(out, entity, strlen(entity));
        else
            zchunk_extend(out, p, 1);
    }
    zchunk_extend(out, "", 1);
    char *result = strdup((char *)zchunk_data(out));
    zchunk_destroy(&out);
    return result;
}

int notify_webhook_sms_inbound(crm_call_t *call, const ProtobufCMessage *request,
                               ProtobufCMessage **response) {
    const Crm__HttpRequest *req = (const void *)request;
    notify_form_t form = {0};
    int code = s_verified_form(call, req, &form);
    if (code)
        return code;
    const char *from = notify_form_get(&form, "From");
    const char *to = notify_form_get(&form, "To");
    const char *body = notify_form_get(&form, "Body");
    const char *sid = notify_form_get(&form, "MessageSid");
    if (!from || !from[0] || !to || !body || !sid || !sid[0]) {
        notify_form_reset(&form);
        crm_call_error(call, "bad_form", "From, To, Body and MessageSid are required");
        return 400;
    }
    notify_keyword_t keyword = notify_sms_keyword(body);
    PGresult *holders = NULL;
    if (notify_webhook_store_holders(call->db, from, &holders)) {
        notify_form_reset(&form);
        return crm_call_db_failure(call);
    }
    int rc = 0;
    char *help = NULL;
    crm_outbox_t *outbox = crm_outbox_new();
    char now[40];
    crm_time_now(now, sizeof now);
    int n = PQntuples(holders);
    //  A number no contact holds: its opt-out is kept for every tenant ("*").
    if (n == 0 && (keyword == NOTIFY_KEYWORD_OPT_OUT || keyword == NOTIFY_KEYWORD_OPT_IN))
        rc = notify_webhook_store_opt(call->db, "*", from, keyword == NOTIFY_KEYWORD_OPT_OUT, body);
    for (int i = 0; i < n && rc == 0; i++) {
        const char *tenant = PQgetvalue(holders, i, 0);
        const char *contact = PQgetvalue(holders, i, 1);
        bool first_of_tenant = i == 0 || strcmp(tenant, PQgetvalue(holders, i - 1, 0)) != 0;
        if (keyword == NOTIFY_KEYWORD_OPT_OUT || keyword == NOTIFY_KEYWORD_OPT_IN) {
            bool out = keyword == NOTIFY_KEYWORD_OPT_OUT;
            if (first_of_tenant)
                rc = notify_webhook_store_opt(call->db, tenant, from, out, body);
            Crm__Events__NotificationOptedOut event = CRM__EVENTS__NOTIFICATION_OPTED_OUT__INIT;
            event.contact_id = (char *)contact;
            event.channel = "sms";
            event.address = (char *)from;
            event.at = now;
            event.keyword = (char *)body;
            event.opted_in = !out;
            crm_outbox_add(outbox, tenant, contact, &event.base, NULL);
        } else if (keyword == NOTIFY_KEYWORD_HELP) {
            if (!help) {
                Crm__Notify__NotificationSettings *settings = NULL;
                rc = notify_settings_store_load(call->db, tenant, &settings);
                if (rc == 0 && settings->help_text[0])
                    help = strdup(settings->help_text);
                if (settings)
                    crm__notify__notification_settings__free_unpacked(settings, NULL);
            }
        } else {
            char id[CRM_UUID_LEN + 1], lead[CRM_UUID_LEN + 1] = "", at[40] = "";
            crm_uuid_v7(id);
            int kept = notify_webhook_store_inbound(call->db, tenant, id, contact, sid, from, to,
                                                    body, lead, sizeof lead, at, sizeof at);
            if (kept < 0)
                rc = -1;
            else if (kept == 0) { // not a repeat of a text already kept
                rc = notify_webhook_store_cancel_follow_ups(call->db, tenant, contact);
                Crm__Events__NotificationInboundReceived event =
                    CRM__EVENTS__NOTIFICATION_INBOUND_RECEIVED__INIT;
                event.inbound_id = id;
                event.contact_id = (char *)contact;
                event.lead_id = lead;
                event.from = (char *)from;
                event.body = (char *)body;
                event.received_at = at;
                crm_outbox_add(outbox, tenant, id, &event.base, NULL);
            }
        }
    }
    if (rc == 0)
        rc = crm_outbox_write(outbox, call->db);
    crm_outbox_destroy(&outbox);
    char count[16];
    snprintf(count, sizeof count, "%d", n);
    crm_log_kv(CRM_LOG_INFO, "inbound sms", "kind", s_keyword_name(keyword), "contacts", count,
               NULL);
    PQclear(holders);
    notify_form_reset(&form);
    if (rc) {
        free(help);
        return crm_call_db_failure(call);
    }
    //  The answer is TwiML: a HELP text gets the dealership's help text back. (The
    //  provider answers STOP and START itself, as carriers require.)
    char *reply;
    if (keyword == NOTIFY_KEYWORD_HELP) {
        char *escaped = s_xml_escape(help ? help
                                          : "Reply STOP to stop texts, START to receive them "
                                            "again.");
        reply = zsys_sprintf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                             "<Response><Message>%s</Message></Response>",
                             escaped);
        free(escaped);
    } else
        reply = zsys_sprintf("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>");
    free(help);
    code = s_text(response, 200, "text/xml", reply);
    zstr_free(&reply);
    return code;
}

// --- links: unsubscribe, open, click ------------------------------------------------------------

//  The message a link's token names, of the kind expected: 0, or 404 (with the error).
static int s_link(crm_call_t *call, const Crm__HttpRequest *req, char kind,
                  notify_message_facts_t *m, uint32_t *index) {
    const notify_t *self = call->arg;
    const char *token = req->n_path_params ? req->path_params[0]->value : "";
    char got, tenant[NOTIFY_TOKEN_TENANT_MAX + 1], id[NOTIFY_UUID_SIZE];
    if (notify_token_read(self->link_key, token, &got, tenant, id, index) || got != kind) {
        crm_call_error(call, "not_found", "this link is not valid");
        return 404;
    }
    int found = notify_webhook_store_message(call->db, tenant, id, NULL, m);
    if (found < 0)
        return crm_call_db_failure(call);
    if (found) {
        crm_call_error(call, "not_found", "this link is no longer valid");
        return 404;
    }
    return 0;
}

static const char *s_page =
    "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width\"><title>%s</title></head>"
    "<body style=\"font-family:sans-serif;max-width:32em;margin:3em auto\"><h1>%s</h1>%s"
    "</body></html>";

int notify_webhook_unsubscribe_page(crm_call_t *call, const ProtobufCMessage *request,
                                    ProtobufCMessage **response) {
    const Crm__HttpRequest *req = (const void *)request;
    notify_message_facts_t m;
    uint32_t index;
    int code = s_link(call, req, NOTIFY_TOKEN_UNSUBSCRIBE, &m, &index);
    if (code)
        return code;
    notify_message_facts_reset(&m);
    //  A GET changes nothing (mail scanners follow links): the button posts.
    char *page = zsys_sprintf(
        s_page, "Unsubscribe", "Unsubscribe from marketing email?",
        "<p>You will no longer receive marketing email at this address. Messages about your "
        "enquiries and appointments still reach you.</p><form method=\"post\">"
        "<button type=\"submit\">Unsubscribe</button></form>");
    code = s_text(response, 200, "text/html; charset=utf-8", page);
    zstr_free(&page);
    return code;
}

int notify_webhook_unsubscribe(crm_call_t *call, const ProtobufCMessage *request,
                               ProtobufCMessage **response) {
    const Crm__HttpRequest *req = (const void *)request;
    notify_message_facts_t m;
    uint32_t index;
    int code = s_link(call, req, NOTIFY_TOKEN_UNSUBSCRIBE, &m, &index);
    if (code)
        return code;
    int rc = m.to[0] ? notify_webhook_store_unsubscribe(call->db, m.tenant_id, m.to, m.id) : 1;
    if (rc == 0 && m.contact_id[0]) { // the first time: the contacts service hears of it
        char now[40];
        crm_time_now(now, sizeof now);
        Crm__Events__NotificationOptedOut event = CRM__EVENTS__NOTIFICATION_OPTED_OUT__INIT;
        event.contact_id = m.contact_id;
        event.channel = "email";
        event.address = m.to;
        event.at = now;
        event.purpose = "marketing";
        crm_outbox_t *outbox = crm_outbox_new();
        crm_outbox_add(outbox, m.tenant_id, m.contact_id, &event.base, NULL);
        rc = crm_outbox_write(outbox, call->db);
        crm_outbox_destroy(&outbox);
    }
    notify_message_facts_reset(&m);
    if (rc < 0)
        return crm_call_db_failure(call);
    char *page = zsys_sprintf(s_page, "Unsubscribed", "You are unsubscribed",
                              "<p>You will no longer receive marketing email at this address.</p>");
    code = s_text(response, 200, "text/html; charset=utf-8", page);
    zstr_free(&page);
    return code;
}

//  A link's URL as the message carried it in its HTML (entities decoded: &amp; is &).
static char *s_link_url(const char *links, uint32_t index) {
    json_t *array = json_loads(links, 0, NULL);
    const char *url = json_string_value(json_array_get(array, index));
    char *out = NULL;
    if (url) {
        out = malloc(strlen(url) + 1);
        size_t n = 0;
        for (const char *p = url; *p;)
            if (strncmp(p, "&amp;", 5) == 0) {
                out[n++] = '&';
                p += 5;
            } else
                out[n++] = *p++;
        out[n] = '\0';
    }
    json_decref(array);
    return out;
}

int notify_webhook_track(crm_call_t *call, const ProtobufCMessage *request,
                         ProtobufCMessage **response) {
    const Crm__HttpRequest *req = (const void *)request;
    const notify_t *self = call->arg;
    const char *token = req->n_path_params ? req->path_params[0]->value : "";
    char kind, tenant[NOTIFY_TOKEN_TENANT_MAX + 1], id[NOTIFY_UUID_SIZE];
    uint32_t index = 0;
    if (notify_token_read(self->link_key, token, &kind, tenant, id, &index) ||
        (kind != NOTIFY_TOKEN_OPEN && kind != NOTIFY_TOKEN_CLICK)) {
        crm_call_error(call, "not_found", "this link is not valid");
        return 404;
    }
    notify_message_facts_t m;
    int code = s_link(call, req, kind, &m, &index);
    if (code)
        return code;
    bool click = kind == NOTIFY_TOKEN_CLICK;
    char *url = click ? s_link_url(m.links, index) : NULL;
    if (click && !url) {
        notify_message_facts_reset(&m);
        crm_call_error(call, "not_found", "this link is not valid");
        return 404;
    }
    bool machine = notify_machine_open(req->user_agent, m.seconds_since_delivery);
    bool first = !machine && !(click ? m.clicked : m.opened);
    int rc = notify_webhook_store_report(call->db, &m, "", click ? "clicked" : "opened",
                                         machine ? "by a machine (a mail proxy or a scanner)" : "",
                                         NULL, NULL, machine);
    if (rc == 0 && first) {
        Crm__Events__NotificationRef ref;
        s_ref(&ref, &m);
        char now[40];
        crm_time_now(now, sizeof now);
        if (click) {
            Crm__Events__NotificationClicked event = CRM__EVENTS__NOTIFICATION_CLICKED__INIT;
            event.ref = &ref;
            event.clicked_at = now;
            event.url = url;
            rc = s_event(call, &m, &event.base);
        } else {
            Crm__Events__NotificationOpened event = CRM__EVENTS__NOTIFICATION_OPENED__INIT;
            event.ref = &ref;
            event.opened_at = now;
            rc = s_event(call, &m, &event.base);
        }
    }
    notify_message_facts_reset(&m);
    if (rc) {
        free(url);
        return crm_call_db_failure(call);
    }
    //  A click goes only where the message's own link went: no open redirect.
    code = click ? s_answer(response, 302, "", NULL, 0, url)
                 : s_answer(response, 200, "image/gif", s_pixel, sizeof s_pixel, NULL);
    free(url);
    return code;
}
