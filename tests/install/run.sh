#!/usr/bin/env bash
# Installs the build into a temporary prefix and builds three consumers out
# of tree against it: a CMake project (find_package(kvtier), shared and
# static), a C program (pkg-config --cflags --libs kvtier) and a Python
# script (import kvtier from the prefix). Each saves, looks up and loads.
# Usage: run.sh BUILD_DIR WORK_DIR [PYTHON]
set -euo pipefail
build="$1"; work="$2"; python="${3:-python3}"
here="$(cd "$(dirname "$0")" && pwd)"
rm -rf "$work"; mkdir -p "$work"
prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(dirname "$(find "$prefix" -name 'libkvtier.so' | head -1)")

echo "== find_package(kvtier)"
cmake -S "$here/cmake_consumer" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/cmake" -j2 >/dev/null
LD_LIBRARY_PATH="$libdir" "$work/cmake/consumer"
"$work/cmake/consumer_static"

echo "== pkg-config kvtier"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc -std=c11 -Wall -Werror "$here/c_consumer.c" -o "$work/c_consumer" \
  $(pkg-config --cflags --libs kvtier)
LD_LIBRARY_PATH="$libdir" "$work/c_consumer"

echo "== import kvtier"
pydir=$(dirname "$(find "$prefix" -path '*/kvtier/__init__.py' | head -1)")
(cd "$work" && env -u KVTIER_LIBRARY PYTHONPATH="$(dirname "$pydir")" \
  PYTHONDONTWRITEBYTECODE=1 "$python" "$here/python_consumer.py")
