// The state a TransferHandle shares with the mover running its transfer:
// per block, how many layers are in place and its outcome; per layer, how
// many blocks are resolved (in place, or never to be); a cancel flag.
//
// Thread safety: thread-safe. The mover resolves each block's layers in
// order (0, 1, ...); one thread at a time works on a given block.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "kvtier/store.h"
#include "kvtier/transfer.h"

namespace kvtier {

struct TransferHandle::State {
  State(size_t blocks, uint32_t layers);

  // ---- mover side ----
  bool cancelled() const { return cancel.load(std::memory_order_relaxed); }
  // Layer `layer` of `block` is in place (verified, written).
  void LayerInPlace(size_t block, uint32_t layer);
  // Every remaining layer of `block` is in place: it is done.
  void BlockInPlace(size_t block);
  // `block` will not be served (kMissing, kFailed, kCancelled): its
  // remaining layers are resolved without being in place.
  void BlockResolved(size_t block, BlockOutcome outcome);
  // Everything is resolved; the engine's memory is not touched again. A
  // load's blocks past the served prefix are missing, whatever was read.
  void FinishLoad(const LoadResult& load);
  void FinishSave(const SaveResult& save);

  // ---- engine side (TransferHandle) ----
  bool LayerDoneLocked(uint32_t layer) const;
  size_t LeadingInPlaceLocked(uint32_t layer) const;

  const size_t blocks;
  const uint32_t layers;
  std::atomic<bool> cancel{false};
  // std::mutex: see lib/write_behind.h on why not internal::Mutex::Await.
  mutable std::mutex mu;
  std::condition_variable changed;
  std::vector<uint32_t> in_place;    // per block: leading layers in place
  std::vector<uint32_t> resolved;    // per block: leading layers resolved
  std::vector<size_t> layer_blocks;  // per layer: blocks resolved for it
  std::vector<BlockOutcome> outcome;
  bool done = false;
  LoadResult load_result;
  SaveResult save_result;

 private:
  void ResolveUpTo(size_t block, uint32_t layers_resolved, bool in_place_too);
  // Marks every block without an outcome, and `missing_from`.., missing.
  void Finish(size_t missing_from, const LoadResult& load, const SaveResult& save);
};

}  // namespace kvtier
