// kvtier-replay with sliding-window trimming: the simulator keeps blocks in
// the forms a real Store keeps them in, and makes the same choices.
#include <catch2/catch.hpp>

#include <random>

#include <nlohmann/json.hpp>

#include "bench/replay/real_mode.h"
#include "bench/replay/simulator.h"
#include "tests/cli_support.h"
#include "tests/replay_support.h"

namespace kvtier::replay {
namespace {

using kvtier::testing::TempDir;
using testing::ReadOk;
using testing::WriteFile;

constexpr int kHost = 1;
constexpr uint32_t kBlockTokens = 4;

// Chats with a shared system prompt that grow turn by turn (growth: a later
// save extends a chain), branch off another chat's prefix (a second chain
// through its blocks), are cut back and resumed, or are asked again as is.
Trace BranchyTrace(const TempDir& dir, int requests, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::vector<uint64_t>> chats(12);
  uint64_t next_id = 100;
  std::string text;
  for (int q = 0; q < requests; ++q) {
    std::vector<uint64_t>& chat = chats[rng() % chats.size()];
    const uint32_t roll = rng() % 10;
    if (chat.empty() || chat.size() > 30 || roll == 0) {
      chat = {1, 2};  // the shared system prompt
    } else if (roll == 1) {
      const std::vector<uint64_t>& other = chats[rng() % chats.size()];
      chat.assign(other.begin(), other.begin() + rng() % (other.size() + 1));
    } else if (roll == 2) {
      chat.resize(1 + rng() % chat.size());
    }
    const uint32_t grow = roll == 3 ? 0 : 1 + rng() % 3;  // 3: asked again
    for (uint32_t n = 0; n < grow || chat.empty(); ++n) chat.push_back(++next_id);
    text += "{\"input_length\": " + std::to_string(chat.size() * kBlockTokens) +
            ", \"hash_ids\": [";
    for (size_t i = 0; i < chat.size(); ++i)
      text += (i ? "," : "") + std::to_string(chat[i]);
    text += "]}\n";
  }
  return ReadOk(WriteFile(dir, "branchy.jsonl", text), TraceFormat::kMooncake,
                kBlockTokens);
}

// The real Store's trimming for a 6-layer layout of `share` sliding layers.
KvLayout TrimLayout(uint32_t window_tokens, double share) {
  const std::optional<KvLayout> layout = RealTrimLayout(window_tokens, share);
  REQUIRE(layout.has_value());
  KvLayout l = *layout;
  l.block_tokens = kBlockTokens;
  return l;
}

// Replays `t` on the simulator and on a real Store (host tier of `blocks`
// whole blocks) and checks they agree on every count trimming changes.
// Returns the simulator's host counts, for the caller to check the trace
// exercised what it meant to.
TierCounts CheckAgree(const Trace& t, const KvLayout& layout, uint32_t checkpoint,
                      uint64_t blocks) {
  SimConfig sim_config{blocks, 0, EvictionPolicy::kLru, RealSimTrim(layout, checkpoint)};
  sim_config.record_hits = true;
  const SimResult sim = Simulate(t, sim_config);
  Report real;
  RealConfig real_config{blocks, 0, "", EvictionPolicy::kLru};
  real_config.layout = layout;
  real_config.checkpoint_blocks = checkpoint;
  real_config.record_hits = true;
  const Status s = RunReal(t, real_config, real);
  INFO(s.ToString());
  REQUIRE(s.ok());
  INFO("capacity " << blocks << " blocks, checkpoint " << checkpoint);
  const TierCounts& a = sim.tiers[kHost];
  const TierCounts& b = real.sim.tiers[kHost];
  CHECK(sim.hit_blocks == real.sim.hit_blocks);
  CHECK(sim.hit_lengths == real.sim.hit_lengths);
  CHECK(a.evictions == b.evictions);
  CHECK(a.placement_evictions == b.placement_evictions);
  CHECK(a.inserts == b.inserts);
  CHECK(a.inserted_trimmed == b.inserted_trimmed);
  CHECK(a.inserted_whole == b.inserted_whole);
  CHECK(a.upgrades == b.upgrades);
  CHECK(a.rejected == b.rejected);
  return a;
}

// Sums what the runs did, so a test can show its trace trims, upgrades,
// evicts and hits.
struct Exercised {
  uint64_t trimmed = 0, upgrades = 0, evictions = 0;
  void Add(const TierCounts& c) {
    trimmed += c.inserted_trimmed;
    upgrades += c.upgrades;
    evictions += c.evictions;
  }
  void Check() const {
    CHECK(trimmed > 0);
    CHECK(upgrades > 0);
    CHECK(evictions > 0);
  }
};

TEST_CASE("trimmed simulation agrees with a real Store: gemma-style 5 sliding : 1 global",
          "[replay][trim][real]") {
  TempDir dir;
  const Trace t = BranchyTrace(dir, 400, 5);
  const KvLayout gemma = TrimLayout(8, 5.0 / 6);  // window 2 blocks
  Exercised e;
  for (const uint32_t checkpoint : {0u, 4u}) {
    for (const uint64_t blocks : {12u, 40u, 150u})
      e.Add(CheckAgree(t, gemma, checkpoint, blocks));
  }
  e.Check();
}

TEST_CASE("trimmed simulation agrees with a real Store: mistral-style all sliding",
          "[replay][trim][real]") {
  TempDir dir;
  const Trace t = BranchyTrace(dir, 400, 9);
  const KvLayout mistral = TrimLayout(12, 1.0);  // window 3 blocks; trimmed = no bytes
  Exercised e;
  for (const uint32_t checkpoint : {0u, 5u}) {
    for (const uint64_t blocks : {12u, 40u, 150u}) {
      e.Add(CheckAgree(t, mistral, checkpoint, blocks));
    }
  }
  e.Check();
}

// [1,2,3,4] then [1,2,3] twice; window 1 block. Without checkpoints blocks
// 1..3 are kept trimmed, so the shorter prompt misses entirely; its save
// upgrades 3 (now at a chain end) and the third request hits all of it.
// With a checkpoint every 2 blocks, block 2 is kept whole: 2 hits at once.
TEST_CASE(
    "a prefix ending between checkpoints hits up to the last checkpoint; growth "
    "upgrades in place",
    "[replay][trim]") {
  TempDir dir;
  const Trace t = ReadOk(WriteFile(dir, "c.jsonl",
                                   "{\"input_length\": 16, \"hash_ids\": [1, 2, 3, 4]}\n"
                                   "{\"input_length\": 12, \"hash_ids\": [1, 2, 3]}\n"
                                   "{\"input_length\": 12, \"hash_ids\": [1, 2, 3]}\n"),
                         TraceFormat::kMooncake, kBlockTokens);
  for (const uint32_t checkpoint : {0u, 2u}) {
    const SimTrim trim = TrimForShare(kBlockTokens, kBlockTokens, 0.8333, checkpoint);
    SimConfig config{100, 0, EvictionPolicy::kLru, trim};
    config.record_hits = true;
    const SimResult r = Simulate(t, config);
    INFO("checkpoint " << checkpoint);
    const std::vector<uint32_t> hits =
        checkpoint == 0 ? std::vector<uint32_t>{0, 0, 3} : std::vector<uint32_t>{0, 2, 3};
    CHECK(r.hit_lengths == hits);
    CHECK(r.tiers[kHost].upgrades == 1);
    CHECK(r.tiers[kHost].inserted_trimmed == (checkpoint == 0 ? 3 : 2));
    CHECK(r.tiers[kHost].evictions == 0);
    CheckAgree(t, TrimLayout(kBlockTokens, 5.0 / 6), checkpoint, 100);
  }
}

// A whole block of 6 bytes, trimmed of 1: a frame is exactly one whole block,
// so with every block whole the tier holds as many as without trimming.
TEST_CASE("a window longer than every chain trims nothing: the untrimmed figures",
          "[replay][trim]") {
  TempDir dir;
  const Trace t = BranchyTrace(dir, 300, 3);
  SimTrim trim;
  trim.window_blocks = 1000;
  trim.whole_bytes = 6;
  trim.trimmed_bytes = 1;
  for (const uint64_t blocks : {10u, 60u}) {
    const SimResult plain = Simulate(t, SimConfig{blocks, 0, EvictionPolicy::kLru});
    const SimResult wide = Simulate(t, SimConfig{blocks, 0, EvictionPolicy::kLru, trim});
    CHECK(wide.hit_blocks == plain.hit_blocks);
    CHECK(wide.tiers[kHost].evictions == plain.tiers[kHost].evictions);
    CHECK(wide.tiers[kHost].inserted_trimmed == 0);
    CHECK(wide.tiers[kHost].inserts == plain.tiers[kHost].inserts);
  }
}

kvtier::testing::CliRun Replay(const TempDir& dir, const std::string& args) {
  return kvtier::testing::RunCli(KVTIER_REPLAY_BIN, dir, args);
}

TEST_CASE("cli: trimming flags are checked, naming the flag (exit 2)", "[replay][cli]") {
  TempDir dir;
  const std::string trace = WriteFile(dir, "hand.jsonl", testing::kHandTrace);
  const std::string base = "--trace " + trace + " --block-tokens 4 --capacity-blocks 2 ";
  const auto check = [&](const std::string& args, const std::string& says) {
    const kvtier::testing::CliRun run = Replay(dir, base + args);
    INFO(args << " -> " << run.err);
    CHECK(run.exit_code == 2);
    CHECK(run.err.find(says) != std::string::npos);
  };
  check("--window-tokens 8", "--sliding-share");
  check("--window-tokens 8 --sliding-share 0", "--sliding-share");
  check("--window-tokens 8 --sliding-share 1.5", "--sliding-share");
  check("--window-tokens 8 --sliding-share nan", "--sliding-share");
  check("--sliding-share 0.5", "--window-tokens");
  check("--checkpoint-blocks 4", "--checkpoint-blocks");
  check("--window-tokens x --sliding-share 0.5", "--window-tokens");
  check("--window-tokens 8 --sliding-share 0.7 --real", "--sliding-share");
  const kvtier::testing::CliRun sweep = Replay(
      dir, "--trace " + trace + " --sweep 1,2 --window-tokens 8 --sliding-share 1");
  CHECK(sweep.exit_code == 2);
  CHECK(sweep.err.find("--sweep") != std::string::npos);
}

TEST_CASE("cli: with trimming the report puts trimmed and untrimmed side by side",
          "[replay][cli][trim]") {
  TempDir dir;
  const std::string trace = WriteFile(dir, "hand.jsonl", testing::kHandTrace);
  const std::string base =
      "--trace " + trace + " --block-tokens 4 --capacity-blocks 2 --json";
  const kvtier::testing::CliRun plain = Replay(dir, base);
  const kvtier::testing::CliRun trimmed = Replay(
      dir, base + " --window-tokens 4 --sliding-share 0.8333 --checkpoint-blocks 2");
  INFO(trimmed.err);
  REQUIRE(plain.exit_code == 0);
  REQUIRE(trimmed.exit_code == 0);
  CHECK(trimmed.out.find("untrimmed") != std::string::npos);
  const nlohmann::json p = kvtier::testing::LastLineJson(plain.out);
  const nlohmann::json j = kvtier::testing::LastLineJson(trimmed.out);
  CHECK_FALSE(p.contains("trimming"));
  REQUIRE(j.contains("trimming"));
  const nlohmann::json& tr = j["trimming"];
  CHECK(tr["untrimmed_hit_blocks"] == p["hit_blocks"]);
  CHECK(tr["hits_lost_blocks"].get<int64_t>() ==
        p["hit_blocks"].get<int64_t>() - j["hit_blocks"].get<int64_t>());
  CHECK(tr["window_blocks"] == 1);
  CHECK(tr["bytes_saved"].get<double>() >= 0);
  CHECK(tr["blocks_stored_whole"].get<uint64_t>() +
            tr["blocks_stored_trimmed"].get<uint64_t>() ==
        j["tiers"]["host"]["inserts"].get<uint64_t>());
  CHECK(j.contains("ceiling_trimmed_hit_rate_blocks"));
  CHECK(j["ceiling_trimmed_hit_rate_blocks"].get<double>() <=
        j["ceiling_hit_rate_blocks"].get<double>());
}

}  // namespace
}  // namespace kvtier::replay
