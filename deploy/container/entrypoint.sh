#!/bin/sh
# Container entry point: runs the program named by the first argument, as PID 1 (exec),
# so it receives SIGTERM itself and stops cleanly.
#     crm-gateway | gateway        crm-contacts | contacts
#     crm-leads | leads            crm-reporting | reporting
#     crm-notify | notify          crm-supervisor | supervisor
#     crm-dedupe | dedupe          crm-scoring | scoring
#     crmctl ARGS...
# Any other command (sh, ...) is run as given.
set -eu

if [ $# -eq 0 ]; then
    echo "crm-entrypoint: no program given" >&2
    echo "hint: crm-gateway, crm-contacts, crm-leads, crm-scoring, crm-dedupe, crm-notify, crm-reporting, crm-supervisor or crmctl ARGS" >&2
    exit 2
fi

program=$1
shift
if [ -x "/usr/local/bin/crm-$program" ]; then
    program=crm-$program
fi
exec "$program" "$@"
