// kvtier-replay, the program: the JSON contract (one object, last line of
// stdout), argument errors exit 2, trace errors exit 1, sweeps write files.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bench/replay/trace_gen.h"
#include "bench/replay/trace_gen_writer.h"
#include "kvtier/options.h"
#include "lib/index/eviction_order.h"
#include "tests/cli_support.h"
#include "tests/replay_support.h"

namespace kvtier::replay {
namespace {

using kvtier::testing::TempDir;
using testing::WriteFile;

using Run = kvtier::testing::CliRun;
using kvtier::testing::LastLineJson;

Run Replay(const TempDir& dir, const std::string& args) {
  return kvtier::testing::RunCli(KVTIER_REPLAY_BIN, dir, args);
}

TEST_CASE(
    "cli: --json prints one JSON object as the last line, with the contract's fields",
    "[replay][cli]") {
  TempDir dir;
  const std::string trace = WriteFile(dir, "hand.jsonl", testing::kHandTrace);
  const Run run =
      Replay(dir, "--trace " + trace +
                      " --format mooncake --block-tokens 4 --capacity-blocks 2"
                      " --policy lru --json --price-hit 0.5 --price-miss 2");
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(run.out.find("hit rate (blocks)") != std::string::npos);  // the table first
  const nlohmann::json j = LastLineJson(run.out);
  CHECK(j["requests"] == 5);
  CHECK(j["hit_rate_blocks"].get<double>() == Approx(2.0 / 9));
  CHECK(j["hit_rate_tokens"].get<double>() == Approx(8.0 / 34));
  CHECK(j["ceiling_hit_rate_blocks"].get<double>() == Approx(5.0 / 9));
  CHECK(j["belady_hit_rate_blocks"].get<double>() == Approx(4.0 / 9));
  CHECK(j["evictions"] == 4);
  CHECK(j["tiers"]["host"]["hits"] == 2);
  CHECK(j["tiers"]["host"]["bytes_read"] == 2 * 4 * 131072);
  CHECK(j["blended_price"].get<double>() == Approx((8 * 0.5 + 26 * 2.0) / 1e6));
}

TEST_CASE("cli: argument errors exit 2 with a message", "[replay][cli]") {
  TempDir dir;
  const std::string trace = WriteFile(dir, "hand.jsonl", testing::kHandTrace);
  const auto check = [&](const std::string& args, const std::string& says) {
    const Run run = Replay(dir, args);
    INFO(args << " -> " << run.err);
    CHECK(run.exit_code == 2);
    CHECK(run.err.find(says) != std::string::npos);
  };
  check("--capacity-blocks 2", "--trace");
  check("--trace " + trace + " --capacity-blocks 2 --policy arc", "--policy");
  check("--trace " + trace + " --capacity-blocks 2 --format csv", "--format");
  check("--trace " + trace, "--capacity-blocks");
  check("--trace " + trace + " --capacity-blocks 2 --sweep 1,2", "exactly one");
  check("--trace " + trace + " --capacity-blocks x", "--capacity-blocks");
  check("--trace " + trace + " --capacity-blocks 2 --price-hit 1", "--price-miss");
  check("--trace " + trace + " --sweep 1,y", "--sweep");
  check("--trace " + trace + " --capacity-blocks 2 --policy lru,slru", "--sweep");
  check("--trace " + trace + " --capacity-blocks 2 --dir /tmp", "--real");
  check("--trace " + trace + " --host-blocks 2 --nvme-blocks 4 --real", "--nvme-bytes");
  check("--trace " + trace + " --capacity-blocks 2 --bogus", "bogus");
  check("--trace " + trace + " --capacity-blocks 2 --real --dir /tmp", "--nvme-bytes");
  check("--trace " + trace + " --capacity-blocks 2 --write-down overlap", "--write-down");
  check("--trace " + trace + " --capacity-blocks 2 --real --write-down later",
        "--write-down");
  check("--trace " + trace + " --capacity-blocks 2 --checksum-key-file k",
        "--checksum-key-file are for --real");
  check("--trace " + trace + " --capacity-blocks 2 --real --checksum-key-file k",
        "--checksum-key-file needs --dir");
}

TEST_CASE("cli: an out-of-range number gets a short message", "[replay][cli]") {
  TempDir dir;
  const std::string trace = WriteFile(dir, "hand.jsonl", testing::kHandTrace);
  const Run run = Replay(dir, "--trace " + trace + " --capacity-blocks 0");
  CHECK(run.exit_code == 2);
  CHECK(run.err.find("at least 1") != std::string::npos);
  CHECK(run.err.size() < 200);  // not DBL_MAX written out
}

TEST_CASE("cli: --ttl-hint gives the session policy hints; bad uses are refused",
          "[replay][cli][ttl]") {
  TempDir dir;
  GenOptions o;
  o.kind = GenKind::kChat;
  o.sessions = 100;
  const std::string folder = (dir.path() / "chat").string();
  REQUIRE(WriteSessionsFolder(Generate(o), folder).ok());
  const std::string base =
      "--trace " + folder + " --format sessions --capacity-blocks 100 --policy session";
  const Run plain = Replay(dir, base + " --json");
  const Run hinted = Replay(dir, base + " --ttl-hint 0.5 --json");
  INFO(hinted.err);
  REQUIRE(plain.exit_code == 0);
  REQUIRE(hinted.exit_code == 0);
  CHECK(hinted.out.find("ttl hints") != std::string::npos);
  const nlohmann::json j = LastLineJson(hinted.out);
  CHECK(j["ttl_hint_sigma"] == 0.5);
  CHECK(j["hit_rate_blocks"].get<double>() >
        LastLineJson(plain.out)["hit_rate_blocks"].get<double>());
  CHECK_FALSE(LastLineJson(plain.out).contains("ttl_hint_sigma"));

  const auto refused = [&](const std::string& args, int code, const std::string& says) {
    const Run run = Replay(dir, args);
    INFO(args << " -> " << run.err);
    CHECK(run.exit_code == code);
    CHECK(run.err.find(says) != std::string::npos);
    CHECK(run.err.size() < 300);
  };
  refused(base + " --ttl-hint -1", 2, "--ttl-hint: give a sigma from 0");
  refused(base + " --ttl-hint 11", 2, "--ttl-hint: give a sigma from 0");
  refused(base + " --ttl-hint x", 2, "--ttl-hint");
  refused(base + " --ttl-hint 1 --real", 2, "--ttl-hint is for simulate mode");
  const std::string hand = WriteFile(dir, "hand.jsonl", testing::kHandTrace);
  refused("--trace " + hand + " --block-tokens 4 --capacity-blocks 2 --ttl-hint 1", 1,
          "--ttl-hint: ttl hints need a session and a timestamp");
}

TEST_CASE("cli: --policy defaults to the Store's default policy", "[replay][cli]") {
  TempDir dir;
  const std::string trace = WriteFile(dir, "hand.jsonl", testing::kHandTrace);
  const Run run =
      Replay(dir, "--trace " + trace + " --block-tokens 4 --capacity-blocks 2 --json");
  REQUIRE(run.exit_code == 0);
  CHECK(LastLineJson(run.out)["policy"] == EvictionPolicyName(Options{}.eviction));
}

TEST_CASE("cli: a sweep's CSV or plot that cannot be written fails with exit 1",
          "[replay][cli][sweep]") {
  TempDir dir;
  const std::string trace = WriteFile(dir, "hand.jsonl", testing::kHandTrace);
  const std::string ok = (dir.path() / "ok").string();
  for (const std::string& args : {"--csv /dev/full --plot " + ok + ".svg",
                                  "--csv " + ok + ".csv --plot /dev/full"}) {
    const Run run =
        Replay(dir, "--trace " + trace + " --block-tokens 4 --sweep 1,2 " + args);
    INFO(args);
    CHECK(run.exit_code == 1);
    CHECK(run.err.find("cannot write /dev/full") != std::string::npos);
    CHECK(run.out.find("wrote") == std::string::npos);
  }
}

TEST_CASE("cli: a trace that is not line-shaped (/dev/zero) stops at the line cap",
          "[replay][cli]") {
  TempDir dir;
  const Run run = Replay(dir, "--trace /dev/zero --capacity-blocks 2");
  CHECK(run.exit_code == 1);
  CHECK(run.err.find("/dev/zero:1: line longer than 64 MiB") != std::string::npos);
  const Run sessions =
      Replay(dir, "--trace /dev/zero --format sessions --capacity-blocks 2");
  CHECK(sessions.exit_code == 1);
  CHECK(sessions.err.find("larger than 256 MiB") != std::string::npos);
}

TEST_CASE("cli: a malformed trace exits 1 naming file and line, with skip-bad it goes on",
          "[replay][cli]") {
  TempDir dir;
  const std::string trace =
      WriteFile(dir, "bad.jsonl", std::string(testing::kHandTrace) + "{oops\n");
  const Run bad =
      Replay(dir, "--trace " + trace + " --block-tokens 4 --capacity-blocks 2");
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find(trace + ":6: not valid JSON") != std::string::npos);
  const Run skip =
      Replay(dir, "--trace " + trace +
                      " --block-tokens 4 --capacity-blocks 2 --skip-bad --json");
  INFO(skip.err);
  REQUIRE(skip.exit_code == 0);
  CHECK(LastLineJson(skip.out)["bad_lines"] == 1);
  CHECK(LastLineJson(skip.out)["requests"] == 5);
  CHECK(skip.err.find("skipped 1 malformed") != std::string::npos);
  CHECK(skip.err.find('\r') == std::string::npos);  // no progress line into a pipe
}

TEST_CASE("cli: an empty trace reports zero requests", "[replay][cli]") {
  TempDir dir;
  const std::string trace = WriteFile(dir, "empty.jsonl", "");
  const Run run = Replay(dir, "--trace " + trace + " --capacity-blocks 2 --json");
  REQUIRE(run.exit_code == 0);
  const nlohmann::json j = LastLineJson(run.out);
  CHECK(j["requests"] == 0);
  CHECK(j["hit_rate_blocks"] == 0.0);
}

TEST_CASE("cli: --sweep writes the CSV and the SVG plot", "[replay][cli][sweep]") {
  TempDir dir;
  const std::string trace = WriteFile(dir, "hand.jsonl", testing::kHandTrace);
  const std::string csv = (dir.path() / "s.csv").string();
  const std::string svg = (dir.path() / "s.svg").string();
  const Run run = Replay(dir, "--trace " + trace +
                                  " --block-tokens 4 --sweep 1,2,4 "
                                  "--policy lru,slru --csv " +
                                  csv + " --plot " + svg + " --json");
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  std::ifstream in(csv);
  std::string header;
  std::getline(in, header);
  CHECK(header.rfind("host_blocks,nvme_blocks,capacity_blocks,policy,", 0) == 0);
  int rows = 0;
  for (std::string line; std::getline(in, line);) ++rows;
  CHECK(rows == 6);
  std::ifstream plot(svg);
  std::stringstream text;
  text << plot.rdbuf();
  CHECK(text.str().find("</svg>") != std::string::npos);
  CHECK(LastLineJson(run.out)["sweep"].size() == 6);
  // On stdout a table, with the share of LRU's gap to Belady each closes.
  CHECK(run.out.find("gap closed") != std::string::npos);
  CHECK(run.out.find("host_blocks,") == std::string::npos);  // not the CSV again
  // The plot: the file name as title, tokens and GiB under the blocks.
  CHECK(text.str().find(">hand.jsonl</text>") != std::string::npos);
  CHECK(text.str().find(dir.path().string()) == std::string::npos);
  CHECK(text.str().find("tokens, GiB of KV") != std::string::npos);
}

TEST_CASE("cli: --real with --dir and NVMe bytes adds an NVMe tier below host",
          "[replay][cli][real]") {
  TempDir dir;
  const std::string trace = WriteFile(dir, "hand.jsonl", testing::kHandTrace);
  const Run host = Replay(dir, "--trace " + trace +
                                   " --block-tokens 4 --capacity-blocks 2 "
                                   "--real --json");
  INFO(host.err);
  REQUIRE(host.exit_code == 0);
  CHECK(LastLineJson(host.out)["mode"] == "real");
  CHECK(LastLineJson(host.out)["hit_rate_blocks"].get<double>() == Approx(2.0 / 9));

  const Run nvme = Replay(dir, "--trace " + trace +
                                   " --block-tokens 4 --capacity-blocks 2 "
                                   "--real --json --dir " +
                                   dir.path().string() + " --nvme-bytes 1048576");
  INFO(nvme.err);
  REQUIRE(nvme.exit_code == 0);
  // Blocks host evicts are still served from NVMe: never fewer hits. The
  // bounds count the NVMe tier's blocks too, so they stay bounds.
  const auto j = LastLineJson(nvme.out);
  CHECK(j["hit_rate_blocks"].get<double>() >= 2.0 / 9);
  CHECK(j["nvme_blocks"].get<uint64_t>() > 0);
  CHECK(j["belady_hit_rate_blocks"].get<double>() >= j["hit_rate_blocks"].get<double>());
}

TEST_CASE(
    "cli: --real settles write-downs by default and then hits as the simulator does",
    "[replay][cli][real]") {
  TempDir dir;
  const std::string trace = WriteFile(dir, "hand.jsonl", testing::kHandTrace);
  const std::string nvme_dir = (dir.path() / "nvme").string();
  std::filesystem::create_directories(nvme_dir);
  const Run real = Replay(dir, "--trace " + trace +
                                   " --block-tokens 4 --capacity-blocks 2 --real --json "
                                   "--dir " +
                                   nvme_dir + " --nvme-bytes 1048576");
  INFO(real.err);
  REQUIRE(real.exit_code == 0);
  const auto r = LastLineJson(real.out);
  CHECK(r["write_down"] == "settle");
  const Run sim = Replay(
      dir, "--trace " + trace + " --block-tokens 4 --host-blocks 2 " + "--nvme-blocks " +
               std::to_string(r["nvme_blocks"].get<uint64_t>()) + " --json");
  REQUIRE(sim.exit_code == 0);
  CHECK(r["hit_blocks"] == LastLineJson(sim.out)["hit_blocks"]);

  std::filesystem::remove_all(nvme_dir);
  std::filesystem::create_directories(nvme_dir);
  const Run overlap =
      Replay(dir, "--trace " + trace +
                      " --block-tokens 4 --capacity-blocks 2 --real --json "
                      "--write-down overlap --dir " +
                      nvme_dir + " --nvme-bytes 1048576");
  INFO(overlap.err);
  REQUIRE(overlap.exit_code == 0);
  CHECK(LastLineJson(overlap.out)["write_down"] == "overlap");
}

}  // namespace
}  // namespace kvtier::replay
