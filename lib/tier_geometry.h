// TierGeometry: how a tier's bytes are cut into slots of two size classes.
//
// A tier is `frames` frames of `pages_per_frame` pages. A whole block takes
// a frame (slot = the frame's first page); a trimmed block (its sliding-window
// layers dropped, lib/sliding_window.h) takes one page. A layout without
// sliding-window layers has one page per frame: a slot per block, as before.
// A layout whose layers all slide trims to nothing: its trimmed blocks take
// no bytes, only an index entry, and get a "slotless" id past the last page
// (there are `slotless` of them, which bounds those entries).
//
// Page p lives at byte p * page_bytes of the tier's address space (frames
// are contiguous runs of pages), so a whole block at a frame's first page
// spans the frame.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/index/block_form.h"

namespace kvtier::internal {

// Slotless ids per page: the all-sliding layouts keep this many index-only
// blocks per page of capacity at most (130 B of index each, bench/RESULTS.md).
inline constexpr uint32_t kSlotlessPerPage = 16;
// A frame holds at most this many pages (a 64-bit mask per frame).
inline constexpr uint32_t kMaxPagesPerFrame = 64;

struct TierGeometry {
  size_t page_bytes = 0;
  uint32_t pages_per_frame = 1;
  uint32_t frames = 0;
  uint32_t slotless = 0;     // ids [pages(), pages() + slotless)
  size_t whole_bytes = 0;    // a whole stored block (header included)
  size_t trimmed_bytes = 0;  // a trimmed one; 0 = trimmed blocks are slotless

  uint32_t pages() const { return frames * pages_per_frame; }
  size_t frame_bytes() const { return page_bytes * pages_per_frame; }
  uint64_t capacity_bytes() const { return uint64_t{pages()} * page_bytes; }
  bool IsSlotless(uint32_t slot) const { return slot >= pages(); }
  uint32_t id_count() const { return pages() + slotless; }
  // Pages a block of `form` takes: the index's units of capacity.
  uint32_t UnitsOf(BlockForm form) const {
    if (form == BlockForm::kWhole) return pages_per_frame;
    return trimmed_bytes == 0 ? 0 : 1;
  }
  // Stored bytes of a block of `form` (header included); 0 when slotless.
  size_t StoredBytesOf(BlockForm form) const {
    return form == BlockForm::kWhole ? whole_bytes : trimmed_bytes;
  }
  // Bytes from page `slot` to the end of its frame: what a block there may use.
  size_t RoomAt(uint32_t slot) const {
    if (IsSlotless(slot)) return 0;
    return size_t{pages_per_frame - slot % pages_per_frame} * page_bytes;
  }

  // One slot per block, no trimming (tests, tiers that do not trim).
  static TierGeometry Uniform(uint32_t slots, size_t slot_bytes);
  // The geometry for blocks of `whole_bytes` and `trimmed_bytes` stored
  // bytes (equal when nothing trims; 0 when trimming keeps no bytes), slots
  // aligned to `align` bytes, in `capacity_bytes`. frames == 0 when the
  // capacity holds no whole block.
  static TierGeometry For(size_t whole_bytes, size_t trimmed_bytes, size_t align,
                          uint64_t capacity_bytes);
};

}  // namespace kvtier::internal
