/*  openapi: the API description, derived from routes and descriptors. See openapi.h. */
#include "openapi.h"
#include "dedupe.pb-c.h"
#include "json_pb.h"
#include "routes.h"

#include <ctype.h>
#include <string.h>

static json_t *s_schema_ref(json_t *schemas, const ProtobufCMessageDescriptor *desc);

//  JSON schema of one field (without the repeated wrapper).
static json_t *s_field_schema(json_t *schemas, const ProtobufCFieldDescriptor *f) {
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_pack("{s:s, s:s}", "type", "integer", "format", "int32");
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return json_pack("{s:s, s:s}", "type", "string", "format", "int64");
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
        return json_pack("{s:s}", "type", "number");
    case PROTOBUF_C_TYPE_BOOL:
        return json_pack("{s:s}", "type", "boolean");
    case PROTOBUF_C_TYPE_BYTES:
        return json_pack("{s:s, s:s}", "type", "string", "format", "byte");
    case PROTOBUF_C_TYPE_STRING:
        return json_pack("{s:s}", "type", "string");
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *e = f->descriptor;
        json_t *values = json_array();
        for (unsigned i = 0; i < e->n_values; i++) {
            char name[128];
            if (e->values[i].value != 0 &&
                crm_enum_json_name(e, e->values[i].value, name, sizeof name) == 0)
                json_array_append_new(values, json_string(name));
        }
        return json_pack("{s:s, s:o}", "type", "string", "enum", values);
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return s_schema_ref(schemas, f->descriptor);
    }
    return json_object();
}

//  A $ref to desc's schema, adding the schema (and those it uses) when first seen.
static json_t *s_schema_ref(json_t *schemas, const ProtobufCMessageDescriptor *desc) {
    if (!json_object_get(schemas, desc->name)) {
        json_t *props = json_object();
        json_object_set_new(schemas, desc->name,
                            json_pack("{s:s, s:o}", "type", "object", "properties", props));
        for (unsigned i = 0; i < desc->n_fields; i++) {
            const ProtobufCFieldDescriptor *f = &desc->fields[i];
            json_t *schema = s_field_schema(schemas, f);
            if (f->label == PROTOBUF_C_LABEL_REPEATED)
                schema = json_pack("{s:s, s:o}", "type", "array", "items", schema);
            char json_name[128];
            crm_pb_field_json_name(f, json_name, sizeof json_name);
            json_object_set_new(props, json_name, schema);
        }
    }
    char ref[256];
    snprintf(ref, sizeof ref, "#/components/schemas/%s", desc->name);
    return json_pack("{s:s}", "$ref", ref);
}

//  The error body; candidates: a 409 possible_duplicate's (a create refused by the
//  duplicate check), the likely duplicates best first.
static json_t *s_error_schema(json_t *schemas) {
    json_t *error = json_pack(
        "{s:s, s:{s:{s:s, s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s, s:{s:s, s:{s:{s:s}, s:{s:s}}}}}}}}",
        "type", "object", "properties", "error", "type", "object", "properties", "code", "type",
        "string", "message", "type", "string", "existingId", "type", "string", "fields", "type",
        "array", "items", "type", "object", "properties", "field", "type", "string", "message",
        "type", "string");
    json_t *props = json_object_get(json_object_get(json_object_get(error, "properties"), "error"),
                                    "properties");
    json_object_set_new(
        props, "candidates",
        json_pack("{s:s, s:s, s:o}", "type", "array", "description",
                  "409 possible_duplicate: the likely duplicates, best first",
                  "items", s_schema_ref(schemas, &crm__dedupe__duplicate_match__descriptor)));
    return error;
}

//  Headers some answers carry (ReplyHeader.headers), and the 409 of a create refused as
//  a likely duplicate.
static const struct {
    const char *service, *rpc, *header, *description;
} s_answer_headers[] = {
    {"contacts", "Create", "X-Duplicate-Check",
     "checked (dedupe answered; nothing blocked), skipped (dedupe down or slower than "
     "contacts.dedupe_deadline_ms: created unchecked), allowed (allowDuplicate: not asked)"},
    {"contacts", "Create", "X-Possible-Duplicates",
     "the contacts the check scored between dedupe.check_threshold and "
     "dedupe.block_threshold, comma-separated (listed, not blocking)"},
    {"leads", "CreateFromChat", "X-Duplicate-Check", "as POST /v1/contacts says it"},
    {NULL, NULL, NULL, NULL}};

//  The members of a route's body beside its body field (the request's own fields that
//  are not the body, the mask or a path parameter): NULL when none.
static json_t *s_beside_body(json_t *schemas, const route_t *r) {
    json_t *props = NULL;
    for (unsigned i = 0; i < r->request->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &r->request->fields[i];
        char json_name[128], param[140];
        crm_pb_field_json_name(f, json_name, sizeof json_name);
        snprintf(param, sizeof param, "{%s}", json_name);
        if (strcmp(f->name, r->body) == 0 || (r->mask && strcmp(f->name, r->mask) == 0) ||
            strstr(r->pattern, param))
            continue;
        if (!props)
            props = json_object();
        json_t *schema = s_field_schema(schemas, f);
        if (f->label == PROTOBUF_C_LABEL_REPEATED)
            schema = json_pack("{s:s, s:o}", "type", "array", "items", schema);
        json_object_set_new(props, json_name, schema);
    }
    return props;
}

//  A raw route's operation (routes.h, raw.h): no security, the body's media type as it
//  is (a form's fields as strings), each answer with its own media type, errors in text.
static json_t *s_raw_operation(const route_t *r, const char *op_id) {
    const route_raw_doc_t *doc = route_raw_doc(r);
    json_t *responses = json_object();
    for (int i = 0; doc && i < ROUTE_RAW_ANSWERS_MAX && doc->answers[i].status; i++) {
        const route_raw_answer_t *a = &doc->answers[i];
        json_t *resp = json_pack("{s:s}", "description", a->description);
        if (a->media) {
            bool text = strncmp(a->media, "text/", 5) == 0;
            json_object_set_new(
                resp, "content",
                json_pack("{s:{s:o}}", a->media, "schema",
                          text ? json_pack("{s:s}", "type", "string")
                               : json_pack("{s:s, s:s}", "type", "string", "format", "binary")));
        }
        if (a->status[0] == '3')
            json_object_set_new(resp, "headers",
                                json_pack("{s:{s:{s:s, s:s}}}", "Location", "schema", "type",
                                          "string", "format", "uri"));
        json_object_set_new(responses, a->status, resp);
    }
    json_object_set_new(responses, "default",
                        json_pack("{s:s, s:{s:{s:{s:s}}}}", "description",
                                  "an error: one line of text", "content", "text/plain", "schema",
                                  "type", "string"));
    json_t *op = json_pack("{s:s, s:s, s:[], s:o}", "operationId", op_id, "summary", r->summary,
                           "security", "responses", responses);
    if (doc && doc->request_media) {
        json_t *schema =
            json_pack("{s:s, s:{s:s}}", "type", "object", "additionalProperties", "type", "string");
        json_object_set_new(op, "requestBody",
                            json_pack("{s:b, s:{s:{s:o}}}", "required", 1, "content",
                                      doc->request_media, "schema", schema));
    }
    return op;
}

//  The headers of an answer to a keyed request (draft-ietf-httpapi-ratelimit-headers):
//  RateLimit-Limit, -Remaining, -Reset, and Retry-After on a 429 (refused).
static json_t *s_rate_headers(bool refused) {
    static const char *const rows[][2] = {
        {"RateLimit-Limit", "requests the key may make at once (its role's burst)"},
        {"RateLimit-Remaining", "requests the key may make now"},
        {"RateLimit-Reset", "seconds until the key's full allowance is back"},
        {"Retry-After", "seconds until the key may make a request again"},
    };
    json_t *headers = json_object();
    for (size_t i = 0; i < sizeof rows / sizeof rows[0] - (refused ? 0 : 1); i++)
        json_object_set_new(headers, rows[i][0],
                            json_pack("{s:s, s:{s:s}}", "description", rows[i][1], "schema",
                                      "type", "integer"));
    return headers;
}

char *openapi_render(void) {
    json_t *schemas = json_object();
    json_object_set_new(schemas, "Error", s_error_schema(schemas));
    json_t *paths = json_object();
    for (const route_t *r = routes; r->pattern; r++) {
        json_t *item = json_object_get(paths, r->pattern);
        if (!item) {
            item = json_object();
            json_object_set_new(paths, r->pattern, item);
        }
        char method[16], op_id[96];
        size_t i = 0;
        for (; r->http_method[i] && i < sizeof method - 1; i++)
            method[i] = tolower((unsigned char)r->http_method[i]);
        method[i] = 0;
        snprintf(op_id, sizeof op_id, "%s.%s", r->service, r->rpc);
        if (route_raw(r)) {
            json_object_set_new(item, method, s_raw_operation(r, op_id));
            continue;
        }
        json_t *responses = json_object();
        bool created = strncmp(r->rpc, "Create", 6) == 0;  // Create, CreateTag, CreateNote
        bool empty = r->response->n_fields == 0;
        const char *ok = created ? "201" : empty ? "204" : "200";
        json_t *ok_resp = json_pack("{s:s}", "description", "success");
        if (route_download(r))
            json_object_set_new(ok_resp, "content",
                                json_pack("{s:{s:{s:s, s:s}}}", "application/octet-stream",
                                          "schema", "type", "string", "format", "binary"));
        else if (!empty)
            json_object_set_new(ok_resp, "content",
                                json_pack("{s:{s:o}}", "application/json", "schema",
                                          s_schema_ref(schemas, r->response)));
        for (size_t k = 0; s_answer_headers[k].service; k++) {
            if (strcmp(s_answer_headers[k].service, r->service) ||
                strcmp(s_answer_headers[k].rpc, r->rpc))
                continue;
            json_t *headers = json_object_get(ok_resp, "headers");
            if (!headers)
                json_object_set_new(ok_resp, "headers", headers = json_object());
            json_object_set_new(headers, s_answer_headers[k].header,
                                json_pack("{s:s, s:{s:s}}", "description",
                                          s_answer_headers[k].description, "schema", "type",
                                          "string"));
            if (strcmp(r->service, "contacts") == 0)
                json_object_set_new(
                    responses, "409",
                    json_pack("{s:s, s:{s:{s:{s:s}}}}", "description",
                              "possible_duplicate: a contact the duplicate check scores at or "
                              "above dedupe.block_threshold (error.candidates); send "
                              "\"allowDuplicate\": true to create it anyway. duplicate_email: "
                              "an address another contact holds (error.existingId)",
                              "content", "application/json", "schema", "$ref",
                              "#/components/schemas/Error"));
        }
        //  Every keyed answer carries the key's rate limit (ratelimit.h); over it, 429.
        json_t *rate_headers = s_rate_headers(false);
        json_t *ok_headers = json_object_get(ok_resp, "headers");
        if (ok_headers)
            json_object_update(ok_headers, rate_headers);
        else
            json_object_set(ok_resp, "headers", rate_headers);
        json_decref(rate_headers);
        json_object_set_new(responses, "429",
                            json_pack("{s:s, s:o, s:{s:{s:{s:s}}}}", "description",
                                      "rate_limited: the API key is over its role's rate limit "
                                      "(gateway.rate_<role>_per_second and _burst)",
                                      "headers", s_rate_headers(true), "content",
                                      "application/json", "schema", "$ref",
                                      "#/components/schemas/Error"));
        json_object_set_new(responses, ok, ok_resp);
        json_object_set_new(responses, "default",
                            json_pack("{s:s, s:{s:{s:{s:s}}}}", "description", "an error",
                                      "content", "application/json", "schema", "$ref",
                                      "#/components/schemas/Error"));
        json_t *op = json_pack("{s:s, s:s, s:[{s:[]}], s:o}", "operationId", op_id, "summary",
                               r->summary, "security", "bearer", "responses", responses);
        if (r->body) {
            const ProtobufCMessageDescriptor *body = r->request;
            json_t *beside = NULL;
            if (strcmp(r->body, "*") != 0) {
                body = crm_pb_field_by_name(r->request, r->body)->descriptor;
                beside = s_beside_body(schemas, r);
            }
            json_t *schema = s_schema_ref(schemas, body);
            if (beside) // the body's message and, beside its members, the request's own
                schema = json_pack("{s:[o, {s:s, s:o}]}", "allOf", schema, "type", "object",
                                   "properties", beside);
            json_object_set_new(op, "requestBody",
                                json_pack("{s:b, s:{s:{s:o}}}", "required", 1, "content",
                                          "application/json", "schema", schema));
        }
        json_object_set_new(item, method, op);
    }
    json_t *doc = json_pack(
        "{s:s, s:{s:s, s:s}, s:o, s:{s:o, s:{s:{s:s, s:s}}}}", "openapi", "3.0.3", "info",
        "title", "Dealer CRM API", "version", "1", "paths", paths, "components", "schemas",
        schemas, "securitySchemes", "bearer", "type", "http", "scheme", "bearer");
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    return text;
}
