/*  dbloop: a database connection in pipeline mode, driven by a zloop.

    Shared by the service core (request batches) and the event relay (claims): both
    send statements down a pipeline and read the answers when the connection's socket
    is readable. This keeps the socket registered with the loop (again after a
    reconnect, which brings a new socket), reconnects at most once a second while the
    database is away, and after each read calls the owner back to carry on.

        crm_dbloop_init(&self->dbl, db, loop, on_answers, self);
        if (crm_dbloop_ready(&self->dbl))   // connected, pipelined, watched
            crm_db_query_async(db, ...); crm_db_pipeline_sync(db, ...);
*/
#ifndef CRM_DBLOOP_H
#define CRM_DBLOOP_H

#include <czmq.h>
#include <stdbool.h>

#include "db.h"

typedef struct {
    crm_db_t *db;
    zloop_t *loop;
    zmq_pollitem_t item;      // the connection's socket, while watched
    bool polled;
    int64_t next_connect_ms;  // no reconnect attempt before this
    void (*after)(void *arg); // called after each read of answers (may be NULL)
    void *arg;
} crm_dbloop_t;

void crm_dbloop_init(crm_dbloop_t *self, crm_db_t *db, zloop_t *loop, void (*after)(void *arg),
                     void *arg);

//  Connected (reconnecting at most once a second while the database is away).
bool crm_dbloop_connected(crm_dbloop_t *self);

//  Connected, in pipeline mode, and the socket watched by the loop.
bool crm_dbloop_ready(crm_dbloop_t *self);

//  Stop watching the socket.
void crm_dbloop_end(crm_dbloop_t *self);

#endif
