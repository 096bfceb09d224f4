// PageSpace: free frames, split frames and slotless ids of one tier.
#include "lib/index/page_space.h"

#include <bit>
#include <cassert>

namespace kvtier::internal {
namespace {

constexpr uint32_t kNone = UINT32_MAX;

uint64_t AllPages(uint32_t pages_per_frame) {
  return pages_per_frame >= 64 ? ~uint64_t{0} : (uint64_t{1} << pages_per_frame) - 1;
}

}  // namespace

PageSpace::PageSpace(const TierGeometry& geometry)
    : geometry_(geometry),
      frames_(geometry.frames),
      free_at_(geometry.frames, kNone),
      slotless_used_(geometry.slotless, false) {
  free_frames_.reserve(geometry.frames);
  for (uint32_t f = geometry.frames; f > 0; --f) {
    free_at_[f - 1] = static_cast<uint32_t>(free_frames_.size());
    free_frames_.push_back(f - 1);
  }
  free_slotless_.reserve(geometry.slotless);
  for (uint32_t i = geometry.slotless; i > 0; --i) free_slotless_.push_back(i - 1);
  slotless_free_ = geometry.slotless;
}

bool PageSpace::SplitHasRoom(uint32_t frame) const {
  return frames_[frame].use == FrameUse::kSplit &&
         frames_[frame].pages_used != AllPages(geometry_.pages_per_frame);
}

bool PageSpace::CanPlace(BlockForm form) const {
  if (geometry_.UnitsOf(form) == 0) return slotless_free_ > 0;
  if (!free_frames_.empty()) return true;
  return form == BlockForm::kTrimmed && split_room_ > 0;
}

void PageSpace::TakeFrame(uint32_t frame) {
  const uint32_t at = free_at_[frame];
  assert(at != kNone);
  const uint32_t last = free_frames_.back();
  free_frames_[at] = last;
  free_at_[last] = at;
  free_frames_.pop_back();
  free_at_[frame] = kNone;
}

std::optional<uint32_t> PageSpace::Allocate(BlockForm form) {
  const uint32_t ppf = geometry_.pages_per_frame;
  if (geometry_.UnitsOf(form) == 0) {
    // Claimed ids stay in the free list (a claim does not search it); they
    // are skipped here.
    while (!free_slotless_.empty() && slotless_used_[free_slotless_.back()]) {
      free_slotless_.pop_back();
    }
    if (free_slotless_.empty()) return std::nullopt;
    const uint32_t id = free_slotless_.back();
    free_slotless_.pop_back();
    slotless_used_[id] = true;
    --slotless_free_;
    return geometry_.pages() + id;
  }
  if (form == BlockForm::kWhole || ppf == 1) {
    if (free_frames_.empty()) return std::nullopt;
    const uint32_t f = free_frames_.back();
    TakeFrame(f);
    frames_[f].use = FrameUse::kWhole;
    return f * ppf;
  }
  // Trimmed: the newest split frame with room; frames that filled up (or
  // were freed) leave the list as they are met.
  while (!split_frames_.empty() && !SplitHasRoom(split_frames_.back())) {
    frames_[split_frames_.back()].in_split_list = false;
    split_frames_.pop_back();
  }
  uint32_t f;
  if (!split_frames_.empty()) {
    f = split_frames_.back();
  } else {
    if (free_frames_.empty()) return std::nullopt;
    f = free_frames_.back();
    TakeFrame(f);
    frames_[f] = Frame{FrameUse::kSplit, true, 0};
    split_frames_.push_back(f);
    split_room_ += ppf;
  }
  Frame& frame = frames_[f];
  const uint32_t page = static_cast<uint32_t>(std::countr_one(frame.pages_used));
  frame.pages_used |= uint64_t{1} << page;
  --split_room_;
  return f * ppf + page;
}

bool PageSpace::Claim(uint32_t slot, BlockForm form) {
  const uint32_t ppf = geometry_.pages_per_frame;
  if (geometry_.UnitsOf(form) == 0) {
    if (!geometry_.IsSlotless(slot) || slot >= geometry_.id_count()) return false;
    const uint32_t id = slot - geometry_.pages();
    if (slotless_used_[id]) return false;
    slotless_used_[id] = true;
    --slotless_free_;
    return true;
  }
  if (geometry_.IsSlotless(slot)) return false;
  const uint32_t f = slot / ppf, page = slot % ppf;
  Frame& frame = frames_[f];
  if (form == BlockForm::kWhole || ppf == 1) {
    if (page != 0 || frame.use != FrameUse::kFree) return false;
    TakeFrame(f);
    frame.use = FrameUse::kWhole;
    return true;
  }
  if (frame.use == FrameUse::kWhole) return false;
  if (frame.use == FrameUse::kFree) {
    TakeFrame(f);
    frame = Frame{FrameUse::kSplit, false, 0};
    split_room_ += ppf;
  }
  if (frame.pages_used & (uint64_t{1} << page)) return false;
  frame.pages_used |= uint64_t{1} << page;
  --split_room_;
  if (!frame.in_split_list && SplitHasRoom(f)) {
    frame.in_split_list = true;
    split_frames_.push_back(f);
  }
  return true;
}

void PageSpace::Free(uint32_t slot, BlockForm form) {
  const uint32_t ppf = geometry_.pages_per_frame;
  if (geometry_.UnitsOf(form) == 0) {
    const uint32_t id = slot - geometry_.pages();
    assert(slotless_used_[id]);
    slotless_used_[id] = false;
    free_slotless_.push_back(id);
    ++slotless_free_;
    return;
  }
  const uint32_t f = slot / ppf;
  Frame& frame = frames_[f];
  if (form == BlockForm::kTrimmed && ppf > 1) {
    assert(frame.use == FrameUse::kSplit);
    frame.pages_used &= ~(uint64_t{1} << (slot % ppf));
    ++split_room_;
    if (frame.pages_used != 0) {
      if (!frame.in_split_list) {
        frame.in_split_list = true;
        split_frames_.push_back(f);
      }
      return;
    }
  } else {
    assert(frame.use == FrameUse::kWhole && slot % ppf == 0);
  }
  // The frame is empty: free again (a stale split_frames_ entry is skipped).
  if (frame.use == FrameUse::kSplit) split_room_ -= ppf;
  frame.use = FrameUse::kFree;
  frame.pages_used = 0;
  free_at_[f] = static_cast<uint32_t>(free_frames_.size());
  free_frames_.push_back(f);
}

}  // namespace kvtier::internal
