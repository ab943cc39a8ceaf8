/*  zap: a ZAP handler over a directory of public certificates. See zap.h.

    The actor owns a REP socket bound to inproc://zeromq.zap.01 and the key table
    (public key, Z85 -> name, roles, pii). A request is answered from the table: 200 with
    the key's metadata, or 400. The table is loaded at start and again when a request
    comes and the directory changed (a key added or deleted) or a second has passed (a
    file rewritten in place); a certificate whose roles do not parse is left out,
    with a warning naming it and the problem.
*/
#include "zap.h"
#include "log.h"
#include "peer.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define S_RELOAD_MS 1000
#define S_REFUSALS_LOGGED_PER_SECOND 5

typedef struct {
    char *name;
    char *roles;
    bool pii;
} s_key_t;

typedef struct {
    char *dir;
    zsock_t *pipe;
    zsock_t *handler;
    zhashx_t *keys; // public key (Z85) -> s_key_t
    int64_t loaded_at;
    struct timespec loaded_stamp; // the directory's mtime when loaded
    int64_t refusal_second;       // rate of refusal log lines
    int refusals_logged;
} s_state_t;

struct _zap_t {
    zactor_t *actor;
    s_state_t state; // the actor's from its start: its socket is bound here first
};

static void s_key_destroy(void **item) {
    s_key_t *key = *item;
    if (key) {
        free(key->name);
        free(key->roles);
        free(key);
    }
    *item = NULL;
}

//  The directory's modification time (a key added or deleted changes it).
static struct timespec s_stamp(const char *dir) {
    struct stat info;
    if (stat(dir, &info) != 0)
        return (struct timespec){0, 0};
    return info.st_mtim;
}

//  Read every NAME.key in the directory into a new table.
static void s_load(s_state_t *self) {
    self->loaded_stamp = s_stamp(self->dir);
    zhashx_t *keys = zhashx_new();
    zhashx_set_destructor(keys, s_key_destroy);
    DIR *dir = opendir(self->dir);
    struct dirent *entry;
    while (dir && (entry = readdir(dir))) {
        size_t len = strlen(entry->d_name);
        if (len < 5 || strcmp(entry->d_name + len - 4, ".key") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", self->dir, entry->d_name);
        zcert_t *cert = zcert_load(path);
        if (!cert)
            continue;
        const char *roles = zcert_meta(cert, "roles");
        const char *pii = zcert_meta(cert, "pii");
        crm_peer_t peer;
        char problem[256];
        if (crm_peer_parse(roles, &peer, problem, sizeof problem)) {
            //  Said on every reload until fixed: once a second at most, while in use.
            crm_log_kv(CRM_LOG_WARN, "ignoring a key with bad roles", "path", path, "detail",
                       problem, "hint", "make it again: crmctl certs create NAME --role ROLE",
                       NULL);
            zcert_destroy(&cert);
            continue;
        }
        s_key_t *key = calloc(1, sizeof *key);
        key->name = strndup(entry->d_name, len - 4);
        key->roles = strdup(roles);
        key->pii = !(pii && strcmp(pii, "false") == 0);
        if (zhashx_insert(keys, zcert_public_txt(cert), key) != 0) {
            void *item = key;
            s_key_destroy(&item);
        }
        zcert_destroy(&cert);
    }
    if (dir)
        closedir(dir);
    else if (self->loaded_at == 0)
        crm_log_kv(CRM_LOG_WARN, "no keys directory: every CURVE client is refused", "path",
                   self->dir, "hint", "crmctl certs create NAME --role ROLE makes it", NULL);
    zhashx_destroy(&self->keys);
    self->keys = keys;
    self->loaded_at = zclock_mono();
}

//  The ZAP metadata of a key: "roles" and "pii", each a name of one byte's length, the
//  name, a 4-byte big-endian length, the value (ZMTP 3.0 property encoding).
static size_t s_put_property(byte *out, const char *name, const char *value) {
    size_t name_size = strlen(name), value_size = strlen(value);
    out[0] = (byte)name_size;
    memcpy(out + 1, name, name_size);
    out += 1 + name_size;
    out[0] = (byte)(value_size >> 24);
    out[1] = (byte)(value_size >> 16);
    out[2] = (byte)(value_size >> 8);
    out[3] = (byte)value_size;
    memcpy(out + 4, value, value_size);
    return 1 + name_size + 4 + value_size;
}

static void s_refused(s_state_t *self, const char *why, const char *address, const char *key) {
    int64_t second = zclock_mono() / 1000;
    if (second != self->refusal_second) {
        self->refusal_second = second;
        self->refusals_logged = 0;
    }
    if (self->refusals_logged++ < S_REFUSALS_LOGGED_PER_SECOND)
        crm_log_kv(CRM_LOG_WARN, "refused a ZeroMQ connection", "reason", why, "peer", address,
                   "key", key, NULL);
}

//  One ZAP request: version, request id, domain, address, routing id, mechanism, then
//  the mechanism's credentials (CURVE: the client's 32-byte public key).
static void s_answer(s_state_t *self) {
    zmsg_t *request = zmsg_recv(self->handler);
    if (!request)
        return;
    char *version = zmsg_popstr(request);
    char *request_id = zmsg_popstr(request);
    char *domain = zmsg_popstr(request);
    char *address = zmsg_popstr(request);
    zframe_t *identity = zmsg_pop(request);
    char *mechanism = zmsg_popstr(request);
    zframe_t *credentials = zmsg_pop(request);

    const char *status = "400", *text = "unknown key", *user = "";
    byte metadata[1024];
    size_t metadata_size = 0;
    char key_text[41] = "";
    if (!mechanism || strcmp(mechanism, "CURVE") != 0 || !credentials ||
        zframe_size(credentials) != 32) {
        text = "CURVE required";
        s_refused(self, text, address ? address : "", "");
    } else {
        zmq_z85_encode(key_text, zframe_data(credentials), 32);
        //  Again when a key came or went, and at least once a second (a file replaced).
        struct timespec stamp = s_stamp(self->dir);
        if (zclock_mono() - self->loaded_at >= S_RELOAD_MS ||
            stamp.tv_sec != self->loaded_stamp.tv_sec ||
            stamp.tv_nsec != self->loaded_stamp.tv_nsec)
            s_load(self);
        s_key_t *key = zhashx_lookup(self->keys, key_text);
        if (key && strlen(key->roles) < sizeof metadata - 32) {
            status = "200";
            text = "OK";
            user = key->name;
            metadata_size = s_put_property(metadata, "roles", key->roles);
            metadata_size +=
                s_put_property(metadata + metadata_size, "pii", key->pii ? "true" : "false");
        } else
            s_refused(self, "unknown key", address ? address : "", key_text);
    }
    zmsg_t *reply = zmsg_new();
    zmsg_addstr(reply, "1.0");
    zmsg_addstr(reply, request_id ? request_id : "");
    zmsg_addstr(reply, status);
    zmsg_addstr(reply, text);
    zmsg_addstr(reply, user);
    zmsg_addmem(reply, metadata, metadata_size);
    zmsg_send(&reply, self->handler);

    free(version);
    free(request_id);
    free(domain);
    free(address);
    free(mechanism);
    zframe_destroy(&identity);
    zframe_destroy(&credentials);
    zmsg_destroy(&request);
}

//  The actor: answers ZAP requests until told to end. Its handler socket was bound by
//  zap_new (so a bind failure is the caller's to see) and is the actor's from now on.
static void s_actor(zsock_t *pipe, void *arg) {
    s_state_t *state = arg;
    s_state_t self = *state;
    self.pipe = pipe;
    s_load(&self);
    zsock_signal(pipe, 0);
    zpoller_t *poller = zpoller_new(pipe, self.handler, NULL);
    while (true) {
        void *which = zpoller_wait(poller, -1);
        if (which == pipe || !which) {
            //  $TERM from zactor_destroy, or the context is ending.
            zmsg_t *msg = which ? zmsg_recv(pipe) : NULL;
            zmsg_destroy(&msg);
            if (which == pipe || zpoller_terminated(poller))
                break;
            continue;
        }
        s_answer(&self);
    }
    zpoller_destroy(&poller);
    zsock_destroy(&self.handler);
    zhashx_destroy(&self.keys);
}

zap_t *zap_new(const crm_config_t *cfg) {
    zap_t *self = calloc(1, sizeof *self);
    assert(self);
    self->state.dir = cfg->security_keys_dir;
    self->state.handler = zsock_new(ZMQ_REP);
    if (!self->state.handler || zsock_bind(self->state.handler, S_ZAP_ENDPOINT) != 0) {
        crm_log_kv(CRM_LOG_ERROR, "could not start the ZAP handler", "detail",
                   zmq_strerror(zmq_errno()), NULL);
        zsock_destroy(&self->state.handler);
        free(self);
        return NULL;
    }
    crm_log_kv(CRM_LOG_INFO, "CurveZMQ on: admitting the keys in", "path", self->state.dir, NULL);
    self->actor = zactor_new(s_actor, &self->state);
    if (!self->actor) {
        zsock_destroy(&self->state.handler);
        free(self);
        return NULL;
    }
    return self;
}

void zap_destroy(zap_t **self_p) {
    assert(self_p);
    zap_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy(&self->actor);
    free(self);
    *self_p = NULL;
}
