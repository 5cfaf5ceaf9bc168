#!/usr/bin/env bash
# The long fuzz of issue 8, from a clean clone: a throwaway realm, the KDC and service_demo
# under gunicorn on 127.0.0.1, then
#   1. schemathesis against both OpenAPI descriptions (GET /openapi.json), checking that no
#      generated request gets a 5xx;
#   2. the mutational fuzzer over HTTP against the running servers (FUZZ_HTTP_COUNT per
#      endpoint);
#   3. the mutational fuzzer in-process through the same WSGI apps, FUZZ_COUNT (10^6) inputs
#      per endpoint;
#   4. the hypothesis properties with the long profile, and the bit flips.
# Prints the inputs, 5xx answers and uncaught exceptions per endpoint (target: 0), stops
# every process it started (by pid) and exits non-zero if any 5xx or exception was seen.
# Its figures go to scripts/results/fuzz-latest.json and from there into docs/security.md
# (scripts/fuzz_report.py), with the date, the machine and the versions.
# Bounded: FUZZ_MAX_SECONDS for step 3 (default 7200), request timeouts everywhere.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT="${FUZZ_COUNT:-1000000}"
HTTP_COUNT="${FUZZ_HTTP_COUNT:-20000}"
MAX_SECONDS="${FUZZ_MAX_SECONDS:-7200}"
ST_EXAMPLES="${FUZZ_ST_EXAMPLES:-500}"
make install >/dev/null
BIN="$PWD/.venv/bin"
work="$(mktemp -d -t orthrus-fuzz-XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
for var in $(env | grep -o '^ORTHRUS_[A-Z_]*' || true); do unset "$var"; done
free_port() { "$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() {
    for _ in $(seq 100); do
        curl -fsS -o /dev/null "$1/livez" 2>/dev/null && return 0
        "$BIN/python" -c "import httpx,sys; sys.exit(httpx.get('$1/livez').status_code!=200)" 2>/dev/null && return 0
        sleep 0.2
    done
    echo "fuzz.sh: $1 did not start" >&2; return 1
}
status=0

echo "== realm in $work"
kdc="$BIN/orthrus-kdc --dir $work/kdc"
$kdc init --realm EXAMPLE.TEST --kdf-memory-kib 8192 --kdf-iterations 1 >/dev/null
printf 'alice-fuzz-pass\n' | $kdc addprinc alice@EXAMPLE.TEST >/dev/null
$kdc addprinc --randkey HTTP/localhost@EXAMPLE.TEST >/dev/null
$kdc ktadd -k "$work/http.keytab" HTTP/localhost@EXAMPLE.TEST >/dev/null
sed -i 's/^lockout_attempts = .*/lockout_attempts = 0/' "$work/kdc/kdc.toml"
kdc_port="$(free_port)"; demo_port="$(free_port)"
$kdc serve --host 127.0.0.1 --port "$kdc_port" --kerberos-port 0 >"$work/kdc.log" 2>&1 & pids+=($!)
"$BIN/python" -m service_demo --keytab "$work/http.keytab" --db "$work/notes.db" \
    --host 127.0.0.1 --port "$demo_port" >"$work/demo.log" 2>&1 & pids+=($!)
KDC_URL="http://127.0.0.1:$kdc_port"; DEMO_URL="http://127.0.0.1:$demo_port"
wait_up "$KDC_URL"; wait_up "$DEMO_URL"

echo "== 1. schemathesis ($ST_EXAMPLES examples per operation, check: not_a_server_error)"
for server in kdc demo; do
    url="$KDC_URL"; [ "$server" = demo ] && url="$DEMO_URL"
    out="$work/st-$server.out"
    if "$BIN/st" run "$url/openapi.json" --checks not_a_server_error --max-examples "$ST_EXAMPLES" \
        --request-timeout 30 --seed 8 >"$out" 2>&1; then
        echo "   $url: no 5xx"
    else
        echo "   $url: FAILURES"; status=1
    fi
    grep -E "^(Test cases|API Operations|Summary|[0-9]+ (generated|passed|failed))|generated" "$out" | sed 's/^/   /' | tail -5 || true
done

echo "== 2. mutational fuzzer over HTTP ($HTTP_COUNT inputs per endpoint)"
"$BIN/python" scripts/fuzz_http.py --kdc-url "$KDC_URL" --demo-url "$DEMO_URL" \
    --count "$HTTP_COUNT" --max-seconds 1800 --json "$work/http.json" || status=1

echo "== 3. mutational fuzzer in-process ($COUNT inputs per endpoint, at most $MAX_SECONDS s)"
"$BIN/python" scripts/fuzz_http.py --inproc --count "$COUNT" --max-seconds "$MAX_SECONDS" \
    --json "$work/inproc.json" || status=1

echo "== 4. hypothesis (long profile) and bit flips"
HYPOTHESIS_PROFILE=long ORTHRUS_FUZZ_REPORT="$work/bitflips.json" \
    "$BIN/pytest" -q -s -p no:cacheprovider tests/fuzz/test_fuzz_codec.py tests/fuzz/test_fuzz_bitflips.py \
    2>&1 | tee "$work/hypothesis.out" | grep -E "bit flips|passed|failed" || status=1

for log in "$work/kdc.log" "$work/demo.log"; do
    if grep -q "Traceback" "$log"; then echo "tracebacks in $(basename "$log")"; status=1; fi
done
"$BIN/python" scripts/fuzz_report.py record "$work" --seconds "$SECONDS" --examples "$ST_EXAMPLES" \
    || status=1
echo "== fuzz.sh: $([ $status = 0 ] && echo 'no 5xx, no uncaught exception' || echo 'FAILURES (see above)')"
exit $status
