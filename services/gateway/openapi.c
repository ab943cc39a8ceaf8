/*  openapi: the API description, derived from routes and descriptors. See openapi.h. */
#include "openapi.h"
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

static json_t *s_error_schema(void) {
    return json_pack(
        "{s:s, s:{s:{s:s, s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s, s:{s:s, s:{s:{s:s}, s:{s:s}}}}}}}}",
        "type", "object", "properties", "error", "type", "object", "properties", "code", "type",
        "string", "message", "type", "string", "existingId", "type", "string", "fields", "type",
        "array", "items", "type", "object", "properties", "field", "type", "string", "message",
        "type", "string");
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

char *openapi_render(void) {
    json_t *schemas = json_object();
    json_object_set_new(schemas, "Error", s_error_schema());
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
        json_object_set_new(responses, ok, ok_resp);
        json_object_set_new(responses, "default",
                            json_pack("{s:s, s:{s:{s:{s:s}}}}", "description", "an error",
                                      "content", "application/json", "schema", "$ref",
                                      "#/components/schemas/Error"));
        json_t *op = json_pack("{s:s, s:s, s:[{s:[]}], s:o}", "operationId", op_id, "summary",
                               r->summary, "security", "bearer", "responses", responses);
        if (r->body) {
            const ProtobufCMessageDescriptor *body = r->request;
            if (strcmp(r->body, "*") != 0)
                body = crm_pb_field_by_name(r->request, r->body)->descriptor;
            json_object_set_new(op, "requestBody",
                                json_pack("{s:b, s:{s:{s:o}}}", "required", 1, "content",
                                          "application/json", "schema",
                                          s_schema_ref(schemas, body)));
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
