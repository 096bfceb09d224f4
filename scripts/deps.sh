# Sourced by setup.sh and test.sh: installs the Debian packages kvtier needs
# when any is missing (with sudo when not root). Debian 12 package names.
# clang-14 + libclang-rt-14-dev: the libFuzzer targets CI smoke-runs (scripts/fuzz.sh).
KVTIER_PACKAGES=(cmake make g++ pkg-config liburing-dev librocksdb-dev libxxhash-dev
                 libabsl-dev catch2 libbenchmark-dev nlohmann-json3-dev libcli11-dev fio
                 clang-14 libclang-rt-14-dev)

kvtier_install_deps() {
  local missing=()
  for p in "${KVTIER_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "kvtier: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
}

kvtier_build() {
  cmake -S . -B build -DCMAKE_BUILD_TYPE="${KVTIER_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
  cmake --build build -j"$(nproc)"
}
