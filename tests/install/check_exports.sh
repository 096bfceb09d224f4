#!/usr/bin/env bash
# libkvtier.so exports only kvtier's API: every defined dynamic symbol is a
# C API function (kvtier_*) or in namespace kvtier (never kvtier::internal),
# with the vtable/typeinfo of kvtier::Store. Usage: check_exports.sh LIB
set -euo pipefail
lib="$1"
symbols=$(nm -DC --defined-only "$lib" | cut -d' ' -f3-)
[ -n "$symbols" ] || { echo "no dynamic symbols in $lib"; exit 1; }
foreign=$(grep -vE '^(kvtier_[a-z0-9_]+|kvtier::.*|(typeinfo|typeinfo name|vtable) for kvtier::Store)$' \
          <<<"$symbols" || true)
internal=$(grep -E 'kvtier::internal' <<<"$symbols" || true)
if [ -n "$foreign$internal" ]; then
  echo "libkvtier.so exports symbols outside its API:"
  printf '%s\n' "$foreign" "$internal" | grep -v '^$' | head -40
  exit 1
fi
for needed in kvtier_open kvtier_save 'kvtier::Store::Open(kvtier::Options const&)'; do
  grep -qxF "$needed" <<<"$symbols" || { echo "missing export: $needed"; exit 1; }
done
echo "$(wc -l <<<"$symbols") symbols, all kvtier's"
