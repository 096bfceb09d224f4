// SlidingWindow: the window arithmetic and the segment subsets of a form.
#include "lib/sliding_window.h"

#include <algorithm>
#include <cassert>

#include "lib/codec/block_codec.h"
#include "lib/stored_block.h"

namespace kvtier::internal {

SlidingWindow::SlidingWindow(const KvLayout& layout, uint32_t checkpoint_blocks)
    : checkpoint_blocks_(checkpoint_blocks), sliding_(layout.SegmentsPerBlock(), false) {
  uint32_t widest = 0;
  for (uint32_t l = 0; l < layout.num_layers; ++l) {
    const uint32_t w = layout.WindowOf(l);
    if (w == 0) continue;
    widest = std::max(widest, w);
    for (uint32_t p = 0; p < layout.parts_per_layer; ++p) {
      sliding_[size_t{l} * layout.parts_per_layer + p] = true;
      ++sliding_count_;
    }
  }
  if (widest > 0) {
    window_blocks_ = (widest + layout.block_tokens - 1) / layout.block_tokens;
  }
}

BlockForm SlidingWindow::SaveForm(size_t block, size_t chain_blocks) const {
  if (!trims()) return BlockForm::kWhole;
  // The nearest point after the block where a served prefix may end: the
  // next checkpoint, or the chain's end.
  size_t end = chain_blocks;
  if (checkpoint_blocks_ > 0) {
    end = std::min(end, (block / checkpoint_blocks_ + 1) * checkpoint_blocks_);
  }
  return NeedForm(block, end);
}

BlockForm SlidingWindow::ProvidedForm(std::span<const Segment> block) const {
  for (size_t s = 0; s < block.size(); ++s) {
    if (sliding_[s] && block[s].data == nullptr) return BlockForm::kTrimmed;
  }
  return BlockForm::kWhole;
}

std::vector<BlockForm> SlidingWindow::SaveForms(
    size_t first_block, size_t chain_blocks, std::span<const BlockForm> provided) const {
  assert(provided.size() == chain_blocks - first_block);
  std::vector<BlockForm> forms(chain_blocks - first_block, BlockForm::kWhole);
  if (!trims()) return forms;  // no sliding segment to lack
  for (size_t k = 0; k < forms.size(); ++k) {
    forms[k] = SaveForm(first_block + k, chain_blocks) == BlockForm::kWhole
                   ? provided[k]
                   : BlockForm::kTrimmed;
  }
  return forms;
}

std::span<const Segment> SlidingWindow::Kept(std::span<const Segment> block,
                                             BlockForm form,
                                             std::vector<Segment>& scratch) const {
  if (form == BlockForm::kWhole) return block;
  scratch.clear();
  scratch.reserve(block.size() - sliding_count_);
  for (size_t s = 0; s < block.size(); ++s) {
    if (!sliding_[s]) scratch.push_back(block[s]);
  }
  return scratch;
}

std::span<const Segment> SlidingWindow::ReadTargets(std::span<const Segment> block,
                                                    BlockForm stored, BlockForm need,
                                                    std::vector<Segment>& scratch) const {
  if (stored == BlockForm::kTrimmed) return Kept(block, stored, scratch);
  if (need == BlockForm::kWhole) return block;
  scratch.assign(block.begin(), block.end());
  for (size_t s = 0; s < block.size(); ++s) {
    if (sliding_[s]) scratch[s].data = nullptr;  // verified, not written
  }
  return scratch;
}

FormBytes StoredBytesByForm(const KvLayout& layout, Codec codec) {
  const size_t segment =
      BlockCodec::For(codec, layout).StoredBytes(layout.SegmentBytes());
  const size_t segments = layout.SegmentsPerBlock();
  const size_t kept = segments - SlidingWindow(layout, 0).sliding_segments();
  return FormBytes{StoredBlockBytes(segments * segment),
                   kept == 0 ? 0 : StoredBlockBytes(kept * segment)};
}

}  // namespace kvtier::internal
