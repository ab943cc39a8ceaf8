/*  apikey: API key format and hashing, shared by the gateway and crmctl.

    A key is "crm_" followed by 43 base64url characters (256 random bits). Only its
    hash (hex) is stored; a key is shown once, when created. The hash is BLAKE2b-256 keyed
    with the deployment's secret (gateway.key_secret, 32 bytes as 64 hex digits, from the
    environment or a file, never the repository), so a stolen table cannot be checked
    offline; keys stored before there was a secret carry the unkeyed hash until their
    first use re-hashes them (keys.c).
*/
#ifndef CRM_APIKEY_H
#define CRM_APIKEY_H

#include <stdbool.h>

#define CRM_APIKEY_LEN 47       // "crm_" + 43
#define CRM_APIKEY_HASH_LEN 64  // hex

//  A new random key into out (CRM_APIKEY_LEN + 1 bytes).
void crm_apikey_generate(char *out);

#define CRM_APIKEY_SECRET_LEN 32 // bytes of gateway.key_secret

//  Hex hash of key into out (CRM_APIKEY_HASH_LEN + 1 bytes), keyed with secret
//  (CRM_APIKEY_SECRET_LEN bytes), or unkeyed when secret is NULL (keys made before it).
void crm_apikey_hash(const char *key, const unsigned char *secret, char *out);

//  gateway.key_secret (64 hex digits) into secret: 0; 1 when text is "" (no secret: keys
//  are hashed unkeyed, and the gateway warns); -1 when it is not 64 hex digits.
int crm_apikey_secret_parse(const char *text, unsigned char *secret);

//  True when key has the right shape (checked before any lookup).
bool crm_apikey_well_formed(const char *key);

//  True for one of the roles: admin, manager, sales, analyst, integration.
bool crm_role_valid(const char *role);

#endif
