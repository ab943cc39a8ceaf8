/*  openapi: /v1/openapi.json, generated from the route table and the protobuf
    descriptors, so the published contract cannot drift from the code. */
#ifndef GATEWAY_OPENAPI_H
#define GATEWAY_OPENAPI_H

//  The OpenAPI 3.0 document as JSON text (caller frees).
char *openapi_render(void);

#endif
