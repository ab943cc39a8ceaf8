/*  mdp: Majordomo Protocol 0.1 (ZeroMQ RFC 7) framing.

    One validator, s_layout, walks a message as an array of frame views and says where
    its parts lie or why it is malformed. The broker calls it on raw zmq_msg_t frames
    (no copies); the zmsg_t parsers wrap it for the worker and client classes. What each
    worker command looks like, and which way it may travel, is the table s_commands.
    Nothing here logs: callers log the reason and drop the message.
*/
#include "mdp.h"

#include <stdbool.h>
#include <string.h>

//  Which socket received the message, and so which commands are legal.
typedef enum {
    S_TO_BROKER, // broker's ROUTER: client requests, READY/REPLY/HEARTBEAT/DISCONNECT
    S_TO_WORKER, // worker's DEALER: REQUEST/HEARTBEAT/DISCONNECT
    S_TO_CLIENT, // client's DEALER: client replies
} s_direction_t;

//  What follows a worker command frame.
typedef enum {
    S_ARGS_NONE,     // nothing
    S_ARGS_SERVICE,  // service name, nothing after it
    S_ARGS_ENVELOPE, // client address, empty delimiter, one or more body frames
} s_args_t;

typedef struct {
    const char *name;
    s_args_t args;
    bool to_broker;
    bool to_worker;
    const char *wrong_way;    // reason when it travels the wrong way
    const char *no_first;     // no service name / no client address
    const char *no_delimiter; // envelope without the empty delimiter
    const char *no_body;      // envelope without body
    const char *extra;        // trailing frames
} s_command_t;

static const s_command_t s_commands[] = {
    [CRM_MDPW_READY] = {"READY", S_ARGS_SERVICE, true, false, "READY sent to a worker",
                        "READY without service name", NULL, NULL, "READY with extra frames"},
    [CRM_MDPW_REQUEST] = {"REQUEST", S_ARGS_ENVELOPE, false, true, "REQUEST sent to the broker",
                          "REQUEST without client address", "REQUEST without empty delimiter",
                          "REQUEST without body", NULL},
    [CRM_MDPW_REPLY] = {"REPLY", S_ARGS_ENVELOPE, true, false, "REPLY sent to a worker",
                        "REPLY without client address", "REPLY without empty delimiter",
                        "REPLY without body", NULL},
    [CRM_MDPW_HEARTBEAT] = {"HEARTBEAT", S_ARGS_NONE, true, true, NULL, NULL, NULL, NULL,
                            "HEARTBEAT with extra frames"},
    [CRM_MDPW_DISCONNECT] = {"DISCONNECT", S_ARGS_NONE, true, true, NULL, NULL, NULL, NULL,
                             "DISCONNECT with extra frames"},
};

#define S_COMMAND_LAST CRM_MDPW_DISCONNECT

static bool s_frame_is(const crm_mdp_frame_t *frame, const char *text) {
    size_t size = strlen(text);
    return frame->size == size && (size == 0 || memcmp(frame->data, text, size) == 0);
}

//  A service name is 1..CRM_MDP_SERVICE_MAX printable bytes: it becomes a C string, a
//  hash key and a log field, so NUL and control characters are refused.
static int s_check_service(const crm_mdp_frame_t *frame, const char **reason) {
    if (frame->size == 0) {
        *reason = "empty service name";
        return -1;
    }
    if (frame->size > CRM_MDP_SERVICE_MAX) {
        *reason = "service name too long";
        return -1;
    }
    const unsigned char *bytes = frame->data;
    for (size_t i = 0; i < frame->size; i++) {
        if (bytes[i] < 0x20 || bytes[i] == 0x7f) {
            *reason = "service name contains control characters";
            return -1;
        }
    }
    return 0;
}

//  Validate frames[first..count) as an MDP message travelling in direction dir and
//  record where its parts are. first is 1 on a ROUTER (frame 0 is the routing id).
static int s_layout(const crm_mdp_frame_t *frames, size_t count, size_t first, s_direction_t dir,
                    crm_mdp_layout_t *layout, const char **reason) {
    *layout = (crm_mdp_layout_t){.service = -1, .client = -1, .body = -1};
    if (count == 0) {
        *reason = "empty message";
        return -1;
    }
    if (count > CRM_MDP_FRAMES_MAX) {
        *reason = "too many frames";
        return -1;
    }
    if (first && frames[0].size == 0) {
        *reason = "empty routing id";
        return -1;
    }
    if (count < first + 2) {
        *reason = "message too short for an MDP header";
        return -1;
    }
    if (frames[first].size != 0) {
        *reason = "missing empty delimiter before the protocol header";
        return -1;
    }
    const crm_mdp_frame_t *header = &frames[first + 1];
    size_t at = first + 2; // first frame after the protocol header

    if (s_frame_is(header, CRM_MDPC)) {
        if (dir == S_TO_WORKER) {
            *reason = "client message sent to a worker";
            return -1;
        }
        if (count <= at) {
            *reason = "client message without service name";
            return -1;
        }
        if (s_check_service(&frames[at], reason))
            return -1;
        if (count <= at + 1) {
            *reason = "client message without body";
            return -1;
        }
        layout->peer = CRM_MDP_CLIENT;
        layout->service = (int)at;
        layout->body = (int)at + 1;
        return 0;
    }
    if (!s_frame_is(header, CRM_MDPW)) {
        *reason = "unknown protocol header";
        return -1;
    }
    if (dir == S_TO_CLIENT) {
        *reason = "worker command sent to a client";
        return -1;
    }
    if (count <= at) {
        *reason = "worker message without command";
        return -1;
    }
    if (frames[at].size != 1) {
        *reason = "malformed command frame";
        return -1;
    }
    int command = *(const unsigned char *)frames[at].data;
    if (command < CRM_MDPW_READY || command > S_COMMAND_LAST) {
        *reason = "unknown command";
        return -1;
    }
    const s_command_t *spec = &s_commands[command];
    if ((dir == S_TO_BROKER && !spec->to_broker) || (dir == S_TO_WORKER && !spec->to_worker)) {
        *reason = spec->wrong_way;
        return -1;
    }
    at++;
    layout->peer = CRM_MDP_WORKER;
    layout->command = command;
    switch (spec->args) {
    case S_ARGS_NONE:
        if (count > at) {
            *reason = spec->extra;
            return -1;
        }
        return 0;
    case S_ARGS_SERVICE:
        if (count <= at) {
            *reason = spec->no_first;
            return -1;
        }
        if (s_check_service(&frames[at], reason))
            return -1;
        if (count > at + 1) {
            *reason = spec->extra;
            return -1;
        }
        layout->service = (int)at;
        return 0;
    case S_ARGS_ENVELOPE:
        if (count <= at || frames[at].size == 0) {
            *reason = spec->no_first;
            return -1;
        }
        if (count <= at + 1 || frames[at + 1].size != 0) {
            *reason = spec->no_delimiter;
            return -1;
        }
        if (count <= at + 2) {
            *reason = spec->no_body;
            return -1;
        }
        layout->client = (int)at;
        layout->body = (int)at + 2;
        return 0;
    }
    *reason = "unknown command";
    return -1;
}

int crm_mdp_layout_router(const crm_mdp_frame_t *frames, size_t count, size_t max_frame_bytes,
                          crm_mdp_layout_t *layout, const char **reason) {
    if (max_frame_bytes > 0) {
        for (size_t i = 0; i < count && i < CRM_MDP_FRAMES_MAX; i++) {
            if (frames[i].size > max_frame_bytes) {
                *layout = (crm_mdp_layout_t){.service = -1, .client = -1, .body = -1};
                *reason = "frame exceeds the size limit";
                return -1;
            }
        }
    }
    return s_layout(frames, count, 1, S_TO_BROKER, layout, reason);
}

int crm_mdp_layout_worker(const crm_mdp_frame_t *frames, size_t count, crm_mdp_layout_t *layout,
                          const char **reason) {
    return s_layout(frames, count, 0, S_TO_WORKER, layout, reason);
}

int crm_mdp_layout_client_reply(const crm_mdp_frame_t *frames, size_t count,
                                crm_mdp_layout_t *layout, const char **reason) {
    return s_layout(frames, count, 0, S_TO_CLIENT, layout, reason);
}

//  Common body of the zmsg_t parsers: view the frames, validate them with the given
//  layout function, then move the parts into out. Always destroys *msg_p.
typedef int(s_layout_fn)(const crm_mdp_frame_t *frames, size_t count, size_t max_frame_bytes,
                         crm_mdp_layout_t *layout, const char **reason);

static int s_layout_worker(const crm_mdp_frame_t *frames, size_t count, size_t max_frame_bytes,
                           crm_mdp_layout_t *layout, const char **reason) {
    (void)max_frame_bytes;
    return crm_mdp_layout_worker(frames, count, layout, reason);
}

static int s_layout_client(const crm_mdp_frame_t *frames, size_t count, size_t max_frame_bytes,
                           crm_mdp_layout_t *layout, const char **reason) {
    (void)max_frame_bytes;
    return crm_mdp_layout_client_reply(frames, count, layout, reason);
}

static int s_parse(zmsg_t **msg_p, crm_mdp_msg_t *out, size_t max_frame_bytes,
                   s_layout_fn *layout_fn, bool routed, const char **reason) {
    assert(out);
    assert(reason);
    memset(out, 0, sizeof(*out));
    if (!msg_p || !*msg_p) {
        *reason = "no message";
        return -1;
    }
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;

    size_t count = zmsg_size(msg);
    if (count > CRM_MDP_FRAMES_MAX) {
        zmsg_destroy(&msg);
        *reason = "too many frames";
        return -1;
    }
    crm_mdp_frame_t frames[CRM_MDP_FRAMES_MAX];
    size_t index = 0;
    for (zframe_t *frame = zmsg_first(msg); frame; frame = zmsg_next(msg))
        frames[index++] = (crm_mdp_frame_t){zframe_data(frame), zframe_size(frame)};

    crm_mdp_layout_t layout;
    if (layout_fn(frames, count, max_frame_bytes, &layout, reason)) {
        zmsg_destroy(&msg);
        return -1;
    }
    out->peer = layout.peer;
    out->command = layout.command;
    if (layout.service >= 0) {
        memcpy(out->service, frames[layout.service].data, frames[layout.service].size);
        out->service[frames[layout.service].size] = '\0';
    }
    //  Move the parts we keep out of msg; what remains after the body index is the body.
    for (int i = 0; i < (int)count && (layout.body < 0 || i < layout.body); i++) {
        zframe_t *frame = zmsg_pop(msg);
        if (routed && i == 0)
            out->sender = frame;
        else if (i == layout.client)
            out->client = frame;
        else
            zframe_destroy(&frame);
    }
    if (layout.body >= 0)
        out->body = msg;
    else
        zmsg_destroy(&msg);
    return 0;
}

int crm_mdp_parse_router(zmsg_t **msg_p, crm_mdp_msg_t *out, size_t max_frame_bytes,
                         const char **reason) {
    return s_parse(msg_p, out, max_frame_bytes, crm_mdp_layout_router, true, reason);
}

int crm_mdp_parse_worker(zmsg_t **msg_p, crm_mdp_msg_t *out, const char **reason) {
    return s_parse(msg_p, out, 0, s_layout_worker, false, reason);
}

int crm_mdp_parse_client_reply(zmsg_t **msg_p, crm_mdp_msg_t *out, const char **reason) {
    return s_parse(msg_p, out, 0, s_layout_client, false, reason);
}

void crm_mdp_msg_reset(crm_mdp_msg_t *msg) {
    if (!msg)
        return;
    zframe_destroy(&msg->sender);
    zframe_destroy(&msg->client);
    zmsg_destroy(&msg->body);
    memset(msg, 0, sizeof(*msg));
}

const char *crm_mdp_command_name(int command) {
    if (command < CRM_MDPW_READY || command > S_COMMAND_LAST)
        return "?";
    return s_commands[command].name;
}

int crm_mdp_send(void *dest, zmsg_t **msg_p) {
    assert(dest);
    assert(msg_p);
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    if (!msg)
        return -1;
    void *handle = zsock_resolve(dest);
    size_t left = zmsg_size(msg);
    int rc = left ? 0 : -1;
    //  ZFRAME_REUSE: zframe_send copies (a reference count for large frames) and never
    //  takes the frame, so ownership stays here whatever happens.
    for (zframe_t *frame = zmsg_first(msg); frame && rc == 0; frame = zmsg_next(msg)) {
        left--;
        int flags = ZFRAME_REUSE | ZFRAME_DONTWAIT | (left ? ZFRAME_MORE : 0);
        rc = zframe_send(&frame, handle, flags);
    }
    int error = errno;
    zmsg_destroy(&msg);
    errno = error;
    return rc;
}
