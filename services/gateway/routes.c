/*  routes: the HTTP API table and its matcher. See routes.h. */
#include "routes.h"
#include "common.pb-c.h"
#include "contacts.pb-c.h"
#include "contacts_merge.pb-c.h"
#include "dedupe.pb-c.h"
#include "leads.pb-c.h"
#include "notify.pb-c.h"
#include "reporting.pb-c.h"
#include "scoring.pb-c.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const route_t routes[] = {
    {"POST", "/v1/contacts", "contacts", "Create",
     &crm__contacts__create_contact_request__descriptor, &crm__contacts__contact__descriptor,
     "contact", NULL, ROLES_WRITE, "Create a contact"},
    {"GET", "/v1/contacts", "contacts", "List", &crm__contacts__list_contacts_request__descriptor,
     &crm__contacts__list_contacts_response__descriptor, NULL, NULL, ROLES_ANY,
     "List contacts, newest first, or search them ranked (q: a name, email, phone or "
     "vehicle, words of notes); filters: type, kind, tag, source, assignee, suppliersOnly, "
     "organizationId, createdFrom/To, activityFrom/To, consentChannel + consentPurpose + "
     "consentStatus, reachable; limit, cursor"},
    {"POST", "/v1/contacts/merge/preview", "contacts", "PreviewMerge",
     &crm__contacts__merge_contacts_request__descriptor,
     &crm__contacts__merge_contacts_response__descriptor, "*", NULL, ROLES_MANAGE,
     "The survivor a merge would make (primaryId, 1 to 10 mergeIds, choose: field -> "
     "contactId), with each value's source and the notes and consent history it would "
     "bring; nothing is written"},
    {"POST", "/v1/contacts/merge", "contacts", "Merge",
     &crm__contacts__merge_contacts_request__descriptor,
     &crm__contacts__merge_contacts_response__descriptor, "*", NULL, ROLES_MANAGE,
     "Merge duplicate contacts into the primary, exactly as the preview of the same request "
     "shows; the merged ids then resolve to the survivor (GET answers it, mergedFrom set)"},
    {"GET", "/v1/merges", "contacts", "ListMerges", &crm__contacts__list_merges_request__descriptor,
     &crm__contacts__list_merges_response__descriptor, NULL, NULL, ROLES_ANY,
     "The tenant's merges, newest first, who and when (contactId: those it took part in; "
     "limit, cursor)"},
    {"GET", "/v1/merges/{id}", "contacts", "GetMerge", &crm__contacts__get_merge_request__descriptor,
     &crm__contacts__merge__descriptor, NULL, NULL, ROLES_ANY,
     "One merge: survivor, merged ids, who, when, the sources, its status and undo window"},
    {"POST", "/v1/merges/{id}/undo", "contacts", "UndoMerge",
     &crm__contacts__undo_merge_request__descriptor, &crm__contacts__merge__descriptor, NULL, NULL,
     ROLES_MANAGE,
     "Undo a merge within contacts.merge_undo_days: the merged contacts back as they were, "
     "the survivor keeping what changed since"},
    {"GET", "/v1/contacts/{id}", "contacts", "Get", &crm__contacts__get_contact_request__descriptor,
     &crm__contacts__contact__descriptor, NULL, NULL, ROLES_ANY,
     "Read one contact; a merged-away id answers its survivor, with mergedFrom the id asked"},
    {"PATCH", "/v1/contacts/{id}", "contacts", "Update",
     &crm__contacts__update_contact_request__descriptor, &crm__contacts__contact__descriptor,
     "contact", "update_mask", ROLES_WRITE, "Change the given fields of a contact"},
    {"DELETE", "/v1/contacts/{id}", "contacts", "Delete",
     &crm__contacts__delete_contact_request__descriptor, &crm__empty__descriptor, NULL, NULL,
     ROLES_WRITE, "Delete a contact (soft delete)"},
    {"POST", "/v1/contacts/bulk", "contacts", "Bulk",
     &crm__contacts__bulk_contacts_request__descriptor, &crm__contacts__job__descriptor, "*",
     NULL, ROLES_WRITE,
     "One change to many contacts (ids or a filter): add_tags, remove_tags, set_type, assign, "
     "delete; up to 1,000 at once (200), more as a job (202, GET /v1/jobs/{id}); send_email "
     "(templateId): a campaign (202, GET /v1/campaigns/{campaignId})"},
    {"GET", "/v1/jobs", "contacts", "ListJobs", &crm__contacts__list_jobs_request__descriptor,
     &crm__contacts__list_jobs_response__descriptor, NULL, NULL, ROLES_ANY,
     "The tenant's jobs (bulk changes, imports), newest first"},
    {"GET", "/v1/jobs/{id}", "contacts", "GetJob", &crm__contacts__get_job_request__descriptor,
     &crm__contacts__job__descriptor, NULL, NULL, ROLES_ANY,
     "A job's status and progress (total, processed, changed, failed, errors)"},
    {"POST", "/v1/contacts/{id}/erase", "contacts", "Erase",
     &crm__contacts__erase_contact_request__descriptor, &crm__empty__descriptor, NULL, NULL,
     ROLES_MANAGE,
     "Erase a contact (right to be forgotten): its personal data goes, past events included"},
    {"GET", "/v1/contacts/{id}/audit", "contacts", "ListAudit",
     &crm__contacts__list_contact_audit_request__descriptor,
     &crm__contacts__list_contact_audit_response__descriptor, NULL, NULL, ROLES_ANY,
     "A contact's audit trail, newest first: who changed which fields, when, old and new"},
    {"POST", "/v1/contacts/{id}/tags", "contacts", "AddTag",
     &crm__contacts__add_contact_tag_request__descriptor, &crm__contacts__contact__descriptor,
     "*", NULL, ROLES_WRITE, "Apply one tag of the catalogue to a contact ({\"tag\": name})"},
    {"DELETE", "/v1/contacts/{id}/tags/{tag}", "contacts", "RemoveTag",
     &crm__contacts__remove_contact_tag_request__descriptor, &crm__contacts__contact__descriptor,
     NULL, NULL, ROLES_WRITE, "Take one tag off a contact"},
    {"POST", "/v1/contacts/{id}/notes", "contacts", "CreateNote",
     &crm__contacts__create_note_request__descriptor, &crm__contacts__note__descriptor, "*", NULL,
     ROLES_WRITE, "Add a note to a contact ({\"body\"}; @handles in it are its mentions)"},
    {"GET", "/v1/contacts/{id}/notes", "contacts", "ListNotes",
     &crm__contacts__list_notes_request__descriptor,
     &crm__contacts__list_notes_response__descriptor, NULL, NULL, ROLES_ANY,
     "A contact's notes, newest first, deleted ones as tombstones (limit, cursor)"},
    {"GET", "/v1/contacts/{id}/notes/{noteId}", "contacts", "GetNote",
     &crm__contacts__get_note_request__descriptor, &crm__contacts__note__descriptor, NULL, NULL,
     ROLES_ANY, "Read one note of a contact"},
    {"GET", "/v1/contacts/{id}/notes/{noteId}/revisions", "contacts", "ListNoteRevisions",
     &crm__contacts__list_note_revisions_request__descriptor,
     &crm__contacts__list_note_revisions_response__descriptor, NULL, NULL, ROLES_ANY,
     "Every body a note had, oldest first, with who wrote it and when (limit, cursor); a "
     "deleted note's: managers and admins only"},
    {"PATCH", "/v1/contacts/{id}/notes/{noteId}", "contacts", "UpdateNote",
     &crm__contacts__update_note_request__descriptor, &crm__contacts__note__descriptor, "*", NULL,
     ROLES_WRITE,
     "Edit a note's body: a new revision, the old body kept in its history (author, manager, "
     "admin)"},
    {"DELETE", "/v1/contacts/{id}/notes/{noteId}", "contacts", "DeleteNote",
     &crm__contacts__delete_note_request__descriptor, &crm__empty__descriptor, NULL, NULL,
     ROLES_WRITE,
     "Delete a note: it stays listed as deleted, without body (author, manager, admin)"},
    {"POST", "/v1/saved-filters", "contacts", "CreateSavedFilter",
     &crm__contacts__create_saved_filter_request__descriptor,
     &crm__contacts__saved_filter__descriptor, "saved_filter", NULL, ROLES_WRITE,
     "Save a contact filter of your own (name, filter: the list's q and filters)"},
    {"GET", "/v1/saved-filters", "contacts", "ListSavedFilters",
     &crm__contacts__list_saved_filters_request__descriptor,
     &crm__contacts__list_saved_filters_response__descriptor, NULL, NULL, ROLES_ANY,
     "Your saved filters, by name"},
    {"GET", "/v1/saved-filters/{id}", "contacts", "GetSavedFilter",
     &crm__contacts__get_saved_filter_request__descriptor,
     &crm__contacts__saved_filter__descriptor, NULL, NULL, ROLES_ANY, "Read one saved filter"},
    {"PATCH", "/v1/saved-filters/{id}", "contacts", "UpdateSavedFilter",
     &crm__contacts__update_saved_filter_request__descriptor,
     &crm__contacts__saved_filter__descriptor, "saved_filter", "update_mask", ROLES_WRITE,
     "Rename a saved filter or change its filter"},
    {"DELETE", "/v1/saved-filters/{id}", "contacts", "DeleteSavedFilter",
     &crm__contacts__delete_saved_filter_request__descriptor, &crm__empty__descriptor, NULL,
     NULL, ROLES_WRITE, "Delete a saved filter"},
    {"GET", "/v1/saved-filters/{id}/contacts", "contacts", "RunSavedFilter",
     &crm__contacts__run_saved_filter_request__descriptor,
     &crm__contacts__list_contacts_response__descriptor, NULL, NULL, ROLES_ANY,
     "Run a saved filter: one page of its contacts (limit, cursor)"},
    {"POST", "/v1/tags", "contacts", "CreateTag", &crm__contacts__create_tag_request__descriptor,
     &crm__contacts__tag__descriptor, "tag", NULL, ROLES_WRITE,
     "Add a tag to the catalogue (name unique without regard to case, colour #RRGGBB)"},
    {"GET", "/v1/tags", "contacts", "ListTags", &crm__contacts__list_tags_request__descriptor,
     &crm__contacts__list_tags_response__descriptor, NULL, NULL, ROLES_ANY,
     "The tag catalogue, by name"},
    {"GET", "/v1/tags/{id}", "contacts", "GetTag", &crm__contacts__get_tag_request__descriptor,
     &crm__contacts__tag__descriptor, NULL, NULL, ROLES_ANY, "Read one tag"},
    {"PATCH", "/v1/tags/{id}", "contacts", "UpdateTag",
     &crm__contacts__update_tag_request__descriptor, &crm__contacts__tag__descriptor, "tag",
     "update_mask", ROLES_MANAGE,
     "Rename a tag (every contact that has it follows) or change its colour or description"},
    {"DELETE", "/v1/tags/{id}", "contacts", "DeleteTag",
     &crm__contacts__delete_tag_request__descriptor, &crm__empty__descriptor, NULL, NULL,
     ROLES_MANAGE, "Delete a tag from the catalogue and from every contact"},
    {"POST", "/v1/tags/{id}/merge", "contacts", "MergeTag",
     &crm__contacts__merge_tag_request__descriptor, &crm__contacts__tag__descriptor, "*", NULL,
     ROLES_MANAGE,
     "Merge a tag into another ({\"into\": id}): its contacts get that tag, and it goes"},
    {"POST", "/v1/contact-fields", "contacts", "CreateCustomField",
     &crm__contacts__create_custom_field_request__descriptor,
     &crm__contacts__custom_field__descriptor, "field", NULL, ROLES_MANAGE,
     "Define a custom field of contacts (key, label, type text|number|date|select, options)"},
    {"GET", "/v1/contact-fields", "contacts", "ListCustomFields",
     &crm__contacts__list_custom_fields_request__descriptor,
     &crm__contacts__list_custom_fields_response__descriptor, NULL, NULL, ROLES_ANY,
     "The tenant's custom fields of contacts, by key"},
    {"GET", "/v1/contact-fields/{key}", "contacts", "GetCustomField",
     &crm__contacts__get_custom_field_request__descriptor,
     &crm__contacts__custom_field__descriptor, NULL, NULL, ROLES_ANY, "Read one custom field"},
    {"PATCH", "/v1/contact-fields/{key}", "contacts", "UpdateCustomField",
     &crm__contacts__update_custom_field_request__descriptor,
     &crm__contacts__custom_field__descriptor, "field", "update_mask", ROLES_MANAGE,
     "Change a custom field's label or options (an option in use cannot go)"},
    {"DELETE", "/v1/contact-fields/{key}", "contacts", "DeleteCustomField",
     &crm__contacts__delete_custom_field_request__descriptor, &crm__empty__descriptor, NULL,
     NULL, ROLES_MANAGE, "Delete a custom field and every contact's value for it"},
    {"POST", "/v1/phone-types", "contacts", "CreatePhoneType",
     &crm__contacts__create_phone_type_request__descriptor,
     &crm__contacts__phone_type_def__descriptor, "phone_type", NULL, ROLES_MANAGE,
     "Add a phone type of the tenant's own, beside mobile, work and home"},
    {"GET", "/v1/phone-types", "contacts", "ListPhoneTypes",
     &crm__contacts__list_phone_types_request__descriptor,
     &crm__contacts__list_phone_types_response__descriptor, NULL, NULL, ROLES_ANY,
     "The tenant's own phone types, by name"},
    {"DELETE", "/v1/phone-types/{name}", "contacts", "DeletePhoneType",
     &crm__contacts__delete_phone_type_request__descriptor, &crm__empty__descriptor, NULL, NULL,
     ROLES_MANAGE, "Delete a phone type no contact uses"},
    {"GET", "/v1/contacts/{id}/communication", "contacts", "GetCommunicationRules",
     &crm__contacts__get_communication_rules_request__descriptor,
     &crm__contacts__communication_rules__descriptor, NULL, NULL, ROLES_ANY,
     "A contact's do-not-contact flags, stop-follow-ups, retention and consent per channel"
     " and purpose"},
    {"PATCH", "/v1/contacts/{id}/communication", "contacts", "UpdateCommunicationRules",
     &crm__contacts__update_communication_rules_request__descriptor,
     &crm__contacts__communication_rules__descriptor, "rules", "update_mask", ROLES_WRITE,
     "Change do-not-contact flags, stop-follow-ups or retention (each change is kept in the"
     " history, with an optional method and reason)"},
    {"POST", "/v1/contacts/{id}/consents", "contacts", "RecordConsent",
     &crm__contacts__record_consent_request__descriptor,
     &crm__contacts__communication_change__descriptor, "*", NULL, ROLES_WRITE,
     "Record a consent decision: channel, purpose, granted, method, note, effectiveAt"},
    {"GET", "/v1/contacts/{id}/consents/{changeId}", "contacts", "GetConsent",
     &crm__contacts__get_consent_request__descriptor,
     &crm__contacts__communication_change__descriptor, NULL, NULL, ROLES_ANY,
     "One recorded consent decision"},
    {"GET", "/v1/contacts/{id}/communication/history", "contacts", "ListCommunicationHistory",
     &crm__contacts__list_communication_history_request__descriptor,
     &crm__contacts__list_communication_history_response__descriptor, NULL, NULL, ROLES_ANY,
     "Every change of a contact's consents and rules, newest first (limit, cursor)"},
    {"GET", "/v1/contacts/{id}/communication/check", "contacts", "CanContact",
     &crm__contacts__can_contact_request__descriptor,
     &crm__contacts__can_contact_response__descriptor, NULL, NULL, ROLES_ANY,
     "May the contact be contacted now by channel for purpose (marketing, analytics,"
     " follow_up)? allowed, and the reason when not"},
    {"POST", "/v1/leads", "leads", "Create", &crm__leads__create_lead_request__descriptor,
     &crm__leads__lead__descriptor, "lead", NULL, ROLES_WRITE,
     "Create a lead for a contact of the dealership (contactId, source required; vehicle, "
     "budget, timeline, priority, assigneeId, followUpAt, customFields); it starts in the "
     "first open stage unless status names another open one"},
    {"GET", "/v1/leads", "leads", "List", &crm__leads__list_leads_request__descriptor,
     &crm__leads__list_leads_response__descriptor, NULL, NULL, ROLES_ANY,
     "List leads; filters: status, priority, band (the scoring band: hot, medium, cold), "
     "minScore, assigneeId, source, contactId, createdFrom/To, overdue, "
     "missedResponseTarget; sort=created (newest first, default), last_activity, "
     "follow_up, score (highest first); limit, cursor"},
    //  Before /v1/leads/{id}: the first route that matches a path wins.
    {"POST", "/v1/leads/from-chat", "leads", "CreateFromChat",
     &crm__leads__create_lead_from_chat_request__descriptor, &crm__leads__lead_from_chat__descriptor,
     "*", NULL, ROLES_WRITE,
     "A lead from a website chat: the visitor's contact found by email, then phone, or "
     "created; the lead (source chat, assignment rules apply) with the transcript as its "
     "first activity; the same chatId again answers the lead it made (200)"},
    {"GET", "/v1/leads/hot-sheet", "leads", "HotSheet", &crm__leads__hot_sheet_request__descriptor,
     &crm__leads__hot_sheet_response__descriptor, NULL, NULL, ROLES_ANY,
     "The daily hot sheet of a salesperson (assigneeId) or the whole store: open hot leads "
     "(priority hot: the scoring band unless set by hand; highest score first), "
     "open leads whose follow-up is overdue, and the day's appointments and test drives "
     "(date=YYYY-MM-DD in the tenant's time zone, default today)"},
    {"GET", "/v1/leads/{id}", "leads", "Get", &crm__leads__get_lead_request__descriptor,
     &crm__leads__lead__descriptor, NULL, NULL, ROLES_ANY,
     "Read one lead with its stage history (from, to, who, when)"},
    {"PATCH", "/v1/leads/{id}", "leads", "Update", &crm__leads__update_lead_request__descriptor,
     &crm__leads__lead__descriptor, "lead", "update_mask", ROLES_WRITE,
     "Change the given fields of a lead (not its stage: POST /v1/leads/{id}/status); "
     "priority set here stays whatever the score does (priorityManual) until "
     "{\"priority\": null} gives it back to the band"},
    {"DELETE", "/v1/leads/{id}", "leads", "Delete", &crm__leads__delete_lead_request__descriptor,
     &crm__empty__descriptor, NULL, NULL, ROLES_WRITE, "Delete a lead (soft delete)"},
    {"POST", "/v1/leads/{id}/status", "leads", "ChangeStatus",
     &crm__leads__change_lead_status_request__descriptor, &crm__leads__lead__descriptor, "*",
     NULL, ROLES_WRITE,
     "Move a lead to another stage ({\"status\": key, \"note\"}); a won stage needs won "
     "details, a lost stage lost.reason; reopening a closed lead: managers and admins"},
    {"POST", "/v1/leads/{id}/activities", "leads", "CreateActivity",
     &crm__leads__create_activity_request__descriptor, &crm__leads__activity__descriptor,
     "activity", NULL, ROLES_WRITE,
     "Log an activity of a lead: kind call (outcome, durationSeconds, nextSteps), meeting, "
     "email (direction, subject, body), sms (direction, body), chat (transcript), "
     "appointment or test_drive "
     "(scheduledAt, vehicle, status), note; notes, occurredAt (default now, not in the future)"},
    {"GET", "/v1/leads/{id}/activities", "leads", "ListActivities",
     &crm__leads__list_activities_request__descriptor,
     &crm__leads__list_activities_response__descriptor, NULL, NULL, ROLES_ANY,
     "A lead's activities, newest first, the moves between stages among them (kind, limit, "
     "cursor)"},
    {"PATCH", "/v1/leads/{id}/activities/{activityId}", "leads", "UpdateActivity",
     &crm__leads__update_activity_request__descriptor, &crm__leads__activity__descriptor,
     "activity", "update_mask", ROLES_WRITE,
     "Change the given fields of an activity (an appointment's status or time, a call's "
     "outcome or notes; not its kind)"},
    {"GET", "/v1/leads/{id}/timeline", "leads", "GetTimeline",
     &crm__leads__get_timeline_request__descriptor, &crm__leads__timeline_response__descriptor,
     NULL, NULL, ROLES_ANY,
     "A lead's timeline, newest first: its creation, moves between stages and activities, one "
     "list with a kind per entry (limit, cursor)"},
    {"GET", "/v1/pipeline/stages", "leads", "ListStages",
     &crm__leads__list_stages_request__descriptor, &crm__leads__list_stages_response__descriptor,
     NULL, NULL, ROLES_ANY, "The tenant's pipeline: its stages in order, with their lead counts"},
    {"POST", "/v1/pipeline/stages", "leads", "CreateStage",
     &crm__leads__create_stage_request__descriptor, &crm__leads__stage__descriptor, "stage",
     NULL, ROLES_MANAGE,
     "Add a stage (name; key made from it unless given; outcome open|won|lost; position, "
     "default last)"},
    {"PATCH", "/v1/pipeline/stages/{key}", "leads", "UpdateStage",
     &crm__leads__update_stage_request__descriptor, &crm__leads__stage__descriptor, "stage",
     "update_mask", ROLES_MANAGE,
     "Rename a stage, move it to another position, or mark it open, won or lost (not while "
     "leads are in it)"},
    {"DELETE", "/v1/pipeline/stages/{key}", "leads", "DeleteStage",
     &crm__leads__delete_stage_request__descriptor, &crm__empty__descriptor, NULL, NULL,
     ROLES_MANAGE, "Delete a stage no live lead is in (the pipeline keeps an open stage)"},
    // --- leads: the sales team, assignment rules, assignment (services/leads/team.c, assign.c)
    {"GET", "/v1/team/members", "leads", "ListTeamMembers",
     &crm__leads__list_team_members_request__descriptor,
     &crm__leads__list_team_members_response__descriptor, NULL, NULL, ROLES_ANY,
     "The sales team by name (role, activeOnly, availableOnly, handle; limit, cursor)"},
    {"POST", "/v1/team/members", "leads", "CreateTeamMember",
     &crm__leads__create_team_member_request__descriptor, &crm__leads__team_member__descriptor,
     "member", NULL, ROLES_MANAGE,
     "Add a team member (name; email, phone, role, conditions, makes, priceMin/MaxCents, "
     "postcodePrefixes, regions, available, workingHours, timeZone, actorId, handle)"},
    {"GET", "/v1/team/members/{id}", "leads", "GetTeamMember",
     &crm__leads__get_team_member_request__descriptor, &crm__leads__team_member__descriptor, NULL,
     NULL, ROLES_ANY, "Read one team member, with its open leads"},
    {"PATCH", "/v1/team/members/{id}", "leads", "UpdateTeamMember",
     &crm__leads__update_team_member_request__descriptor, &crm__leads__team_member__descriptor,
     "member", "update_mask", ROLES_MANAGE,
     "Change the given fields of a team member (available: online; active: reactivate)"},
    {"DELETE", "/v1/team/members/{id}", "leads", "DeleteTeamMember",
     &crm__leads__delete_team_member_request__descriptor, &crm__empty__descriptor, NULL, NULL,
     ROLES_MANAGE,
     "Remove a team member: deactivated when it has had leads (history kept), else deleted"},
    {"GET", "/v1/assignment-rules", "leads", "ListAssignmentRules",
     &crm__leads__list_assignment_rules_request__descriptor,
     &crm__leads__list_assignment_rules_response__descriptor, NULL, NULL, ROLES_ANY,
     "The assignment rules in the order they are tried on a new lead without an assignee"},
    {"POST", "/v1/assignment-rules", "leads", "CreateAssignmentRule",
     &crm__leads__create_assignment_rule_request__descriptor,
     &crm__leads__assignment_rule__descriptor, "rule", NULL, ROLES_MANAGE,
     "Add an assignment rule (name, kind round_robin|specialization|territory|availability, "
     "memberIds, onlineOnly, withinWorkingHours, position: default last)"},
    {"GET", "/v1/assignment-rules/{id}", "leads", "GetAssignmentRule",
     &crm__leads__get_assignment_rule_request__descriptor,
     &crm__leads__assignment_rule__descriptor, NULL, NULL, ROLES_ANY,
     "Read one assignment rule"},
    {"PATCH", "/v1/assignment-rules/{id}", "leads", "UpdateAssignmentRule",
     &crm__leads__update_assignment_rule_request__descriptor,
     &crm__leads__assignment_rule__descriptor, "rule", "update_mask", ROLES_MANAGE,
     "Change an assignment rule, or move it to another position (the others keep their order)"},
    {"DELETE", "/v1/assignment-rules/{id}", "leads", "DeleteAssignmentRule",
     &crm__leads__delete_assignment_rule_request__descriptor, &crm__empty__descriptor, NULL,
     NULL, ROLES_MANAGE, "Delete an assignment rule"},
    {"POST", "/v1/leads/{id}/assign", "leads", "Assign",
     &crm__leads__assign_lead_request__descriptor, &crm__leads__lead__descriptor, "*", NULL,
     ROLES_WRITE,
     "Assign a lead to a team member ({\"assigneeId\", \"note\"}): LeadAssigned, rule manual"},
    {"GET", "/v1/leads/{id}/assignments", "leads", "ListAssignments",
     &crm__leads__list_assignments_request__descriptor,
     &crm__leads__list_assignments_response__descriptor, NULL, NULL, ROLES_ANY,
     "A lead's assignments, oldest first (from, to, rule, note, who, when)"},
    //  Follow-ups and the tenant's sales settings.
    {"POST", "/v1/leads/{id}/follow-ups", "leads", "CreateFollowUp",
     &crm__leads__create_follow_up_request__descriptor, &crm__leads__follow_up__descriptor,
     "follow_up", NULL, ROLES_WRITE,
     "Schedule a follow-up of an open lead: dueAt (RFC 3339, not past) or pick (in_1_hour, "
     "tomorrow_9am, in_3_days, in_1_week: on the tenant's clock), method (call by default, "
     "email, sms, whatsapp, in_person, video_call, other), note, assigneeId; FollowUpDue "
     "is published when it falls due"},
    {"GET", "/v1/leads/{id}/follow-ups", "leads", "ListFollowUps",
     &crm__leads__list_follow_ups_request__descriptor,
     &crm__leads__list_follow_ups_response__descriptor, NULL, NULL, ROLES_ANY,
     "A lead's follow-ups, soonest due first (status, dueBefore, limit, cursor)"},
    {"GET", "/v1/leads/{id}/follow-ups/{followUpId}", "leads", "GetFollowUp",
     &crm__leads__get_follow_up_request__descriptor, &crm__leads__follow_up__descriptor, NULL,
     NULL, ROLES_ANY, "Read one follow-up of a lead"},
    {"PATCH", "/v1/leads/{id}/follow-ups/{followUpId}", "leads", "UpdateFollowUp",
     &crm__leads__update_follow_up_request__descriptor, &crm__leads__follow_up__descriptor,
     "follow_up", "update_mask", ROLES_WRITE,
     "Complete ({\"status\":\"completed\"}), cancel, or reschedule (dueAt or pick; it fires "
     "again) a pending follow-up, or change its method, note, assigneeId"},
    {"GET", "/v1/follow-ups", "leads", "ListFollowUps",
     &crm__leads__list_follow_ups_request__descriptor,
     &crm__leads__list_follow_ups_response__descriptor, NULL, NULL, ROLES_ANY,
     "Follow-ups of the tenant's live leads, soonest due first: a salesperson's list "
     "(assigneeId, status, dueBefore, limit, cursor)"},
    {"GET", "/v1/pipeline/settings", "leads", "GetSettings",
     &crm__leads__get_pipeline_settings_request__descriptor,
     &crm__leads__pipeline_settings__descriptor, NULL, NULL, ROLES_ANY,
     "The tenant's sales settings: timeZone (IANA, UTC by default), responseTargetHours (24), "
     "salesSeeAllLeads (false: a salesperson sees their own leads and the unassigned ones)"},
    {"PATCH", "/v1/pipeline/settings", "leads", "UpdateSettings",
     &crm__leads__update_pipeline_settings_request__descriptor,
     &crm__leads__pipeline_settings__descriptor, "settings", "update_mask", ROLES_MANAGE,
     "Change the sales settings: timeZone (an IANA name), responseTargetHours (1 to 720), "
     "salesSeeAllLeads (true: salespeople see every lead)"},
    {"POST", "/v1/templates", "notify", "CreateTemplate",
     &crm__notify__create_template_request__descriptor, &crm__notify__template__descriptor,
     "template", NULL, ROLES_WRITE,
     "Save a message template (name, channel sms|email, purpose, subject and bodyHtml for "
     "email, bodyText; placeholders such as {{contact.firstName}})"},
    {"GET", "/v1/templates", "notify", "ListTemplates",
     &crm__notify__list_templates_request__descriptor,
     &crm__notify__list_templates_response__descriptor, NULL, NULL, ROLES_ANY,
     "The tenant's message templates, oldest first (channel, limit, cursor)"},
    {"GET", "/v1/templates/{id}", "notify", "GetTemplate",
     &crm__notify__get_template_request__descriptor, &crm__notify__template__descriptor, NULL,
     NULL, ROLES_ANY, "Read one message template"},
    {"PATCH", "/v1/templates/{id}", "notify", "UpdateTemplate",
     &crm__notify__update_template_request__descriptor, &crm__notify__template__descriptor,
     "template", "update_mask", ROLES_WRITE, "Change the given fields of a message template"},
    {"DELETE", "/v1/templates/{id}", "notify", "DeleteTemplate",
     &crm__notify__delete_template_request__descriptor, &crm__empty__descriptor, NULL, NULL,
     ROLES_WRITE, "Delete a message template"},
    {"POST", "/v1/templates/{id}/preview", "notify", "PreviewTemplate",
     &crm__notify__preview_template_request__descriptor,
     &crm__notify__preview_template_response__descriptor, "*", NULL, ROLES_WRITE,
     "Render a template against a contact (contactId) and optionally one of its leads "
     "(leadId): subject, bodyText, bodyHtml (values HTML-escaped)"},
    {"POST", "/v1/messages", "notify", "SendMessage",
     &crm__notify__send_message_request__descriptor, &crm__notify__message__descriptor, "message",
     NULL, ROLES_WRITE,
     "Send a contact one message now (contactId, channel sms|email, purpose, leadId, and "
     "templateId or subject/bodyText/bodyHtml): 422 naming contactId when it may not go"},
    {"GET", "/v1/messages", "notify", "ListMessages",
     &crm__notify__list_messages_request__descriptor,
     &crm__notify__list_messages_response__descriptor, NULL, NULL, ROLES_ANY,
     "Messages newest first, by contactId, leadId, status (dead: the dead letters), channel"},
    {"GET", "/v1/messages/{id}", "notify", "GetMessage",
     &crm__notify__get_message_request__descriptor, &crm__notify__message__descriptor, NULL, NULL,
     ROLES_ANY, "Read one message with its status history"},
    {"POST", "/v1/messages/{id}/retry", "notify", "RetryMessage",
     &crm__notify__retry_message_request__descriptor, &crm__notify__message__descriptor, NULL,
     NULL, ROLES_MANAGE, "Queue a dead, failed or unknown message again"},
    {"POST", "/v1/campaigns", "notify", "CreateCampaign",
     &crm__notify__create_campaign_request__descriptor, &crm__notify__campaign__descriptor,
     "campaign", NULL, ROLES_MANAGE,
     "Send a marketing email template (templateId) to contacts chosen by contactIds or by a "
     "filter of the contacts list; each is sent only as its consent and rules permit"},
    {"GET", "/v1/campaigns", "notify", "ListCampaigns",
     &crm__notify__list_campaigns_request__descriptor,
     &crm__notify__list_campaigns_response__descriptor, NULL, NULL, ROLES_ANY,
     "The tenant's campaigns newest first, each with its progress (limit, cursor)"},
    {"GET", "/v1/campaigns/{id}", "notify", "GetCampaign",
     &crm__notify__get_campaign_request__descriptor, &crm__notify__campaign__descriptor, NULL,
     NULL, ROLES_ANY,
     "A campaign with its progress: recipients, queued, sent, suppressed (by reason), failed"},
    {"POST", "/v1/campaigns/{id}/cancel", "notify", "CancelCampaign",
     &crm__notify__cancel_campaign_request__descriptor, &crm__notify__campaign__descriptor, NULL,
     NULL, ROLES_MANAGE, "Cancel a campaign: no more recipients, its queued messages cancelled"},
    {"GET", "/v1/notification-settings", "notify", "GetNotificationSettings",
     &crm__notify__get_notification_settings_request__descriptor,
     &crm__notify__notification_settings__descriptor, NULL, NULL, ROLES_ANY,
     "The dealership's notification settings (quiet hours, speed to lead, senders, caps)"},
    {"PATCH", "/v1/notification-settings", "notify", "UpdateNotificationSettings",
     &crm__notify__update_notification_settings_request__descriptor,
     &crm__notify__notification_settings__descriptor, "settings", "update_mask", ROLES_MANAGE,
     "Change the given notification settings"},
    {"GET", "/v1/leads/{id}/score", "scoring", "GetScore",
     &crm__scoring__get_score_request__descriptor, &crm__scoring__score__descriptor, NULL, NULL,
     ROLES_ANY,
     "A lead's score (0-100), band (hot, medium, cold) and every rule that counted, with its "
     "points and why; the points add up exactly to the score"},
    {"GET", "/v1/leads/{id}/score/history", "scoring", "ScoreHistory",
     &crm__scoring__score_history_request__descriptor,
     &crm__scoring__score_history_response__descriptor, NULL, NULL, ROLES_ANY,
     "A lead's scores as they changed, newest first (limit, default 50, at most 200)"},
    {"GET", "/v1/scoring/model", "scoring", "GetModel", &crm__scoring__get_model_request__descriptor,
     &crm__scoring__model__descriptor, NULL, NULL, ROLES_ANY,
     "The scoring model in force: the dealership's own (versioned) or the default "
     "(config/scoring.yaml)"},
    {"PUT", "/v1/scoring/model", "scoring", "PutModel", &crm__scoring__put_model_request__descriptor,
     &crm__scoring__model__descriptor, "model", NULL, ROLES_MANAGE,
     "Set the dealership's own scoring model (its next version): bands, decay, group caps and "
     "rules; leads move to it as they change, or all at once by POST /v1/scoring/rescore"},
    {"POST", "/v1/scoring/model/preview", "scoring", "PreviewModel",
     &crm__scoring__preview_model_request__descriptor,
     &crm__scoring__preview_model_response__descriptor, "model", NULL, ROLES_MANAGE,
     "How many open leads a model would move to another band (counts and a sample of 20); "
     "nothing is written"},
    {"POST", "/v1/scoring/rescore", "scoring", "Rescore", &crm__scoring__rescore_request__descriptor,
     &crm__scoring__rescore_job__descriptor, NULL, NULL, ROLES_MANAGE,
     "Rescore every open lead under the model in force: a job (202, GET "
     "/v1/scoring/rescore/{id} for its progress)"},
    {"GET", "/v1/scoring/rescore/{id}", "scoring", "GetRescoreJob",
     &crm__scoring__get_rescore_job_request__descriptor, &crm__scoring__rescore_job__descriptor,
     NULL, NULL, ROLES_ANY, "A rescore job's progress: total, done, changed, status"},
    {"POST", "/v1/contacts/duplicates/check", "dedupe", "CheckDuplicates",
     &crm__dedupe__check_duplicates_request__descriptor,
     &crm__dedupe__check_duplicates_response__descriptor, "contact", NULL, ROLES_WRITE,
     "Before creating a contact: the tenant's contacts likely to be the same person (a draft "
     "in the contact's shape: firstName, lastName, emails, phones, addresses, dateOfBirth), "
     "best first, each with a score and why it matched; nothing is written"},
    {"POST", "/v1/duplicates/scans", "dedupe", "StartScan",
     &crm__dedupe__start_scan_request__descriptor, &crm__dedupe__duplicate_scan__descriptor, NULL,
     NULL, ROLES_MANAGE,
     "Scan the tenant's contacts for likely duplicates (pairs within blocking keys, grouped "
     "into the review list); a job (202) whose progress is GET /v1/duplicates/scans/{id}; one "
     "at a time per tenant (409 names the scan in progress)"},
    {"GET", "/v1/duplicates/scans/{id}", "dedupe", "GetScan",
     &crm__dedupe__get_scan_request__descriptor, &crm__dedupe__duplicate_scan__descriptor, NULL,
     NULL, ROLES_ANY,
     "A scan's status and progress (total, processed, pairs found; groups once it succeeded)"},
    {"GET", "/v1/duplicates", "dedupe", "ListDuplicates",
     &crm__dedupe__list_duplicates_request__descriptor,
     &crm__dedupe__list_duplicates_response__descriptor, NULL, NULL, ROLES_ANY,
     "The review list: groups of contacts likely to be one person, best score first, each "
     "member with its score and reasons (status=open|dismissed|merged, default open; "
     "contactId; limit, cursor)"},
    {"GET", "/v1/duplicates/{id}", "dedupe", "GetDuplicate",
     &crm__dedupe__get_duplicate_request__descriptor, &crm__dedupe__duplicate_group__descriptor,
     NULL, NULL, ROLES_ANY, "One group of the review list"},
    {"POST", "/v1/duplicates/{id}/dismiss", "dedupe", "DismissDuplicate",
     &crm__dedupe__dismiss_duplicate_request__descriptor, &crm__dedupe__duplicate_group__descriptor,
     NULL, NULL, ROLES_WRITE,
     "Not the same person: the group is dismissed and its pairs are not proposed again "
     "unless one of its contacts changes in a field the duplicate model compares"},
    {"GET", "/v1/reports/contacts/growth", "reporting", "ContactsGrowth",
     &crm__reporting__contacts_growth_request__descriptor,
     &crm__reporting__contacts_growth_response__descriptor, NULL, NULL, ROLES_ANY,
     "Contacts created per day that still exist (from, to, groupBy=source|type)"},
    {"POST", "/v1/exports", "contacts", "CreateExport",
     &crm__contacts__create_export_request__descriptor, &crm__contacts__export__descriptor, "*",
     NULL, ROLES_EXPORT,
     "Export contacts to CSV or XLSX (format, fields by API name, filter: the list's filters "
     "and search, marketing: only those that may be sent marketing email); a job (201) "
     "whose file is stored in parts"},
    {"GET", "/v1/exports/{id}", "contacts", "GetExport",
     &crm__contacts__get_export_request__descriptor,
     &crm__contacts__export__descriptor, NULL, NULL, ROLES_EXPORT,
     "An export's status, progress (total, processed, rows) and parts; expired after "
     "contacts.export_retention_hours"},
    {"GET", "/v1/exports/{id}/parts/{n}", "contacts", "GetExportPart",
     &crm__contacts__get_export_part_request__descriptor, &crm__contacts__export_part__descriptor,
     NULL, NULL, ROLES_EXPORT,
     "One part of an export's file, n from 1 to parts, as bytes: the file is the parts joined "
     "in order"},
    {"GET", "/v1/imports/template", "contacts", "GetImportTemplate",
     &crm__contacts__import_template_request__descriptor,
     &crm__contacts__import_template__descriptor, NULL, NULL, ROLES_ANY,
     "The CSV import template, JSON-wrapped (filename, contentType, content: a header row and "
     "an example row; fields: every field a column can map to)"},
    {"GET", "/v1/imports/mappings", "contacts", "ListImportMappings",
     &crm__contacts__list_import_mappings_request__descriptor,
     &crm__contacts__list_import_mappings_response__descriptor, NULL, NULL, ROLES_ANY,
     "The tenant's saved column mappings for CSV imports"},
    {"GET", "/v1/imports/mappings/{name}", "contacts", "GetImportMapping",
     &crm__contacts__get_import_mapping_request__descriptor,
     &crm__contacts__import_mapping__descriptor, NULL, NULL, ROLES_ANY,
     "One saved column mapping"},
    {"PUT", "/v1/imports/mappings/{name}", "contacts", "PutImportMapping",
     &crm__contacts__put_import_mapping_request__descriptor,
     &crm__contacts__import_mapping__descriptor, "mapping", NULL, ROLES_WRITE,
     "Save a column mapping under a name ({\"columns\": {\"Header\": \"field\", ...}})"},
    {"POST", "/v1/imports", "contacts", "CreateImport",
     &crm__contacts__create_import_request__descriptor, &crm__contacts__import__descriptor, "*",
     NULL, ROLES_WRITE,
     "Begin a CSV import (mapping, mappingName, policy skip|update|create, dryRun, encoding, "
     "delimiter); then send its parts and start it"},
    {"GET", "/v1/imports/{id}", "contacts", "GetImport",
     &crm__contacts__get_import_request__descriptor, &crm__contacts__import__descriptor, NULL,
     NULL, ROLES_ANY,
     "An import: status, counts (created, updated, skipped, failed), the first rows' outcomes"},
    {"GET", "/v1/imports/{id}/errors", "contacts", "ListImportErrors",
     &crm__contacts__list_import_errors_request__descriptor,
     &crm__contacts__list_import_errors_response__descriptor, NULL, NULL, ROLES_ANY,
     "Every row an import refused, in row order (row, field, message; limit, cursor)"},
    {"POST", "/v1/imports/{id}/parts", "contacts", "AddImportPart",
     &crm__contacts__add_import_part_request__descriptor, &crm__contacts__import__descriptor,
     "*", NULL, ROLES_WRITE,
     "Add the next part of the file ({\"part\": n, \"data\": base64}, parts 1, 2, ... in "
     "order; a part sent again is not added twice)"},
    {"POST", "/v1/imports/{id}/start", "contacts", "StartImport",
     &crm__contacts__start_import_request__descriptor, &crm__contacts__job__descriptor, NULL,
     NULL, ROLES_WRITE, "Start the import: a job (202, GET /v1/jobs/{id})"},
    // --- notify: keyless endpoints for the outside world (raw: see routes.h, raw.h)
    ROUTE_RAW("POST", "/v1/webhooks/sms/status", "notify", "SmsStatusWebhook",
              "The SMS provider's delivery status callback (form-encoded, signed with "
              "X-Twilio-Signature): queued, sent, delivered, undelivered, failed"),
    ROUTE_RAW("POST", "/v1/webhooks/sms/inbound", "notify", "SmsInboundWebhook",
              "An SMS a contact sent (form-encoded, signed with X-Twilio-Signature): STOP and "
              "its synonyms opt out, START opts in again, HELP answers"),
    ROUTE_RAW("POST", "/v1/unsubscribe/{token}", "notify", "Unsubscribe",
              "One-click unsubscribe (RFC 8058: List-Unsubscribe=One-Click), or the page's "
              "confirm button; the token is the signed one of the message's link"),
    ROUTE_RAW("GET", "/v1/unsubscribe/{token}", "notify", "UnsubscribePage",
              "The unsubscribe page of a message's link: a button that POSTs (a GET changes "
              "nothing, since mail scanners follow links)"),
    ROUTE_RAW("GET", "/v1/t/{token}", "notify", "Track",
              "A tracking link: an open (a 1x1 GIF) or a click (302 to the link's URL)"),
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

//  What each raw route takes and answers besides its text/plain errors (see
//  route_raw_doc): the contract between the gateway's /v1/openapi.json and the service.
// clang-format off
static const route_raw_doc_t s_raw_docs[] = {
    {"notify", "SmsStatusWebhook", "application/x-www-form-urlencoded",
     {{"204", NULL, "recorded (the provider reads no body)"}}},
    {"notify", "SmsInboundWebhook", "application/x-www-form-urlencoded",
     {{"200", "text/xml", "TwiML: an empty <Response/> or the reply to send"}}},
    {"notify", "Unsubscribe", "application/x-www-form-urlencoded",
     {{"200", "text/html", "unsubscribed (a page saying so)"}}},
    {"notify", "UnsubscribePage", NULL, {{"200", "text/html", "the page with its button"}}},
    {"notify", "Track", NULL,
     {{"200", "image/gif", "an open: a transparent 1x1 GIF"},
      {"302", NULL, "a click: Location is the link's URL"}}},
};
// clang-format on

bool route_raw(const route_t *route) {
    return route->request == &crm__http_request__descriptor;
}

const route_raw_doc_t *route_raw_doc(const route_t *route) {
    if (!route_raw(route))
        return NULL;
    for (size_t i = 0; i < sizeof s_raw_docs / sizeof s_raw_docs[0]; i++)
        if (strcmp(route->service, s_raw_docs[i].service) == 0 &&
            strcmp(route->rpc, s_raw_docs[i].rpc) == 0)
            return &s_raw_docs[i];
    return NULL;
}

//  The download routes (see route_download): service, method, the bytes field.
static const struct {
    const char *service, *rpc, *field;
} s_downloads[] = {
    {"contacts", "GetExportPart", "data"},
};

const char *route_download(const route_t *route) {
    for (size_t i = 0; i < sizeof s_downloads / sizeof s_downloads[0]; i++)
        if (strcmp(route->service, s_downloads[i].service) == 0 &&
            strcmp(route->rpc, s_downloads[i].rpc) == 0)
            return s_downloads[i].field;
    return NULL;
}

int route_count(void) {
    int n = 0;
    while (routes[n].pattern)
        n++;
    return n;
}

//  The roles, in the order of their bits (ROLE_ADMIN is bit 0).
static const char *const s_role_names[ROUTE_N_ROLES] = {"admin", "manager", "sales", "analyst",
                                                        "integration"};

//  Which leads a salesperson sees (services/leads, lead_scope(): migration 0015): the
//  leads assigned to their team member and the unassigned ones, unless the tenant's
//  salesSeeAllLeads setting (PATCH /v1/pipeline/settings, false by default) is true.
#define SALES_LEAD "sales: a lead assigned to them or unassigned (else 404) unless salesSeeAllLeads"
#define SALES_LEADS                                                                           \
    "sales: the leads assigned to them and the unassigned ones unless salesSeeAllLeads"

const route_record_rule_t route_record_rules[] = {
    {"contacts", "PreviewMerge", "managers and admins only"},
    {"contacts", "Merge", "managers and admins only"},
    {"contacts", "UndoMerge", "managers and admins only"},
    {"contacts", "Bulk", "actions delete and send_email: managers and admins only"},
    {"contacts", "UpdateNote", "the note's author, a manager or an admin"},
    {"contacts", "DeleteNote", "the note's author, a manager or an admin"},
    {"contacts", "ListNoteRevisions", "a deleted note's history: managers and admins only"},
    {"leads", "List", SALES_LEADS},
    {"leads", "Get", SALES_LEAD},
    {"leads", "Update", SALES_LEAD},
    {"leads", "Delete", SALES_LEAD},
    {"leads", "ChangeStatus", "reopening a closed lead: managers and admins only; " SALES_LEAD},
    {"leads", "CreateActivity", SALES_LEAD},
    {"leads", "ListActivities", SALES_LEAD},
    {"leads", "UpdateActivity", "sales: only the activities they logged; " SALES_LEAD},
    {"leads", "GetTimeline", SALES_LEAD},
    {"leads", "HotSheet", SALES_LEADS},
    {"leads", "Assign", SALES_LEAD},
    {"leads", "ListAssignments", SALES_LEAD},
    {"leads", "CreateFollowUp", SALES_LEAD},
    {"leads", "UpdateFollowUp", SALES_LEAD},
    {"leads", "GetFollowUp", SALES_LEAD},
    {"leads", "ListFollowUps",
     "sales: the follow-ups of the leads assigned to them or unassigned (another's lead: 404) "
     "unless salesSeeAllLeads"},
    {"notify", "CreateCampaign", "managers and admins only"},
    {"notify", "CancelCampaign", "managers and admins only"},
    {NULL, NULL, NULL},
};

char *route_roles_markdown(void) {
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    assert(out);
    fprintf(out,
            "# Roles and routes\n\n"
            "Generated from the gateway's route table (services/gateway/routes.c) by `make "
            "roles-doc`;\n"
            "test_routes fails when this file and the table differ. Do not edit by hand.\n\n"
            "An API key has one role. A route a role may not call is answered 403 before "
            "anything\n"
            "else is looked at; the last column is what the service checks within the roles "
            "allowed\n"
            "(also 403). Keyless routes (webhooks, unsubscribe, tracking) take no API key.\n\n"
            "| method | path |");
    for (int i = 0; i < ROUTE_N_ROLES; i++)
        fprintf(out, " %s |", s_role_names[i]);
    fprintf(out, " within the roles |\n|---|---|");
    for (int i = 0; i < ROUTE_N_ROLES; i++)
        fprintf(out, ":-:|");
    fprintf(out, "---|\n");
    for (const route_t *r = routes; r->pattern; r++) {
        fprintf(out, "| %s | `%s` |", r->http_method, r->pattern);
        for (int i = 0; i < ROUTE_N_ROLES; i++)
            fprintf(out, " %s |", route_raw(r) ? "keyless" : r->roles & (1u << i) ? "yes" : "");
        const char *rule = "";
        for (const route_record_rule_t *x = route_record_rules; x->service; x++)
            if (strcmp(x->service, r->service) == 0 && strcmp(x->rpc, r->rpc) == 0)
                rule = x->rule;
        fprintf(out, " %s |\n", rule);
    }
    fclose(out);
    return text;
}


unsigned route_role_bit(const char *role) {
    for (int i = 0; i < ROUTE_N_ROLES; i++)
        if (strcmp(s_role_names[i], role) == 0)
            return 1u << i;
    return 0;
}

const char *route_role_name(int index) {
    return index >= 0 && index < ROUTE_N_ROLES ? s_role_names[index] : NULL;
}

//  Match path against pattern segment by segment, capturing {name} segments.
static bool s_match(const char *pattern, const char *path, route_param_t *params, int *n) {
    *n = 0;
    while (*pattern && *path) {
        if (*pattern != '/' || *path != '/')
            return false;
        pattern++;
        path++;
        size_t plen = strcspn(pattern, "/");
        size_t slen = strcspn(path, "/");
        if (*pattern == '{') {
            if (slen == 0 || slen >= sizeof params[0].value || *n == ROUTE_MAX_PARAMS)
                return false;
            static __thread char names[ROUTE_MAX_PARAMS][32];
            size_t nlen = plen - 2 < sizeof names[0] - 1 ? plen - 2 : sizeof names[0] - 1;
            memcpy(names[*n], pattern + 1, nlen);
            names[*n][nlen] = 0;
            params[*n].name = names[*n];
            memcpy(params[*n].value, path, slen);
            params[*n].value[slen] = 0;
            (*n)++;
        } else if (plen != slen || memcmp(pattern, path, plen) != 0)
            return false;
        pattern += plen;
        path += slen;
    }
    return *pattern == 0 && (*path == 0 || strcmp(path, "/") == 0);
}

const route_t *route_match(const char *method, const char *path, route_param_t *params,
                           int *n_params, bool *path_known) {
    *path_known = false;
    for (const route_t *r = routes; r->pattern; r++) {
        if (!s_match(r->pattern, path, params, n_params))
            continue;
        if (strcmp(r->http_method, method) == 0)
            return r;
        *path_known = true;
    }
    *n_params = 0;
    return NULL;
}
