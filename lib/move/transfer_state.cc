// TransferHandle and its shared State (see include/kvtier/transfer.h).
#include "lib/move/transfer_state.h"

#include <algorithm>

namespace kvtier {

TransferHandle::State::State(size_t blocks, uint32_t layers)
    : blocks(blocks),
      layers(std::max<uint32_t>(1, layers)),
      in_place(blocks, 0),
      resolved(blocks, 0),
      layer_blocks(this->layers, 0),
      outcome(blocks, BlockOutcome::kPending) {}

void TransferHandle::State::ResolveUpTo(size_t block, uint32_t upto, bool in_place_too) {
  bool layer_finished = false;
  {
    std::lock_guard lock(mu);
    for (uint32_t l = resolved[block]; l < upto; ++l) {
      layer_finished |= ++layer_blocks[l] == blocks;
    }
    resolved[block] = std::max(resolved[block], upto);
    if (in_place_too) in_place[block] = std::max(in_place[block], upto);
  }
  if (layer_finished) changed.notify_all();
}

void TransferHandle::State::LayerInPlace(size_t block, uint32_t layer) {
  ResolveUpTo(block, layer + 1, /*in_place_too=*/true);
}

void TransferHandle::State::BlockInPlace(size_t block) {
  {
    std::lock_guard lock(mu);
    outcome[block] = BlockOutcome::kDone;
  }
  ResolveUpTo(block, layers, /*in_place_too=*/true);
}

void TransferHandle::State::BlockResolved(size_t block, BlockOutcome o) {
  {
    std::lock_guard lock(mu);
    outcome[block] = o;
  }
  ResolveUpTo(block, layers, /*in_place_too=*/false);
}

void TransferHandle::State::FinishLoad(const LoadResult& load) {
  Finish(load.blocks, load, {});
}

void TransferHandle::State::FinishSave(const SaveResult& save) {
  Finish(blocks, {}, save);
}

void TransferHandle::State::Finish(size_t missing_from, const LoadResult& load,
                                   const SaveResult& save) {
  {
    std::lock_guard lock(mu);
    for (size_t b = 0; b < blocks; ++b) {
      if (outcome[b] == BlockOutcome::kPending ||
          (b >= missing_from && outcome[b] == BlockOutcome::kDone)) {
        outcome[b] = BlockOutcome::kMissing;
      }
    }
    load_result = load;
    save_result = save;
    done = true;
  }
  changed.notify_all();
}

bool TransferHandle::State::LayerDoneLocked(uint32_t layer) const {
  return done || layer >= layers || layer_blocks[layer] == blocks;
}

size_t TransferHandle::State::LeadingInPlaceLocked(uint32_t layer) const {
  size_t n = 0;
  while (n < blocks && in_place[n] > layer) ++n;
  return n;
}

// ---- TransferHandle ------------------------------------------------------------

bool TransferHandle::Done() const {
  if (!state_) return true;
  std::lock_guard lock(state_->mu);
  return state_->done;
}

void TransferHandle::Wait() const {
  if (!state_) return;
  std::unique_lock lock(state_->mu);
  state_->changed.wait(lock, [this] { return state_->done; });
}

LoadResult TransferHandle::WaitLoad() const {
  if (!state_) return {};
  Wait();
  std::lock_guard lock(state_->mu);
  return state_->load_result;
}

SaveResult TransferHandle::WaitSave() const {
  if (!state_) return {};
  Wait();
  std::lock_guard lock(state_->mu);
  return state_->save_result;
}

bool TransferHandle::LayerDone(uint32_t layer) const {
  if (!state_) return true;
  std::lock_guard lock(state_->mu);
  return state_->LayerDoneLocked(layer);
}

size_t TransferHandle::WaitLayer(uint32_t layer) const {
  if (!state_) return 0;
  std::unique_lock lock(state_->mu);
  state_->changed.wait(lock, [&] { return state_->LayerDoneLocked(layer); });
  if (layer >= state_->layers) layer = state_->layers - 1;
  return state_->LeadingInPlaceLocked(layer);
}

void TransferHandle::Cancel() {
  if (state_) state_->cancel.store(true, std::memory_order_relaxed);
}

size_t TransferHandle::block_count() const { return state_ ? state_->blocks : 0; }

BlockOutcome TransferHandle::Outcome(size_t block) const {
  std::lock_guard lock(state_->mu);
  return state_->outcome[block];
}

}  // namespace kvtier
