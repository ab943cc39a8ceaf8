/*  methods: everything the scoring service answers on the bus, one row each, and the
    methods themselves. Each reads top to bottom: decode, check (the resource's rules
    file), store (its _store.c), answer. The core (common/service.c) batches, commits
    and replies; a method never sees that.

    method          rules            SQL              HTTP
    GetScore        -                lead_store.c     GET  /v1/leads/{id}/score
    ScoreHistory    -                lead_store.c     GET  /v1/leads/{id}/score/history
    GetModel        -                model_store.c    GET  /v1/scoring/model
    PutModel        model.c          model_store.c    PUT  /v1/scoring/model
    PreviewModel    model.c, rules.c rescore.c        POST /v1/scoring/model/preview
    Rescore         -                rescore.c        POST /v1/scoring/rescore
    GetRescoreJob   -                rescore.c        GET  /v1/scoring/rescore/{id}
    Rebuild         -                lead_store.c     (bus: crmctl scoring rebuild)
    Events.Replay   common/replay    the outbox       (bus: subscribers catching up)

    The scores are kept by follow.c from the other services' events and by rescore.c's
    job; the methods only read them, or change the model and queue a rescore.
*/
#include "scoring.h"
#include "ids.h"
#include "replay.h"
#include "daemon.h"

#include <string.h>

#include <stdlib.h>

#define HISTORY_DEFAULT 50
#define HISTORY_MAX 200

static int s_bad_id(crm_call_t *call, const char *id) {
    if (crm_uuid_valid(id))
        return 0;
    crm_call_field_error(call, "id", "must be a UUID");
    return 422;
}

//  GetScore: the lead's score with the rules that made it.
static int s_get_score(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response) {
    const Crm__Scoring__GetScoreRequest *req = (const void *)request;
    int code = s_bad_id(call, req->id);
    if (code)
        return code;
    Crm__Scoring__Score *score = NULL;
    code = scoring_lead_store_score(call, req->id, &score);
    if (code == 200)
        *response = &score->base;
    return code;
}

//  ScoreHistory: the lead's scores as they changed, newest first.
static int s_history(crm_call_t *call, const ProtobufCMessage *request,
                     ProtobufCMessage **response) {
    const Crm__Scoring__ScoreHistoryRequest *req = (const void *)request;
    int code = s_bad_id(call, req->id);
    if (code)
        return code;
    if (req->limit > HISTORY_MAX) {
        crm_call_field_error(call, "limit", "must be at most %d", HISTORY_MAX);
        return 422;
    }
    Crm__Scoring__ScoreHistoryResponse *out = NULL;
    code = scoring_lead_store_history(call, req->id, req->limit ? req->limit : HISTORY_DEFAULT,
                                      &out);
    if (code == 200)
        *response = &out->base;
    return code;
}

//  GetModel: the model in force for the caller's dealership.
static int s_get_model(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response) {
    (void)request;
    scoring_model_t *compiled = malloc(sizeof *compiled);
    Crm__Scoring__Model *model = NULL;
    int rc = scoring_model_store_current(call->db, call->arg, call->header->tenant_id, compiled,
                                         &model);
    free(compiled);
    if (rc || !model)
        return crm_call_db_failure(call);
    *response = &model->base;
    return 200;
}

//  PutModel: the dealership's own model, its next version. Scores move to it as leads
//  change, or all at once by a rescore.
static int s_put_model(crm_call_t *call, const ProtobufCMessage *request,
                       ProtobufCMessage **response) {
    const Crm__Scoring__PutModelRequest *req = (const void *)request;
    crm_errors_t errors = {0};
    static const Crm__Scoring__Model empty = CRM__SCORING__MODEL__INIT;
    const Crm__Scoring__Model *given = req->model ? req->model : &empty;
    if (scoring_model_check(given, &errors))
        return crm_call_fail(call, &errors);
    //  A copy the store can stamp with its version.
    size_t size = protobuf_c_message_get_packed_size(&given->base);
    uint8_t *buf = malloc(size + 1);
    protobuf_c_message_pack(&given->base, buf);
    Crm__Scoring__Model *model = crm__scoring__model__unpack(NULL, size, buf);
    free(buf);
    if (scoring_model_store_put(call->db, call->header->tenant_id, call->header->actor_id, model)) {
        crm__scoring__model__free_unpacked(model, NULL);
        return crm_call_db_failure(call);
    }
    *response = &model->base;
    return 200;
}

//  PreviewModel: how many open leads the model would move to another band; nothing
//  is written.
static int s_preview(crm_call_t *call, const ProtobufCMessage *request,
                     ProtobufCMessage **response) {
    const Crm__Scoring__PreviewModelRequest *req = (const void *)request;
    crm_errors_t errors = {0};
    static const Crm__Scoring__Model empty = CRM__SCORING__MODEL__INIT;
    const Crm__Scoring__Model *given = req->model ? req->model : &empty;
    if (scoring_model_check(given, &errors))
        return crm_call_fail(call, &errors);
    scoring_model_t *model = malloc(sizeof *model);
    scoring_model_compile(given, "preview", model);
    Crm__Scoring__PreviewModelResponse *out = malloc(sizeof *out);
    crm__scoring__preview_model_response__init(out);
    int code = scoring_rescore_store_preview(call, model, out);
    free(model);
    if (code != 200) {
        crm__scoring__preview_model_response__free_unpacked(out, NULL);
        return code;
    }
    *response = &out->base;
    return 200;
}

//  Rescore: every open lead of the dealership under the model in force, as a job.
static int s_rescore(crm_call_t *call, const ProtobufCMessage *request,
                     ProtobufCMessage **response) {
    (void)request;
    Crm__Scoring__RescoreJob *job = NULL;
    int code = scoring_rescore_store_create(call, "rescore", &job);
    if (job)
        *response = &job->base;
    return code;
}

//  GetRescoreJob: a rescore's progress.
static int s_get_job(crm_call_t *call, const ProtobufCMessage *request,
                     ProtobufCMessage **response) {
    const Crm__Scoring__GetRescoreJobRequest *req = (const void *)request;
    int code = s_bad_id(call, req->id);
    if (code)
        return code;
    Crm__Scoring__RescoreJob *job = NULL;
    code = scoring_rescore_store_get(call, req->id, &job);
    if (job)
        *response = &job->base;
    return code;
}

//  Rebuild (bus only, role admin): the projection emptied and the inbox set back to 0 in
//  the call's transaction; the followers are then made anew (common/daemon.h) and replay
//  the leads', contacts' and notify events from the first, scoring every lead again as
//  of its events' own times, so the scores come out as they were (a LeadScored goes out
//  for each, which the leads service applies without change). The tenants' models stay.
static int s_rebuild(crm_call_t *call, const ProtobufCMessage *request,
                     ProtobufCMessage **response) {
    (void)request;
    if (strcmp(call->header->role, "admin") != 0 && strcmp(call->header->role, "system") != 0) {
        crm_call_error(call, "forbidden", "a rebuild needs the admin role (crmctl scoring rebuild)");
        return 403;
    }
    if (scoring_lead_store_empty(call->db))
        return crm_call_db_failure(call);
    crm_daemon_refollow();
    Crm__Empty *empty = malloc(sizeof *empty);
    crm__empty__init(empty);
    *response = &empty->base;
    return 202;
}

const crm_method_t scoring_methods[] = {
    {"GetScore", s_get_score, &crm__scoring__get_score_request__descriptor, false},
    {"ScoreHistory", s_history, &crm__scoring__score_history_request__descriptor, false},
    {"GetModel", s_get_model, &crm__scoring__get_model_request__descriptor, false},
    {"PutModel", s_put_model, &crm__scoring__put_model_request__descriptor, true},
    {"PreviewModel", s_preview, &crm__scoring__preview_model_request__descriptor, false},
    {"Rescore", s_rescore, &crm__scoring__rescore_request__descriptor, true},
    {"GetRescoreJob", s_get_job, &crm__scoring__get_rescore_job_request__descriptor, false},
    {"Rebuild", s_rebuild, &crm__empty__descriptor, true},
    CRM_EVENTS_REPLAY_METHOD,
    {NULL, NULL, NULL, false},
};
