/*  merge_methods: merging duplicate contacts (PreviewMerge, Merge), the merges
    (GetMerge, ListMerges) and their undo (UndoMerge), each read top to bottom: decode,
    check (merge.c), store (merge_store.c), answer.

    A preview and a merge run one plan (s_plan): the same request's check, the same
    contacts read, the same survivorship and the same contact rules, so a merge writes
    exactly the survivor its preview showed. Merging and undoing are for managers and
    admins (403 otherwise; the gateway's route table says so too); anyone reads merges.
*/
#include "merge.h"
#include "ids.h"
#include "json_pb.h"
#include "log.h"
#include "page.h"

#include <stdlib.h>
#include <string.h>

//  What a preview shows and a merge writes.
typedef struct {
    const char *ids[CONTACTS_MERGE_MAX + 1]; // the primary, then the merged ones
    size_t n;
    contacts_merge_record_t records[CONTACTS_MERGE_MAX + 1];
    json_t *choose;
    json_t *survivor; // the API's shape, read-only facts included
    json_t *sources;
    Crm__Contacts__Contact *contact; // the survivor checked and normalised
    contacts_row_t row;
    contacts_row_names_t names;
} s_plan_t;

static void s_plan_reset(s_plan_t *plan) {
    for (size_t i = 0; i < plan->n; i++)
        contacts_merge_record_reset(&plan->records[i]);
    json_decref(plan->choose);
    json_decref(plan->survivor);
    json_decref(plan->sources);
    if (plan->contact)
        crm__contacts__contact__free_unpacked(plan->contact, NULL);
    contacts_row_reset(&plan->row);
    memset(plan, 0, sizeof *plan);
}

static contacts_scope_t s_scope(crm_call_t *call) {
    return (contacts_scope_t){call->db, call->header->tenant_id, call->header->actor_id};
}

static int s_forbidden(crm_call_t *call, const char *what) {
    if (contacts_role_manages(call->header->role))
        return 0;
    crm_call_error(call, "forbidden", "only a manager or an admin may %s", what);
    return 403;
}

//  The field of the plan's contact i: primaryId, or mergeIds[i - 1].
static void s_field(size_t i, char *field, size_t size) {
    if (i == 0)
        snprintf(field, size, "primaryId");
    else
        snprintf(field, size, "mergeIds[%zu]", i - 1);
}

//  Each contact of the merge a live contact of the tenant: 0, 404 (none, deleted, or
//  another tenant's) or 409 (merged away already), naming the field.
static int s_records_live(crm_call_t *call, const s_plan_t *plan) {
    for (size_t i = 0; i < plan->n; i++) {
        const contacts_merge_record_t *r = &plan->records[i];
        char field[32];
        s_field(i, field, sizeof field);
        if (r->merged_into[0]) {
            crm_call_error(call, "already_merged", "contact %s was merged already", r->id);
            crm_call_field_error(call, field, "was merged into %s (merge %s)", r->merged_into,
                                 r->merge_id);
            return 409;
        }
        if (!r->contact || r->deleted) {
            crm_call_error(call, "not_found", "no such contact");
            crm_call_field_error(call, field, "is not a contact of this dealership");
            return 404;
        }
    }
    return 0;
}

//  The plan of req: checked, the contacts read (locked), the survivor made and checked
//  by the contact's rules. 0, or the reply's code.
static int s_plan(crm_call_t *call, const Crm__Contacts__MergeContactsRequest *req,
                  s_plan_t *plan) {
    int code = s_forbidden(call, "merge contacts");
    if (code)
        return code;
    crm_errors_t errors = {0};
    if (contacts_merge_check(req, &errors))
        return crm_call_fail(call, &errors);
    plan->ids[plan->n++] = req->primary_id;
    for (size_t i = 0; i < req->n_merge_ids; i++)
        plan->ids[plan->n++] = req->merge_ids[i];
    contacts_scope_t scope = s_scope(call);
    if (contacts_merge_store_read(&scope, plan->ids, plan->n, plan->records))
        return crm_call_db_failure(call);
    code = s_records_live(call, plan);
    if (code)
        return code;
    plan->choose = json_object();
    for (size_t i = 0; i < req->n_choose; i++)
        json_object_set_new(plan->choose, req->choose[i]->key,
                            json_string(req->choose[i]->value));
    json_t *contacts[CONTACTS_MERGE_MAX + 1];
    for (size_t i = 0; i < plan->n; i++)
        contacts[i] = plan->records[i].contact;
    if (contacts_merge_survivor(contacts, plan->n, plan->choose, &plan->survivor,
                                &plan->sources, &errors))
        return crm_call_fail(call, &errors);
    crm_json_error_t err;
    plan->contact = (Crm__Contacts__Contact *)crm_json_value_to_pb(
        &crm__contacts__contact__descriptor, plan->survivor, "survivor", &err);
    if (!plan->contact) {
        crm_call_error(call, "internal", "the merged contact cannot be made");
        return 500;
    }
    const contacts_t *self = call->arg;
    code = contacts_contact_prepare_in(call->db, call->header->tenant_id,
                                       self->cfg->contacts_default_region, plan->contact,
                                       "survivor.", &errors, &plan->row, &plan->names);
    if (code == -1) {
        crm_errors_reset(&errors);
        return crm_call_db_failure(call);
    }
    return code ? crm_call_fail(call, &errors) : 0;
}

//  The sources as messages.
static void s_sources(const json_t *sources, Crm__Contacts__MergeFieldSource ***out, size_t *n) {
    *n = 0;
    *out = calloc(json_array_size(sources) + 1, sizeof **out);
    size_t i;
    json_t *s;
    json_array_foreach(sources, i, s) {
        Crm__Contacts__MergeFieldSource *m = malloc(sizeof *m);
        crm__contacts__merge_field_source__init(m);
        m->field = strdup(json_string_value(json_object_get(s, "field")));
        m->contact_id = strdup(json_string_value(json_object_get(s, "contactId")));
        (*out)[(*n)++] = m;
    }
}

//  The answer: the survivor (taken from the plan), its sources and the counts.
static Crm__Contacts__MergeContactsResponse *s_answer(s_plan_t *plan,
                                                      Crm__Contacts__MergeCounts *counts) {
    Crm__Contacts__MergeContactsResponse *out = malloc(sizeof *out);
    crm__contacts__merge_contacts_response__init(out);
    out->survivor = plan->contact;
    plan->contact = NULL;
    s_sources(plan->sources, &out->sources, &out->n_sources);
    out->counts = malloc(sizeof *out->counts);
    *out->counts = *counts;
    return out;
}

int contacts_merge_preview(crm_call_t *call, const ProtobufCMessage *request,
                           ProtobufCMessage **response) {
    const Crm__Contacts__MergeContactsRequest *req = (const void *)request;
    s_plan_t plan = {0};
    int code = s_plan(call, req, &plan);
    Crm__Contacts__MergeCounts counts = CRM__CONTACTS__MERGE_COUNTS__INIT;
    contacts_scope_t scope = s_scope(call);
    if (code == 0 && contacts_merge_store_counts(&scope, plan.ids + 1, plan.n - 1, &counts))
        code = crm_call_db_failure(call);
    if (code == 0) {
        //  As the merge will write it: the survivor's creation, activity and leads.
        Crm__Contacts__Contact *c = plan.contact;
        crm_pb_string_set(&c->created_at, json_string_value(json_object_get(plan.survivor, "createdAt")));
        crm_pb_string_set(&c->updated_at, "");
        *response = &s_answer(&plan, &counts)->base;
        code = 200;
    }
    s_plan_reset(&plan);
    return code;
}

int contacts_merge(crm_call_t *call, const ProtobufCMessage *request,
                   ProtobufCMessage **response) {
    const Crm__Contacts__MergeContactsRequest *req = (const void *)request;
    const contacts_t *self = call->arg;
    s_plan_t plan = {0};
    int code = s_plan(call, req, &plan);
    if (code) {
        s_plan_reset(&plan);
        return code;
    }
    char merge_id[CRM_UUID_LEN + 1];
    crm_uuid_v7(merge_id);
    const char *changed[32];
    size_t n_changed =
        contacts_merge_changed(plan.records[0].contact, plan.survivor, changed, 32);
    const char *created = json_string_value(json_object_get(plan.survivor, "createdAt"));
    const char *active = json_string_value(json_object_get(plan.survivor, "lastActivityAt"));
    contacts_merge_write_t w = {
        .merge_id = merge_id,
        .survivor_id = req->primary_id,
        .merged_ids = plan.ids + 1,
        .n_merged = plan.n - 1,
        .choose = plan.choose,
        .sources = plan.sources,
        .before = plan.records[0].contact,
        .after = plan.survivor,
        .undo_days = self->cfg->contacts_merge_undo_days,
        .created_at = created ? created : "",
        .last_activity_at = active ? active : "",
        .lead_count = (unsigned)json_integer_value(json_object_get(plan.survivor, "leadCount")),
    };
    crm_pb_string_set(&plan.contact->created_at, w.created_at);
    Crm__Contacts__MergeCounts counts = CRM__CONTACTS__MERGE_COUNTS__INIT;
    contacts_scope_t scope = s_scope(call);
    crm_errors_t errors = {0};
    char conflict_id[64] = "";
    code = contacts_merge_store_write(&scope, &w, &plan.row, plan.contact, changed, n_changed,
                                      &counts, &errors, conflict_id);
    if (code != 200) {
        s_plan_reset(&plan);
        return contacts_answer_write(call, code, &errors, conflict_id);
    }
    Crm__Contacts__MergeContactsResponse *out = s_answer(&plan, &counts);
    *response = &out->base;
    code = contacts_merge_store_get(&scope, merge_id, false, &out->merge, NULL, NULL);
    s_plan_reset(&plan);
    if (code == -1)
        return crm_call_db_failure(call);
    if (code != 200) {
        crm_call_error(call, "internal", "the merge recorded cannot be read back");
        return 500;
    }
    crm_log_kv(CRM_LOG_INFO, "contacts merged", "merge", merge_id, "survivor", req->primary_id,
               NULL);
    return 200;
}

//  404 naming id unless id is a merge id at all.
static int s_merge_id(crm_call_t *call, const char *id) {
    if (crm_uuid_valid(id))
        return 0;
    crm_call_error(call, "not_found", "no such merge");
    crm_call_field_error(call, "id", "is not a valid merge id");
    return 404;
}

//  A store code of a merge read as the reply: 404 named, 500, the database's failure.
static int s_read_answer(crm_call_t *call, int code) {
    if (code == -1)
        return crm_call_db_failure(call);
    if (code == 404)
        crm_call_error(call, "not_found", "no such merge");
    if (code == 500)
        crm_call_error(call, "internal", "stored merge is unreadable");
    return code;
}

int contacts_merge_get(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response) {
    const Crm__Contacts__GetMergeRequest *req = (const void *)request;
    if (s_merge_id(call, req->id))
        return 404;
    contacts_scope_t scope = s_scope(call);
    return s_read_answer(call, contacts_merge_store_get(&scope, req->id, false,
                                                        (Crm__Contacts__Merge **)response, NULL,
                                                        NULL));
}

int contacts_merge_list(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response) {
    const Crm__Contacts__ListMergesRequest *req = (const void *)request;
    int limit = crm_page_limit(call, "limit", req->limit, CRM_PAGE_DEFAULT_LIMIT,
                               CRM_PAGE_MAX_LIMIT);
    if (req->cursor[0] && !crm_uuid_valid(req->cursor))
        crm_call_field_error(call, "cursor", "is not a cursor of this list");
    if (req->contact_id[0] && !crm_uuid_valid(req->contact_id))
        crm_call_field_error(call, "contactId", "is not a valid contact id");
    if (call->errors.n)
        return 422;
    contacts_scope_t scope = s_scope(call);
    int code = contacts_merge_store_list(&scope, req->contact_id, req->cursor, limit,
                                         (Crm__Contacts__ListMergesResponse **)response);
    return s_read_answer(call, code);
}

//  The undo's refusals, each naming id: undone already, past its window, its survivor
//  no longer live (merged away later, or deleted). 0 or 409.
static int s_undo_allowed(crm_call_t *call, const Crm__Contacts__Merge *merge,
                          const contacts_merge_record_t *survivor) {
    char now[40];
    crm_time_now(now, sizeof now);
    const char *why = NULL;
    char detail[256];
    if (strcmp(merge->status, "undone") == 0) {
        snprintf(detail, sizeof detail, "was undone already (at %s)", merge->undone_at);
        why = "already_undone";
    } else if (strcmp(now, merge->undo_until) > 0) {
        snprintf(detail, sizeof detail,
                 "can no longer be undone: its window closed at %s (contacts.merge_undo_days)",
                 merge->undo_until);
        why = "undo_window_closed";
    } else if (survivor->merged_into[0]) {
        snprintf(detail, sizeof detail,
                 "depends on a later merge: its survivor was merged into %s by merge %s; "
                 "undo that merge first",
                 survivor->merged_into, survivor->merge_id);
        why = "later_merge";
    } else if (!survivor->contact || survivor->deleted) {
        snprintf(detail, sizeof detail, "cannot be undone: its survivor was deleted");
        why = "survivor_deleted";
    }
    if (!why)
        return 0;
    crm_call_error(call, why, "merge %s %s", merge->id, detail);
    crm_call_field_error(call, "id", "%s", detail);
    return 409;
}

int contacts_merge_undo(crm_call_t *call, const ProtobufCMessage *request,
                        ProtobufCMessage **response) {
    const Crm__Contacts__UndoMergeRequest *req = (const void *)request;
    int code = s_forbidden(call, "undo a merge");
    if (code || (code = s_merge_id(call, req->id)))
        return code;
    contacts_scope_t scope = s_scope(call);
    Crm__Contacts__Merge *merge = NULL;
    json_t *before = NULL, *after = NULL, *now = NULL;
    Crm__Contacts__Contact *c = NULL;
    contacts_row_t row = {0};
    contacts_merge_record_t survivor = {0};
    code = s_read_answer(call, contacts_merge_store_get(&scope, req->id, true, &merge, &before,
                                                        &after));
    if (code != 200)
        goto done;
    const char *survivor_id = merge->survivor_id;
    if (contacts_merge_store_read(&scope, &survivor_id, 1, &survivor)) {
        code = crm_call_db_failure(call);
        goto done;
    }
    if ((code = s_undo_allowed(call, merge, &survivor)))
        goto done;
    now = contacts_merge_undo_survivor(survivor.contact, before, after);
    crm_json_error_t err;
    c = (Crm__Contacts__Contact *)crm_json_value_to_pb(&crm__contacts__contact__descriptor, now,
                                                       "survivor", &err);
    if (!c) {
        crm_call_error(call, "internal", "the survivor cannot be made");
        code = 500;
        goto done;
    }
    const contacts_t *self = call->arg;
    contacts_row_names_t names;
    crm_errors_t errors = {0};
    code = contacts_contact_prepare_in(call->db, call->header->tenant_id,
                                       self->cfg->contacts_default_region, c, "survivor.",
                                       &errors, &row, &names);
    if (code) {
        code = code == -1 ? (crm_errors_reset(&errors), crm_call_db_failure(call))
                          : crm_call_fail(call, &errors);
        goto done;
    }
    const char *changed[32];
    size_t n_changed = contacts_merge_changed(survivor.contact, now, changed, 32);
    char conflict_id[64] = "";
    code = contacts_merge_store_undo(&scope, merge, before, after, &row, c, changed, n_changed,
                                     &errors, conflict_id);
    if (code == 409) {
        snprintf(call->conflict_id, sizeof call->conflict_id, "%s", conflict_id);
        crm_call_error(call, "conflict", "the merge cannot be undone: an address was taken");
        crm_errors_move(&call->errors, &errors);
        goto done;
    }
    if (code != 200) {
        code = contacts_answer_write(call, code, &errors, conflict_id);
        goto done;
    }
    code = s_read_answer(call, contacts_merge_store_get(&scope, req->id, false,
                                                        (Crm__Contacts__Merge **)response, NULL,
                                                        NULL));
    if (code == 200)
        crm_log_kv(CRM_LOG_INFO, "merge undone", "merge", req->id, NULL);
done:
    if (merge)
        crm__contacts__merge__free_unpacked(merge, NULL);
    if (c)
        crm__contacts__contact__free_unpacked(c, NULL);
    json_decref(before);
    json_decref(after);
    json_decref(now);
    contacts_row_reset(&row);
    contacts_merge_record_reset(&survivor);
    return code;
}

int contacts_merge_get_resolved(crm_call_t *call, const char *id, Crm__Contacts__Contact **out) {
    contacts_scope_t scope = s_scope(call);
    char survivor_id[40], merge_id[40];
    int code = contacts_merge_store_resolve(&scope, id, survivor_id, merge_id);
    if (code == -1)
        return crm_call_db_failure(call);
    if (code != 200) {
        crm_call_error(call, "not_found", "no such contact");
        return 404;
    }
    code = contacts_store_get(call, survivor_id, false, out);
    if (code == 200)
        crm_pb_string_set(&(*out)->merged_from, id);
    return code;
}
