/*  stage: the rules of the tenant's pipeline stages (no database, no call): what a stage
    key is, the key made from a name. stage_store.c holds the pipeline's SQL; unit-tested
    in tests/unit/test_leads_rules.c and tests/unit/test_leads_stage.c. */
#include "leads.h"

#include <ctype.h>
#include <stdio.h>
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
    for (const unsigned char *p = (const unsigned char *)name; *p && n < LEADS_STAGE_KEY_MAX;
         p++) {
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

