#!/usr/bin/env bash
# The README's walk-through on a throwaway realm: init, addprinc, ktadd, serve, kinit,
# klist, kvno, kdestroy, and remote administration (orthrus admin). Stops the KDC it started and removes the realm.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/.venv/bin
WORK=$(mktemp -d)
PORT=$("$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
KDC_PID=""
cleanup() { [ -n "$KDC_PID" ] && kill "$KDC_PID" 2>/dev/null && wait "$KDC_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
export ORTHRUS_KDC_DIR=$WORK/kdc ORTHRUS_KDC_URL=http://127.0.0.1:$PORT ORTHRUS_CCACHE=$WORK/alice.cc
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step orthrus-kdc init --realm EXAMPLE.TEST
"$BIN/orthrus-kdc" init --realm EXAMPLE.TEST
step "printf 's3cret-pass\n' | orthrus-kdc addprinc alice@EXAMPLE.TEST"
printf 's3cret-pass\n' | "$BIN/orthrus-kdc" addprinc alice@EXAMPLE.TEST
step orthrus-kdc addprinc --randkey HTTP/localhost@EXAMPLE.TEST
"$BIN/orthrus-kdc" addprinc --randkey HTTP/localhost@EXAMPLE.TEST
step orthrus-kdc ktadd -k "$WORK/http.keytab" HTTP/localhost@EXAMPLE.TEST
"$BIN/orthrus-kdc" ktadd -k "$WORK/http.keytab" HTTP/localhost@EXAMPLE.TEST
step orthrus-kdc serve --host 127.0.0.1 --port "$PORT" --kerberos-port 0 '&'
"$BIN/orthrus-kdc" serve --host 127.0.0.1 --port "$PORT" --kerberos-port 0 2>"$WORK/kdc.log" &
KDC_PID=$!
for _ in $(seq 100); do curl -fs "$ORTHRUS_KDC_URL/livez" >/dev/null 2>&1 && break; sleep 0.1; done
step "printf 's3cret-pass\n' | orthrus kinit alice@EXAMPLE.TEST"
printf 's3cret-pass\n' | "$BIN/orthrus" kinit alice@EXAMPLE.TEST
step orthrus klist
"$BIN/orthrus" klist
step orthrus kvno HTTP/localhost@EXAMPLE.TEST
"$BIN/orthrus" kvno HTTP/localhost@EXAMPLE.TEST
step orthrus klist --json
"$BIN/orthrus" klist --json
step orthrus kdestroy
"$BIN/orthrus" kdestroy
step "printf 'r00t-admin-pass\n' | orthrus-kdc addprinc root/admin@EXAMPLE.TEST"
printf 'r00t-admin-pass\n' | "$BIN/orthrus-kdc" addprinc root/admin@EXAMPLE.TEST
export ORTHRUS_CCACHE=$WORK/admin.cc
step "printf 'r00t-admin-pass\n' | orthrus kinit root/admin@EXAMPLE.TEST"
printf 'r00t-admin-pass\n' | "$BIN/orthrus" kinit root/admin@EXAMPLE.TEST
step "printf 'b0b-s3cret-pass\n' | orthrus admin addprinc bob@EXAMPLE.TEST"
printf 'b0b-s3cret-pass\n' | "$BIN/orthrus" admin addprinc bob@EXAMPLE.TEST
step orthrus admin getprinc bob@EXAMPLE.TEST
"$BIN/orthrus" admin getprinc bob@EXAMPLE.TEST
step orthrus kdestroy
"$BIN/orthrus" kdestroy
printf '\nWalk-through done; the throwaway realm is removed.\n'
