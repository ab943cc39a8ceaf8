/*  mdp: Majordomo Protocol 0.1 (ZeroMQ RFC 7) framing, shared by the broker, the
    worker class and the client class.

    Client request (client -> broker):   [client id] "" "MDPC01" service body...
    Client reply (broker -> client):     [client id] "" "MDPC01" service body...
    Worker commands (worker <-> broker): [worker id] "" "MDPW01" command ...
        READY 0x01       service
        REQUEST 0x02     client-address "" body...          (broker -> worker)
        REPLY 0x03       client-address "" body...          (worker -> broker)
        HEARTBEAT 0x04
        DISCONNECT 0x05
    ([id] is present only on the ROUTER side.)

    The parse functions never trust their input: a malformed message yields -1 and a
    reason, and the caller logs and drops it.
*/
#ifndef CRM_MDP_H
#define CRM_MDP_H

#include <czmq.h>

#define CRM_MDPC "MDPC01"
#define CRM_MDPW "MDPW01"

#define CRM_MDPW_READY      0x01
#define CRM_MDPW_REQUEST    0x02
#define CRM_MDPW_REPLY      0x03
#define CRM_MDPW_HEARTBEAT  0x04
#define CRM_MDPW_DISCONNECT 0x05

#define CRM_MDP_SERVICE_MAX 255

typedef enum {
    CRM_MDP_CLIENT = 1,  // a client request (or, on the client side, a reply)
    CRM_MDP_WORKER = 2,  // a worker command
} crm_mdp_peer_t;

//  One parsed message. Frames are owned by the struct; crm_mdp_msg_reset frees them.
typedef struct {
    crm_mdp_peer_t peer;
    zframe_t *sender;                    // ROUTER side only: the peer's routing id
    int command;                         // worker command (0 for client messages)
    char service[CRM_MDP_SERVICE_MAX + 1]; // client request/reply and READY
    zframe_t *client;                    // REQUEST/REPLY: the client's address
    zmsg_t *body;                        // client request/reply, REQUEST, REPLY: body frames
} crm_mdp_msg_t;

//  Parse a message received on the broker's ROUTER socket. Takes ownership of *msg_p
//  (always destroys it). Returns 0 and fills out, or -1 with *reason set to a static
//  message ("unknown protocol header", "READY without service name", ...).
//  max_frame_bytes > 0 rejects messages with a larger frame.
int crm_mdp_parse_router(zmsg_t **msg_p, crm_mdp_msg_t *out, size_t max_frame_bytes,
                         const char **reason);

//  Parse a message received by a worker's DEALER socket (no routing id frame).
int crm_mdp_parse_worker(zmsg_t **msg_p, crm_mdp_msg_t *out, const char **reason);

//  Parse a reply received by a client's DEALER socket ("" "MDPC01" service body...).
int crm_mdp_parse_client_reply(zmsg_t **msg_p, crm_mdp_msg_t *out, const char **reason);

//  Free the frames held by msg and zero it.
void crm_mdp_msg_reset(crm_mdp_msg_t *msg);

//  Printable name of a worker command ("READY", ...) or "?".
const char *crm_mdp_command_name(int command);

//  Send every frame of *msg_p on dest without blocking (ZMQ_DONTWAIT). Always destroys
//  the message, whether or not it went out (zmsg_send leaks or keeps frames on some
//  failures, depending on the CZMQ version). Returns 0 or -1 (errno from zmq).
int crm_mdp_send(void *dest, zmsg_t **msg_p);

//  --- Zero-copy parsing (the broker's hot path) ----------------------------------------
//  The broker reads raw zmq_msg_t frames and validates them in place with these; the
//  zmsg_t parsers above are built on them, so both apply the same rules.

//  Most frames a message may have; longer messages are rejected.
#define CRM_MDP_FRAMES_MAX 64

//  A read-only view of one frame.
typedef struct {
    const void *data;
    size_t size;
} crm_mdp_frame_t;

//  Where the parts of a valid message lie, as indexes into its frames (-1: absent).
//  The body runs from frame `body` to the last frame.
typedef struct {
    crm_mdp_peer_t peer;
    int command;  // worker command (0 for client messages)
    int service;  // service name: client request/reply, READY
    int client;   // client address: REQUEST, REPLY
    int body;     // first body frame: client request/reply, REQUEST, REPLY
} crm_mdp_layout_t;

//  Validate a message received on a ROUTER socket (frame 0 is the routing id).
//  Returns 0 and fills layout, or -1 with *reason set to a static message.
int crm_mdp_layout_router(const crm_mdp_frame_t *frames, size_t count, size_t max_frame_bytes,
                          crm_mdp_layout_t *layout, const char **reason);

//  Validate a message received by a worker's DEALER socket.
int crm_mdp_layout_worker(const crm_mdp_frame_t *frames, size_t count,
                          crm_mdp_layout_t *layout, const char **reason);

//  Validate a reply received by a client's DEALER socket.
int crm_mdp_layout_client_reply(const crm_mdp_frame_t *frames, size_t count,
                                crm_mdp_layout_t *layout, const char **reason);

#endif
