# Sourced by setup.sh and test.sh: installs the Debian packages kvtier needs
# when any is missing (with sudo when not root). Debian 12 package names.
# python3-numpy and python3-pytest: the Python package's tests (python/tests,
# run by ctest); the package itself needs neither.
# libhiredis-dev: the remote tier's Redis client; libssl-dev: the keyed
# checksums of the NVMe and remote tiers (HMAC-SHA256 from libcrypto);
# redis-server and redis-tools: the real server and 3-master cluster the
# remote tier's tests start on 127.0.0.1 (redis-cli --cluster create), and
# redis-benchmark for RESULTS.
KVTIER_PACKAGES=(cmake make g++ pkg-config liburing-dev librocksdb-dev libxxhash-dev
                 libabsl-dev catch2 libbenchmark-dev nlohmann-json3-dev libcli11-dev fio
                 python3 python3-numpy python3-pytest libhiredis-dev libssl-dev
                 redis-server redis-tools)

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
