// BlockIndex and LruOrder: prefix answers, eviction order (tails first,
// orphans first, never a parent before its child), pins, capacity and memory.
#include <catch2/catch.hpp>

#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "lib/index/block_index.h"
#include "lib/index/lru_order.h"
#include "tests/block_index_support.h"
#include "tests/test_support.h"

namespace kvtier::internal {
namespace {

using namespace testing;  // NOLINT: the shared helpers of block_index_support.h

BlockIndex HostOnly(uint64_t capacity) {
  return BlockIndex(Budgets(0, capacity, 0), EvictionPolicy::kLru);
}

// Stores chain[i] in `tier` as the Store does (parent = chain[i-1]), ready
// at once, without evicting. Slots are numbered from `slot`.
void Put(BlockIndex& index, Tier tier, std::span<const BlockHash> chain,
         const BlockHash* parent_of_first = nullptr, uint32_t slot = 0) {
  for (size_t i = 0; i < chain.size(); ++i) {
    const BlockHash* parent = i > 0 ? &chain[i - 1] : parent_of_first;
    index.AddPending(tier, chain[i], parent, slot + static_cast<uint32_t>(i));
    index.MarkReady(tier, chain[i]);
  }
}

// Makes room for one more unit than `tier` has free: exactly one eviction.
Eviction EvictOne(BlockIndex& index, Tier tier) {
  auto evicted =
      index.MakeRoom(tier, index.capacity_units(tier) - index.used_units(tier) + 1);
  REQUIRE(evicted.has_value());
  REQUIRE(evicted->size() == 1);
  return evicted->front();
}

// ---- LruOrder -------------------------------------------------------------------

TEST_CASE("lru: the least recently inserted or touched id is the victim",
          "[index][lru]") {
  LruOrder lru;
  for (EntryId id : {5u, 1u, 9u}) lru.Insert(id);
  const auto any = [](EntryId) { return true; };
  CHECK(lru.FindVictim(any) == 5);
  lru.Touch(5);
  CHECK(lru.FindVictim(any) == 1);
  lru.Demote(9);
  CHECK(lru.FindVictim(any) == 9);
  CHECK(lru.FindVictim([](EntryId id) { return id != 9; }) == 1);
  lru.Remove(9);
  lru.Remove(1);
  CHECK(lru.size() == 1);
  CHECK(lru.FindVictim(any) == 5);
  lru.Remove(5);
  CHECK(lru.FindVictim(any) == kNoEntry);
  lru.Insert(1);  // a removed id can come back
  CHECK(lru.FindVictim(any) == 1);
}

// ---- Prefix answers -------------------------------------------------------------

TEST_CASE("a hole at block i stops the prefix at i", "[index]") {
  BlockIndex index = HostOnly(8);
  const auto chain = Chain(1, 5);
  Put(index, kHost, chain);
  CHECK(index.LongestPrefix(chain).blocks == 5);

  (void)index.Remove(kHost, chain[2]);
  PrefixInfo info = index.LongestPrefix(chain);
  CHECK(info.blocks == 2);
  CHECK(info.blocks_per_tier[static_cast<int>(kHost)] == 2);

  index.AddPending(kHost, chain[2], &chain[1], 2);  // being written: still a hole
  CHECK(index.LongestPrefix(chain).blocks == 2);
  index.MarkReady(kHost, chain[2]);
  CHECK(index.LongestPrefix(chain).blocks == 5);
  CHECK(index.LongestPrefix(std::span(chain).subspan(1)).blocks == 4);
}

TEST_CASE("a chain whose first block is unknown has no prefix", "[index]") {
  BlockIndex index = HostOnly(8);
  const auto chain = Chain(1, 3);
  Put(index, kHost, std::span(chain).subspan(1), &chain[0]);
  CHECK(index.LongestPrefix(chain).blocks == 0);
  CHECK(index.entries() == 2);
}

TEST_CASE("blocks_per_tier counts each block once, at its fastest ready tier",
          "[index]") {
  BlockIndex index(Budgets(4, 4, 4), EvictionPolicy::kLru);
  const auto chain = Chain(1, 4);
  Put(index, kNvme, chain);
  Put(index, kHost, std::span(chain).first(2));
  Put(index, kGpu, std::span(chain).first(1));
  index.AddPending(kGpu, chain[3], &chain[2], 3);  // pending: does not count

  const PrefixInfo info = index.LongestPrefix(chain);
  CHECK(info.blocks == 4);
  CHECK(info.blocks_per_tier == std::array<size_t, kNumTiers>{1, 1, 2});
  CHECK(index.FastestReadyTier(chain[0]) == kGpu);
  CHECK(index.FastestReadyTier(chain[3]) == kNvme);
  CHECK(index.entries() == 4);
  CHECK(index.blocks_in(kGpu) == 2);
}

// ---- Pending and pinned -----------------------------------------------------------

TEST_CASE("pending blocks are neither servable nor evictable", "[index]") {
  BlockIndex index = HostOnly(2);
  const auto chain = Chain(1, 2);
  index.AddPending(kHost, chain[0], nullptr, 0);
  index.AddPending(kHost, chain[1], &chain[0], 1);
  CHECK(index.IsPresent(chain[0], kHost));
  CHECK_FALSE(index.IsReady(chain[0], kHost));
  CHECK(index.LongestPrefix(chain).blocks == 0);
  CHECK_FALSE(index.FastestReadyTier(chain[0]).has_value());
  CHECK_FALSE(index.MakeRoom(kHost, 1).has_value());

  index.MarkReady(kHost, chain[0]);
  CHECK(index.LongestPrefix(chain).blocks == 1);
  // chain[0] is ready but its pending child holds it in the tier.
  CHECK_FALSE(index.MakeRoom(kHost, 1).has_value());
  CHECK(index.used_units(kHost) == 2);

  index.MarkReady(kHost, chain[1]);
  CHECK(EvictOne(index, kHost).hash == chain[1]);
}

TEST_CASE(
    "pinned blocks are not evicted, and all pinned means nullopt and nothing evicted",
    "[index]") {
  BlockIndex index = HostOnly(3);
  const auto roots = Chain(1, 3);
  for (uint32_t i = 0; i < 3; ++i)
    Put(index, kHost, std::span(roots).subspan(i, 1), nullptr, i);
  for (const BlockHash& h : roots) index.Pin(h, kHost);
  index.Pin(roots[1], kHost);  // pins nest

  CHECK_FALSE(index.MakeRoom(kHost, 1).has_value());
  CHECK(index.used_units(kHost) == 3);
  for (const BlockHash& h : roots) CHECK(index.IsReady(h, kHost));

  index.Unpin(roots[1], kHost);
  CHECK(index.IsPinned(roots[1], kHost));
  CHECK_FALSE(index.MakeRoom(kHost, 1).has_value());
  index.Unpin(roots[1], kHost);
  CHECK_FALSE(index.IsPinned(roots[1], kHost));
  const Eviction e = EvictOne(index, kHost);
  CHECK(e.hash == roots[1]);
  CHECK(e.slot == 1);
  CHECK_FALSE(e.orphan);
}

TEST_CASE("MakeRoom evicts nothing unless it can free all it was asked for", "[index]") {
  BlockIndex index = HostOnly(4);
  const auto roots = Chain(1, 4);
  for (uint32_t i = 0; i < 4; ++i)
    Put(index, kHost, std::span(roots).subspan(i, 1), nullptr, i);
  index.Pin(roots[0], kHost);
  index.Pin(roots[2], kHost);

  CHECK_FALSE(index.MakeRoom(kHost, 5).has_value());  // more than the tier holds
  CHECK_FALSE(index.MakeRoom(kHost, 3).has_value());
  CHECK(index.blocks_in(kHost) == 4);
  CHECK(index.entries() == 4);

  const auto evicted = index.MakeRoom(kHost, 2);
  REQUIRE(evicted.has_value());
  REQUIRE(evicted->size() == 2);
  CHECK(evicted->at(0).hash == roots[1]);
  CHECK(evicted->at(1).hash == roots[3]);
  CHECK(index.used_units(kHost) == 2);
  CHECK(index.MakeRoom(kHost, 2)->empty());  // already room
}

TEST_CASE("Remove frees the slot and returns it", "[index]") {
  BlockIndex index = HostOnly(2);
  const auto chain = Chain(1, 2);
  index.AddPending(kHost, chain[0], nullptr, 7);
  index.AddPending(kHost, chain[1], &chain[0], 9);
  CHECK(index.SlotOf(chain[1], kHost) == 9);
  CHECK(index.Remove(kHost, chain[1]) == 9);  // a failed write
  index.MarkReady(kHost, chain[0]);
  CHECK(index.Remove(kHost, chain[0]) == 7);
  CHECK(index.used_units(kHost) == 0);
  CHECK(index.blocks_in(kHost) == 0);
  CHECK(index.entries() == 0);
  CHECK_FALSE(index.IsPresent(chain[0], kHost));
  Put(index, kHost, chain, nullptr, 3);  // slots and entries are reusable
  CHECK(index.SlotOf(chain[1], kHost) == 4);
  CHECK(index.LongestPrefix(chain).blocks == 2);
}

// ---- Eviction order ---------------------------------------------------------------

TEST_CASE("touch order decides the victim", "[index]") {
  BlockIndex index = HostOnly(3);
  const auto roots = Chain(1, 3);
  for (uint32_t i = 0; i < 3; ++i)
    Put(index, kHost, std::span(roots).subspan(i, 1), nullptr, i);
  index.TouchChain(std::span(roots).subspan(0, 1));
  // Least recent first: roots[1], roots[2], roots[0].
  CHECK(EvictOne(index, kHost).hash == roots[1]);
  Put(index, kHost, std::span(roots).subspan(1, 1), nullptr, 1);
  CHECK(EvictOne(index, kHost).hash == roots[2]);
  CHECK(EvictOne(index, kHost).hash == roots[0]);
}

TEST_CASE("after TouchChain the tail is evicted first and the root last", "[index]") {
  BlockIndex index = HostOnly(4);
  const auto chain = Chain(1, 4);
  Put(index, kHost, chain);
  index.TouchChain(chain);
  const auto evicted = index.MakeRoom(kHost, 4);
  REQUIRE(evicted.has_value());
  std::vector<BlockHash> order;
  for (const Eviction& e : *evicted) order.push_back(e.hash);
  CHECK(order == std::vector<BlockHash>{chain[3], chain[2], chain[1], chain[0]});
}

TEST_CASE("two chains sharing a root: the older tail goes first, the root last",
          "[index]") {
  BlockIndex index = HostOnly(5);
  const auto a = Chain(1, 3);
  const std::vector<BlockHash> b{a[0], Hash(100), Hash(101)};
  Put(index, kHost, a);
  index.TouchChain(a);
  Put(index, kHost, std::span(b).subspan(1), &b[0], 3);
  index.TouchChain(b);

  const std::vector<BlockHash> expected{a[2], a[1], b[2], b[1], a[0]};
  SECTION("one at a time") {
    for (const BlockHash& h : expected) {
      CHECK(index.LongestPrefix(b).blocks >= 1);  // the shared root outlives both tails
      CHECK(EvictOne(index, kHost).hash == h);
    }
  }
  SECTION("all at once") {
    const auto evicted = index.MakeRoom(kHost, 5);
    REQUIRE(evicted.has_value());
    std::vector<BlockHash> order;
    for (const Eviction& e : *evicted) order.push_back(e.hash);
    CHECK(order == expected);
  }
  CHECK(index.entries() == 0);
}

TEST_CASE("tail first even when the chain's middle block is in another tier", "[index]") {
  // host holds blocks 0 and 2, nvme holds block 1: both host blocks are
  // childless in host, so only the touch order keeps the tail going first.
  BlockIndex index(Budgets(0, 3, 3), EvictionPolicy::kLru);
  const auto chain = Chain(1, 3);
  const auto other = Chain(2, 1);
  Put(index, kNvme, chain);
  index.AddPending(kHost, chain[0], nullptr, 0);
  index.MarkReady(kHost, chain[0]);
  index.AddPending(kHost, chain[2], &chain[1], 2);
  index.MarkReady(kHost, chain[2]);
  Put(index, kHost, other, nullptr, 1);
  index.TouchChain(other);
  index.TouchChain(chain);
  CHECK(EvictOne(index, kHost).hash == other[0]);
  CHECK(EvictOne(index, kHost).hash == chain[2]);
  CHECK(EvictOne(index, kHost).hash == chain[0]);
}

TEST_CASE("a parent is never evicted before a child present in the same tier",
          "[index]") {
  BlockIndex index = HostOnly(2);
  const auto chain = Chain(1, 2);
  Put(index, kHost, chain);
  index.TouchChain(std::span(chain).subspan(1));  // the child is more recent
  index.Pin(chain[1], kHost);
  // The parent is the coldest and unpinned, but its child holds it.
  CHECK_FALSE(index.MakeRoom(kHost, 1).has_value());
  index.Unpin(chain[1], kHost);
  CHECK(EvictOne(index, kHost).hash == chain[1]);

  // Asked for both at once, the child still goes first.
  index.AddPending(kHost, chain[1], &chain[0], 1);
  index.MarkReady(kHost, chain[1]);
  index.TouchChain(std::span(chain).subspan(1));
  const auto evicted = index.MakeRoom(kHost, 2);
  REQUIRE(evicted.has_value());
  REQUIRE(evicted->size() == 2);
  CHECK(evicted->at(0).hash == chain[1]);
  CHECK(evicted->at(1).hash == chain[0]);
}

// ---- Orphans ------------------------------------------------------------------------

// host holds the root a (and a spare root y); nvme holds the rest of chain
// [a, b, c] and an unrelated x saved before it.
struct OrphanFixture {
  BlockIndex index{Budgets(0, 2, 3), EvictionPolicy::kLru};
  std::vector<BlockHash> chain = Chain(1, 3);
  std::vector<BlockHash> x = Chain(2, 1);
  std::vector<BlockHash> y = Chain(3, 1);

  OrphanFixture() {
    Put(index, kNvme, x);
    Put(index, kHost, std::span(chain).first(1));
    Put(index, kNvme, std::span(chain).subspan(1), &chain[0], 1);
    Put(index, kHost, y, nullptr, 1);
    index.TouchChain(chain);  // nvme, hot to cold: b, c, x
    index.TouchChain(y);
  }
  void EvictRootFromHost() {
    const Eviction e = EvictOne(index, kHost);
    REQUIRE(e.hash == chain[0]);
    CHECK_FALSE(e.orphan);
  }
};

TEST_CASE("orphans are evicted first once their parent left every tier", "[index]") {
  OrphanFixture f;
  f.EvictRootFromHost();
  CHECK(f.index.LongestPrefix(f.chain).blocks == 0);
  CHECK(f.index.entries() == 4);  // b, c, x, y: a is gone

  f.index.TouchChain(f.chain);  // touching dead blocks does not revive them
  const Eviction first = EvictOne(f.index, kNvme);
  CHECK(first.hash == f.chain[2]);  // the orphaned subtree goes tail first
  CHECK(first.orphan);
  const Eviction second = EvictOne(f.index, kNvme);
  CHECK(second.hash == f.chain[1]);
  CHECK(second.orphan);
  const Eviction third = EvictOne(f.index, kNvme);
  CHECK(third.hash == f.x[0]);
  CHECK_FALSE(third.orphan);
  CHECK(f.index.entries() == 1);
}

TEST_CASE("a block saved under a missing parent is admitted as an orphan", "[index]") {
  BlockIndex index = HostOnly(3);
  const auto live = Chain(1, 2);
  const auto chain = Chain(2, 2);
  Put(index, kHost, live);
  Put(index, kHost, std::span(chain).subspan(1), &chain[0], 2);  // chain[0] unknown
  index.TouchChain(chain);
  const Eviction e = EvictOne(index, kHost);
  CHECK(e.hash == chain[1]);
  CHECK(e.orphan);
}

TEST_CASE("a parent saved again adopts its orphaned children", "[index]") {
  OrphanFixture f;
  f.EvictRootFromHost();
  Put(f.index, kHost, std::span(f.chain).first(1));  // a comes back
  CHECK(f.index.LongestPrefix(f.chain).blocks == 3);
  CHECK(f.index.entries() == 5);
  f.index.TouchChain(f.chain);
  // b and c are live again: x, now the coldest, goes first, then c, b.
  for (const BlockHash& h : {f.x[0], f.chain[2], f.chain[1]}) {
    const Eviction e = EvictOne(f.index, kNvme);
    CHECK(e.hash == h);
    CHECK_FALSE(e.orphan);
  }
}

// ---- Memory ---------------------------------------------------------------------------

size_t HeapInUse() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

TEST_CASE("index memory per block stays within kIndexBytesPerBlock", "[index][memory]") {
  constexpr size_t kBlocks = 1 << 20;
  constexpr size_t kChainBlocks = 8192;
  const size_t heap_before = HeapInUse();
  auto index = std::make_unique<BlockIndex>(Budgets(0, kBlocks, 0), EvictionPolicy::kLru);
  std::vector<BlockHash> chain(kChainBlocks);
  for (size_t c = 0; c < kBlocks / kChainBlocks; ++c) {
    for (size_t i = 0; i < kChainBlocks; ++i) chain[i] = Hash(c * kChainBlocks + i);
    Put(*index, kHost, chain, nullptr, static_cast<uint32_t>(c * kChainBlocks));
  }
  REQUIRE(index->entries() == kBlocks);
  const double per_block = double(index->memory_bytes()) / kBlocks;
  const double heap_per_block = double(HeapInUse() - heap_before) / kBlocks;
  INFO("index memory per block: " << per_block << " B accounted, " << heap_per_block
                                  << " B by malloc");
  CHECK(per_block <= kIndexBytesPerBlock * 1.5);
  CHECK(per_block >= kIndexBytesPerBlock * 0.5);
  if (HeapInUse() == 0) {
    KVTIER_SKIP(
        "mallinfo2 reads zero under a sanitizer's allocator: the accounted memory "
        "was checked, the malloc-measured half of this test did not run");
  }
  CHECK(heap_per_block <= kIndexBytesPerBlock * 1.5);
}

}  // namespace
}  // namespace kvtier::internal
