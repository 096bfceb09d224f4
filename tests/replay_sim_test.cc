// kvtier-replay's simulator, bounds and sweep, on traces small enough to
// compute by hand, and the same trace through a real Store.
#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <sstream>

#include "bench/replay/bounds.h"
#include "bench/replay/real_mode.h"
#include "bench/replay/simulator.h"
#include "bench/replay/sweep.h"
#include "lib/index/eviction_order.h"
#include "tests/replay_support.h"

namespace kvtier::replay {
namespace {

using kvtier::testing::TempDir;
using testing::ReadOk;
using testing::WriteFile;

constexpr int kHost = 1, kNvme = 2;

Trace HandTrace(const TempDir& dir) {
  return ReadOk(WriteFile(dir, "hand.jsonl", testing::kHandTrace),
                TraceFormat::kMooncake);
}

// The hand trace, requests r0..r4 (block_tokens 4; r4's id 4 is partial):
//   [1,2] [3] [1,2] [3] [1,2,(4)]       9 references, 34 tokens
// Ceiling: r2 hits 1,2; r3 hits 3; r4 hits 1,2                  = 5/9
// LRU, 2 blocks:
//   r0 saves 1,2 (root 1 hottest). r1 evicts 2 (tail first), saves 3.
//   r2 hits 1 only; evicts 3, saves 2. r3 evicts 2 (1 was touched after),
//   saves 3. r4 hits 1; evicts 3, saves 2.                     = 2/9, 4 evictions
// Belady (MIN), 2 blocks: r1's block 3 is next used at r3, after 1 and 2
//   (next used at r2): not admitted. r2 hits 1,2; r3's 3 is never used
//   again: not admitted. r4 hits 1,2.                            = 4/9
TEST_CASE("hand trace: lru, belady and ceiling hit rates match the hand computation",
          "[replay][sim]") {
  TempDir dir;
  const Trace t = HandTrace(dir);
  const SimResult lru = Simulate(t, SimConfig{2, 0, EvictionPolicy::kLru});
  CHECK(lru.requests == 5);
  CHECK(lru.references == 9);
  CHECK(lru.hit_blocks == 2);
  CHECK(lru.tiers[kHost].hits == 2);
  CHECK(lru.tiers[kHost].evictions == 4);
  CHECK(lru.tiers[kHost].inserts == 6);
  CHECK(lru.tiers[kHost].rejected == 0);
  CHECK(lru.input_tokens == 34);
  CHECK(lru.hit_tokens == 8);  // hits are full blocks of 4 tokens
  CHECK(CeilingHits(t) == 5);
  const BoundHits belady = BeladyHits(t, 2);
  CHECK(belady.hits == 4);
  CHECK(belady.prefix_hits == 4);
  CHECK(BeladyHits(t, 1).hits == 2);    // keeps 1: hit at r2 and r4
  CHECK(BeladyHits(t, 100).hits == 5);  // enough room: the ceiling
}

// [1,2] [1,2,3] [1,2,3] at 2 blocks, as the Store does it: r1 hits 1,2;
// saving 3 may not evict 2 (its own parent: 3 would be an orphan) nor 1 (2's
// parent, 2 is resident), so 3 is rejected. r2 hits 1,2 again and 3 is
// rejected again: the hit prefix is never traded for a block nobody can use.
TEST_CASE(
    "a save never evicts its own block's parent and a block it cannot admit ends it",
    "[replay][sim]") {
  TempDir dir;
  const Trace t = ReadOk(WriteFile(dir, "r.jsonl",
                                   "{\"input_length\": 8, \"hash_ids\": [1, 2]}\n"
                                   "{\"input_length\": 12, \"hash_ids\": [1, 2, 3]}\n"
                                   "{\"input_length\": 12, \"hash_ids\": [1, 2, 3]}\n"),
                         TraceFormat::kMooncake);
  const SimResult r = Simulate(t, SimConfig{2, 0, EvictionPolicy::kLru});
  CHECK(r.hit_blocks == 4);
  CHECK(r.tiers[kHost].evictions == 0);
  CHECK(r.tiers[kHost].orphans == 0);
  CHECK(r.tiers[kHost].rejected == 2);
}

// [1,2] [1,2] [1] with host 1 block, NVMe 4 (write-through), as the Store:
// r0 stores 1 in host (2 is rejected there: 1 is pending) and writes 1 down
// to NVMe (only what host received is written down). r1 hits 1 in host and
// saves 2, evicting 1 (NVMe has it); 2 goes down too. r2 hits 1 on NVMe and
// promotes it to host, evicting 2.
TEST_CASE("two tiers: write-through to nvme, an nvme hit is promoted to host",
          "[replay][sim]") {
  TempDir dir;
  const Trace t = ReadOk(WriteFile(dir, "two.jsonl",
                                   "{\"input_length\": 8, \"hash_ids\": [1, 2]}\n"
                                   "{\"input_length\": 8, \"hash_ids\": [1, 2]}\n"
                                   "{\"input_length\": 4, \"hash_ids\": [1]}\n"),
                         TraceFormat::kMooncake);
  const SimResult r = Simulate(t, SimConfig{1, 4, EvictionPolicy::kLru});
  CHECK(r.hit_blocks == 2);
  CHECK(r.tiers[kHost].hits == 1);
  CHECK(r.tiers[kNvme].hits == 1);
  CHECK(r.promotions == 1);
  CHECK(r.tiers[kHost].evictions == 2);
  CHECK(r.tiers[kHost].rejected == 1);
  CHECK(r.tiers[kNvme].inserts == 2);
}

TEST_CASE("an empty trace or a zero capacity replays as all misses", "[replay][sim]") {
  TempDir dir;
  const Trace empty = ReadOk(WriteFile(dir, "e.jsonl", "\n"), TraceFormat::kMooncake);
  const SimResult r = Simulate(empty, SimConfig{10, 0, EvictionPolicy::kLru});
  CHECK(r.requests == 0);
  CHECK(r.hit_blocks == 0);
  Report report;
  report.sim = r;
  CHECK(HitRateBlocks(report) == 0.0);  // no division by zero
  const Trace t = HandTrace(dir);
  CHECK(Simulate(t, SimConfig{0, 0, EvictionPolicy::kLru}).hit_blocks == 0);
  CHECK(BeladyHits(t, 0).hits == 0);
}

// Random chat-like traffic: conversations that grow turn by turn.
Trace RandomChats(const TempDir& dir, int requests, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::vector<uint64_t>> chats(20);
  uint64_t next_id = 0;
  std::string text;
  for (int q = 0; q < requests; ++q) {
    std::vector<uint64_t>& chat = chats[rng() % chats.size()];
    if (chat.empty() || rng() % 8 == 0) chat.assign(1, 0);  // shared system prompt id 0
    for (uint32_t n = 1 + rng() % 3; n > 0; --n) chat.push_back(++next_id);
    text += "{\"input_length\": " + std::to_string(chat.size() * 4) + ", \"hash_ids\": [";
    for (size_t i = 0; i < chat.size(); ++i)
      text += (i ? "," : "") + std::to_string(chat[i]);
    text += "]}\n";
  }
  return ReadOk(WriteFile(dir, "chats.jsonl", text), TraceFormat::kMooncake);
}

// Belady's MIN written the plain way: the resident set scanned for the
// largest (next use, depth, id) on every miss. BeladyHits' indexed heap must
// give the same hits and prefix hits.
BoundHits NaiveBelady(const Trace& t, uint64_t capacity) {
  constexpr uint64_t kNever = UINT32_MAX;
  std::vector<uint64_t> next(t.blocks.size(), kNever);
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> seen_at;  // block -> request
  for (size_t q = t.requests(); q-- > 0;) {
    for (uint64_t p = t.offsets[q]; p < t.offsets[q + 1]; ++p) {
      const auto it = seen_at.find({t.blocks[p].lo, t.blocks[p].hi});
      if (it != seen_at.end()) next[p] = it->second;
    }
    for (uint64_t p = t.offsets[q]; p < t.offsets[q + 1]; ++p)
      seen_at[{t.blocks[p].lo, t.blocks[p].hi}] = q;
  }
  const BlockNumbers numbers = NumberBlocks(t);
  std::map<uint32_t, uint64_t> resident;  // id -> key
  BoundHits bound;
  for (size_t q = 0; q < t.requests(); ++q) {
    uint64_t p = t.offsets[q];
    while (p < t.offsets[q + 1] && resident.contains(numbers.ids[p])) ++p;
    bound.prefix_hits += p - t.offsets[q];
    for (p = t.offsets[q]; p < t.offsets[q + 1]; ++p) {
      const uint32_t id = numbers.ids[p];
      const uint64_t key = next[p] << 20 | (p - t.offsets[q]);
      if (resident.contains(id)) {
        ++bound.hits;
        resident[id] = key;
        continue;
      }
      if (next[p] == kNever || capacity == 0) continue;
      if (resident.size() < capacity) {
        resident[id] = key;
        continue;
      }
      std::pair<uint64_t, uint32_t> farthest{0, 0};
      for (const auto& [rid, rkey] : resident) farthest = std::max(farthest, {rkey, rid});
      if (farthest.first <= key) continue;
      resident.erase(farthest.second);
      resident[id] = key;
    }
  }
  return bound;
}

TEST_CASE("belady: the indexed heap gives plain MIN's hits on random chats",
          "[replay][sim]") {
  TempDir dir;
  for (const uint32_t seed : {1u, 2u, 3u}) {
    const Trace t = RandomChats(dir, 300, seed);
    for (const uint64_t capacity : {0u, 1u, 3u, 10u, 40u, 150u}) {
      const BoundHits fast = BeladyHits(t, capacity);
      const BoundHits plain = NaiveBelady(t, capacity);
      INFO("seed " << seed << " capacity " << capacity);
      CHECK(fast.hits == plain.hits);
      CHECK(fast.prefix_hits == plain.prefix_hits);
    }
  }
}

TEST_CASE("bounds order every policy: hit rate <= belady <= ceiling", "[replay][sim]") {
  TempDir dir;
  const Trace t = RandomChats(dir, 400, 7);
  const uint64_t ceiling = CeilingHits(t);
  for (const uint64_t capacity : {5, 20, 80, 400}) {
    const BoundHits belady = BeladyHits(t, capacity);
    CHECK(belady.hits <= ceiling);
    CHECK(belady.prefix_hits <= belady.hits);
    for (const EvictionPolicy p : {EvictionPolicy::kLru, EvictionPolicy::kSlru}) {
      const SimResult r = Simulate(t, SimConfig{capacity, 0, p});
      INFO("capacity " << capacity << " " << EvictionPolicyName(p));
      CHECK(r.hit_blocks <= belady.hits);
    }
  }
}

TEST_CASE("real mode gives the simulator's hits: the replay runs the store's code",
          "[replay][sim][real]") {
  TempDir dir;
  const Trace t = RandomChats(dir, 300, 11);
  for (const EvictionPolicy p : {EvictionPolicy::kLru, EvictionPolicy::kSlru}) {
    const SimResult sim = Simulate(t, SimConfig{40, 0, p});
    Report real;
    REQUIRE(RunReal(t, RealConfig{40, 0, "", p}, real).ok());
    INFO(EvictionPolicyName(p));
    CHECK(sim.hit_blocks > 0);
    CHECK(real.sim.hit_blocks == sim.hit_blocks);
    CHECK(real.sim.tiers[kHost].evictions == sim.tiers[kHost].evictions);
    CHECK(real.sim.tiers[kHost].inserts == sim.tiers[kHost].inserts);
    CHECK(real.real_gbps.value_or(0) > 0);
  }
}

TEST_CASE("real mode with an NVMe tier gives the simulator's hits, tier by tier",
          "[replay][sim][real]") {
  TempDir dir;
  const Trace t = RandomChats(dir, 300, 13);
  for (const EvictionPolicy p : {EvictionPolicy::kLru, EvictionPolicy::kSlru}) {
    TempDir nvme_dir;
    RealConfig config{20, 64 * 4096, nvme_dir.path().string(), p};
    config.wait = WriteDownWait::kEachRequest;
    Report real;
    REQUIRE(RunReal(t, config, real).ok());
    const SimResult sim = Simulate(t, SimConfig{20, real.config.nvme_blocks, p});
    INFO(EvictionPolicyName(p));
    CHECK(sim.tiers[kNvme].hits > 0);
    CHECK(sim.promotions > 0);
    CHECK(real.sim.hit_blocks == sim.hit_blocks);
    for (const int tier : {kHost, kNvme}) {
      CHECK(real.sim.tiers[tier].hits == sim.tiers[tier].hits);
      CHECK(real.sim.tiers[tier].inserts == sim.tiers[tier].inserts);
      CHECK(real.sim.tiers[tier].evictions == sim.tiers[tier].evictions);
    }
  }
}

TEST_CASE("real mode with an nvme tier serves host's evictions from NVMe",
          "[replay][real]") {
  TempDir dir;
  const Trace t = HandTrace(dir);
  Report host_only, with_nvme;
  REQUIRE(RunReal(t, RealConfig{2, 0, ""}, host_only).ok());
  RealConfig nvme{2, 1 << 20, dir.path().string()};
  nvme.wait = WriteDownWait::kEachRequest;
  const Status s = RunReal(t, nvme, with_nvme);
  INFO(s.ToString());
  REQUIRE(s.ok());
  // The simulator is the same placement code: with write-downs settled
  // after each request the two agree block for block.
  const SimResult sim = Simulate(t, SimConfig{2, with_nvme.config.nvme_blocks});
  CHECK(with_nvme.sim.hit_blocks == sim.hit_blocks);
  CHECK(with_nvme.sim.tiers[kNvme].hits == sim.tiers[kNvme].hits);
  CHECK(with_nvme.sim.tiers[kHost].hits == sim.tiers[kHost].hits);
  CHECK(with_nvme.sim.tiers[kNvme].inserts == sim.tiers[kNvme].inserts);
  CHECK(with_nvme.sim.tiers[kHost].evictions == sim.tiers[kHost].evictions);
  // r4 [1,2,4] finds 1 and 2 on NVMe only: host (2 blocks) evicted them.
  CHECK(sim.tiers[kNvme].hits > 0);
  CHECK(with_nvme.sim.hit_blocks > host_only.sim.hit_blocks);
}

TEST_CASE("sweep CSV: the documented columns, one row per capacity and policy",
          "[replay][sweep]") {
  TempDir dir;
  const Trace t = HandTrace(dir);
  const auto points = ParseSweep("1,2,1+3");
  REQUIRE(points.has_value());
  REQUIRE(points->size() == 3);
  CHECK(points->at(2).nvme_blocks == 3);
  CHECK_FALSE(ParseSweep("1,x").has_value());
  CHECK_FALSE(ParseSweep("").has_value());
  CHECK_FALSE(ParseSweep("0").has_value());
  Report base;
  base.prices = Prices{0.5, 2.0};
  const auto rows =
      RunSweep(t, base, *points, {EvictionPolicy::kLru, EvictionPolicy::kSlru});
  REQUIRE(rows.size() == 6);
  std::ostringstream csv;
  WriteSweepCsv(rows, csv);
  std::istringstream lines(csv.str());
  std::string line;
  std::getline(lines, line);
  CHECK(line ==
        "host_blocks,nvme_blocks,capacity_blocks,policy,requests,hit_rate_blocks,"
        "hit_rate_tokens,belady_hit_rate_blocks,ceiling_hit_rate_blocks,evictions,"
        "host_hits,nvme_hits,blended_price");
  std::vector<std::string> data;
  while (std::getline(lines, line)) data.push_back(line);
  REQUIRE(data.size() == 6);
  // Capacity 2, LRU: 2/9 hits, 8/34 tokens, Belady 4/9, ceiling 5/9, 4
  // evictions; price (8 * 0.5 + 26 * 2) / 1e6.
  CHECK(data[2] == "2,0,2,lru,5,0.222222,0.235294,0.444444,0.555556,4,2,0,0.000056");
  for (const std::string& row : data) {
    CHECK(std::count(row.begin(), row.end(), ',') == 12);
  }
  std::ostringstream svg;
  WriteSweepSvg(rows, "hand", svg);
  CHECK(svg.str().find("<svg") == 0);
  CHECK(svg.str().find("Belady") != std::string::npos);
  CHECK(svg.str().find("ceiling") != std::string::npos);
}

TEST_CASE("the Mooncake trace at 6,000 blocks: lru about 14%, belady about 35%",
          "[replay][sim][shared]") {
  const std::string path =
      std::string(KVTIER_SHARED_TRACES) + "/mooncake/conversation_trace.jsonl";
  if (!std::filesystem::exists(path)) KVTIER_SKIP("no shared trace at " + path);
  const Trace t = ReadOk(path, TraceFormat::kMooncake, 512);
  const double refs = static_cast<double>(t.references);
  const SimResult lru = Simulate(t, SimConfig{6000, 0, EvictionPolicy::kLru});
  const SimResult slru = Simulate(t, SimConfig{6000, 0, EvictionPolicy::kSlru});
  const BoundHits belady = BeladyHits(t, 6000);
  CHECK(lru.hit_blocks / refs == Approx(0.14).margin(0.01));
  CHECK(belady.hits / refs == Approx(0.35).margin(0.01));
  CHECK(slru.hit_blocks > lru.hit_blocks);
}

}  // namespace
}  // namespace kvtier::replay
