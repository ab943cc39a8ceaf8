/*  call_fixture: a request's call for unit tests of code that records errors on one
    (crm_call_error, crm_call_field_error) without a service around it. */
#ifndef CRM_TEST_CALL_FIXTURE_H
#define CRM_TEST_CALL_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "service.h"

//  Free the field errors recorded on call and clear it for the next case.
static inline void call_fixture_reset(crm_call_t *call) {
    crm_errors_reset(&call->errors);
    memset(call, 0, sizeof *call);
}

#endif
