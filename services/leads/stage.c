/*  stage: the rules of the tenant's pipeline stages (no database, no call): what a stage
    key is, the key made from a name, a new stage and a change of one. stage_store.c holds the
   pipeline's SQL; unit-tested in tests/unit/test_leads_rules.c and tests/unit/test_leads_stage.c.
 */
#include "leads.h"
#include "json_pb.h"
#include "validate.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool leads_stage_key_valid(const char *key) {
    size_t n = strlen(key);
    if (n == 0 || n > LEADS_STAGE_KEY_MAX || !(key[0] >= 'a' && key[0] <= 'z'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((key[i] >= 'a' && key[i] <= 'z') || (key[i] >= '0' && key[i] <= '9') ||
              key[i] == '_'))
            return false;
    return true;
}

int leads_stage_key_from_name(const char *name, char *out, size_t size) {
    char key[LEADS_STAGE_KEY_MAX + 3] = "";
    size_t n = 0;
    bool gap = false;
    for (const unsigned char *p = (const unsigned char *)name; *p && n < LEADS_STAGE_KEY_MAX; p++) {
        if (*p < 128 && isalnum(*p)) {
            if (gap && n > 0)
                key[n++] = '_';
            gap = false;
            if (n < LEADS_STAGE_KEY_MAX)
                key[n++] = (char)tolower(*p);
        } else
            gap = true;
    }
    while (n > 0 && key[n - 1] == '_')
        n--;
    key[n] = 0;
    if (n > 0 && isdigit((unsigned char)key[0])) {
        memmove(key + 2, key, n + 1);
        memcpy(key, "s_", 2);
        n += 2;
        if (n > LEADS_STAGE_KEY_MAX) {
            n = LEADS_STAGE_KEY_MAX;
            while (n > 0 && key[n - 1] == '_')
                n--;
            key[n] = 0;
        }
    }
    snprintf(out, size, "%s", key);
    return n > 0 ? 0 : -1;
}

#define STAGE_NAME_MAX_LEN 60

const char *leads_stage_outcome_name(Crm__Leads__StageOutcome outcome) {
    switch (outcome) {
    case CRM__LEADS__STAGE_OUTCOME__STAGE_OUTCOME_WON:
        return "won";
    case CRM__LEADS__STAGE_OUTCOME__STAGE_OUTCOME_LOST:
        return "lost";
    default:
        return "open";
    }
}

//  A stage's name, trimmed in place.
static void s_check_name(char **name, crm_errors_t *errors) {
    crm_text_trim(*name);
    if (crm_text_blank(*name))
        crm_errors_add(errors, "name", "is required");
    else if (crm_utf8_chars(*name) > STAGE_NAME_MAX_LEN)
        crm_errors_add(errors, "name", "must be at most %d characters", STAGE_NAME_MAX_LEN);
}

int leads_stage_check_new(Crm__Leads__Stage *stage, char key[LEADS_STAGE_KEY_MAX + 1],
                          crm_errors_t *errors) {
    size_t before = errors->n;
    s_check_name(&stage->name, errors);
    bool name_ok = errors->n == before;
    key[0] = 0;
    if (stage->key[0]) {
        if (!leads_stage_key_valid(stage->key))
            crm_errors_add(errors, "key",
                           "must be a lower-case letter, then letters, digits or _ (at most %d)",
                           LEADS_STAGE_KEY_MAX);
        else
            snprintf(key, LEADS_STAGE_KEY_MAX + 1, "%s", stage->key);
    } else if (name_ok && leads_stage_key_from_name(stage->name, key, LEADS_STAGE_KEY_MAX + 1))
        crm_errors_add(errors, "key", "cannot be made from the name: give one");
    return errors->n > before ? -1 : 0;
}

int leads_stage_update_check(const Crm__Leads__UpdateStageRequest *req, leads_stage_fields_t *set,
                             char **name, crm_errors_t *errors) {
    size_t before = errors->n;
    memset(set, 0, sizeof *set);
    *name = NULL;
    for (size_t i = 0; i < req->n_update_mask; i++) {
        const ProtobufCFieldDescriptor *f =
            crm_pb_field_by_name(&crm__leads__stage__descriptor, req->update_mask[i]);
        if (!f || !req->stage)
            crm_errors_add(errors, req->update_mask[i], "is not a field of a stage");
        else if (strcmp(f->name, "name") == 0)
            set->name = true;
        else if (strcmp(f->name, "position") == 0)
            set->position = true;
        else if (strcmp(f->name, "outcome") == 0)
            set->outcome = true;
        else
            crm_errors_add(errors, req->update_mask[i], "cannot be changed");
    }
    if (set->position && req->stage->position == 0)
        crm_errors_add(errors, "position", "must be 1 or more");
    if (set->outcome && req->stage->outcome == CRM__LEADS__STAGE_OUTCOME__STAGE_OUTCOME_UNSPECIFIED)
        crm_errors_add(errors, "outcome", "must be open, won or lost");
    if (set->name) {
        *name = strdup(req->stage->name);
        if (errors->n == before)
            s_check_name(name, errors);
    }
    return errors->n > before ? -1 : 0;
}
