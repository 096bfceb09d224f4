// BlockForm: what one tier's copy of a block keeps (lib/sliding_window.h).
#pragma once

#include <cstdint>

namespace kvtier::internal {

enum class BlockForm : uint8_t {
  // Every layer. The only form for a layout without sliding-window layers.
  kWhole = 0,
  // Full-attention layers only: the sliding-window layers were trimmed. For a
  // layout whose layers all slide, no bytes at all (a slotless block).
  kTrimmed = 1,
};

// True when a copy in `have` can serve a use that needs `need`.
inline bool Covers(BlockForm have, BlockForm need) {
  return have == BlockForm::kWhole || need == BlockForm::kTrimmed;
}

// What a copy made from a read keeps (a promotion to host): what the read
// delivered. A whole copy read for a trimmed need wrote no sliding segments.
inline BlockForm PromotedForm(BlockForm stored, BlockForm need) {
  return stored == BlockForm::kWhole && need == BlockForm::kWhole ? BlockForm::kWhole
                                                                  : BlockForm::kTrimmed;
}

}  // namespace kvtier::internal
