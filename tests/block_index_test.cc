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

template <>
struct Catch::StringMaker<kvtier::BlockHash> {
  static std::string convert(const kvtier::BlockHash& h) {
    char text[40];
    std::snprintf(text, sizeof text, "%016llx..", static_cast<unsigned long long>(h.lo));
    return text;
  }
};

namespace kvtier::internal {
namespace {

constexpr Tier kGpu = Tier::kGpu;
constexpr Tier kHost = Tier::kHost;
constexpr Tier kNvme = Tier::kNvme;

uint64_t SplitMix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

BlockHash Hash(uint64_t n) { return BlockHash{SplitMix(n), SplitMix(~n)}; }

// `length` fresh hashes; `first` names the chain.
std::vector<BlockHash> Chain(uint64_t first, size_t length) {
  std::vector<BlockHash> chain;
  for (size_t i = 0; i < length; ++i) chain.push_back(Hash(first * 1'000'003 + i));
  return chain;
}

std::array<TierBudget, kNumTiers> Budgets(uint64_t gpu, uint64_t host, uint64_t nvme) {
  return {TierBudget{gpu > 0, gpu}, TierBudget{host > 0, host},
          TierBudget{nvme > 0, nvme}};
}

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

// ---- Capacity under a random workload -----------------------------------------------

// The reference: per block and tier absent, pending or ready, and pins.
enum class State { kAbsent, kPending, kReady };
struct ModelBlock {
  std::array<State, kNumTiers> state{};
  std::array<int, kNumTiers> pins{};
  std::array<uint32_t, kNumTiers> slot{};
  bool InAnyTier() const {
    return std::any_of(state.begin(), state.end(),
                       [](State s) { return s != State::kAbsent; });
  }
};

class Model {
 public:
  explicit Model(std::mt19937& rng) : rng_(rng) {
    // A forest of chains: each new chain extends a prefix of an old one.
    for (int c = 0; c < 200; ++c) {
      std::vector<BlockHash> chain;
      if (c > 0 && rng_() % 2 == 0) {
        const auto& base = chains_[rng_() % chains_.size()];
        chain.assign(base.begin(), base.begin() + 1 + rng_() % base.size());
      }
      const size_t extra = 1 + rng_() % 10;
      for (size_t i = 0; i < extra; ++i) {
        const BlockHash h = Hash(next_hash_++);
        if (!chain.empty()) {
          parent_[h] = chain.back();
          children_[chain.back()].push_back(h);
        }
        chain.push_back(h);
      }
      chains_.push_back(std::move(chain));
    }
  }

  std::mt19937& rng_;
  std::vector<std::vector<BlockHash>> chains_;
  uint64_t next_hash_ = 1;
  std::map<BlockHash, BlockHash, bool (*)(const BlockHash&, const BlockHash&)> parent_{
      Less};
  std::map<BlockHash, std::vector<BlockHash>,
           bool (*)(const BlockHash&, const BlockHash&)>
      children_{Less};
  std::map<BlockHash, ModelBlock, bool (*)(const BlockHash&, const BlockHash&)> blocks_{
      Less};
  // Blocks that were orphans at some time: adopted ones may stay cold.
  std::set<BlockHash, bool (*)(const BlockHash&, const BlockHash&)> ever_dead_{Less};

  static bool Less(const BlockHash& a, const BlockHash& b) {
    return std::tie(a.lo, a.hi) < std::tie(b.lo, b.hi);
  }
  // An ancestor is in no tier: it can never be served.
  bool Dead(const BlockHash& h) const {
    for (auto it = parent_.find(h); it != parent_.end(); it = parent_.find(it->second)) {
      const auto b = blocks_.find(it->second);
      if (b == blocks_.end() || !b->second.InAnyTier()) return true;
    }
    return false;
  }
  bool HasChildIn(const BlockHash& h, int t) const {
    const auto it = children_.find(h);
    if (it == children_.end()) return false;
    for (const BlockHash& c : it->second) {
      const auto b = blocks_.find(c);
      if (b != blocks_.end() && b->second.state[t] != State::kAbsent) return true;
    }
    return false;
  }
  bool Evictable(const BlockHash& h, int t) const {
    const ModelBlock& b = blocks_.at(h);
    return b.state[t] == State::kReady && b.pins[t] == 0 && !HasChildIn(h, t);
  }
  void MarkDead(const BlockHash& h) {
    std::vector<BlockHash> stack{h};
    while (!stack.empty()) {
      const BlockHash b = stack.back();
      stack.pop_back();
      ever_dead_.insert(b);
      const auto it = children_.find(b);
      if (it != children_.end())
        stack.insert(stack.end(), it->second.begin(), it->second.end());
    }
  }
  // After `h` left a tier: if it left its last, its descendants are dead.
  void AfterLeaving(const BlockHash& h) {
    if (blocks_.at(h).InAnyTier()) return;
    const auto it = children_.find(h);
    if (it != children_.end()) {
      for (const BlockHash& c : it->second) MarkDead(c);
    }
  }
  size_t Live() const {
    return std::count_if(blocks_.begin(), blocks_.end(),
                         [](const auto& kv) { return kv.second.InAnyTier(); });
  }
};

struct Workload {
  std::mt19937 rng{20240611};
  Model model{rng};
  BlockIndex index;
  std::array<std::vector<uint32_t>, kNumTiers> free_slots;
  std::vector<std::pair<BlockHash, int>> writes;   // pending
  std::vector<std::pair<BlockHash, int>> readers;  // pinned
  size_t orphan_evictions = 0;
  size_t evictions = 0;

  explicit Workload(EvictionPolicy policy = EvictionPolicy::kLru)
      : index(Budgets(16, 48, 128), policy) {
    for (int t = 0; t < kNumTiers; ++t) {
      for (uint32_t s = 0; s < index.capacity_units(static_cast<Tier>(t)); ++s) {
        free_slots[t].push_back(s);
      }
    }
  }

  ModelBlock& At(const BlockHash& h) { return model.blocks_[h]; }

  void ApplyEviction(const Eviction& e, int t, size_t planned) {
    ++evictions;
    REQUIRE(model.blocks_.count(e.hash) == 1);
    ModelBlock& b = At(e.hash);
    REQUIRE(model.Evictable(e.hash, t));  // ready, unpinned, no child in the tier
    REQUIRE(b.slot[t] == e.slot);
    REQUIRE(e.orphan == model.Dead(e.hash));
    if (e.orphan) ++orphan_evictions;
    if (!e.orphan && planned == 1 && model.ever_dead_.count(e.hash) == 0) {
      // Orphans sit at the cold end: none could have gone instead.
      for (const auto& [h, other] : model.blocks_) {
        if (other.state[t] != State::kAbsent && model.Dead(h)) {
          REQUIRE_FALSE(model.Evictable(h, t));
        }
      }
    }
    b.state[t] = State::kAbsent;
    free_slots[t].push_back(e.slot);
    model.AfterLeaving(e.hash);
  }

  void Save(const std::vector<BlockHash>& chain, int t, bool complete) {
    const Tier tier = static_cast<Tier>(t);
    for (size_t i = 0; i < chain.size(); ++i) {
      if (index.IsPresent(chain[i], tier)) continue;
      const auto evicted = index.MakeRoom(tier, 1);
      if (!evicted) break;
      for (const Eviction& e : *evicted) ApplyEviction(e, t, evicted->size());
      const uint32_t slot = free_slots[t].back();
      free_slots[t].pop_back();
      index.AddPending(tier, chain[i], i > 0 ? &chain[i - 1] : nullptr, slot);
      ModelBlock& b = At(chain[i]);
      b.state[t] = State::kPending;
      b.slot[t] = slot;
      if (model.Dead(chain[i])) model.MarkDead(chain[i]);
      writes.emplace_back(chain[i], t);
    }
    if (complete) {
      while (!writes.empty()) FinishWrite(writes.size() - 1);
      index.TouchChain(chain);
    }
  }

  void FinishWrite(size_t k) {
    const auto [h, t] = writes[k];
    writes.erase(writes.begin() + k);
    const Tier tier = static_cast<Tier>(t);
    if (rng() % 10 == 0) {
      free_slots[t].push_back(index.Remove(tier, h));
      At(h).state[t] = State::kAbsent;
      model.AfterLeaving(h);
    } else {
      index.MarkReady(tier, h);
      At(h).state[t] = State::kReady;
    }
  }

  void Load(const std::vector<BlockHash>& chain) {
    const PrefixInfo info = index.LongestPrefix(chain);
    std::array<size_t, kNumTiers> per_tier{};
    size_t expected = 0;
    for (const BlockHash& h : chain) {
      const auto it = model.blocks_.find(h);
      if (it == model.blocks_.end()) break;
      int fastest = -1;
      for (int t = kNumTiers - 1; t >= 0; --t) {
        if (it->second.state[t] == State::kReady) fastest = t;
      }
      if (fastest < 0) break;
      ++per_tier[fastest];
      ++expected;
      if (rng() % 4 == 0) {
        index.Pin(h, static_cast<Tier>(fastest));
        ++it->second.pins[fastest];
        readers.emplace_back(h, fastest);
      }
    }
    REQUIRE(info.blocks == expected);
    REQUIRE(info.blocks_per_tier == per_tier);
    index.TouchChain(std::span(chain).first(expected));
  }

  void Unpin() {
    const size_t k = rng() % readers.size();
    const auto [h, t] = readers[k];
    readers.erase(readers.begin() + k);
    index.Unpin(h, static_cast<Tier>(t));
    --At(h).pins[t];
  }

  void Drop(const std::vector<BlockHash>& chain, int t) {
    const BlockHash& h = chain[rng() % chain.size()];
    const auto it = model.blocks_.find(h);
    if (it == model.blocks_.end() || it->second.state[t] != State::kReady ||
        it->second.pins[t] != 0) {
      return;
    }
    free_slots[t].push_back(index.Remove(static_cast<Tier>(t), h));
    it->second.state[t] = State::kAbsent;
    model.AfterLeaving(h);
  }

  void Step() {
    const auto& chain = model.chains_[rng() % model.chains_.size()];
    const int t = static_cast<int>(rng() % kNumTiers);
    const unsigned op = rng() % 100;
    if (op < 40) {
      Save(chain, t, rng() % 4 != 0);
    } else if (op < 70) {
      Load(chain);
    } else if (op < 80) {
      if (!readers.empty()) Unpin();
    } else if (op < 88) {
      if (!writes.empty()) FinishWrite(rng() % writes.size());
    } else if (op < 93) {
      Drop(chain, t);
    } else {
      index.TouchChain(chain, /*hit=*/(rng() & 1) != 0);
    }
  }

  void CheckCounts() {
    for (int t = 0; t < kNumTiers; ++t) {
      const Tier tier = static_cast<Tier>(t);
      size_t in_tier = 0;
      for (const auto& [h, b] : model.blocks_) in_tier += b.state[t] != State::kAbsent;
      REQUIRE(index.used_units(tier) <= index.capacity_units(tier));
      REQUIRE(index.blocks_in(tier) == in_tier);
      REQUIRE(index.used_units(tier) == in_tier);
    }
    REQUIRE(index.entries() == model.Live());
  }
};

TEST_CASE("capacity is never exceeded and counts match a reference under 100k random ops",
          "[index][random]") {
  Workload w;
  for (int op = 0; op < 100'000; ++op) {
    w.Step();
    w.CheckCounts();
  }
  INFO("evictions " << w.evictions << ", orphan evictions " << w.orphan_evictions);
  CHECK(w.evictions > 10'000);
  CHECK(w.orphan_evictions > 100);
}

TEST_CASE("slru keeps the index's rules: capacity and counts under 100k random ops",
          "[index][random][slru]") {
  Workload w(EvictionPolicy::kSlru);
  for (int op = 0; op < 100'000; ++op) {
    w.Step();
    w.CheckCounts();
  }
  CHECK(w.evictions > 10'000);
  CHECK(w.orphan_evictions > 100);
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
  if (heap_per_block > 0) {  // mallinfo2 reads zero under a sanitizer's allocator
    CHECK(heap_per_block <= kIndexBytesPerBlock * 1.5);
  }
}

}  // namespace
}  // namespace kvtier::internal
