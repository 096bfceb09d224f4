// Every eviction order (LRU, SLRU, freq, session with the trace's contexts)
// under the index's rules, on a
// generated mixed trace: never above Belady's bound on the same trace,
// capacity never exceeded, never a block ready without its prefix (a parent
// is not evicted while a child it holds is resident). And FrequencyOrder's
// own rules: first sight to probation, a block seen again (even after it
// was evicted) to protected, the sketch forgetting with age.
#include <catch2/catch.hpp>

#include <vector>

#include "bench/replay/bounds.h"
#include "bench/replay/real_mode.h"
#include "bench/replay/simulator.h"
#include "bench/replay/trace_gen.h"
#include "bench/replay/trace_gen_writer.h"
#include "lib/index/block_index.h"
#include "lib/index/frequency_order.h"
#include "lib/index/frequency_sketch.h"
#include "tests/replay_support.h"

namespace kvtier {
namespace {

using internal::BlockIndex;
using internal::EntryId;
using internal::FrequencyOrder;
using internal::FrequencySketch;
using internal::kNoEntry;
using internal::TierBudget;
using kvtier::testing::TempDir;
using replay::Trace;

constexpr EvictionPolicy kPolicies[] = {EvictionPolicy::kLru, EvictionPolicy::kSlru,
                                        EvictionPolicy::kFrequency,
                                        EvictionPolicy::kSession};

// A small mixed trace: chats, document questions and one-shot prompts.
Trace MixedTrace(const TempDir& dir) {
  replay::GenOptions o;
  o.kind = replay::GenKind::kMix;
  o.sessions = 400;
  o.session_gap_s = 1;
  o.docs = 50;
  const std::string folder = (dir.path() / "mix").string();
  REQUIRE(replay::WriteSessionsFolder(replay::Generate(o), folder).ok());
  return replay::testing::ReadOk(folder, replay::TraceFormat::kSessions);
}

TEST_CASE("policies: no policy's hit rate exceeds Belady's bound on the same trace",
          "[policy][replay]") {
  TempDir dir;
  const Trace t = MixedTrace(dir);
  for (const uint64_t capacity : {50u, 200u, 800u}) {
    const uint64_t belady = replay::BeladyHits(t, capacity).hits;
    for (const EvictionPolicy p : kPolicies) {
      const replay::SimResult r = replay::Simulate(t, replay::SimConfig{capacity, 0, p});
      INFO(EvictionPolicyName(p) << " at " << capacity);
      CHECK(r.hit_blocks <= belady);
      CHECK(r.hit_blocks > 0);
    }
  }
}

TEST_CASE("policies: capacity is never exceeded and every ready block has its prefix",
          "[policy][replay]") {
  TempDir dir;
  const Trace t = MixedTrace(dir);
  constexpr uint64_t kCapacity = 300;
  for (const EvictionPolicy p : kPolicies) {
    INFO(EvictionPolicyName(p));
    std::array<TierBudget, kNumTiers> budgets{};
    budgets[static_cast<int>(Tier::kHost)] = TierBudget{true, kCapacity};
    BlockIndex index(budgets, p);
    size_t broken = 0, over = 0;
    for (size_t q = 0; q < t.requests(); ++q) {
      replay::testing::IndexRequest(index, t.chain(q), t.ContextOf(q));
      over += index.used_units(Tier::kHost) > kCapacity;
      // The chains of the last 50 requests: a ready block's parent is ready.
      for (size_t back = q >= 50 ? q - 50 : 0; back <= q; ++back) {
        const auto chain = t.chain(back);
        for (size_t i = 1; i < chain.size(); ++i) {
          broken += index.IsReady(chain[i], Tier::kHost) &&
                    !index.IsReady(chain[i - 1], Tier::kHost);
        }
      }
    }
    CHECK(over == 0);
    CHECK(broken == 0);
    CHECK(index.blocks_in(Tier::kHost) == kCapacity);  // it filled up
  }
}

// The simulator and a real Store give the same hits with the engine's
// contexts too: the Store's Load and Save carry them to the same placement
// code (a context dropped on either side shows as a different count).
TEST_CASE("policies: a real store with request contexts gives the simulator's hits",
          "[policy][replay][session]") {
  TempDir dir;
  const Trace t = MixedTrace(dir);
  for (const EvictionPolicy p : {EvictionPolicy::kSlru, EvictionPolicy::kSession}) {
    const replay::SimResult sim = replay::Simulate(t, replay::SimConfig{200, 0, p});
    replay::Report real;
    REQUIRE(replay::RunReal(t, replay::RealConfig{200, 0, "", p}, real).ok());
    INFO(EvictionPolicyName(p));
    CHECK(sim.hit_blocks > 0);
    CHECK(real.sim.hit_blocks == sim.hit_blocks);
    CHECK(real.sim.tiers[static_cast<int>(Tier::kHost)].evictions ==
          sim.tiers[static_cast<int>(Tier::kHost)].evictions);
  }
  // The contexts matter on this trace: session differs from SLRU.
  CHECK(replay::Simulate(t, replay::SimConfig{200, 0, EvictionPolicy::kSession})
            .hit_blocks !=
        replay::Simulate(t, replay::SimConfig{200, 0, EvictionPolicy::kSlru}).hit_blocks);
}

const auto kAny = [](EntryId) { return true; };

TEST_CASE("freq: first sight waits in probation, a block seen again is protected",
          "[policy][freq]") {
  FrequencyOrder order(0.5);
  order.Reserve(16);
  order.Admit(1, 101);
  order.Admit(2, 102);
  CHECK(order.protected_size() == 0);
  CHECK(order.FindVictim(kAny) == 1);
  // Block 101 leaves and comes back (as another id): seen twice, protected,
  // so 2 (seen once) goes first.
  order.Remove(1);
  order.Admit(3, 101);
  CHECK(order.protected_size() == 1);
  CHECK(order.FindVictim(kAny) == 2);
  // A hit protects too; protected is held to half the blocks: its coldest
  // falls back to probation's hot end.
  order.Admit(4, 104);
  order.Admit(5, 105);
  order.Hit(2);
  CHECK(order.protected_size() == 2);
  order.Hit(4);  // 3 of 4 would be protected: 3, the coldest, falls back
  CHECK(order.protected_size() == 2);
  CHECK(order.FindVictim(kAny) == 5);
  CHECK(order.FindVictim([](EntryId id) { return id != 5; }) == 3);
  order.Demote(4);
  CHECK(order.FindVictim(kAny) == 4);
}

TEST_CASE("freq sketch: counts sightings up to 15, and halves them with age",
          "[policy][freq]") {
  FrequencySketch sketch(1024, /*sample_factor=*/1);
  for (uint32_t i = 1; i <= 20; ++i) CHECK(sketch.Add(7) == std::min(i, 15u));
  CHECK(sketch.Estimate(8) <= 1);  // another key: not counted (a collision at most)
  // 1024 more additions of other keys reach the sample: everything halves.
  for (uint64_t k = 100; k < 100 + 1024; ++k) sketch.Add(k);
  CHECK(sketch.Estimate(7) == 7);
}

}  // namespace
}  // namespace kvtier
