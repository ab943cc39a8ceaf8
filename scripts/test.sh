#!/bin/bash
# `make test`: every unit test, then every system test (each starts its own PostgreSQL,
# gateway and daemons on free ports and stops them). Exits non-zero if any test fails.
set -u
BUILD=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
export CRM_BIN_DIR=$top/$BUILD/bin
export CRM_TOP_DIR=$top
passed=0 failed=0 failures=()

run_one() {
    local t=$1 name
    name=$(basename "$t")
    echo "=== $name"
    if "$t"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures+=("$name")
    fi
}

for t in "$top/$BUILD"/tests/test_*; do
    [ -x "$t" ] && run_one "$t"
done
for t in "$top/$BUILD"/tests/systest_*; do
    [ -x "$t" ] && run_one "$t"
done

echo
[ $failed -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
