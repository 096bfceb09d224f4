// PageSpace: which slots of one tier are free, in the two size classes of
// lib/tier_geometry.h. A whole block takes a free frame; a trimmed block a
// page, taken from a frame already split for trimmed blocks when one has
// room (the most recently split first, so a chain's trimmed blocks share
// frames and leave together), else from a free frame; a slotless block an
// id past the pages.
//
// The index frees room in units (pages) but a whole block needs a whole
// frame: with trimmed blocks scattered over frames, free pages may not make
// a free frame. Admission (lib/index/admission.h) then evicts further, in
// policy order, until CanPlace says yes.
//
// Thread safety: externally synchronized (the Store's lock).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "lib/index/block_form.h"
#include "lib/tier_geometry.h"

namespace kvtier::internal {

class PageSpace {
 public:
  explicit PageSpace(const TierGeometry& geometry);

  const TierGeometry& geometry() const { return geometry_; }
  bool CanPlace(BlockForm form) const;
  // A free slot for a block of `form`, or nullopt.
  std::optional<uint32_t> Allocate(BlockForm form);
  // Marks `slot` used by a block of `form` (recovery). False when it is not
  // a valid slot for that form or overlaps one already used.
  bool Claim(uint32_t slot, BlockForm form);
  // REQUIRES: `slot` was allocated (or claimed) for a block of `form`.
  void Free(uint32_t slot, BlockForm form);

  uint32_t free_frames() const { return static_cast<uint32_t>(free_frames_.size()); }

 private:
  enum class FrameUse : uint8_t { kFree, kWhole, kSplit };
  struct Frame {
    FrameUse use = FrameUse::kFree;
    bool in_split_list = false;
    uint64_t pages_used = 0;  // bit per page, kSplit only
  };
  bool SplitHasRoom(uint32_t frame) const;
  void TakeFrame(uint32_t frame);  // removes it from free_frames_

  const TierGeometry geometry_;
  std::vector<Frame> frames_;
  std::vector<uint32_t> free_frames_;  // stack; position kept in free_at_
  std::vector<uint32_t> free_at_;      // frame -> index in free_frames_, or kNone
  // Stack of split frames that may have room (an entry may be stale: a frame
  // filled or freed since; Allocate pops those). Entries may repeat.
  std::vector<uint32_t> split_frames_;
  uint64_t split_room_ = 0;              // free pages in split frames
  std::vector<uint32_t> free_slotless_;  // may hold claimed ids (skipped)
  std::vector<bool> slotless_used_;
  uint64_t slotless_free_ = 0;
};

}  // namespace kvtier::internal
