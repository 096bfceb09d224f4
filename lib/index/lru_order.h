// LruOrder: least recently used first, as an intrusive doubly-linked list over
// entry ids. Links live in two vectors indexed by id (8 bytes per id up to the
// largest id ever inserted), so every operation but FindVictim is O(1) and
// allocation-free once the vectors have grown.
//
// Thread safety: externally synchronized.
#pragma once

#include <vector>

#include "lib/index/eviction_order.h"

namespace kvtier::internal {

class LruOrder final : public EvictionOrder {
 public:
  void Insert(EntryId id) override;
  void Touch(EntryId id) override;
  void Remove(EntryId id) override;
  void Demote(EntryId id) override;
  EntryId FindVictim(absl::FunctionRef<bool(EntryId)> acceptable) const override;
  size_t size() const override { return size_; }
  void Reserve(size_t ids) override;
  size_t memory_bytes() const override;

 private:
  // next_[id] of an id not in the list; never a valid id.
  static constexpr EntryId kUnlinked = kNoEntry - 1;

  bool Linked(EntryId id) const { return id < next_.size() && next_[id] != kUnlinked; }
  void Unlink(EntryId id);
  void PushHot(EntryId id);
  void PushCold(EntryId id);

  // prev_ points towards the hot end, next_ towards the cold end.
  std::vector<EntryId> prev_;
  std::vector<EntryId> next_;
  EntryId hot_ = kNoEntry;   // most recent
  EntryId cold_ = kNoEntry;  // next victim candidate
  size_t size_ = 0;
};

}  // namespace kvtier::internal
