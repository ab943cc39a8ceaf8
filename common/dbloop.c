/*  dbloop: a pipelined database connection driven by a zloop. See dbloop.h. */
#include "dbloop.h"

void crm_dbloop_init(crm_dbloop_t *self, crm_db_t *db, zloop_t *loop, void (*after)(void *arg),
                     void *arg) {
    *self = (crm_dbloop_t){.db = db, .loop = loop, .after = after, .arg = arg};
}

bool crm_dbloop_connected(crm_dbloop_t *self) {
    if (crm_db_ok(self->db))
        return true;
    int64_t now = zclock_mono();
    if (now < self->next_connect_ms)
        return false;
    self->next_connect_ms = now + 1000;
    return crm_db_connect(self->db, 0) == 0;
}

void crm_dbloop_end(crm_dbloop_t *self) {
    if (self->polled && self->loop)
        zloop_poller_end(self->loop, &self->item);
    self->polled = false;
}

//  Answers arrived: run their callbacks; when the connection is gone, stop watching
//  its socket (crm_dbloop_ready watches the next one). Then the owner carries on.
static int s_on_readable(zloop_t *loop, zmq_pollitem_t *item, void *arg) {
    (void)loop;
    (void)item;
    crm_dbloop_t *self = arg;
    if (crm_db_pipeline_pump(self->db) != 0)
        crm_dbloop_end(self);
    if (self->after)
        self->after(self->arg);
    return 0;
}

bool crm_dbloop_ready(crm_dbloop_t *self) {
    if (!crm_dbloop_connected(self))
        return false;
    if (!crm_db_pipelined(self->db) && crm_db_pipeline_open(self->db) != 0)
        return false;
    int fd = crm_db_socket(self->db);
    if (self->polled && self->item.fd != fd)
        crm_dbloop_end(self);
    if (!self->polled) {
        self->item = (zmq_pollitem_t){.fd = fd, .events = ZMQ_POLLIN};
        self->polled = zloop_poller(self->loop, &self->item, s_on_readable, self) == 0;
        if (self->polled)
            zloop_poller_set_tolerant(self->loop, &self->item);
    }
    return self->polled;
}
