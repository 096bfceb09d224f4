#!/usr/bin/env bash
# The NVMe tier against fio in one run: same directory, block size and queue
# depth; fio with ioengine=io_uring, direct=1 over a preallocated file
# (random overwrite / random read), kvtier-nvme-bench through the Store with
# a small host tier. Prints medians of REPS runs and the ratios.
#
#   bench/nvme_vs_fio.sh [DIR]     (env: MIB=2048 QD=16 REPS=3 BLOCKS="256 1024")
# Run it under the exclusive lock: flock -x /tmp/kvtier-heavy.lock bench/nvme_vs_fio.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-/var/tmp/kvtier-nvme-bench}
MIB=${MIB:-2048}
QD=${QD:-16}
REPS=${REPS:-3}
BLOCKS=${BLOCKS:-"256 1024"}
BIN=${BIN:-build/bin/kvtier-nvme-bench}
command -v fio >/dev/null || { echo "needs fio (apt-get install fio)" >&2; exit 1; }
[ -x "$BIN" ] || { echo "build $BIN first" >&2; exit 1; }
mkdir -p "$DIR"

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# GB/s of one fio run: $1 = randwrite|randread, $2 = block KiB.
fio_gbps() {
  fio --name=kvtier --directory="$DIR" --filename=fio.dat --size="${MIB}M" --bs="${2}k" \
      --iodepth="$QD" --ioengine=io_uring --direct=1 --rw="$1" --numjobs=1 \
      --randrepeat=0 --output-format=json |
    python3 -c 'import json,sys; j=json.load(sys.stdin)["jobs"][0]; print((j["write"]["bw_bytes"]+j["read"]["bw_bytes"])/1e9)'
}

echo "date $(date -u +%F) dir $DIR ($(df -T "$DIR" | awk 'NR==2{print $2}')) qd $QD pass ${MIB} MiB reps $REPS"
printf "%-8s %10s %10s %10s %10s %8s %8s\n" block fio_write kvt_save fio_read kvt_load save/fio load/fio
for bs in $BLOCKS; do
  fw=$(for _ in $(seq "$REPS"); do fio_gbps randwrite "$bs"; done | median)
  fr=$(for _ in $(seq "$REPS"); do fio_gbps randread "$bs"; done | median)
  rm -f "$DIR/fio.dat"
  line=$("$BIN" --dir "$DIR/kvtier" --block-kib "$bs" --qd "$QD" --mib "$MIB" --reps "$REPS" 2>/dev/null)
  ks=$(sed -n 's/.*save_gbps=\([0-9.]*\).*/\1/p' <<<"$line")
  kl=$(sed -n 's/.*load_gbps=\([0-9.]*\).*/\1/p' <<<"$line")
  rm -rf "$DIR/kvtier"
  printf "%-8s %10.2f %10.2f %10.2f %10.2f %8.2f %8.2f\n" "${bs}KiB" "$fw" "$ks" "$fr" "$kl" \
    "$(echo "$ks / $fw" | bc -l)" "$(echo "$kl / $fr" | bc -l)"
  echo "  kvtier: $line"
done
