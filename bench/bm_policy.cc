// BM_PolicyHit, BM_PolicyEvictInsert: the eviction orders (LRU, SLRU, freq,
// session) on
// their own at 1M entries, the operations a Load (Hit per block) and a Save
// into a full tier (FindVictim + Remove + Insert) cost. Items are blocks.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "lib/index/eviction_order.h"

namespace kvtier::internal {
namespace {

constexpr EntryId kEntries = EntryId{1} << 20;

std::unique_ptr<EvictionOrder> FullOrder(EvictionPolicy policy) {
  auto order = MakeEvictionOrder(policy);
  order->Reserve(kEntries);
  for (EntryId id = 0; id < kEntries; ++id) order->Admit(id, id);
  return order;
}

// Ids in a random order (precomputed: the generator is not measured).
std::vector<EntryId> RandomIds(size_t n) {
  std::mt19937 rng(7);
  std::vector<EntryId> ids(n);
  for (EntryId& id : ids) id = rng() % kEntries;
  return ids;
}

// A hit on a random block: SLRU promotes it to (or within) the protected
// segment, LRU moves it to the hot end.
void BM_PolicyHit(benchmark::State& state, EvictionPolicy policy) {
  auto order = FullOrder(policy);
  const std::vector<EntryId> ids = RandomIds(1 << 20);
  size_t i = 0;
  for (auto _ : state) {
    order->Hit(ids[i]);
    i = (i + 1) & (ids.size() - 1);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK_CAPTURE(BM_PolicyHit, lru, EvictionPolicy::kLru);
BENCHMARK_CAPTURE(BM_PolicyHit, slru, EvictionPolicy::kSlru);
BENCHMARK_CAPTURE(BM_PolicyHit, freq, EvictionPolicy::kFrequency);
BENCHMARK_CAPTURE(BM_PolicyHit, session, EvictionPolicy::kSession);

// A block saved into the full tier: the coldest block is found and removed,
// and its id comes back as the newest block (ids are slots, reused).
void BM_PolicyEvictInsert(benchmark::State& state, EvictionPolicy policy) {
  auto order = FullOrder(policy);
  const auto any = [](EntryId) { return true; };
  uint64_t key = kEntries;  // a new block each time (its hash, for freq's sketch)
  for (auto _ : state) {
    const EntryId victim = order->FindVictim(any);
    order->Remove(victim);
    order->Admit(victim, key++);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK_CAPTURE(BM_PolicyEvictInsert, lru, EvictionPolicy::kLru);
BENCHMARK_CAPTURE(BM_PolicyEvictInsert, slru, EvictionPolicy::kSlru);
BENCHMARK_CAPTURE(BM_PolicyEvictInsert, freq, EvictionPolicy::kFrequency);
BENCHMARK_CAPTURE(BM_PolicyEvictInsert, session, EvictionPolicy::kSession);

}  // namespace
}  // namespace kvtier::internal
