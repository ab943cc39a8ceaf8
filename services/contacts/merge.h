/*  merge: duplicate contacts merged into one survivor, previewed first, undone within
    contacts.merge_undo_days. merge.c the rules (survivorship, the undo's survivor; pure,
    JSON in the API's shape; tests/unit/test_contacts_merge.c), merge_store.c the SQL and
    events, merge_methods.c the methods (PreviewMerge, Merge, GetMerge, ListMerges,
    UndoMerge). The request's check and the survivor are one function for the preview
    and the merge, so a merge does exactly what its preview showed.
*/
#ifndef CONTACTS_MERGE_H
#define CONTACTS_MERGE_H

#include "contacts.h"
#include "contacts_merge.pb-c.h"

#include <jansson.h>

#define CONTACTS_MERGE_MAX 10 // contacts merged into the primary at once

//  --- merge.c: the rules (no database) ---------------------------------------------------

//  A merge request's form: primaryId and mergeIds (1 to 10) contact ids, all distinct;
//  choose naming fields a survivor's value can be chosen for, each a contact of the
//  merge. 0, or -1 with field errors (primaryId, mergeIds, mergeIds[i], choose.<field>).
int contacts_merge_check(const Crm__Contacts__MergeContactsRequest *req, crm_errors_t *errors);

//  The survivor of records[0] (the primary) and records[1..n) (the merged ones, in the
//  request's order), each a contact in the API's shape (JSON): each field the primary's,
//  unless choose (field -> contact id; may be NULL) names a contact, else, when the
//  primary's is empty, the first other's that is not; the union of emails, phones, tags,
//  addresses, vehicles and social profiles (a phone held twice keeps the most
//  restrictive opt-ins); custom fields key by key; the earliest creation, the latest
//  activity, the leads added up. 0 with *survivor (a new object, the primary's id) and
//  *sources (a new array of {field, contactId}), or -1 with field errors (mergeIds[i]:
//  a contact of another kind).
int contacts_merge_survivor(json_t *const *records, size_t n, const json_t *choose,
                            json_t **survivor, json_t **sources, crm_errors_t *errors);

//  The survivor after an undo: current (as it is now) without what the merge brought
//  (before: the primary before the merge, after: the survivor it made) and kept since:
//  a field still as the merge set it goes back to before's, a list item the merge added
//  goes (one it changed, still so, goes back). A new object.
json_t *contacts_merge_undo_survivor(const json_t *current, const json_t *before,
                                     const json_t *after);

//  The contact fields (JSON names) whose values differ between a and b, into names (at
//  most max, static strings): how many.
size_t contacts_merge_changed(const json_t *a, const json_t *b, const char **names, size_t max);

//  --- merge_store.c: the SQL and events ------------------------------------------------------

//  One contact of a merge as read, locked, for the rules: its JSON (API shape) and how it
//  stands. The store's answer per id asked.
typedef struct {
    char id[40];
    json_t *contact;      // NULL: no such contact of the tenant
    bool deleted;         // deleted, or merged away
    char merged_into[40]; // "" unless merged away
    char merge_id[40];
    unsigned lead_count;
} contacts_merge_record_t;

void contacts_merge_record_reset(contacts_merge_record_t *record);

//  Read and lock (in id order, so two merges never wait on each other crosswise) the
//  contacts ids[0..n) of the tenant into records. 0 or -1 (database).
int contacts_merge_store_read(const contacts_scope_t *scope, const char *const *ids, size_t n,
                              contacts_merge_record_t *records);

//  What a merge writes, after the survivor was checked and rendered (row from c).
typedef struct {
    const char *merge_id;
    const char *survivor_id;
    const char *const *merged_ids;
    size_t n_merged;
    const json_t *choose, *sources, *before, *after;
    int undo_days;
    const char *created_at;       // the survivor's creation: the earliest
    const char *last_activity_at; // the latest ("" none)
    unsigned lead_count;          // the leads of all
} contacts_merge_write_t;

//  The merge in the caller's transaction: the merged contacts tombstoned to the survivor,
//  their email keys, notes, people and communication history moved or copied to it,
//  the strictest rules and consents its own, the survivor written (ContactUpdated), the
//  merge recorded, and ContactMerged (with the consent events that changed) in the
//  outbox. 200 with counts, 409 with errors (conflict_id), or -1 (database).
int contacts_merge_store_write(const contacts_scope_t *scope, const contacts_merge_write_t *w,
                               const contacts_row_t *row, Crm__Contacts__Contact *c,
                               const char *const *changed, size_t n_changed,
                               Crm__Contacts__MergeCounts *counts, crm_errors_t *errors,
                               char conflict_id[64]);

//  Move counts of the preview: the notes and history entries of ids[0..n). 0 or -1.
int contacts_merge_store_counts(const contacts_scope_t *scope, const char *const *ids, size_t n,
                                Crm__Contacts__MergeCounts *counts);

//  One merge of the tenant (for_update locks it): 200 with *out, 404, or -1. before and
//  after (may be NULL): the survivor's images, new references.
int contacts_merge_store_get(const contacts_scope_t *scope, const char *id, bool for_update,
                             Crm__Contacts__Merge **out, json_t **before, json_t **after);

//  A page of the tenant's merges, newest first (contact_id "": all): 200 or -1.
int contacts_merge_store_list(const contacts_scope_t *scope, const char *contact_id,
                              const char *cursor, int limit,
                              Crm__Contacts__ListMergesResponse **out);

//  The merge that took contact id away (its survivor and the merge's id), following a
//  chain of merges to the live survivor: 200, 404 (not merged away), or -1.
int contacts_merge_store_resolve(const contacts_scope_t *scope, const char *id,
                                 char survivor_id[40], char merge_id[40]);

//  The undo in the caller's transaction: the merged contacts live again with their email
//  keys, notes and people; the survivor written (row from c, ContactUpdated); the merge
//  undone; ContactUnmerged in the outbox with the restored contacts. 200, 409 with
//  errors (an address another contact took meanwhile), or -1.
int contacts_merge_store_undo(const contacts_scope_t *scope, const Crm__Contacts__Merge *merge,
                              const json_t *before, const json_t *after,
                              const contacts_row_t *row, Crm__Contacts__Contact *c,
                              const char *const *changed, size_t n_changed, crm_errors_t *errors,
                              char conflict_id[64]);

//  --- merge_methods.c: the methods ---------------------------------------------------------
crm_method_fn contacts_merge_preview, contacts_merge, contacts_merge_get, contacts_merge_list,
    contacts_merge_undo;

//  GET of a contact merged away: the survivor it resolves to, merged_from set. 200 with
//  *out, 404, or a failure code (the call's reply).
int contacts_merge_get_resolved(crm_call_t *call, const char *id, Crm__Contacts__Contact **out);

#endif
