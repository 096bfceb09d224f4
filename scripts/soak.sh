#!/usr/bin/env bash
# Soak (not in CI): mixed load on host + NVMe for SECONDS (default 3600),
# round after round until the time is up, stopping at the first failure:
#   1. kvtier-nvme-crash with a new seed: saves and loads in a child that is
#      SIGKILLed at random moments; after each kill every block the index
#      offers is loaded and checked byte for byte (also damaged slots: a
#      checksum failure counts as "indexed but unloadable" and fails it);
#   2. corruption: the same with 64 random bytes of the cache file flipped
#      after each kill: still no wrong byte, and at most one block (with the
#      rest of its chain) lost per flipped byte;
#   3. the threaded host + NVMe tests (Save/Load/evict/promote racing);
#   4. disk full: kvtier-bench mixed on a small ext4 loop mount (root only)
#      with a capacity just past what fits, which must be refused cleanly
#      (exit 1 with the capacity error, never a signal), then one that fits,
#      which must run.
# Usage: scripts/soak.sh [SECONDS]   (builds build/ first if needed)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-3600}"
[ -x build/bin/kvtier-nvme-crash ] && [ -x build/bin/kvtier-bench ] || {
  source scripts/deps.sh
  kvtier_install_deps
  kvtier_build
}
work="$(mktemp -d /var/tmp/kvtier-soak.XXXXXX)"
mnt="$work/mnt"
cleanup() {
  mountpoint -q "$mnt" && umount "$mnt"
  rm -rf "$work"
}
trap cleanup EXIT

small_fs=""
if [ "$(id -u)" -eq 0 ] && command -v mkfs.ext4 >/dev/null; then
  truncate -s 256M "$work/fs.img"
  mkfs.ext4 -q -F "$work/fs.img" && mkdir -p "$mnt" &&
    mount -o loop "$work/fs.img" "$mnt" && chmod 700 "$mnt" && small_fs="$mnt"
fi
[ -n "$small_fs" ] || echo "soak: no loop mount (needs root): the disk-full step is skipped"

end=$((SECONDS + seconds))
round=0
while [ $SECONDS -lt $end ]; do
  round=$((round + 1))
  echo "== soak round $round ($((end - SECONDS)) s left) =="
  build/bin/kvtier-nvme-crash --dir "$work/crash" --kills 20 --seed "$round"
  # Every detected flip logs a warning: kept out of the soak's output.
  build/bin/kvtier-nvme-crash --dir "$work/corrupt" --kills 5 --seed "$round" \
    --corrupt-bytes 64 2>"$work/corrupt.log" || {
    grep -v "served as a miss" "$work/corrupt.log" | tail -n 20
    exit 1
  }
  build/bin/kvtier-tests "[concurrency]" \
    "concurrent trimmed saves and loads through host and NVMe stay byte-exact" >/dev/null
  if [ -n "$small_fs" ]; then
    free=$(df -B1 --output=avail "$small_fs" | tail -1)
    status=0
    build/bin/kvtier-bench --tier nvme --dir "$small_fs" --capacity "$((free - 64 * 1048576))" \
      --block-bytes 64KiB --op mixed --seconds 1 --no-progress >"$work/full.log" 2>&1 ||
      status=$?
    if [ "$status" -ne 1 ] || ! grep -q "capacity_bytes" "$work/full.log"; then
      echo "soak: an over-full capacity ended with status $status:"
      cat "$work/full.log"
      exit 1
    fi
    build/bin/kvtier-bench --tier nvme --dir "$small_fs" --capacity 64MiB \
      --block-bytes 64KiB --op mixed --seconds 2 --no-progress >/dev/null
    rm -rf "${small_fs:?}"/*
  fi
done
echo "soak: $round rounds in $seconds s, no failure"
