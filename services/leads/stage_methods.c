/*  stage_methods: the tenant's pipeline (rows of methods.c's table), each read top to
    bottom: decode, check (stage.c), store (stage_store.c), answer. Every change writes
    PipelineChanged with the whole pipeline after it, in the same transaction. */
#include "leads.h"
#include "ids.h"
#include "json_pb.h"

#include <stdlib.h>
#include <string.h>

//  A stage with live leads cannot change its outcome or go: 409 naming it.
static int s_in_use(crm_call_t *call, const char *key, long leads, const char *what) {
    snprintf(call->conflict_id, sizeof call->conflict_id, "%s", key);
    crm_call_error(call, "stage_in_use", "%ld live lead%s in stage %s: %s", leads,
                   leads == 1 ? " is" : "s are", key, what);
    return 409;
}

//  ListStages: the pipeline in order (the tenant's copy made first if need be).
int leads_stage_list(crm_call_t *call, const ProtobufCMessage *request,
                     ProtobufCMessage **response) {
    (void)request;
    int code = leads_pipeline_ensure(call);
    return code ? code : leads_stage_store_list(call, (Crm__Leads__ListStagesResponse **)response);
}

//  CreateStage: at its position; its key given or made from its name.
int leads_stage_create(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response) {
    const Crm__Leads__CreateStageRequest *req = (const void *)request;
    if (!req->stage) {
        crm_call_field_error(call, "stage", "is required");
        return 422;
    }
    Crm__Leads__Stage *stage = (Crm__Leads__Stage *)crm_pb_copy(&req->stage->base);
    char key[LEADS_STAGE_KEY_MAX + 1] = "";
    crm_errors_t errors = {0};
    leads_stage_check_new(stage, key, &errors); // check: stage.c
    int code = crm_call_fail(call, &errors);
    if (code == 0)
        code = leads_pipeline_ensure(call);
    if (code == 0) // no other stage has its key or name (a store query)
        code = leads_stage_store_unique(call, key, stage->name, "", stage->key[0] != 0);
    if (code == 0) // store: stage_store.c
        code = leads_stage_store_insert(call, key, stage->name,
                                        leads_stage_outcome_name(stage->outcome), stage->position);
    if (code == 0)
        code = leads_stage_store_changed(call, "stage_added", key);
    crm__leads__stage__free_unpacked(stage, NULL);
    if (code == 0) {
        code = leads_stage_store_read(call, key, (Crm__Leads__Stage **)response);
        if (code == 200)
            code = 201;
    }
    return code;
}

//  Whether a stage of outcome with leads in it may become new_outcome: 0, 409 (it has
//  leads), 422 (the last open stage), or a failure code.
static int s_outcome_change(crm_call_t *call, const char *key, const char *outcome,
                            const char *new_outcome, long leads) {
    if (strcmp(new_outcome, outcome) == 0)
        return 0;
    if (leads > 0)
        return s_in_use(call, key, leads, "its outcome cannot change");
    long open = 0, all = 0;
    int code = 0;
    if (strcmp(outcome, "open") == 0 && (code = leads_stage_store_counts(call, &open, &all)) == 0 &&
        open <= 1) {
        crm_call_field_error(call, "outcome", "the pipeline needs at least one open stage");
        return 422;
    }
    return code;
}

//  UpdateStage (PATCH): its name, position or outcome (not while leads are in it, and
//  the pipeline keeps an open stage).
int leads_stage_update(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response) {
    const Crm__Leads__UpdateStageRequest *req = (const void *)request;
    leads_stage_fields_t set;
    char *name = NULL;
    crm_errors_t errors = {0};
    int code = leads_stage_update_check(req, &set, &name, &errors) ? 422 : 0; // stage.c
    if (!leads_stage_key_valid(req->key)) {
        crm_call_fail(call, &errors);
        crm_call_error(call, "not_found", "no such stage");
        free(name);
        return 404;
    }
    if (code)
        code = crm_call_fail(call, &errors);
    if (code == 0)
        code = leads_pipeline_ensure(call);
    Crm__Leads__Stage *current = NULL;
    if (code == 0)
        code = leads_stage_store_read(call, req->key, &current);
    char outcome[8] = "";
    long leads = 0;
    if (code == 200)
        code = leads_stage_store_lock_and_count(call, req->key, outcome, &leads);
    const char *new_outcome = set.outcome ? leads_stage_outcome_name(req->stage->outcome) : outcome;
    if (code == 0)
        code = s_outcome_change(call, req->key, outcome, new_outcome, leads);
    if (code == 0 && set.name)
        code = leads_stage_store_unique(call, "", name, req->key, false);
    char now[40];
    crm_time_now(now, sizeof now);
    unsigned long writes_before = crm_db_writes(call->db);
    if (code == 0 && (set.name || set.outcome)) // store: stage_store.c
        code = leads_stage_store_update(call, req->key, set.name ? name : current->name,
                                        new_outcome, now);
    if (code == 0 && set.position && req->stage->position != current->position)
        code = leads_stage_store_move(call, req->key, req->stage->position, now);
    if (code == 0 && crm_db_writes(call->db) != writes_before)
        code = leads_stage_store_changed(call, "stage_changed", req->key);
    free(name);
    if (current)
        crm__leads__stage__free_unpacked(current, NULL);
    if (code == 0)
        code = leads_stage_store_read(call, req->key, (Crm__Leads__Stage **)response);
    return code;
}

//  DeleteStage: only a stage without live leads, and never the last open one.
int leads_stage_delete(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response) {
    (void)response;
    const Crm__Leads__DeleteStageRequest *req = (const void *)request;
    if (!leads_stage_key_valid(req->key)) {
        crm_call_error(call, "not_found", "no such stage");
        return 404;
    }
    int code = leads_pipeline_ensure(call);
    char outcome[8] = "";
    long leads = 0, open = 0, all = 0;
    if (code == 0)
        code = leads_stage_store_lock_and_count(call, req->key, outcome, &leads);
    if (code == 0 && leads > 0)
        code = s_in_use(call, req->key, leads, "move them to another stage first");
    if (code == 0 && strcmp(outcome, "open") == 0 &&
        (code = leads_stage_store_counts(call, &open, &all)) == 0 && open <= 1) {
        snprintf(call->conflict_id, sizeof call->conflict_id, "%s", req->key);
        crm_call_error(call, "last_open_stage", "the pipeline needs at least one open stage");
        code = 409;
    }
    if (code == 0)
        code = leads_stage_store_delete(call, req->key);
    if (code == 0)
        code = leads_stage_store_changed(call, "stage_deleted", req->key);
    return code == 0 ? 204 : code;
}
