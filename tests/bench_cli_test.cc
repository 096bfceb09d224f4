// kvtier-bench, the program: argument errors exit 2 with a message naming
// the option; a short run of each op prints the JSON contract's fields.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/cli_support.h"

namespace kvtier {
namespace {

using testing::TempDir;

using Run = testing::CliRun;
using testing::LastLineJson;

Run Bench(const TempDir& dir, const std::string& args) {
  return testing::RunCli(KVTIER_BENCH_BIN, dir, "--no-progress " + args);
}

TEST_CASE("bench cli: argument errors exit 2 with a message naming the option",
          "[bench][cli]") {
  TempDir dir;
  const std::string d = " --dir " + (dir.path() / "nvme").string();
  const auto check = [&](const std::string& args, const std::string& says) {
    const Run run = Bench(dir, args);
    INFO(args << "\n" << run.err);
    CHECK(run.exit_code == 2);
    CHECK(run.err.find(says) != std::string::npos);
  };
  check("--tier disk --capacity 64MiB" + d, "--tier: unknown tier 'disk'");
  check("--tier nvme --block-bytes 0 --capacity 64MiB" + d, "--block-bytes: 0");
  check("--tier host --capacity 1000", "below one block");
  check("--tier nvme --blocks 0 --capacity 0" + d,
        "exactly one of --capacity and --blocks");
  check("--tier nvme --capacity 64MiB --op scan" + d, "--op: unknown op 'scan'");
  check("--tier nvme --capacity 64MiB", "needs --dir");
  check("--tier host --capacity 64MiB --threads 0", "--threads");
  check("--tier host --capacity 64MiB --checksum-key 0123456789abcdef",
        "--checksum-key needs --tier nvme, all, nvme-tier or remote");
  check("--tier remote --redis 127.0.0.1:1 --capacity 64MiB --checksum-key-file k",
        "--checksum-key-file needs --tier nvme, all or nvme-tier");
  check("--tier host --capacity 64MiB --redis 127.0.0.1:1",
        "--redis, --redis-cluster and --redis-tls-* need --tier remote");
  check("--tier host --capacity 64MiB --redis-tls-ca /etc/ca.pem",
        "--redis, --redis-cluster and --redis-tls-* need --tier remote");

  // A directory that does not exist is refused, not made (it was made even
  // at the filesystem root).
  const std::filesystem::path missing = dir.path() / "missing" / "sub";
  check("--tier nvme --capacity 64MiB --dir " + missing.string(),
        "is not an existing directory");
  CHECK_FALSE(std::filesystem::exists(dir.path() / "missing"));
  std::ofstream(dir.path() / "file") << "x";
  check("--tier nvme --capacity 64MiB --dir " + (dir.path() / "file").string(),
        "is not an existing directory");

  // A directory the user cannot write (root can write anywhere).
  if (geteuid() != 0) {
    const std::filesystem::path locked = dir.path() / "locked";
    std::filesystem::create_directory(locked);
    ::chmod(locked.c_str(), 0500);
    check("--tier nvme --capacity 64MiB --dir " + locked.string(), "--dir: cannot write");
    ::chmod(locked.c_str(), 0700);
  }
}

TEST_CASE("bench cli: --blocks N makes the tier hold N blocks", "[bench][cli]") {
  TempDir dir;
  // A load run fills 90% of the tier in whole chains of --batch blocks: 90
  // of 100 (the bytes of 100 raw blocks hold fewer slots, with headers).
  const Run run = Bench(dir,
                        "--tier host --blocks 100 --block-bytes 64KiB --batch 10"
                        " --seconds 0.2 --json --op load");
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(LastLineJson(run.out)["filled_blocks"] == 90);
}

// A short run of `op` over host + NVMe in a real directory (io_uring, O_DIRECT).
void SmokeRun(const std::string& op) {
  TempDir dir;
  std::filesystem::create_directory(dir.path() / "nvme");
  const Run run = Bench(dir, "--tier all --dir " + (dir.path() / "nvme").string() +
                                 " --capacity 32MiB --block-bytes 64KiB --qd 8 --batch 8"
                                 " --seconds 1 --json --op " +
                                 op);
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  const nlohmann::json j = LastLineJson(run.out);
  for (const char* field : {"gbps", "ops_per_s", "p50_us", "p99_us"}) {
    INFO(field);
    REQUIRE(j.contains(field));
    CHECK(j[field].get<double>() > 0);
  }
  CHECK(j["op"] == op);
  CHECK(j["errors"] == 0);
}

TEST_CASE("bench cli: a save run reports positive GB/s, ops/s and latencies",
          "[bench][cli]") {
  SmokeRun("save");
}

TEST_CASE("bench cli: a load run reads the filled store and reports its fields",
          "[bench][cli]") {
  SmokeRun("load");
}

TEST_CASE("bench cli: a mixed run reports its fields", "[bench][cli]") {
  SmokeRun("mixed");
}

TEST_CASE("bench cli: a load run on the nvme tier is served by NVMe, not host",
          "[bench][cli]") {
  TempDir dir;
  std::filesystem::create_directory(dir.path() / "nvme");
  const Run run = Bench(dir, "--tier nvme --dir " + (dir.path() / "nvme").string() +
                                 " --capacity 32MiB --block-bytes 64KiB --qd 8 --batch 8"
                                 " --seconds 1 --json --op load");
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  const nlohmann::json j = LastLineJson(run.out);
  CHECK(j["filled_blocks"].get<uint64_t>() > 0);
  CHECK(j["hits"]["nvme"].get<uint64_t>() > 10 * j["hits"]["host"].get<uint64_t>());
}

TEST_CASE(
    "bench cli: --checksum-key-file keys the nvme tier and its blocks load from NVMe",
    "[bench][cli][keyed]") {
  TempDir dir;
  std::filesystem::create_directory(dir.path() / "nvme");
  const std::filesystem::path key = dir.path() / "nvme.key";
  const Run run = Bench(dir, "--tier nvme --dir " + (dir.path() / "nvme").string() +
                                 " --checksum-key-file " + key.string() +
                                 " --capacity 32MiB --block-bytes 64KiB --qd 8 --batch 8"
                                 " --seconds 1 --json --op load");
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  const nlohmann::json j = LastLineJson(run.out);
  CHECK(j["keyed_checksum"].get<bool>());
  CHECK(j["hits"]["nvme"].get<uint64_t>() > 0);
  CHECK(j["errors"].get<uint64_t>() == 0);
  struct stat st {};
  REQUIRE(::stat(key.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
}

}  // namespace
}  // namespace kvtier
