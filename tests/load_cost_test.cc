// Load or recompute (options.load_cost, lib/cost/load_cost_model.h): the
// online fit of each tier's latency and bandwidth, the prefix offered, and
// Lookup capped by it on a real host + NVMe store. Measurements are injected
// (LoadCostModel::Observe, the store's seam), never timed.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "lib/cost/load_cost_model.h"
#include "tests/nvme_support.h"

namespace kvtier {
namespace {

using internal::LoadCostModel;
using testing::ChainOf;
using testing::NvmeOptions;
using testing::NvmeStore;
using testing::SaveChain;
using testing::TempDir;

constexpr int kHost = static_cast<int>(Tier::kHost);
constexpr int kNvme = static_cast<int>(Tier::kNvme);

LoadCostOptions Speed(double tokens_per_second, double weight = 0.1) {
  LoadCostOptions o;
  o.prefill_tokens_per_second = tokens_per_second;
  o.measurement_weight = weight;
  return o;
}

// One batch of `blocks` blocks of `bytes` each, at `latency` + bytes * spb.
void Batch(internal::ReadObserver& m, Tier t, uint64_t bytes, double latency,
           double spb) {
  m.Observe(t, bytes, latency + spb * static_cast<double>(bytes));
}

TEST_CASE("load cost: a tier's latency and bandwidth are fitted from its reads",
          "[load_cost]") {
  LoadCostModel m(Speed(1000));
  CHECK_FALSE(m.Cost(Tier::kNvme).measured);
  for (uint64_t mib : {1, 4, 2, 8, 1}) Batch(m, Tier::kNvme, mib << 20, 2e-4, 1e-9);
  const internal::TierCost c = m.Cost(Tier::kNvme);
  CHECK(c.measured);
  CHECK(c.latency_seconds == Approx(2e-4).epsilon(1e-6));
  CHECK(c.seconds_per_byte == Approx(1e-9).epsilon(1e-6));
  CHECK_FALSE(m.Cost(Tier::kHost).measured);
}

TEST_CASE("load cost: batches of one size are all bandwidth", "[load_cost]") {
  LoadCostModel m(Speed(1000));
  for (int i = 0; i < 5; ++i) Batch(m, Tier::kHost, 1 << 20, 1e-3, 1e-9);
  const internal::TierCost c = m.Cost(Tier::kHost);
  CHECK(c.latency_seconds == 0);
  CHECK(c.seconds_per_byte * (1 << 20) == Approx(1e-3 + 1e-9 * (1 << 20)));
}

TEST_CASE("load cost: the fit follows a tier that became faster", "[load_cost]") {
  LoadCostModel m(Speed(1000, 0.2));
  for (int i = 0; i < 40; ++i) Batch(m, Tier::kNvme, (1 + i % 4) << 20, 1e-3, 1e-8);
  CHECK(m.Cost(Tier::kNvme).seconds_per_byte == Approx(1e-8).epsilon(1e-3));
  for (int i = 0; i < 40; ++i) Batch(m, Tier::kNvme, (1 + i % 4) << 20, 1e-4, 1e-9);
  CHECK(m.Cost(Tier::kNvme).seconds_per_byte == Approx(1e-9).epsilon(0.05));
  CHECK(m.Cost(Tier::kNvme).latency_seconds == Approx(1e-4).epsilon(0.2));
}

std::vector<Tier> Run(std::initializer_list<std::pair<Tier, size_t>> runs) {
  std::vector<Tier> tiers;
  for (const auto& [tier, n] : runs) tiers.insert(tiers.end(), n, tier);
  return tiers;
}

TEST_CASE("load cost: blocks slower to load than to recompute are not offered",
          "[load_cost]") {
  // 16-token blocks at 10,000 tokens/s: 1.6 ms to recompute one.
  LoadCostModel m(Speed(10000));
  const std::array<uint64_t, kNumTiers> bytes = {0, 1 << 20, 1 << 20, 0};
  const std::vector<Tier> head_in_host = Run({{Tier::kHost, 4}, {Tier::kNvme, 3}});
  CHECK(m.Offer(head_in_host, bytes, 16) == 7);         // nothing measured: assumed free
  Batch(m, Tier::kHost, 1 << 20, 0, 1e-4 / (1 << 20));  // 0.1 ms a block
  Batch(m, Tier::kNvme, 1 << 20, 0, 5e-3 / (1 << 20));  // 5 ms a block
  CHECK(m.Offer(head_in_host, bytes, 16) == 4);
  CHECK(m.Offer(head_in_host, bytes, 160) == 7);  // 16 ms to recompute: NVMe pays
  CHECK(m.Offer(Run({{Tier::kNvme, 3}}), bytes, 16) == 0);
  // A slow block between fast ones is worth loading when those after it
  // make up for it: 3 x 1.6 ms saved against 5.2 ms, no; 6 x 1.6 against 5.5, yes.
  CHECK(m.Offer(Run({{Tier::kNvme, 1}, {Tier::kHost, 2}}), bytes, 16) == 0);
  CHECK(m.Offer(Run({{Tier::kNvme, 1}, {Tier::kHost, 5}}), bytes, 16) == 6);
  LoadCostModel off(Speed(0));
  Batch(off, Tier::kNvme, 1 << 20, 0, 5e-3 / (1 << 20));
  CHECK(off.Offer(Run({{Tier::kNvme, 3}}), bytes, 16) == 3);
}

TEST_CASE("load cost: a tier's latency is paid once, so a longer run of it can pay",
          "[load_cost]") {
  LoadCostModel m(Speed(10000));  // 1.6 ms a 16-token block
  const std::array<uint64_t, kNumTiers> bytes = {0, 1 << 20, 1 << 20, 0};
  for (uint64_t mib : {1, 2, 4}) Batch(m, Tier::kNvme, mib << 20, 1e-3, 1e-3 / (1 << 20));
  CHECK(m.Offer(Run({{Tier::kNvme, 1}}), bytes, 16) == 0);  // 1.6 ms saved for 2 ms
  CHECK(m.Offer(Run({{Tier::kNvme, 3}}), bytes, 16) == 3);  // 4.8 ms saved for 4 ms
}

// A store whose host tier holds 2 blocks of a 6-block chain and NVMe all of
// it (every block written down).
struct SplitStore {
  explicit SplitStore(double tokens_per_second) {
    Options o = NvmeOptions(dir.path(), 2, 64);
    o.load_cost.prefill_tokens_per_second = tokens_per_second;
    s = std::make_unique<NvmeStore>(o);
    REQUIRE(s->status.ok());
    chain = ChainOf(store(), 1, 6);
    for (size_t n = 1; n <= chain.size(); ++n) {
      SaveChain(store(), std::span(chain).first(n));
      store().Flush();
    }
  }
  Store& store() { return *s->store; }
  LoadCostModel& model() {
    return static_cast<internal::StoreImpl&>(store()).load_cost();
  }
  uint64_t block_bytes() const {
    return internal::StoredBlockBytes(s->store->layout().BlockBytes());
  }
  TempDir dir;
  std::unique_ptr<NvmeStore> s;
  std::vector<BlockHash> chain;
};

TEST_CASE("load cost: Lookup stops where the slow tier's blocks would arrive late",
          "[load_cost][nvme]") {
  SplitStore t(1000);  // 4-token blocks: 4 ms to recompute one
  const LookupResult all = t.store().Lookup(t.chain);  // nothing measured yet
  REQUIRE(all.blocks == 6);
  REQUIRE(all.blocks_per_tier[kHost] == 2);
  REQUIRE(all.blocks_per_tier[kNvme] == 4);
  // The blocks host serves, from the first: loading pays up to the first
  // block only NVMe holds.
  size_t head = 0;
  while (head < 6 &&
         t.store().Lookup(std::span(t.chain).first(head + 1)).blocks_per_tier[kHost] ==
             head + 1) {
    ++head;
  }
  REQUIRE(head > 0);  // tails-first eviction keeps the chain's root in host
  const uint64_t b = t.block_bytes();
  for (int i = 0; i < 3; ++i) {
    Batch(t.model(), Tier::kHost, b * (i + 1), 1e-6, 1e-5 / b);  // 10 us a block
    Batch(t.model(), Tier::kNvme, b * (i + 1), 2e-3, 1e-2 / b);  // 10 ms a block
  }
  const uint64_t capped_before = t.store().Stats().lookup_capped_blocks;
  const LookupResult capped = t.store().Lookup(t.chain);
  CHECK(capped.blocks == head);
  CHECK(capped.blocks_per_tier[kHost] == head);
  CHECK(capped.blocks_per_tier[kNvme] == 0);
  CHECK(t.store().Stats().lookup_capped_blocks - capped_before == 6 - head);

  auto leased = t.store().LookupAndLease(t.chain, 1000);
  REQUIRE(leased.ok());
  CHECK(leased->blocks == head);
  CHECK(t.store().Stats().lookup_capped_blocks - capped_before == 2 * (6 - head));
  if (head > 0) CHECK(t.store().ReleaseLease(leased->lease));

  // NVMe got fast (a recent run of quick reads): its blocks pay again.
  for (int i = 0; i < 60; ++i)
    Batch(t.model(), Tier::kNvme, b * (1 + i % 3), 1e-6, 1e-5 / b);
  CHECK(t.store().Lookup(t.chain).blocks == 6);
}

TEST_CASE("load cost: off by default, whatever the tiers measure", "[load_cost][nvme]") {
  SplitStore t(0);
  const uint64_t b = t.block_bytes();
  for (int i = 0; i < 3; ++i) Batch(t.model(), Tier::kNvme, b * (i + 1), 1.0, 1.0 / b);
  CHECK(t.store().Lookup(t.chain).blocks == 6);
  CHECK(t.store().Stats().lookup_capped_blocks == 0);
}

TEST_CASE("load cost: a store's reads feed its model", "[load_cost][nvme]") {
  SplitStore t(1e9);  // so fast a prefill that nothing is ever worth loading...
  CHECK_FALSE(t.model().Cost(Tier::kNvme).measured);
  testing::EngineBuffers dst(t.store().layout(), t.chain.size());
  REQUIRE(
      t.store().Load(t.chain, dst.all()).ok());  // ...but Load serves what it is asked
  CHECK(t.model().Cost(Tier::kNvme).measured);
  CHECK(t.model().Cost(Tier::kHost).measured);
  CHECK(t.model().Cost(Tier::kNvme).seconds_per_byte > 0);
  CHECK(t.store().Lookup(t.chain).blocks == 0);
}

TEST_CASE("load cost: bad options are named", "[load_cost]") {
  for (double bad : {-1.0, std::numeric_limits<double>::infinity(),
                     std::numeric_limits<double>::quiet_NaN()}) {
    const Status s = internal::ValidateLoadCostOptions(Speed(bad));
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK_THAT(s.message(),
               Catch::Contains("options.load_cost.prefill_tokens_per_second"));
  }
  for (double bad : {0.0, -0.5, 1.5}) {
    Options o;
    o.layout = testing::SmallLayout();
    o.model_id = "m@1";
    o.host.capacity_bytes = 1 << 20;
    o.host.lock_memory = false;
    o.load_cost = Speed(1000, bad);
    auto opened = Store::Open(o);
    REQUIRE_FALSE(opened.ok());
    CHECK_THAT(opened.status().message(),
               Catch::Contains("options.load_cost.measurement_weight"));
  }
}

}  // namespace
}  // namespace kvtier
