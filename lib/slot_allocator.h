// SlotAllocator: hands out the free slot numbers of one tier.
// Thread safety: externally synchronized (the Store's lock).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace kvtier::internal {

class SlotAllocator {
 public:
  explicit SlotAllocator(uint32_t slot_count) {
    free_.reserve(slot_count);
    for (uint32_t s = slot_count; s > 0; --s) free_.push_back(s - 1);
  }
  // Slots marked in `used` (recovered from disk) start allocated.
  SlotAllocator(uint32_t slot_count, const std::vector<bool>& used) {
    free_.reserve(slot_count);
    for (uint32_t s = slot_count; s > 0; --s) {
      if (!used[s - 1]) free_.push_back(s - 1);
    }
  }
  std::optional<uint32_t> Allocate() {
    if (free_.empty()) return std::nullopt;
    uint32_t s = free_.back();
    free_.pop_back();
    return s;
  }
  void Free(uint32_t slot) { free_.push_back(slot); }
  size_t free_count() const { return free_.size(); }

 private:
  std::vector<uint32_t> free_;
};

}  // namespace kvtier::internal
