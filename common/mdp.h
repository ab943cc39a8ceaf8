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

#endif
