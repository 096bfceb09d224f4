// BlockIndex against a reference model under 100k random operations, for
// each eviction order: capacity is never exceeded and every count matches.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "lib/index/block_index.h"
#include "tests/block_index_support.h"

namespace kvtier::internal {
namespace {

using namespace testing;  // NOLINT: the shared helpers of block_index_support.h

// ---- Capacity under a random workload -----------------------------------------------

// The reference: per block and tier absent, pending or ready, and pins.
enum class State { kAbsent, kPending, kReady };
struct ModelBlock {
  std::array<State, kIndexedTiers> state{};
  std::array<int, kIndexedTiers> pins{};
  std::array<uint32_t, kIndexedTiers> slot{};
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
  std::array<std::vector<uint32_t>, kIndexedTiers> free_slots;
  std::vector<std::pair<BlockHash, int>> writes;   // pending
  std::vector<std::pair<BlockHash, int>> readers;  // pinned
  size_t orphan_evictions = 0;
  size_t evictions = 0;

  explicit Workload(EvictionPolicy policy = EvictionPolicy::kLru)
      : index(Budgets(16, 48, 128), policy) {
    for (int t = 0; t < kIndexedTiers; ++t) {
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
      for (int t = kIndexedTiers - 1; t >= 0; --t) {
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
    const int t = static_cast<int>(rng() % kIndexedTiers);
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
    for (int t = 0; t < kIndexedTiers; ++t) {
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

}  // namespace
}  // namespace kvtier::internal
