#!/bin/bash
# `make bench`: every benchmark under bench/, each beside its PostgreSQL baseline
# (bench_notify: beside libcurl sending the same messages to the same local sinks; its
# sizes: BENCH_SMS, BENCH_EMAIL, BENCH_LEADS, BENCH_CONSENT, 0 leaving a phase out).
# bench_contacts and bench_events run twice: with CurveZMQ (the default), then with
# security.insecure: true, so the cost of encryption reads off the two.
set -eu
BUILD=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
export CRM_BIN_DIR=$top/$BUILD/bin
export CRM_TOP_DIR=$top
for b in "$top/$BUILD"/bench/*; do
    [ -x "$b" ] || continue
    echo "### $(basename "$b")"
    "$b"
    # The cost of CurveZMQ: the request path and the event path again in plain text.
    case $(basename "$b") in
    bench_contacts | bench_events)
        echo "### $(basename "$b") with security.insecure: true (plain-text ZeroMQ, to compare)"
        CRM_SECURITY_INSECURE=true "$b"
        ;;
    esac
done
