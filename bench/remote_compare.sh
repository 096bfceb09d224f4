#!/usr/bin/env bash
# kvtier-bench --tier remote beside redis-benchmark, same value size, same
# server, one line per round: GET and SET MB/s of each and their ratios.
# Usage: bench/remote_compare.sh HOST:PORT   (env: BLOCK=1MiB SECS=5 ROUNDS=3
#        BATCH=16 KEY=<checksum secret, empty = none> BIN=build/bin
#        TLS_CA=<CA bundle: both clients speak TLS, verifying the server>
#        TLS_CERT=, TLS_KEY=<client certificate and key, for mutual TLS>)
set -euo pipefail
ENDPOINT=${1:?usage: bench/remote_compare.sh HOST:PORT}
HOST=${ENDPOINT%:*}
PORT=${ENDPOINT##*:}
BLOCK=${BLOCK:-1MiB}
SECS=${SECS:-5}
ROUNDS=${ROUNDS:-3}
BATCH=${BATCH:-16}
BIN=${BIN:-build/bin}
KEYARG=()
[ -n "${KEY:-}" ] && KEYARG=(--checksum-key "$KEY")
TLSARG=()   # kvtier-bench
RBTLSARG=() # redis-benchmark
if [ -n "${TLS_CA:-}" ]; then
  TLSARG=(--redis-tls-ca "$TLS_CA")
  RBTLSARG=(--tls --cacert "$TLS_CA")
  if [ -n "${TLS_CERT:-}" ]; then
    TLSARG+=(--redis-tls-cert "$TLS_CERT" --redis-tls-key "$TLS_KEY")
    RBTLSARG+=(--cert "$TLS_CERT" --key "$TLS_KEY")
  fi
fi
bytes=$(python3 -c "import sys; s='$BLOCK'; u={'KiB':1024,'MiB':1<<20}; print(int(s[:-3])*u[s[-3:]])")
value=$((bytes + 64))  # kvtier's stored block: 64-byte header + block
[ -n "${KEY:-}" ] && value=$((value + 32))
gbps() { python3 -c "import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])['gbps'])"; }
echo "round kvtier_get_GBps redis_get_GBps get_ratio kvtier_set_GBps redis_set_GBps set_ratio"
for r in $(seq "$ROUNDS"); do
  kget=$("$BIN/kvtier-bench" --tier remote --redis "$ENDPOINT" --capacity 1GiB \
    --block-bytes "$BLOCK" --batch "$BATCH" --op load --seconds "$SECS" --no-progress \
    "${KEYARG[@]}" "${TLSARG[@]}" --json | gbps)
  kset=$("$BIN/kvtier-bench" --tier remote --redis "$ENDPOINT" --capacity 1GiB \
    --block-bytes "$BLOCK" --batch "$BATCH" --op save --seconds "$SECS" --no-progress \
    "${KEYARG[@]}" "${TLSARG[@]}" --json | gbps)
  csv=$(redis-benchmark -h "$HOST" -p "$PORT" -t set,get -d "$value" -n 800 -c 1 \
    -P "$BATCH" "${RBTLSARG[@]}" --csv 2>/dev/null)
  rset=$(echo "$csv" | awk -F'"' '$2=="SET"{print $4}')
  rget=$(echo "$csv" | awk -F'"' '$2=="GET"{print $4}')
  python3 - "$r" "$kget" "$kset" "$rget" "$rset" "$value" <<'PY'
import sys
r, kget, kset, rget, rset, value = sys.argv[1:]
rg = float(rget) * int(value) / 1e9
rs = float(rset) * int(value) / 1e9
print(f"{r} {float(kget):.3f} {rg:.3f} {float(kget)/rg:.2f} {float(kset):.3f} {rs:.3f} {float(kset)/rs:.2f}")
PY
done
