/*  reporting: the daemon's internal interface.

    Reading order: main.c (wiring), methods.c (the method table: the index of what the
    service answers, each row naming its rules and its SQL), then per resource its rules
    (no database) and its _store.c (all its SQL):
    - growth.c, growth_store.c: the contact growth report;
    - change.c, projection_store.c: contacts' events as the projection's facts and daily
      counts (follow.c follows the events and applies them);
    - daily.c, daily_store.c: publishing reporting.ContactsDaily;
    - rebuild.c, rebuild_store.c: making the projection again from scratch;
    migrations/ (the schema).
*/
#ifndef REPORTING_H
#define REPORTING_H

#include "bus_client.h"
#include "outbox.h"
#include "relay.h"
#include "reporting.pb-c.h"
#include "service.h"
#include "subscriber.h"

#include <stdbool.h>
#include <stdint.h>

//  The rebuild running or last done (the row of reporting.rebuild).
typedef struct {
    char phase[16];      // "none" | "starting" | "snapshot" | "done"
    char mode[16];       // "replay" | "snapshot"
    char *cursor_tenant; // snapshot: the last contact loaded ("" before the first)
    char cursor_id[40];
    uint64_t watermark_seq; // snapshot: the contacts seq the first page stood at
    uint64_t contacts_loaded;
    char started_at[40];
    char finished_at[40];
} reporting_rebuild_t;

//  The daemon's state, shared by its methods, timers and callbacks (one loop).
typedef struct {
    const crm_config_t *cfg;
    crm_service_t *service;
    zloop_t *loop;
    crm_db_t *db;                 // the projection's own connection (not pipelined):
                                  // subscriber, publisher and rebuild
    crm_subscriber_t *subscriber; // follows contacts
    int subscriber_timer;         // see reporting_unfollow
    int wake[2];                  // self-pipe: a new subscriber is made from its handler
    zmq_pollitem_t wake_item;
    bool refollow;            // a new subscriber is wanted
    int64_t refollow_started; // when a replay rebuild asked for it (for its log)
    crm_outbox_t *outbox;     // writes reporting's events
    crm_bus_client_t *client; // calls to contacts (Snapshot, Events.Replay)
    int publish_timer;
    int rebuild_timer; // -1, or the timer of the rebuild's next step
    reporting_rebuild_t rebuild;
    uint64_t published; // ContactsDaily events written
} reporting_t;

extern const crm_method_t reporting_methods[];
extern const crm_migration_t reporting_migrations[];

//  --- growth.c (rules) -----------------------------------------------------------------

//  True when text is a valid date YYYY-MM-DD; *days (may be NULL) gets the days since
//  1970-01-01.
bool reporting_day_parse(const char *text, int64_t *days);

//  The growth report's request checked: from and to are days, from <= to, at most a
//  year apart; groupBy is "", source or type. 0, or -1 with errors added.
int reporting_growth_check(const Crm__Reporting__ContactsGrowthRequest *req,
                           crm_errors_t *errors);

//  --- growth_store.c -----------------------------------------------------------------

//  The growth report of the call's tenant, days from..to (checked).
int reporting_growth_store_read(crm_call_t *call, const char *from, const char *to,
                                const char *group_by, Crm__Reporting__ContactsGrowthResponse **out);

//  --- follow.c -----------------------------------------------------------------------

//  Follow contacts' events from the inbox on (creates the subscriber; its attach
//  catches up first), and watch the self-pipe reporting_refollow uses. 0 or -1.
int reporting_follow(reporting_t *self);
void reporting_unfollow(reporting_t *self);

//  Replace the subscriber by a new one that starts again from the inbox (after a rebuild
//  changed it), on the next turn of the loop; reporting_rebuild_followed runs then.
void reporting_refollow(reporting_t *self);

//  The contacts events applied so far (the subscriber's view of the inbox).
uint64_t reporting_applied_seq(reporting_t *self);

//  --- daily.c ------------------------------------------------------------------------

//  Start the publisher of reporting.ContactsDaily (a timer). 0 or -1.
int reporting_publisher_attach(reporting_t *self);

//  --- change.c (rules) ---------------------------------------------------------------

//  One contact's state as the projection keeps it.
typedef struct {
    const char *tenant_id;
    char contact_id[40];
    char day[12];    // YYYY-MM-DD (UTC date of created_at)
    char source[32]; // API names; "" when none
    char type[32];
    bool deleted;
    bool state_known; // false: a deletion alone (day, source, type unknown)
    uint64_t seq;     // the contacts event it comes from (0: a snapshot)
} reporting_change_t;

//  One contacts event as a change. Returns 1 (a change), 0 (an event reporting
//  ignores), -1 (an unreadable event: logged and skipped, never retried for ever).
int reporting_change_from_event(const Crm__Event *event, reporting_change_t *change);

//  The most changes one event makes: a merge's (or its undo's) contacts, at most 10.
#define REPORTING_CHANGES_PER_EVENT 11

//  One contacts event as changes into changes[0..REPORTING_CHANGES_PER_EVENT): a merge
//  takes its merged contacts out (deletions), its undo puts the restored contacts back
//  as the event carries them; any other event as reporting_change_from_event. How many
//  (0: ignored, or unreadable: logged).
size_t reporting_changes_from_event(const Crm__Event *event, reporting_change_t *changes);

//  A snapshot item of contacts as a change; -1 (logged) when it is unusable.
int reporting_change_from_snapshot(const Crm__Contacts__SnapshotItem *item,
                                   reporting_change_t *change);

//  --- rebuild.c ----------------------------------------------------------------------

//  Call a method of another service over the bus as the system. Returns the reply's
//  code (0: no answer within timeout_ms) and, for 200, *response (caller frees).
int reporting_call(reporting_t *self, const char *service, const char *method,
                   const ProtobufCMessage *request, const ProtobufCMessageDescriptor *response_type,
                   int timeout_ms, ProtobufCMessage **response);

//  The Rebuild method's work: validate, choose the mode, start. Returns the reply code.
int reporting_rebuild_start(reporting_t *self, crm_call_t *call, const char *mode);

//  Carry on a rebuild a previous process left unfinished (from attach).
void reporting_rebuild_resume(reporting_t *self);

//  The new subscriber asked for by a rebuild step is following: go on.
void reporting_rebuild_followed(reporting_t *self);

//  The rebuild's status as a new message (caller frees).
Crm__Reporting__RebuildStatus *reporting_rebuild_status(reporting_t *self);

void reporting_rebuild_reset(reporting_rebuild_t *rebuild);

//  --- projection_store.c -------------------------------------------------------------

//  Set the facts of changes[0..n) (in order: a later change to the same contact wins)
//  and move the daily counts and dirty days by the difference, inside db's open
//  transaction. 0 or -1.
int reporting_store_apply(crm_db_t *db, const reporting_change_t *changes, size_t n);

//  Record that events first..last of source were applied (applied_runs).
int reporting_store_log_run(crm_db_t *db, const char *source, uint64_t first, uint64_t last);

//  --- daily_store.c ------------------------------------------------------------------

//  Take up to limit dirty days (deleted) with their figures: one ContactsDaily per
//  tenant (in *dailies, the tenant in *tenants), its changed days oldest first.
int reporting_store_take_dirty(crm_db_t *db, int limit, Crm__Events__ContactsDaily ***dailies,
                               char ***tenants, size_t *n);
void reporting_store_days_free(Crm__Events__ContactsDaily **dailies, char **tenants, size_t n);

//  --- rebuild_store.c ----------------------------------------------------------------

//  Empty the projection for a rebuild (inside db's transaction): every day it held is
//  marked dirty (its figure will be published again), facts, counts and the contacts
//  run log go, and the contacts inbox is removed (watermark 0) or set to watermark.
int reporting_store_reset(crm_db_t *db, uint64_t watermark);

//  Read and write the rebuild row. Load sets phase "none" when there is none.
int reporting_store_rebuild_load(crm_db_t *db, reporting_rebuild_t *rebuild);
int reporting_store_rebuild_save(crm_db_t *db, const reporting_rebuild_t *rebuild);

#endif
