#!/bin/bash
# `make bench`: every benchmark under bench/, each beside its PostgreSQL baseline.
set -eu
BUILD=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
export CRM_BIN_DIR=$top/$BUILD/bin
export CRM_TOP_DIR=$top
for b in "$top/$BUILD"/bench/*; do
    [ -x "$b" ] || continue
    echo "### $(basename "$b")"
    "$b"
done
