// SlruOrder and the BlockIndex driven by it: victims from probation first,
// hits protected, the protected share kept, and the index's rules (never a
// parent before its child, orphans first) unchanged.
#include <catch2/catch.hpp>

#include <vector>

#include "lib/index/block_index.h"
#include "lib/index/slru_order.h"
#include "lib/store_impl.h"

namespace kvtier::internal {
namespace {

const auto kAny = [](EntryId) { return true; };

BlockHash H(uint64_t n) { return BlockHash{n * 0x9E3779B97F4A7C15ull + 1, n}; }

std::array<TierBudget, kNumTiers> Budgets(uint64_t host, uint64_t nvme = 0) {
  std::array<TierBudget, kNumTiers> b{};
  b[1] = TierBudget{host > 0, host};
  b[2] = TierBudget{nvme > 0, nvme};
  return b;
}

// Saves `chain` as the Store does: AddPending all, MarkReady all, TouchChain.
void Save(BlockIndex& index, const std::vector<BlockHash>& chain,
          Tier tier = Tier::kHost) {
  std::vector<BlockHash> added;
  for (size_t i = 0; i < chain.size(); ++i) {
    if (index.IsPresent(chain[i], tier)) continue;
    REQUIRE(index.MakeRoom(tier, 1).has_value());
    index.AddPending(tier, chain[i], i > 0 ? &chain[i - 1] : nullptr, 0);
    added.push_back(chain[i]);
  }
  for (const BlockHash& h : added) index.MarkReady(tier, h);
  index.TouchChain(chain);
}

TEST_CASE("slru: probation's coldest is the victim and a hit moves a block to protected",
          "[index][slru]") {
  SlruOrder order(0.5);
  for (EntryId id : {1u, 2u, 3u, 4u}) order.Insert(id);
  CHECK(order.FindVictim(kAny) == 1);
  order.Hit(1);  // protected now: probation's coldest is 2
  CHECK(order.protected_size() == 1);
  CHECK(order.FindVictim(kAny) == 2);
  order.Touch(2);  // a touch keeps it in probation, most recent there
  CHECK(order.FindVictim(kAny) == 3);
  // Only protected blocks left acceptable: protected's coldest.
  CHECK(order.FindVictim([](EntryId id) { return id == 1; }) == 1);
  order.Demote(4);
  CHECK(order.FindVictim(kAny) == 4);
  order.Remove(4);
  order.Remove(3);
  order.Remove(2);
  CHECK(order.size() == 1);
  CHECK(order.FindVictim(kAny) == 1);
  order.Remove(1);
  CHECK(order.FindVictim(kAny) == kNoEntry);
  order.Insert(1);  // a removed id can come back, into probation
  CHECK(order.protected_size() == 0);
}

TEST_CASE("slru: protected overflow falls back to probation's hot end", "[index][slru]") {
  SlruOrder order(0.5);
  for (EntryId id : {1u, 2u, 3u, 4u}) order.Insert(id);
  order.Hit(1);
  order.Hit(2);
  CHECK(order.protected_size() == 2);
  order.Hit(3);  // 3 of 4 > half: 1, protected's coldest, goes back
  CHECK(order.protected_size() == 2);
  // Probation, cold to hot: 4, 1.
  CHECK(order.FindVictim(kAny) == 4);
  CHECK(order.FindVictim([](EntryId id) { return id != 4; }) == 1);
  CHECK(order.FindVictim([](EntryId id) { return id == 2 || id == 3; }) == 2);
}

TEST_CASE("slru index: a block that was hit survives a scan that evicts it under lru",
          "[index][slru]") {
  for (const EvictionPolicy policy : {EvictionPolicy::kLru, EvictionPolicy::kSlru}) {
    BlockIndex index(Budgets(2), policy);
    Save(index, {H(1)});
    index.TouchChain(std::vector<BlockHash>{H(1)}, /*hit=*/true);
    for (uint64_t n = 2; n <= 4; ++n) Save(index, {H(n)});  // single-use blocks
    INFO(EvictionPolicyName(policy));
    CHECK(index.IsReady(H(1), Tier::kHost) == (policy == EvictionPolicy::kSlru));
  }
}

TEST_CASE("slru index: a parent in probation is not evicted before its protected child",
          "[index][slru]") {
  BlockIndex index(Budgets(2), EvictionPolicy::kSlru);
  const std::vector<BlockHash> chain = {H(1), H(2)};
  Save(index, chain);
  index.TouchChain(std::vector<BlockHash>{H(2)}, /*hit=*/true);  // only the child
  const auto evicted = index.MakeRoom(Tier::kHost, 1);
  REQUIRE(evicted.has_value());
  REQUIRE(evicted->size() == 1);
  CHECK(evicted->front().hash == H(2));
}

TEST_CASE("slru index: orphans go first once their parent left every tier",
          "[index][slru]") {
  // host: the root a and a spare y; nvme: b, c (children of a) and x.
  BlockIndex index(Budgets(2, 3), EvictionPolicy::kSlru);
  const std::vector<BlockHash> chain = {H(1), H(2), H(3)};
  Save(index, {H(9)}, Tier::kNvme);
  index.TouchChain(std::vector<BlockHash>{H(9)}, /*hit=*/true);  // x protected
  index.AddPending(Tier::kHost, H(1), nullptr, 0);
  index.MarkReady(Tier::kHost, H(1));
  for (size_t i = 1; i < 3; ++i) {
    index.AddPending(Tier::kNvme, chain[i], &chain[i - 1], 0);
    index.MarkReady(Tier::kNvme, chain[i]);
  }
  Save(index, {H(8)});
  index.TouchChain(std::vector<BlockHash>{H(8)}, /*hit=*/true);  // y protected in host
  // The host gives up a (probation), so b and c are orphans.
  auto evicted = index.MakeRoom(Tier::kHost, 1);
  REQUIRE(evicted.has_value());
  REQUIRE(evicted->front().hash == H(1));
  evicted = index.MakeRoom(Tier::kNvme, 1);
  REQUIRE(evicted.has_value());
  CHECK(evicted->front().hash == H(3));
  CHECK(evicted->front().orphan);
}

TEST_CASE("options.eviction accepts slru and rejects an unknown policy by name",
          "[index][slru]") {
  Options o;
  o.layout.num_layers = 2;
  o.layout.kv_heads = 2;
  o.layout.head_dim = 8;
  o.layout.block_tokens = 4;
  o.model_id = "slru@1";
  o.host.capacity_bytes = 1 << 20;
  o.host.lock_memory = false;
  o.eviction = EvictionPolicy::kSlru;
  CHECK(ValidateOptions(o).ok());
  CHECK(Store::Open(o).ok());
  o.eviction = static_cast<EvictionPolicy>(7);
  const Status s = ValidateOptions(o);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().find("options.eviction") != std::string::npos);
  CHECK(ParseEvictionPolicy("slru") == EvictionPolicy::kSlru);
  CHECK(ParseEvictionPolicy("lru") == EvictionPolicy::kLru);
  CHECK_FALSE(ParseEvictionPolicy("arc").has_value());
}

}  // namespace
}  // namespace kvtier::internal
