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

  // A directory the user cannot write (root can write anywhere: a file in
  // the way of the directory stands for it then).
  const std::filesystem::path locked = dir.path() / "locked";
  std::filesystem::create_directory(locked);
  ::chmod(locked.c_str(), 0500);
  std::ofstream(dir.path() / "file") << "x";
  const std::string target =
      geteuid() == 0 ? (dir.path() / "file" / "sub").string() : (locked / "sub").string();
  check("--tier nvme --capacity 64MiB --dir " + target, "--dir: cannot write");
  ::chmod(locked.c_str(), 0700);
}

// A short run of `op` over host + NVMe in a real directory (io_uring, O_DIRECT).
void SmokeRun(const std::string& op) {
  TempDir dir;
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
  const Run run = Bench(dir, "--tier nvme --dir " + (dir.path() / "nvme").string() +
                                 " --capacity 32MiB --block-bytes 64KiB --qd 8 --batch 8"
                                 " --seconds 1 --json --op load");
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  const nlohmann::json j = LastLineJson(run.out);
  CHECK(j["filled_blocks"].get<uint64_t>() > 0);
  CHECK(j["hits"]["nvme"].get<uint64_t>() > 10 * j["hits"]["host"].get<uint64_t>());
}

}  // namespace
}  // namespace kvtier
