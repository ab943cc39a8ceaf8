/*  accounts: which SMS provider account and SMTP relay each dealership sends through.

    The default is the notify.* settings (config/crm.yaml and CRM_NOTIFY_*). A dealership
    with its own provider account, sending number or mail relay is a section of the file
    notify.accounts_file (YAML, kept outside the repository, readable by the daemon only):

        acme:                                  # the tenant id
          sms_account_sid: AC0123...           # any key left out is the default's
          sms_auth_token_env: ACME_SMS_TOKEN   # the environment variable holding the token
          sms_from: "+15125550100"
          smtp_url: smtps://mail.acme.example:465
          smtp_user: crm@acme.example
          smtp_password_env: ACME_SMTP_PASSWORD
          mail_from: "Acme Motors <sales@acme.example>"

    Secrets are never in the file: a key naming a secret (sms_auth_token, smtp_password)
    is refused; the file names the environment variable that holds it (_env).
*/
#include "notify.h"
#include "log.h"

#include <czmq.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct _notify_accounts_t {
    notify_account_t fallback; // the notify.* settings
    notify_account_t *items;   // the file's sections
    size_t count;
};

//  The keys of a section, each a field of notify_account_t.
typedef struct {
    const char *key;
    size_t offset;
    bool from_env; // the value names the environment variable that holds it
} s_key_t;

#define S_KEY(name, field, env)                                                                    \
    { name, offsetof(notify_account_t, field), env }
static const s_key_t s_keys[] = {
    S_KEY("sms_base_url", sms_base_url, false),
    S_KEY("sms_account_sid", sms_account_sid, false),
    S_KEY("sms_auth_token_env", sms_auth_token, true),
    S_KEY("sms_from", sms_from, false),
    S_KEY("smtp_url", smtp_url, false),
    S_KEY("smtp_user", smtp_user, false),
    S_KEY("smtp_password_env", smtp_password, true),
    S_KEY("mail_from", mail_from, false),
};
#define S_KEYS (sizeof s_keys / sizeof s_keys[0])

static char **s_field(notify_account_t *account, const s_key_t *key) {
    return (char **)((char *)account + key->offset);
}

static void s_account_reset(notify_account_t *account) {
    for (size_t i = 0; i < S_KEYS; i++)
        free(*s_field(account, &s_keys[i]));
    memset(account, 0, sizeof *account);
}

static void s_account_copy(notify_account_t *to, const notify_account_t *from) {
    memcpy(to->tenant, from->tenant, sizeof to->tenant);
    for (size_t i = 0; i < S_KEYS; i++) {
        const char *value = *s_field((notify_account_t *)from, &s_keys[i]);
        *s_field(to, &s_keys[i]) = strdup(value ? value : "");
    }
}

static const char *s_scalar(yaml_node_t *node) {
    return node && node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value : NULL;
}

//  One section into account (the defaults' copy): NULL, or what is wrong (caller frees).
static char *s_section(yaml_document_t *doc, yaml_node_t *map, notify_account_t *account) {
    if (map->type != YAML_MAPPING_NODE)
        return zsys_sprintf("tenant %s: expected a mapping of settings", account->tenant);
    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top;
         pair++) {
        const char *name = s_scalar(yaml_document_get_node(doc, pair->key));
        const char *value = s_scalar(yaml_document_get_node(doc, pair->value));
        const s_key_t *key = NULL;
        for (size_t i = 0; name && i < S_KEYS; i++)
            if (strcmp(s_keys[i].key, name) == 0)
                key = &s_keys[i];
        if (!key) {
            if (name && (strcmp(name, "sms_auth_token") == 0 || strcmp(name, "smtp_password") == 0))
                return zsys_sprintf("tenant %s: %s may not be written in the file; name the "
                                    "environment variable that holds it as %s_env",
                                    account->tenant, name, name);
            return zsys_sprintf("tenant %s: unknown key %s", account->tenant, name ? name : "?");
        }
        if (!value)
            return zsys_sprintf("tenant %s: %s must be a text", account->tenant, key->key);
        const char *set = value;
        if (key->from_env) {
            set = getenv(value);
            if (!set)
                return zsys_sprintf("tenant %s: %s names %s, which the environment does not set",
                                    account->tenant, key->key, value);
        }
        char **field = s_field(account, key);
        free(*field);
        *field = strdup(set);
    }
    return NULL;
}

notify_accounts_t *notify_accounts_new(const crm_config_t *cfg, char **error) {
    *error = NULL;
    notify_accounts_t *self = calloc(1, sizeof *self);
    assert(self);
    notify_account_t *d = &self->fallback;
    d->sms_base_url = strdup(cfg->notify_sms_base_url);
    d->sms_account_sid = strdup(cfg->notify_sms_account_sid);
    d->sms_auth_token = strdup(cfg->notify_sms_auth_token);
    d->sms_from = strdup(cfg->notify_sms_from);
    d->smtp_url = strdup(cfg->notify_smtp_url);
    d->smtp_user = strdup(cfg->notify_smtp_user);
    d->smtp_password = strdup(cfg->notify_smtp_password);
    d->mail_from = strdup(cfg->notify_mail_from);
    if (!cfg->notify_accounts_file[0])
        return self;
    FILE *file = fopen(cfg->notify_accounts_file, "r");
    if (!file) {
        *error = zsys_sprintf("could not open %s: %s", cfg->notify_accounts_file, strerror(errno));
        notify_accounts_destroy(&self);
        return NULL;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, file);
    bool loaded = yaml_parser_load(&parser, &doc);
    if (!loaded)
        *error = zsys_sprintf("%s:%zu: %s", cfg->notify_accounts_file, parser.problem_mark.line + 1,
                              parser.problem ? parser.problem : "not YAML");
    yaml_node_t *root = loaded ? yaml_document_get_root_node(&doc) : NULL;
    if (loaded && root && root->type != YAML_MAPPING_NODE)
        *error = zsys_sprintf("%s: expected a mapping of tenant ids to their settings",
                              cfg->notify_accounts_file);
    else if (loaded && root) {
        size_t n = (size_t)(root->data.mapping.pairs.top - root->data.mapping.pairs.start);
        self->items = calloc(n + 1, sizeof *self->items);
        for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
             !*error && pair < root->data.mapping.pairs.top; pair++) {
            const char *tenant = s_scalar(yaml_document_get_node(&doc, pair->key));
            notify_account_t *account = &self->items[self->count++];
            s_account_copy(account, d);
            snprintf(account->tenant, sizeof account->tenant, "%s", tenant ? tenant : "");
            if (!tenant || !tenant[0] || strlen(tenant) >= sizeof account->tenant)
                *error = zsys_sprintf("%s: a tenant id must be a text of 1 to %zu characters",
                                      cfg->notify_accounts_file, sizeof account->tenant - 1);
            else {
                char *why = s_section(&doc, yaml_document_get_node(&doc, pair->value), account);
                if (why) {
                    *error = zsys_sprintf("%s: %s", cfg->notify_accounts_file, why);
                    zstr_free(&why);
                }
            }
        }
    }
    if (loaded)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    fclose(file);
    if (*error)
        notify_accounts_destroy(&self);
    return self;
}

void notify_accounts_destroy(notify_accounts_t **self_p) {
    assert(self_p);
    notify_accounts_t *self = *self_p;
    if (!self)
        return;
    s_account_reset(&self->fallback);
    for (size_t i = 0; i < self->count; i++)
        s_account_reset(&self->items[i]);
    free(self->items);
    free(self);
    *self_p = NULL;
}

const notify_account_t *notify_accounts_for(const notify_accounts_t *self, const char *tenant_id) {
    for (size_t i = 0; i < self->count; i++)
        if (strcmp(self->items[i].tenant, tenant_id) == 0)
            return &self->items[i];
    return &self->fallback;
}

const notify_account_t *notify_accounts_by_sid(const notify_accounts_t *self,
                                               const char *account_sid) {
    for (size_t i = 0; account_sid && i < self->count; i++)
        if (strcmp(self->items[i].sms_account_sid, account_sid) == 0)
            return &self->items[i];
    return &self->fallback;
}
