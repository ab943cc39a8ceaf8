#!/bin/sh
# Turns services/<name>/migrations/NNNN_*.sql into a C array compiled into the daemon, so a
# binary carries its own schema history. Usage: embed-migrations.sh NAME DIR > out.c
set -eu
name=$1 dir=$2
# Two files with one number: only one would ever be applied (versions are the numbers).
dup=$(ls "$dir"/[0-9]*.sql 2>/dev/null | xargs -n1 basename | sed 's/_.*//' | sort | uniq -d)
if [ -n "$dup" ]; then
    echo "embed-migrations: $dir has two migrations numbered $dup: renumber one" >&2
    exit 1
fi
printf '/* generated from %s by scripts/embed-migrations.sh; do not edit */\n' "$dir"
printf '#include "db.h"\n#include <stddef.h>\n\n'
printf 'const crm_migration_t %s_migrations[] = {\n' "$name"
for f in $(ls "$dir"/[0-9]*.sql 2>/dev/null | sort); do
    base=$(basename "$f" .sql)
    version=$(echo "$base" | sed 's/_.*//' | sed 's/^0*//')
    printf '    { %s, "%s",\n' "${version:-0}" "$base"
    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/      "/' -e 's/$/\\n"/' "$f"
    printf '    },\n'
done
printf '    { 0, NULL, NULL }\n};\n'
