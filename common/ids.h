/*  ids: UUIDv7 identifiers (RFC 9562): time-ordered, so btree inserts stay local. */
#ifndef CRM_IDS_H
#define CRM_IDS_H

#include <stdbool.h>
#include <stddef.h>

#define CRM_UUID_LEN 36  // without the terminating NUL

//  Write a new UUIDv7 as lower-case text into out (37 bytes).
void crm_uuid_v7(char out[CRM_UUID_LEN + 1]);

//  True if s is a UUID in canonical 8-4-4-4-12 hex form (either case).
bool crm_uuid_valid(const char *s);

//  Fill buf with n cryptographically random bytes (libsodium).
void crm_random_bytes(void *buf, size_t n);

//  The time now as RFC 3339 in UTC with microseconds ("2026-11-22T08:30:00.123456Z"),
//  the form the services store and PostgreSQL's to_char gives back. size >= 28.
void crm_time_now(char *out, size_t size);

#endif
