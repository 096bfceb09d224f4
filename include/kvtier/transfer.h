// TransferHandle: an asynchronous Load or Save in flight (Store::BeginLoad,
// Store::BeginSave). A value the engine keeps and polls; copies share one
// state, so any copy may wait or cancel.
//
// Per layer: a load moves each block's layers into the engine's memory
// layer by layer (every block's layer 0, then every block's layer 1, ...
// for blocks the host tier holds; a block read from a device arrives whole),
// so an engine can compute layer l while layer l + 1 arrives:
//
//   auto h = store->BeginLoad(chain, dst).value();
//   for (uint32_t l = 0; l < layers; ++l) {
//     size_t ready = h.WaitLayer(l);   // leading blocks whose layer l is in place
//     ... attention for layer l over blocks [0, ready) ...
//   }
//   LoadResult r = h.WaitLoad();       // blocks 0..r.blocks-1 are exact
//
// A layer "in place" was verified (hash and checksum) before it was written:
// no layer of a block that fails verification is ever reported in place.
// A save completes when the engine's memory has been read (copied into the
// fastest tier that takes the block): the engine may reuse it from then on;
// writing down to slower tiers happens later, in the background.
//
// Thread safety: every method may be called from any thread, concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "kvtier/export.h"
#include "kvtier/status.h"

namespace kvtier {

struct LoadResult;
struct SaveResult;

// What happened to one block of a transfer (TransferHandle::Outcome).
enum class BlockOutcome : uint8_t {
  kPending = 0,    // not finished yet
  kDone = 1,       // loaded (verified) or stored / refreshed
  kMissing = 2,    // load: not servable (past the prefix); save: not admitted
  kFailed = 3,     // verification or I/O failed: a miss, counted in Stats
  kCancelled = 4,  // Cancel() came first
};

class KVTIER_EXPORT TransferHandle {
 public:
  TransferHandle() = default;  // an empty transfer: done at once

  // True once every block has its outcome and kvtier will not touch the
  // engine's memory for this transfer again. Never blocks.
  bool Done() const;
  // Blocks until Done().
  void Wait() const;
  // Blocks until Done(); then what a synchronous Load/Save would have
  // returned. Call the one matching the transfer (the other returns zeros).
  LoadResult WaitLoad() const;
  SaveResult WaitSave() const;

  // Loads: true once layer `layer` of every block the transfer will serve
  // is in place (or the transfer is done). Never blocks.
  bool LayerDone(uint32_t layer) const;
  // Blocks until LayerDone(layer); returns how many leading blocks have
  // that layer in place (the whole request unless a block failed, was
  // missing or was cancelled). For a save: until the engine's memory of
  // that layer has been read.
  size_t WaitLayer(uint32_t layer) const;

  // Asks the transfer to stop early: blocks not yet started are skipped
  // (kCancelled) and their pins given back. Returns at once; the engine's
  // memory may still be written until Done().
  void Cancel();

  // Blocks in the transfer (the chain's, or the saved ones for a save).
  size_t block_count() const;
  // REQUIRES: block < block_count(). kPending until that block finished.
  BlockOutcome Outcome(size_t block) const;

  struct State;  // shared with the mover running the transfer
  explicit TransferHandle(std::shared_ptr<State> state) : state_(std::move(state)) {}

 private:
  std::shared_ptr<State> state_;
};

}  // namespace kvtier
