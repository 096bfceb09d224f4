// StoreImpl's calls with engine segments in device memory: RunLoad and
// RunSave over a DeviceTransfer (lib/move/device_transfer.h), so the plan,
// the mover and every check run as for host memory, and the data crosses
// the device boundary on the store's streams while the plan's slots are
// pinned:
//
//   save  D2H straight into a raw host slot (or into staging for any other
//         tier); the stored block and its checksum are made from that host
//         copy                                                  invariant 1
//   load  every block verified on the host first (in its slot, or read into
//         staging), then H2D layer by layer; a layer is reported in place
//         when its copy completed; a failed copy makes the load a miss
//                                                           invariants 1, 3
#include <algorithm>

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
  // Layers are reported as their copies complete; with sliding layers a
  // load may be planned again for a shorter prefix, so only at the end.
  Result<std::unique_ptr<DeviceTransfer>> transfer =
      device_->Begin(dst, state, window_.trims() ? nullptr : state);
  if (!transfer.ok()) {
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
  const LoadResult read =
      RunLoad(chain, dst, options, LoadOrder::kByBlock, &host, transfer->get());
  const size_t delivered = std::min((*transfer)->delivered(), read.blocks);
  if (state != nullptr) {
    for (size_t b = 0; b < chain.size(); ++b) {
      if (b < delivered) {
        state->BlockInPlace(b);
        continue;
      }
      BlockOutcome o = (*transfer)->shortfall();
      if (b >= read.blocks) {
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
  Result<std::unique_ptr<DeviceTransfer>> transfer = device_->Begin(src, state, nullptr);
  if (!transfer.ok()) {
    const size_t blocks = chain.size() - first_block;
    if (state != nullptr) {
      for (size_t k = 0; k < blocks; ++k) state->BlockResolved(k, BlockOutcome::kFailed);
    }
    SaveResult r;
    r.skipped = blocks;
    return r;
  }
  return RunSave(chain, src, first_block, options, state, transfer->get());
}

}  // namespace kvtier::internal
