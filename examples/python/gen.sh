#!/bin/sh
# Generate the Python classes of proto/*.proto (common_pb2, contacts_pb2, events_pb2, ...)
# into DIR, by default build/python: a build output, not committed. Needs protoc
# (Debian: protobuf-compiler; `make deps` installs it).
#     examples/python/gen.sh [DIR]
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/build/python}
if ! command -v protoc >/dev/null 2>&1; then
    echo "gen.sh: protoc not found" >&2
    echo "hint: apt-get install protobuf-compiler (or: make deps)" >&2
    exit 1
fi
mkdir -p "$out"
protoc -I"$top/proto" --python_out="$out" "$top"/proto/*.proto
echo "gen.sh: Python classes in $out" >&2
