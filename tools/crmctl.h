/*  crmctl: what the command files share. crmctl.c holds main, the command table and the
    API key commands; crmctl_events.c and crmctl_reporting.c hold the commands that
    talk to the suite over ZeroMQ instead of the database.
*/
#ifndef CRMCTL_H
#define CRMCTL_H

#include <czmq.h>
#include <protobuf-c/protobuf-c.h>

#include "bus_client.h"
#include "common.pb-c.h"
#include "config.h"
#include "db.h"

//  What a command runs with: the loaded settings, and the gateway's database when the
//  command's table entry asks for it (NULL otherwise).
typedef struct {
    const crm_config_t *cfg;
    crm_db_t *db;
} crmctl_t;

//  A command: argv[0] is its name, options follow. Returns the exit status: 0, 1 when
//  the work failed, 2 for a bad command line (main then prints the command's usage).
typedef int(crmctl_command_fn)(crmctl_t *ctl, int argc, char **argv);

//  crmctl certs create NAME --role ROLE[,ROLE...] [--pii false] [--out DIR] [--replace]
//  (crmctl_certs.c)
int crmctl_certs_create(crmctl_t *ctl, int argc, char **argv);
//  crmctl certs list
int crmctl_certs_list(crmctl_t *ctl, int argc, char **argv);

//  crmctl events tail [--topic PREFIX] [--from SEQ] [--count N]
int crmctl_events_tail(crmctl_t *ctl, int argc, char **argv);

//  crmctl reporting rebuild [--mode MODE] [--timeout SECONDS] [--no-wait]
int crmctl_reporting_rebuild(crmctl_t *ctl, int argc, char **argv);

//  crmctl reporting status
int crmctl_reporting_status(crmctl_t *ctl, int argc, char **argv);

//  crmctl scoring rebuild (crmctl_scoring.c)
int crmctl_scoring_rebuild(crmctl_t *ctl, int argc, char **argv);

//  crmctl contacts export --tenant T --format csv|xlsx [--fields F,..] [--filter F]
//  [--marketing] [--timeout SECONDS] -o FILE (crmctl_export.c)
int crmctl_contacts_export(crmctl_t *ctl, int argc, char **argv);
//  crmctl contacts import FILE --tenant T [--map "Header=field,..."] [--dry-run] ...
int crmctl_contacts_import(crmctl_t *ctl, int argc, char **argv);

//  crmctl contacts import-template --tenant T [--output FILE]
int crmctl_contacts_import_template(crmctl_t *ctl, int argc, char **argv);

//  crmctl notify unsubscribe-mail < MESSAGE (crmctl_notify.c): 0, 65 or 75 (sysexits)
int crmctl_notify_unsubscribe_mail(crmctl_t *ctl, int argc, char **argv);

//  The token after "unsubscribe" in an email's subject: 0, or -1 when it has none.
int crmctl_unsubscribe_token(const char *subject, char *token, size_t size);

//  --- Calling services through the broker (crmctl_bus.c) --------------------------------

//  Call method of service with request (tenant "*", actor "crmctl", role) and wait up
//  to timeout_ms, which is also the deadline the broker enforces. Returns the reply
//  header (caller frees with crm__reply_header__free_unpacked), or NULL when no answer
//  came in time or it was malformed (the reason printed, unless interrupted). A 2xx
//  answer's message is unpacked as response_desc into *response (caller frees with
//  protobuf_c_message_free_unpacked; NULL when the answer has none).
Crm__ReplyHeader *crmctl_call(crm_bus_client_t *client, const char *service, const char *method,
                              const char *role, const ProtobufCMessage *request,
                              const ProtobufCMessageDescriptor *response_desc, int timeout_ms,
                              ProtobufCMessage **response);

//  The same for one tenant's data (tenant: its id).
Crm__ReplyHeader *crmctl_call_tenant(crm_bus_client_t *client, const char *service,
                                     const char *method, const char *tenant, const char *role,
                                     const ProtobufCMessage *request,
                                     const ProtobufCMessageDescriptor *response_desc,
                                     int timeout_ms, ProtobufCMessage **response);

//  Ask the broker (mmi.service) whether service has a live worker: 1 yes, 0 no, -1 the
//  broker did not answer within timeout_ms (the reason printed).
int crmctl_service_live(crm_bus_client_t *client, const char *broker, const char *service,
                        int timeout_ms);

//  Parse a whole decimal number in [min, max] from text; 0 or -1.
int crmctl_parse_number(const char *text, long long min, long long max, long long *out);

#endif
