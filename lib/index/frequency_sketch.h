// FrequencySketch: about how often each key was seen lately, in a fixed
// table (TinyLFU's count-min sketch). A key sets 4 of 16 four-bit counters in
// one 64-bit word (one cache line touch per operation); its estimate is the
// smallest of the 4. Every `sample` additions all counters are halved, so
// old popularity fades ("aging"). Memory: 8 bytes per 16 counters, sized
// at about one counter per block the tier holds. Estimates may be high
// (collisions), never low before an aging step.
//
// Thread safety: externally synchronized.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kvtier::internal {

class FrequencySketch {
 public:
  static constexpr uint32_t kMaxCount = 15;

  // Room for about `keys` keys; aging every `sample_factor` * keys additions.
  explicit FrequencySketch(size_t keys = 1024, uint32_t sample_factor = 8);

  // Counts one sighting of `key`; returns the new estimate (1..15).
  uint32_t Add(uint64_t key);
  uint32_t Estimate(uint64_t key) const;
  size_t memory_bytes() const { return words_.capacity() * sizeof(uint64_t); }

 private:
  void Age();

  std::vector<uint64_t> words_;
  uint64_t mask_ = 0;  // words_.size() - 1 (a power of two)
  uint64_t sample_ = 0;
  uint64_t additions_ = 0;
};

}  // namespace kvtier::internal
