// SlidingWindow: which layers of which blocks a store keeps for a layout with
// sliding-window layers (KvLayout::layer_windows), and which a prefix needs.
//
// A layer of window W attends over the last W tokens only. So a prefix of P
// blocks needs its full-attention layers for every block and its sliding
// layers only for the blocks covering the last W tokens before it: blocks
// P - window_blocks() .. P - 1, window_blocks() = ceil(W / block_tokens).
// Layers with different windows are kept for the largest one: a block keeps
// all of its sliding layers (BlockForm::kWhole) or none (kTrimmed).
//
// Save keeps the sliding layers of a block only where a prefix the store can
// serve needs them: the window before the end of the saved chain and before
// each checkpoint (every `checkpoint_blocks` blocks; 0 = chain ends only).
// A prefix that ends between checkpoints is then served up to the last
// checkpoint (or chain end) before it.
//
// Thread safety: immutable after construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kvtier/layout.h"
#include "kvtier/options.h"
#include "kvtier/store.h"
#include "lib/index/block_form.h"

namespace kvtier::internal {

class SlidingWindow {
 public:
  SlidingWindow(const KvLayout& layout, uint32_t checkpoint_blocks);

  // False for a layout without sliding-window layers: every block is whole.
  bool trims() const { return window_blocks_ > 0; }
  // Blocks before a prefix's end whose sliding layers it needs; 0 = none.
  uint32_t window_blocks() const { return window_blocks_; }
  bool IsSliding(size_t segment) const { return sliding_[segment]; }
  size_t sliding_segments() const { return sliding_count_; }

  // The form Save keeps block `block` of a chain of `chain_blocks` in.
  BlockForm SaveForm(size_t block, size_t chain_blocks) const;
  // The form a prefix of `prefix_blocks` needs block `block` in.
  BlockForm NeedForm(size_t block, size_t prefix_blocks) const {
    return block + window_blocks_ >= prefix_blocks ? BlockForm::kWhole
                                                   : BlockForm::kTrimmed;
  }
  // kWhole when the engine gave every sliding segment of this block (one
  // block's segments); a null sliding segment means it no longer holds
  // that layer, so the block can only be kept trimmed.
  BlockForm ProvidedForm(std::span<const Segment> block) const;
  // The forms a save keeps chain blocks [first_block, chain_blocks) in:
  // whole where a servable prefix needs the sliding layers (SaveForm) and
  // the engine still holds them (`provided`, per block from first_block:
  // ProvidedForm of its segments, or what the split's scheduler was told
  // the engine freed), trimmed otherwise. Store::Save and
  // Scheduler::PlanSave both decide with this.
  std::vector<BlockForm> SaveForms(size_t first_block, size_t chain_blocks,
                                   std::span<const BlockForm> provided) const;

  // The segments a copy of `form` stores, in stored order: `block` itself
  // when whole, else its full-attention segments, built in `scratch` (which
  // must outlive the result). No allocation for a whole block.
  std::span<const Segment> Kept(std::span<const Segment> block, BlockForm form,
                                std::vector<Segment>& scratch) const;
  // The destination segments for reading a copy stored as `stored` when the
  // prefix needs `need`: the stored ones, with the sliding ones the prefix
  // does not need nulled (read and verified, not written). As Kept.
  std::span<const Segment> ReadTargets(std::span<const Segment> block, BlockForm stored,
                                       BlockForm need,
                                       std::vector<Segment>& scratch) const;

 private:
  uint32_t window_blocks_ = 0;
  uint32_t checkpoint_blocks_ = 0;
  std::vector<bool> sliding_;  // per segment of a block
  size_t sliding_count_ = 0;
};

// Stored-block bytes (header included) of each form of a `layout` block
// under `codec`: what a tier's geometry is cut for (lib/tier_geometry.h).
// trimmed == whole without sliding layers; trimmed == 0 when every layer
// slides (a trimmed block keeps nothing, not even a header).
struct FormBytes {
  size_t whole = 0;
  size_t trimmed = 0;
};
FormBytes StoredBytesByForm(const KvLayout& layout, Codec codec);

}  // namespace kvtier::internal
