// CeilingHits and BeladyHits (Belady's MIN with bypass). See bounds.h.
#include "bench/replay/bounds.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace kvtier::replay {
namespace {

// Priority of a resident block: next use first, then depth, so the largest
// key is the farthest next use and, among equals, the deepest block.
constexpr uint64_t kDepthBits = 20;
constexpr uint32_t kNever = UINT32_MAX;  // no next use (a request index)

uint64_t Key(uint32_t next_use, size_t depth) {
  const uint64_t d = std::min<uint64_t>(depth, (uint64_t{1} << kDepthBits) - 1);
  return uint64_t{next_use} << kDepthBits | d;
}

// Per reference, the request that next references the same block (kNever
// if none).
std::vector<uint32_t> NextUses(const Trace& trace, const BlockNumbers& numbers) {
  const std::vector<uint32_t>& ids = numbers.ids;
  std::vector<uint32_t> next_use(ids.size(), kNever);
  std::vector<uint32_t> seen_at(numbers.distinct, kNever);
  for (size_t q = trace.requests(); q-- > 0;) {
    for (uint64_t p = trace.offsets[q]; p < trace.offsets[q + 1]; ++p) {
      next_use[p] = seen_at[ids[p]];
    }
    for (uint64_t p = trace.offsets[q]; p < trace.offsets[q + 1]; ++p) {
      seen_at[ids[p]] = static_cast<uint32_t>(q);
    }
  }
  return next_use;
}

// MIN's resident set: a binary max-heap of (key, id) with each resident
// id's position, so a hit re-keys its block in place. The heap never holds
// more than `capacity` entries and stays in cache.
class MinCache {
 public:
  MinCache(size_t distinct, uint64_t capacity)
      : at_(distinct, kAbsent), capacity_(capacity) {
    heap_.reserve(std::min<uint64_t>(capacity, distinct));
  }

  bool Resident(uint32_t id) const { return at_[id] != kAbsent; }

  // One reference of block `id`, whose next use has key `key`.
  void Reference(uint32_t id, uint64_t key, bool never_again) {
    if (Resident(id)) {
      Rekey(at_[id], key);
      return;
    }
    if (never_again || capacity_ == 0) return;
    if (heap_.size() < capacity_) {
      heap_.push_back({key, id});
      at_[id] = static_cast<uint32_t>(heap_.size() - 1);
      SiftUp(heap_.size() - 1);
      return;
    }
    if (heap_[0].first <= key) return;  // bypass: the newcomer is needed last
    at_[heap_[0].second] = kAbsent;
    heap_[0] = {key, id};
    at_[id] = 0;
    SiftDown(0);
  }

 private:
  static constexpr uint32_t kAbsent = UINT32_MAX;

  void Rekey(size_t i, uint64_t key) {
    const uint64_t old = heap_[i].first;
    heap_[i].first = key;
    if (key > old) {
      SiftUp(i);
    } else {
      SiftDown(i);
    }
  }
  void Place(size_t i, std::pair<uint64_t, uint32_t> e) {
    heap_[i] = e;
    at_[e.second] = static_cast<uint32_t>(i);
  }
  void SiftUp(size_t i) {
    const auto e = heap_[i];
    while (i > 0) {
      const size_t parent = (i - 1) / 2;
      if (heap_[parent] >= e) break;
      Place(i, heap_[parent]);
      i = parent;
    }
    Place(i, e);
  }
  void SiftDown(size_t i) {
    const auto e = heap_[i];
    const size_t n = heap_.size();
    while (true) {
      size_t child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && heap_[child + 1] > heap_[child]) ++child;
      if (heap_[child] <= e) break;
      Place(i, heap_[child]);
      i = child;
    }
    Place(i, e);
  }

  std::vector<uint32_t> at_;  // by id: position in heap_, or kAbsent
  std::vector<std::pair<uint64_t, uint32_t>> heap_;
  uint64_t capacity_;
};

}  // namespace

uint64_t CeilingHits(const Trace& trace, const BlockNumbers& numbers) {
  std::vector<bool> seen(numbers.distinct, false);
  uint64_t hits = 0;
  for (size_t q = 0; q < trace.requests(); ++q) {
    const uint64_t begin = trace.offsets[q];
    const uint64_t end = trace.offsets[q + 1];
    uint64_t p = begin;
    while (p < end && seen[numbers.ids[p]]) ++p;
    hits += p - begin;
    for (p = begin; p < end; ++p) seen[numbers.ids[p]] = true;
  }
  return hits;
}

BoundHits BeladyHits(const Trace& trace, const BlockNumbers& numbers, uint64_t capacity) {
  const std::vector<uint32_t>& ids = numbers.ids;
  const std::vector<uint32_t> next_use = NextUses(trace, numbers);
  MinCache cache(numbers.distinct, capacity);
  BoundHits bound;
  for (size_t q = 0; q < trace.requests(); ++q) {
    const uint64_t begin = trace.offsets[q];
    const uint64_t end = trace.offsets[q + 1];
    uint64_t p = begin;
    while (p < end && cache.Resident(ids[p])) ++p;
    bound.prefix_hits += p - begin;
    for (p = begin; p < end; ++p) {
      if (cache.Resident(ids[p])) ++bound.hits;
      cache.Reference(ids[p], Key(next_use[p], p - begin), next_use[p] == kNever);
    }
  }
  return bound;
}

uint64_t CeilingHits(const Trace& trace) {
  return CeilingHits(trace, NumberBlocks(trace));
}

BoundHits BeladyHits(const Trace& trace, uint64_t capacity) {
  return BeladyHits(trace, NumberBlocks(trace), capacity);
}

}  // namespace kvtier::replay
