/*  apikey: API key format and hashing, shared by the gateway and crmctl.

    A key is "crm_" followed by 43 base64url characters (256 random bits). Only its
    BLAKE2b-256 hash (hex) is stored; a key is shown once, when created.
*/
#ifndef CRM_APIKEY_H
#define CRM_APIKEY_H

#include <stdbool.h>

#define CRM_APIKEY_LEN 47       // "crm_" + 43
#define CRM_APIKEY_HASH_LEN 64  // hex

//  A new random key into out (CRM_APIKEY_LEN + 1 bytes).
void crm_apikey_generate(char *out);

//  Hex hash of key into out (CRM_APIKEY_HASH_LEN + 1 bytes).
void crm_apikey_hash(const char *key, char *out);

//  True when key has the right shape (checked before any lookup).
bool crm_apikey_well_formed(const char *key);

//  True for one of the roles: admin, manager, sales, analyst, integration.
bool crm_role_valid(const char *role);

#endif
