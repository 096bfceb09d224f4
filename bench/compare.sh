#!/usr/bin/env bash
# kvtier beside fio and a naive RocksDB block store, in one run on the same
# directory: per workload the same block size, queue depth and file size.
#   fio:      ioengine=io_uring, direct=1, one job at iodepth QD over a
#             preallocated CAPACITY file (randwrite / randread / randrw),
#   kvtier:   build/bin/kvtier-bench --tier nvme (host tier too small to serve
#             Loads; Saves count once on disk, the final Flush included),
#   rocksdb:  build/bin/kvtier-bench --tier rocksdb (one value per block,
#             BlobDB on, O_DIRECT reads; bench/kvtier_bench/rocksdb_baseline.cc).
# Each figure is the median of REPS runs; prints one line per workload with
# kvtier's GB/s and its ratios to fio and RocksDB.
#
#   bench/compare.sh DIR    (env: CAPACITY=1GiB QD=16 REPS=3 SECS=3
#                            WORKLOADS="load:256:1 load:256:2 save:256:1 ...")
# A workload is op:block_KiB:threads[:inflight] (inflight: loads each
# kvtier thread keeps in flight through BeginLoad, as an engine overlapping
# requests does; RocksDB has no asynchronous loads and runs one at a time).
# Run it under the exclusive lock:
#   flock -x /tmp/kvtier-heavy.lock bench/compare.sh /var/tmp/kvtier-compare
# DIR must be on the disk measured (ext4, not tmpfs); it is emptied at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:?usage: bench/compare.sh DIR}
CAPACITY=${CAPACITY:-1GiB}
QD=${QD:-16}
REPS=${REPS:-3}
SECS=${SECS:-3}
WORKLOADS=${WORKLOADS:-"save:256:1 save:256:2 load:256:1 load:256:2 load:1024:1 mixed:256:1"}
BIN=${BIN:-build/bin/kvtier-bench}
if ! command -v fio >/dev/null; then
  echo "compare.sh needs fio: sudo apt-get install -y fio (listed in scripts/deps.sh)" >&2
  exit 1
fi
[ -x "$BIN" ] || { echo "build $BIN first (cmake --build build)" >&2; exit 1; }
mkdir -p "$DIR"
trap 'rm -rf "$DIR/fio.dat" "$DIR/kvtier" "$DIR/rocksdb-run"' EXIT

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
field() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])[sys.argv[1]])' "$1"; }

# GB/s of one fio run: $1 op, $2 block KiB.
fio_gbps() {
  local rw
  case $1 in save) rw=randwrite ;; load) rw=randread ;; mixed) rw="randrw --rwmixread=50" ;; esac
  # shellcheck disable=SC2086
  fio --name=kvtier --directory="$DIR" --filename=fio.dat --size="${CAPACITY%iB}" \
      --bs="${2}k" --iodepth="$QD" --ioengine=io_uring --direct=1 --rw=$rw --numjobs=1 \
      --time_based --runtime="$SECS" --randrepeat=0 --output-format=json |
    python3 -c 'import json,sys; j=json.load(sys.stdin)["jobs"][0]; print((j["write"]["bw_bytes"]+j["read"]["bw_bytes"])/1e9)'
}

# GB/s of one kvtier-bench run: $1 tier, $2 op, $3 block KiB, $4 threads,
# $5 loads in flight per thread.
bench_gbps() {
  local sub=kvtier inflight=()
  [ "$1" = rocksdb ] && sub=rocksdb-run
  [ "$2" = load ] && [ "${5:-1}" -gt 1 ] && inflight=(--inflight "$5")
  mkdir -p "$DIR/$sub"  # kvtier-bench refuses a --dir that does not exist
  "$BIN" --tier "$1" --dir "$DIR/$sub" --op "$2" --block-bytes "${3}KiB" --threads "$4" "${inflight[@]}" \
      --capacity "$CAPACITY" --qd "$QD" --seconds "$SECS" --json --no-progress 2>/dev/null |
    field gbps
  rm -rf "${DIR:?}/$sub"
}

echo "date $(date -u +%F) dir $DIR ($(df -T "$DIR" | awk 'NR==2{print $2}')) capacity $CAPACITY qd $QD ${SECS}s runs, medians of $REPS"
printf "%-8s %6s %7s %10s %10s %10s %8s %10s\n" op block threads kvtier_GB/s fio_GB/s \
  rocks_GB/s vs_fio vs_rocksdb
for w in $WORKLOADS; do
  IFS=: read -r op bs threads inflight <<<"$w"
  f=$(for _ in $(seq "$REPS"); do fio_gbps "$op" "$bs"; done | median)
  k=$(for _ in $(seq "$REPS"); do bench_gbps nvme "$op" "$bs" "$threads" "${inflight:-1}"; done | median)
  r=$(for _ in $(seq "$REPS"); do bench_gbps rocksdb "$op" "$bs" "$threads"; done | median)
  [ -n "${inflight:-}" ] && threads="$threads/$inflight"
  printf "%-8s %4sKiB %7s %10.2f %10.2f %10.2f %7.2fx %9.2fx\n" "$op" "$bs" "$threads" \
    "$k" "$f" "$r" "$(echo "$k / $f" | bc -l)" "$(echo "$k / $r" | bc -l)"
done
