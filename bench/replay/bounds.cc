// CeilingHits and BeladyHits (Belady's MIN with bypass). See bounds.h.
#include "bench/replay/bounds.h"

#include <algorithm>
#include <queue>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"

namespace kvtier::replay {
namespace {

struct HashOf {
  size_t operator()(const BlockHash& h) const {
    return h.lo ^ (h.hi * 0x9E3779B97F4A7C15ull);
  }
};

// Priority of a resident block: next use first, then depth, so the largest
// key is the farthest next use and, among equals, the deepest block.
constexpr uint64_t kDepthBits = 20;
constexpr uint64_t kNever = (uint64_t{1} << (64 - kDepthBits)) - 1;

uint64_t Key(uint64_t next_use, size_t depth) {
  const uint64_t d = std::min<uint64_t>(depth, (uint64_t{1} << kDepthBits) - 1);
  return next_use << kDepthBits | d;
}

// Dense ids for the trace's blocks and, per reference, the request that next
// references the same block (kNever if none).
struct References {
  std::vector<uint32_t> ids;
  std::vector<uint64_t> next_use;
  size_t distinct = 0;
};

References Flatten(const Trace& trace) {
  References refs;
  absl::flat_hash_map<BlockHash, uint32_t, HashOf> dense;
  dense.reserve(trace.blocks.size());
  refs.ids.reserve(trace.blocks.size());
  for (const BlockHash& h : trace.blocks) {
    refs.ids.push_back(
        dense.try_emplace(h, static_cast<uint32_t>(dense.size())).first->second);
  }
  refs.distinct = dense.size();
  refs.next_use.assign(refs.ids.size(), kNever);
  std::vector<uint64_t> seen_at(refs.distinct, kNever);
  for (size_t q = trace.requests(); q-- > 0;) {
    for (uint64_t p = trace.offsets[q]; p < trace.offsets[q + 1]; ++p) {
      refs.next_use[p] = seen_at[refs.ids[p]];
    }
    for (uint64_t p = trace.offsets[q]; p < trace.offsets[q + 1]; ++p) {
      seen_at[refs.ids[p]] = q;
    }
  }
  return refs;
}

class MinCache {
 public:
  MinCache(size_t distinct, uint64_t capacity)
      : key_(distinct, kAbsent), capacity_(capacity) {}

  bool Resident(uint32_t id) const { return key_[id] != kAbsent; }

  // One reference of block `id`, whose next use has key `key`.
  void Reference(uint32_t id, uint64_t key, bool never_again) {
    if (Resident(id)) {
      Set(id, key);
      return;
    }
    if (never_again || capacity_ == 0) return;
    if (size_ < capacity_) {
      ++size_;
      Set(id, key);
      return;
    }
    const auto [farthest, victim] = Farthest();
    if (farthest <= key) return;  // bypass: the newcomer is needed last
    heap_.pop();
    key_[victim] = kAbsent;
    Set(id, key);
  }

 private:
  static constexpr uint64_t kAbsent = ~uint64_t{0};

  void Set(uint32_t id, uint64_t key) {
    key_[id] = key;
    heap_.push({key, id});
  }
  // The resident block with the largest key (stale heap entries dropped).
  std::pair<uint64_t, uint32_t> Farthest() {
    while (key_[heap_.top().second] != heap_.top().first) heap_.pop();
    return heap_.top();
  }

  std::vector<uint64_t> key_;
  std::priority_queue<std::pair<uint64_t, uint32_t>> heap_;
  uint64_t capacity_;
  uint64_t size_ = 0;
};

}  // namespace

uint64_t CeilingHits(const Trace& trace) {
  absl::flat_hash_set<BlockHash, HashOf> seen;
  seen.reserve(trace.blocks.size());
  uint64_t hits = 0;
  for (size_t q = 0; q < trace.requests(); ++q) {
    const std::span<const BlockHash> chain = trace.chain(q);
    size_t k = 0;
    while (k < chain.size() && seen.contains(chain[k])) ++k;
    hits += k;
    seen.insert(chain.begin(), chain.end());
  }
  return hits;
}

BoundHits BeladyHits(const Trace& trace, uint64_t capacity) {
  const References refs = Flatten(trace);
  MinCache cache(refs.distinct, capacity);
  BoundHits bound;
  for (size_t q = 0; q < trace.requests(); ++q) {
    const uint64_t begin = trace.offsets[q];
    const uint64_t end = trace.offsets[q + 1];
    uint64_t p = begin;
    while (p < end && cache.Resident(refs.ids[p])) ++p;
    bound.prefix_hits += p - begin;
    for (p = begin; p < end; ++p) {
      if (cache.Resident(refs.ids[p])) ++bound.hits;
      cache.Reference(refs.ids[p], Key(refs.next_use[p], p - begin),
                      refs.next_use[p] == kNever);
    }
  }
  return bound;
}

}  // namespace kvtier::replay
