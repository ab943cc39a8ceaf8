/*  libFuzzer target for the @mentions parser: any text, as typed into a note. Every
    handle returned must be what the rules allow: 1 to CRM_MENTION_MAX_LEN characters of
    [a-z0-9._-] (lower case), not ending in '.' or '-', each once, no more than asked. */
#include "mentions.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    crm_mention_t mentions[CRM_MENTIONS_MAX];
    size_t limits[] = {CRM_MENTIONS_MAX, 3, 1, 0};
    for (size_t k = 0; k < sizeof limits / sizeof *limits; k++) {
        size_t n = crm_mentions_parse(text, mentions, limits[k]);
        if (n > limits[k])
            abort();
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen(mentions[i]);
            if (len == 0 || len > CRM_MENTION_MAX_LEN || mentions[i][len - 1] == '.' ||
                mentions[i][len - 1] == '-')
                abort();
            for (size_t j = 0; j < len; j++) {
                char c = mentions[i][j];
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                      c == '-'))
                    abort();
            }
            for (size_t j = 0; j < i; j++)
                if (strcmp(mentions[i], mentions[j]) == 0)
                    abort();
        }
    }
    free(text);
    return 0;
}
