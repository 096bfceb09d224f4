#!/usr/bin/env bash
# The README's first command: install dependencies (Debian packages), build
# into build/ (tools land in build/bin/) and run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
kvtier_install_deps
kvtier_build
echo
build/bin/kvtier-demo
echo
echo "kvtier: the Python package is in build/python:"
echo "  PYTHONPATH=$PWD/build/python python3 -c 'import kvtier; print(kvtier.__version__)'"
