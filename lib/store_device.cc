// StoreImpl's calls with engine segments in device memory: staged through
// pinned host memory by the DevicePath (lib/move/device_path.h), so the
// plan, the mover and every check run as for host memory, and the data
// crosses the device boundary on the store's streams:
//
//   save  D2H into staging -> RunSave (stored block and checksum made from
//         the host copy)                                        invariant 1
//   load  RunLoad into staging (every block verified on the host first)
//         -> H2D layer by layer; a layer is reported in place when its
//         copy completed; a failed copy makes the load a miss  invariants 1, 3
#include "lib/move/transfer_state.h"
#include "lib/store_impl.h"

namespace kvtier::internal {

LoadResult StoreImpl::LoadAny(std::span<const BlockHash> chain,
                              std::span<const Segment> dst, const LoadOptions& options,
                              LoadOrder order, TransferHandle::State* state) {
  if (DevicePath::AnyDevice(dst)) return RunDeviceLoad(chain, dst, options, state);
  return RunLoad(chain, dst, options, order, state);
}

SaveResult StoreImpl::SaveAny(std::span<const BlockHash> chain,
                              std::span<const Segment> src, size_t first_block,
                              const SaveOptions& options, TransferHandle::State* state) {
  if (DevicePath::AnyDevice(src))
    return RunDeviceSave(chain, src, first_block, options, state);
  return RunSave(chain, src, first_block, options, state);
}

LoadResult StoreImpl::RunDeviceLoad(std::span<const BlockHash> chain,
                                    std::span<const Segment> dst,
                                    const LoadOptions& options,
                                    TransferHandle::State* state) {
  Result<Staged> staged = device_->StageForLoad(dst);
  if (!staged.ok()) {
    if (state != nullptr) {
      for (size_t b = 0; b < chain.size(); ++b) {
        state->BlockResolved(b, BlockOutcome::kFailed);
      }
    }
    return LoadResult{0};
  }
  // The host phase reports to a private state: nothing is in place for the
  // engine before its device copy completed. A cancel before it starts
  // skips it.
  TransferHandle::State host(chain.size(), layout().num_layers);
  if (state != nullptr && state->cancelled()) host.cancel.store(true);
  const LoadResult read = RunLoad(chain, staged->segments, options, LoadOrder::kByBlock,
                                  &host, MemoryKind::kDevice);
  // With sliding-window layers, only the segments the served prefix needs
  // were written (Store::Load): only those are copied.
  const auto needed = [&](size_t block, size_t segment) {
    return !window_.IsSliding(segment) ||
           window_.NeedForm(block, read.blocks) == BlockForm::kWhole;
  };
  const size_t delivered =
      device_->DeliverToEngine(*staged, dst, read.blocks, needed, state);
  if (state != nullptr) {
    for (size_t b = read.blocks; b < chain.size(); ++b) {
      BlockOutcome o;
      {
        std::lock_guard lock(host.mu);
        o = host.outcome[b];
      }
      if (o == BlockOutcome::kDone || o == BlockOutcome::kPending) {
        o = BlockOutcome::kMissing;
      }
      state->BlockResolved(b, o);
    }
  }
  if (delivered < read.blocks) {
    load_hit_blocks_.fetch_sub(read.blocks - delivered, std::memory_order_relaxed);
  }
  return LoadResult{delivered};
}

SaveResult StoreImpl::RunDeviceSave(std::span<const BlockHash> chain,
                                    std::span<const Segment> src, size_t first_block,
                                    const SaveOptions& options,
                                    TransferHandle::State* state) {
  const size_t blocks = chain.size() - first_block;
  Result<Staged> staged = device_->StageFromEngine(src);
  if (!staged.ok()) {
    if (state != nullptr) {
      for (size_t k = 0; k < blocks; ++k) state->BlockResolved(k, BlockOutcome::kFailed);
    }
    SaveResult r;
    r.skipped = blocks;
    return r;
  }
  const SaveResult r =
      RunSave(chain, staged->segments, first_block, options, state, MemoryKind::kDevice);
  device_->Release(*staged);
  return r;
}

}  // namespace kvtier::internal
