#!/bin/bash
# `make fuzz`: libFuzzer targets for the parsers we wrote (JSON transcoder, MDP framing,
# CSV reader and writer, @mentions, notify's webhook forms and link tokens, the gateway's
# request header checks and strict HTTP syntax), each for FUZZ_SECONDS (default 60), under AddressSanitizer and
# UBSan; FUZZ_TARGETS="form csv" runs only those. Fails on a crash or a leak; the crashing input is left in build-fuzz/.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
seconds=${FUZZ_SECONDS:-60}
out=build-fuzz
mkdir -p "$out"
make --no-print-directory build/gen/common.pb-c.c build/gen/contacts.pb-c.c build/gen/test_types.pb-c.c >/dev/null
CFLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE -Ibuild/gen -Icommon -Iservices/gateway $(pkg-config --cflags libczmq jansson libprotobuf-c)"
LIBS="$(pkg-config --libs libczmq libzmq jansson libprotobuf-c)"
gen="build/gen/common.pb-c.c build/gen/contacts.pb-c.c build/gen/test_types.pb-c.c"

declare -A sources=(
    [json_pb]="tests/fuzz/fuzz_json_pb.c common/json_pb.c $gen"
    [mdp]="tests/fuzz/fuzz_mdp.c common/mdp.c"
    [csv]="tests/fuzz/fuzz_csv.c common/csv.c common/validate.c"
    [mentions]="tests/fuzz/fuzz_mentions.c common/mentions.c common/validate.c"
    [form]="tests/fuzz/fuzz_form.c services/notify/webhook.c common/validate.c"
    [sms_reply]="tests/fuzz/fuzz_sms_reply.c services/notify/sms.c common/validate.c"
    [headers]="tests/fuzz/fuzz_headers.c services/gateway/headers.c common/validate.c"
    [http_syntax]="tests/fuzz/fuzz_http_syntax.c services/gateway/headers.c common/validate.c"
)
# Libraries a target needs beyond LIBS.
declare -A extra_libs=(
    [form]="-lsodium -lcrypto"
    [sms_reply]="-lcurl"
)
status=0
# FUZZ_TARGETS="form csv" runs only those (default: every target).
for target in ${FUZZ_TARGETS:-"${!sources[@]}"}; do
    echo "=== fuzz_$target for ${seconds}s"
    # shellcheck disable=SC2086
    clang $CFLAGS ${sources[$target]} -o "$out/fuzz_$target" $LIBS ${extra_libs[$target]:-}
    mkdir -p "$out/corpus_$target"
    cp -n tests/fuzz/corpus/"$target"/* "$out/corpus_$target/" 2>/dev/null || true
    if ! (set -o pipefail; cd "$out" && "./fuzz_$target" -max_total_time="$seconds" -print_final_stats=1 \
            "corpus_$target" 2>&1 | tail -n 12); then
        status=1
    fi
    if ls "$out"/crash-* "$out"/leak-* >/dev/null 2>&1; then
        echo "fuzz_$target found a failing input: $(ls "$out"/crash-* "$out"/leak-* 2>/dev/null)"
        status=1
    fi
done
exit $status
