/*  methods: everything the contacts service answers on the bus, one row each: the index
    of the service. Rows are grouped by resource; each group's comment names the rules
    file (no database), the store (its SQL and events) and the file holding the methods,
    and each row's comment the HTTP route that reaches it (none: bus only). Each method
    reads top to bottom: decode, check (the rules), store, answer; the core
    (common/service.c) batches, commits and replies.
*/
#include "contacts.h"
#include "merge.h"
#include "replay.h"

const crm_method_t contacts_methods[] = {
    //  --- A contact: create, read, change, delete; a tag on or off: contact.c, contact_store.c,
    //  contact_methods.c
    //  POST /v1/contacts
    {"Create", contacts_contact_create, &crm__contacts__create_contact_request__descriptor, true},
    //  GET /v1/contacts/{id}
    {"Get", contacts_contact_get, &crm__contacts__get_contact_request__descriptor, false},
    //  bus only
    {"Match", contacts_contact_match, &crm__contacts__match_contact_request__descriptor, false},
    //  PATCH /v1/contacts/{id}
    {"Update", contacts_contact_update, &crm__contacts__update_contact_request__descriptor, true},
    //  DELETE /v1/contacts/{id}
    {"Delete", contacts_contact_delete, &crm__contacts__delete_contact_request__descriptor, true},
    //  POST /v1/contacts/{id}/tags
    {"AddTag", contacts_contact_add_tag, &crm__contacts__add_contact_tag_request__descriptor, true},
    //  DELETE /v1/contacts/{id}/tags/{tag}
    {"RemoveTag", contacts_contact_remove_tag,
     &crm__contacts__remove_contact_tag_request__descriptor, true},

    //  --- Merges of duplicate contacts, their preview and undo: merge.c, merge_store.c,
    //  merge_methods.c
    //  POST /v1/contacts/merge/preview
    {"PreviewMerge", contacts_merge_preview, &crm__contacts__merge_contacts_request__descriptor,
     false},
    //  POST /v1/contacts/merge
    {"Merge", contacts_merge, &crm__contacts__merge_contacts_request__descriptor, true},
    //  GET /v1/merges/{id}
    {"GetMerge", contacts_merge_get, &crm__contacts__get_merge_request__descriptor, false},
    //  GET /v1/merges
    {"ListMerges", contacts_merge_list, &crm__contacts__list_merges_request__descriptor, false},
    //  POST /v1/merges/{id}/undo
    {"UndoMerge", contacts_merge_undo, &crm__contacts__undo_merge_request__descriptor, true},

    //  --- The list: filters and search: search.c, search_store.c, search_methods.c
    //  GET /v1/contacts
    {"List", contacts_list, &crm__contacts__list_contacts_request__descriptor, false},

    //  --- Every contact of every tenant, page by page (reporting's rebuild): snapshot.c,
    //  snapshot_store.c, snapshot_methods.c
    //  bus only
    {"Snapshot", contacts_snapshot, &crm__contacts__snapshot_request__descriptor, false},

    //  --- The tag catalogue: tag.c, tag_store.c, tag_methods.c
    //  POST /v1/tags
    {"CreateTag", contacts_tag_create, &crm__contacts__create_tag_request__descriptor, true},
    //  GET /v1/tags/{id}
    {"GetTag", contacts_tag_get, &crm__contacts__get_tag_request__descriptor, false},
    //  GET /v1/tags
    {"ListTags", contacts_tag_list, &crm__contacts__list_tags_request__descriptor, false},
    //  PATCH /v1/tags/{id}
    {"UpdateTag", contacts_tag_update, &crm__contacts__update_tag_request__descriptor, true},
    //  DELETE /v1/tags/{id}
    {"DeleteTag", contacts_tag_delete, &crm__contacts__delete_tag_request__descriptor, true},
    //  POST /v1/tags/{id}/merge
    {"MergeTag", contacts_tag_merge, &crm__contacts__merge_tag_request__descriptor, true},

    //  --- Notes: revisions, tombstones, @mentions: note.c, note_store.c, note_methods.c
    //  POST /v1/contacts/{id}/notes
    {"CreateNote", contacts_note_create, &crm__contacts__create_note_request__descriptor, true},
    //  GET /v1/contacts/{id}/notes/{noteId}
    {"GetNote", contacts_note_get, &crm__contacts__get_note_request__descriptor, false},
    //  GET /v1/contacts/{id}/notes
    {"ListNotes", contacts_note_list, &crm__contacts__list_notes_request__descriptor, false},
    //  GET /v1/contacts/{id}/notes/{noteId}/revisions
    {"ListNoteRevisions", contacts_note_revisions,
     &crm__contacts__list_note_revisions_request__descriptor, false},
    //  PATCH /v1/contacts/{id}/notes/{noteId}
    {"UpdateNote", contacts_note_update, &crm__contacts__update_note_request__descriptor, true},
    //  DELETE /v1/contacts/{id}/notes/{noteId}
    {"DeleteNote", contacts_note_delete, &crm__contacts__delete_note_request__descriptor, true},

    //  --- Communication rules: consent, do-not-contact, their history: consent.c, consent_store.c,
    //  consent_methods.c
    //  GET /v1/contacts/{id}/communication
    {"GetCommunicationRules", contacts_communication_get,
     &crm__contacts__get_communication_rules_request__descriptor, false},
    //  PATCH /v1/contacts/{id}/communication
    {"UpdateCommunicationRules", contacts_communication_update,
     &crm__contacts__update_communication_rules_request__descriptor, true},
    //  POST /v1/contacts/{id}/consents
    {"RecordConsent", contacts_consent_record, &crm__contacts__record_consent_request__descriptor,
     true},
    //  GET /v1/contacts/{id}/consents/{changeId}
    {"GetConsent", contacts_consent_get, &crm__contacts__get_consent_request__descriptor, false},
    //  GET /v1/contacts/{id}/communication/history
    {"ListCommunicationHistory", contacts_communication_history,
     &crm__contacts__list_communication_history_request__descriptor, false},
    //  GET /v1/contacts/{id}/communication/check
    {"CanContact", contacts_can_contact, &crm__contacts__can_contact_request__descriptor, false},

    //  --- Custom fields and phone types: field.c, field_store.c, field_methods.c
    //  POST /v1/contact-fields
    {"CreateCustomField", contacts_field_create,
     &crm__contacts__create_custom_field_request__descriptor, true},
    //  GET /v1/contact-fields/{key}
    {"GetCustomField", contacts_field_get, &crm__contacts__get_custom_field_request__descriptor,
     false},
    //  GET /v1/contact-fields
    {"ListCustomFields", contacts_field_list,
     &crm__contacts__list_custom_fields_request__descriptor, false},
    //  PATCH /v1/contact-fields/{key}
    {"UpdateCustomField", contacts_field_update,
     &crm__contacts__update_custom_field_request__descriptor, true},
    //  DELETE /v1/contact-fields/{key}
    {"DeleteCustomField", contacts_field_delete,
     &crm__contacts__delete_custom_field_request__descriptor, true},
    //  POST /v1/phone-types
    {"CreatePhoneType", contacts_phone_type_create,
     &crm__contacts__create_phone_type_request__descriptor, true},
    //  GET /v1/phone-types
    {"ListPhoneTypes", contacts_phone_type_list,
     &crm__contacts__list_phone_types_request__descriptor, false},
    //  DELETE /v1/phone-types/{name}
    {"DeletePhoneType", contacts_phone_type_delete,
     &crm__contacts__delete_phone_type_request__descriptor, true},

    //  --- Saved filters: saved_filter.c, saved_filter_store.c, saved_filter_methods.c
    //  POST /v1/saved-filters
    {"CreateSavedFilter", contacts_saved_filter_create,
     &crm__contacts__create_saved_filter_request__descriptor, true},
    //  GET /v1/saved-filters/{id}
    {"GetSavedFilter", contacts_saved_filter_get,
     &crm__contacts__get_saved_filter_request__descriptor, false},
    //  GET /v1/saved-filters
    {"ListSavedFilters", contacts_saved_filter_list,
     &crm__contacts__list_saved_filters_request__descriptor, false},
    //  PATCH /v1/saved-filters/{id}
    {"UpdateSavedFilter", contacts_saved_filter_update,
     &crm__contacts__update_saved_filter_request__descriptor, true},
    //  DELETE /v1/saved-filters/{id}
    {"DeleteSavedFilter", contacts_saved_filter_delete,
     &crm__contacts__delete_saved_filter_request__descriptor, true},
    //  GET /v1/saved-filters/{id}/contacts
    {"RunSavedFilter", contacts_saved_filter_run,
     &crm__contacts__run_saved_filter_request__descriptor, false},

    //  --- The audit trail: audit.c, audit_store.c, audit_methods.c
    //  GET /v1/contacts/{id}/audit
    {"ListAudit", contacts_audit_list, &crm__contacts__list_contact_audit_request__descriptor,
     false},

    //  --- Erasure (and the retention sweep, a background job): erase.c, erase_store.c,
    //  erase_methods.c
    //  POST /v1/contacts/{id}/erase
    {"Erase", contacts_erase_method, &crm__contacts__erase_contact_request__descriptor, true},

    //  --- One change to many contacts: bulk.c, bulk_store.c, bulk_methods.c (send_email:
    //  a campaign, the notify service's CreateCampaignFromBulk over the bus)
    //  POST /v1/contacts/bulk
    {"Bulk", contacts_bulk, &crm__contacts__bulk_contacts_request__descriptor, true},

    //  --- Jobs (bulk changes and imports) and their progress: job.c, job_store.c, job_methods.c
    //  GET /v1/jobs/{id}
    {"GetJob", contacts_job_get, &crm__contacts__get_job_request__descriptor, false},
    //  GET /v1/jobs
    {"ListJobs", contacts_job_list, &crm__contacts__list_jobs_request__descriptor, false},

    //  --- CSV import: import.c, import_store.c, import_methods.c
    //  POST /v1/imports
    {"CreateImport", contacts_import_create, &crm__contacts__create_import_request__descriptor,
     true},
    //  POST /v1/imports/{id}/parts
    {"AddImportPart", contacts_import_add_part, &crm__contacts__add_import_part_request__descriptor,
     true},
    //  POST /v1/imports/{id}/start
    {"StartImport", contacts_import_start, &crm__contacts__start_import_request__descriptor, true},
    //  GET /v1/imports/{id}
    {"GetImport", contacts_import_get, &crm__contacts__get_import_request__descriptor, false},
    //  GET /v1/imports/{id}/errors
    {"ListImportErrors", contacts_import_errors,
     &crm__contacts__list_import_errors_request__descriptor, false},
    //  GET /v1/imports/template
    {"GetImportTemplate", contacts_import_template,
     &crm__contacts__import_template_request__descriptor, false},
    //  PUT /v1/imports/mappings/{name}
    {"PutImportMapping", contacts_import_mapping_put,
     &crm__contacts__put_import_mapping_request__descriptor, true},
    //  GET /v1/imports/mappings/{name}
    {"GetImportMapping", contacts_import_mapping_get,
     &crm__contacts__get_import_mapping_request__descriptor, false},
    //  GET /v1/imports/mappings
    {"ListImportMappings", contacts_import_mapping_list,
     &crm__contacts__list_import_mappings_request__descriptor, false},

    //  --- CSV and XLSX export: export.c, export_store.c, export_methods.c
    //  POST /v1/exports
    {"CreateExport", contacts_export_create, &crm__contacts__create_export_request__descriptor,
     true},
    //  GET /v1/exports/{id}
    {"GetExport", contacts_export_get, &crm__contacts__get_export_request__descriptor, false},
    //  GET /v1/exports/{id}/parts/{n}
    {"GetExportPart", contacts_export_part, &crm__contacts__get_export_part_request__descriptor,
     false},

    //  --- Events: the service's outbox for subscribers that missed some (common/replay.c)
    CRM_EVENTS_REPLAY_METHOD,
    {NULL, NULL, NULL, false},
};
