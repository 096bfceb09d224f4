// TierGeometry::For: page size and pages per frame for the two size classes.
#include "lib/tier_geometry.h"

#include <algorithm>
#include <cstdint>

namespace kvtier::internal {
namespace {

size_t RoundUp(size_t n, size_t align) { return (n + align - 1) / align * align; }

uint32_t Slotless(uint64_t pages) {
  const uint64_t room = uint64_t{UINT32_MAX} - pages;
  return static_cast<uint32_t>(std::min(room, pages * kSlotlessPerPage));
}

}  // namespace

TierGeometry TierGeometry::Uniform(uint32_t slots, size_t slot_bytes) {
  return TierGeometry{slot_bytes, 1, slots, 0, slot_bytes, slot_bytes};
}

TierGeometry TierGeometry::For(size_t whole_bytes, size_t trimmed_bytes, size_t align,
                               uint64_t capacity_bytes) {
  TierGeometry g;
  g.whole_bytes = whole_bytes;
  g.trimmed_bytes = trimmed_bytes;
  const size_t whole_slot = RoundUp(whole_bytes, align);
  if (trimmed_bytes == 0 || trimmed_bytes >= whole_bytes) {
    // Nothing to split: a slot per whole block (plus slotless ids).
    g.page_bytes = whole_slot;
    g.pages_per_frame = 1;
  } else {
    // A page holds a trimmed block; a frame enough pages for a whole one.
    // Very small trimmed blocks get bigger pages, at most 64 to a frame.
    g.page_bytes = std::max(
        RoundUp(trimmed_bytes, align),
        RoundUp((whole_bytes + kMaxPagesPerFrame - 1) / kMaxPagesPerFrame, align));
    g.pages_per_frame =
        static_cast<uint32_t>((whole_bytes + g.page_bytes - 1) / g.page_bytes);
  }
  const uint64_t frames = capacity_bytes / g.frame_bytes();
  const uint64_t max_frames = (uint64_t{UINT32_MAX} / 2) / g.pages_per_frame;
  g.frames = static_cast<uint32_t>(std::min(frames, max_frames));
  if (trimmed_bytes == 0 && whole_bytes > 0) g.slotless = Slotless(g.pages());
  return g;
}

}  // namespace kvtier::internal
