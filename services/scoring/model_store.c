/*  model_store: the tenants' own models, versioned (each PUT the next version), and the
    model in force for a tenant: its latest, or the file's default (scoring_t, reloaded
    on SIGHUP, under its lock since the rescore job reads it from its own thread).
*/
#include "scoring.h"
#include "json_pb.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const crm_stmt_t s_current = {
    .name = "scoring_model_current",
    .sql = "SELECT model, version, created_by, " CRM_SQL_TS("created_at") " FROM models"
           " WHERE tenant_id = $1 ORDER BY version DESC LIMIT 1",
    .nparams = 1};

static const crm_stmt_t s_put = {
    .name = "scoring_model_put",
    .sql = "INSERT INTO models (tenant_id, version, model, created_by)"
           " SELECT $1, coalesce(max(version), 0) + 1, $2::bytea, $3 FROM models"
           " WHERE tenant_id = $1"
           " RETURNING version, " CRM_SQL_TS("created_at"),
    .nparams = 3,
    .writes = true};

int scoring_model_store_current(crm_db_t *db, scoring_t *self, const char *tenant_id,
                                scoring_model_t *out, Crm__Scoring__Model **model_out) {
    const char *params[] = {tenant_id};
    PGresult *res = crm_db_query(db, &s_current, params);
    if (!res)
        return -1;
    Crm__Scoring__Model *model = NULL;
    if (PQntuples(res) == 1) {
        size_t size = 0;
        unsigned char *data =
            PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 0), &size);
        if (data) {
            model = crm__scoring__model__unpack(NULL, size, data);
            PQfreemem(data);
        }
        if (model) {
            char version[64];
            snprintf(version, sizeof version, "%s-%s", tenant_id, PQgetvalue(res, 0, 1));
            crm_pb_string_set(&model->version, version);
            crm_pb_string_set(&model->updated_by, PQgetvalue(res, 0, 2));
            crm_pb_string_set(&model->updated_at, PQgetvalue(res, 0, 3));
            model->tenant_model = true;
        }
    }
    PQclear(res);
    if (model) {
        scoring_model_compile(model, model->version, out);
    } else {
        pthread_mutex_lock(&self->lock);
        *out = self->default_compiled;
        if (model_out) {
            size_t size = protobuf_c_message_get_packed_size(&self->default_model->base);
            uint8_t *buf = malloc(size + 1);
            assert(buf);
            protobuf_c_message_pack(&self->default_model->base, buf);
            model = crm__scoring__model__unpack(NULL, size, buf);
            free(buf);
        }
        pthread_mutex_unlock(&self->lock);
    }
    if (model_out)
        *model_out = model;
    else if (model)
        crm__scoring__model__free_unpacked(model, NULL);
    return 0;
}

int scoring_model_store_put(crm_db_t *db, const char *tenant_id, const char *actor_id,
                            Crm__Scoring__Model *model) {
    crm_pb_string_set(&model->version, "");
    crm_pb_string_set(&model->updated_at, "");
    crm_pb_string_set(&model->updated_by, "");
    model->tenant_model = false;
    size_t size = protobuf_c_message_get_packed_size(&model->base);
    uint8_t *buf = malloc(size + 1);
    assert(buf);
    protobuf_c_message_pack(&model->base, buf);
    char *hex = crm_db_bytea_literal(buf, size);
    free(buf);
    const char *params[] = {tenant_id, hex, actor_id ? actor_id : ""};
    PGresult *res = crm_db_query(db, &s_put, params);
    free(hex);
    if (!res)
        return -1;
    char version[64];
    snprintf(version, sizeof version, "%s-%s", tenant_id, PQgetvalue(res, 0, 0));
    crm_pb_string_set(&model->version, version);
    crm_pb_string_set(&model->updated_at, PQgetvalue(res, 0, 1));
    crm_pb_string_set(&model->updated_by, actor_id ? actor_id : "");
    model->tenant_model = true;
    PQclear(res);
    return 0;
}
