/*  fuzz_mdp: libFuzzer target for the Majordomo framing parsers (common/mdp.c).

    Input format, so that the fuzzer can reach deep into the frame structure:
        byte 0          number of frames (0..255)
        per frame       one length byte; 255 means "two more bytes, big-endian length"
                        then that many bytes (cut short where the input ends)
    The frames go to crm_mdp_parse_router (with and without a frame size limit),
    crm_mdp_parse_worker and crm_mdp_parse_client_reply, and, as views, to the
    crm_mdp_layout_* functions. Any crash, leak or broken invariant is a finding.

    Build (see scripts/fuzz.sh):
        clang -fsanitize=fuzzer,address,undefined -Icommon tests/fuzz/fuzz_mdp.c \
            common/mdp.c -lczmq -lzmq
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mdp.h"

#define S_FRAMES_MAX 255

static void s_check(bool condition) {
    if (!condition)
        __builtin_trap();
}

//  Split the input into frames; returns how many.
static size_t s_split(const uint8_t *data, size_t size, crm_mdp_frame_t *frames) {
    if (size == 0)
        return 0;
    size_t count = data[0];
    size_t at = 1;
    for (size_t i = 0; i < count; i++) {
        size_t length = 0;
        if (at < size)
            length = data[at++];
        if (length == 255) {
            length = 0;
            for (int b = 0; b < 2; b++)
                length = (length << 8) | (at < size ? data[at++] : 0);
        }
        if (length > size - at)
            length = size - at;
        frames[i] = (crm_mdp_frame_t){data + at, length};
        at += length;
    }
    return count;
}

static zmsg_t *s_message(const crm_mdp_frame_t *frames, size_t count) {
    zmsg_t *msg = zmsg_new();
    for (size_t i = 0; i < count; i++)
        zmsg_addmem(msg, frames[i].data, frames[i].size);
    return msg;
}

//  What must hold after any parse.
static void s_check_result(int rc, const crm_mdp_msg_t *out, const char *reason, bool routed) {
    if (rc != 0) {
        s_check(rc == -1);
        s_check(reason != NULL && reason[0] != '\0');
        s_check(!out->sender && !out->client && !out->body);
        return;
    }
    s_check(strlen(out->service) <= CRM_MDP_SERVICE_MAX);
    s_check(routed == (out->sender != NULL));
    if (out->peer == CRM_MDP_CLIENT) {
        s_check(out->command == 0);
        s_check(out->service[0] != '\0');
        s_check(out->body && zmsg_size(out->body) >= 1);
    } else {
        s_check(out->peer == CRM_MDP_WORKER);
        s_check(strcmp(crm_mdp_command_name(out->command), "?") != 0);
        bool envelope = out->command == CRM_MDPW_REQUEST || out->command == CRM_MDPW_REPLY;
        s_check(envelope == (out->client != NULL));
        s_check(envelope == (out->body != NULL));
        s_check((out->command == CRM_MDPW_READY) == (out->service[0] != '\0'));
    }
}

static void s_check_layout(int rc, const crm_mdp_layout_t *layout, size_t count) {
    if (rc != 0)
        return;
    s_check(layout->body < (int)count);
    s_check(layout->service < (int)count);
    s_check(layout->client < (int)count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static crm_mdp_frame_t frames[S_FRAMES_MAX];
    size_t count = s_split(data, size, frames);
    crm_mdp_msg_t out;
    crm_mdp_layout_t layout;
    const char *reason;

    size_t limits[] = {0, 16};
    for (size_t i = 0; i < 2; i++) {
        zmsg_t *msg = s_message(frames, count);
        reason = NULL;
        int rc = crm_mdp_parse_router(&msg, &out, limits[i], &reason);
        s_check(msg == NULL);
        s_check_result(rc, &out, reason, true);
        crm_mdp_msg_reset(&out);
        s_check_layout(crm_mdp_layout_router(frames, count, limits[i], &layout, &reason), &layout,
                       count);
    }

    zmsg_t *msg = s_message(frames, count);
    reason = NULL;
    int rc = crm_mdp_parse_worker(&msg, &out, &reason);
    s_check(msg == NULL);
    s_check_result(rc, &out, reason, false);
    crm_mdp_msg_reset(&out);
    s_check_layout(crm_mdp_layout_worker(frames, count, &layout, &reason), &layout, count);

    msg = s_message(frames, count);
    reason = NULL;
    rc = crm_mdp_parse_client_reply(&msg, &out, &reason);
    s_check(msg == NULL);
    s_check_result(rc, &out, reason, false);
    s_check(rc != 0 || out.peer == CRM_MDP_CLIENT);
    crm_mdp_msg_reset(&out);
    s_check_layout(crm_mdp_layout_client_reply(frames, count, &layout, &reason), &layout, count);
    return 0;
}
