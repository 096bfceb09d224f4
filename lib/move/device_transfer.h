// DeviceTransfer: one Load or Save whose engine segments include device
// memory, driven by the mover (lib/move/mover.h) while the plan's slots are
// pinned, on a stream leased from the store's DevicePath.
//
//   load, direct  a raw block in a registered host slot is verified there
//                 (nothing written), then its device segments are copied
//                 from the slot by DMA (H2D): FromSlot, then Deliver
//   load, D2D     a GPU-tier block whose header checked out on the host
//                 (TierBackend::OpenInDevice) is copied (raw) or decoded
//                 (int8/fp8, CopyStream::EnqueueDecode) from its HBM slot
//                 device to device: FromDeviceSlot, then Deliver
//   load, staged  any other block is read (verified, decoded) into pinned
//                 staging (HostBlock), then copied from there (H2D)
//   save, direct  device segments are copied (D2H) straight into the
//                 payload of the raw host slot reserved for the block; the
//                 stored block's checksum is then computed over those host
//                 bytes (WriteStoredBlock hashes a segment already in place)
//   save, staged  device segments are copied (D2H) into staging, and the
//                 tier writes from there as from host memory
//   save, D2D     into the GPU tier, the device segments themselves go to
//                 the tier, which copies (raw) or encodes (int8/fp8) them
//                 device to device into the slot, its checksum deferred
//                 until the block first leaves HBM (backends/gpu/gpu_tier.h)
//
// Deliver copies layer by layer, an event per layer, at most
// DevicePath::kLayersInFlight layers ahead, and reports layer l of the
// served blocks in place once its event completed; it returns only when no
// copy of it is in flight, so the pins may go.
//
// Thread safety: single owner (the thread running the transfer); HostBlock
// may be called from a tier's completion thread too (it locks).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <vector>

#include "backends/gpu/copy_engine.h"
#include "kvtier/layout.h"
#include "kvtier/store.h"
#include "kvtier/transfer.h"
#include "lib/codec/block_codec.h"
#include "lib/move/device_path.h"

namespace kvtier::internal {

class DeviceTransfer {
 public:
  // `engine`: the call's segments, block-major (borrowed for the call).
  // `state`, `layer_state`: as DevicePath::Begin.
  DeviceTransfer(DevicePath& path, const KvLayout& layout,
                 std::span<const Segment> engine, TransferHandle::State* state,
                 TransferHandle::State* layer_state);
  ~DeviceTransfer();
  DeviceTransfer(const DeviceTransfer&) = delete;
  DeviceTransfer& operator=(const DeviceTransfer&) = delete;

  // The engine's segments of the call's block `block` (0 = the call's first).
  std::span<const Segment> Block(size_t block) const;
  bool HasDevice(size_t block) const;
  // True when DMA reaches all of `memory` (registered host memory).
  bool Reachable(std::span<const std::byte> memory) const {
    return path_.Registered(memory);
  }

  // Block `block` in host memory: its device segments replaced by pinned
  // staging (the call's buffer, taken at first use), its host ones as given.
  // From now on the block's device segments are delivered from staging.
  // ResourceExhausted when no pinned memory could be had.
  Result<std::span<const Segment>> HostBlock(size_t block);

  // ---- loads ----
  // The block's device segment s is copied from `sources[s]` (inside a
  // verified raw stored block in a registered host slot, pinned until the
  // mover returns); sources of host segments and unstored ones are ignored.
  void FromSlot(size_t block, std::span<const std::byte* const> sources);
  // As FromSlot, from a GPU-tier slot in device memory stored under
  // `codec` (borrowed; the tier's): copied D2D when raw, else decoded on
  // the device.
  void FromDeviceSlot(size_t block, std::span<const std::byte* const> sources,
                      const BlockCodec& codec);
  // Copies the device segments of blocks 0..served-1 that `needed(block,
  // segment)` names from their sources to the engine, layer by layer (see
  // the file comment). Afterwards delivered() is `served`, or 0 when a copy
  // failed or the transfer was cancelled. May run more than once (a load
  // planned again after a failure); the last run counts.
  void Deliver(size_t served, const std::function<bool(size_t, size_t)>& needed);
  size_t delivered() const { return delivered_; }
  // Why fewer blocks than served were delivered: kFailed, kCancelled, or
  // kMissing when nothing was to be served.
  BlockOutcome shortfall() const { return shortfall_; }

  // ---- saves ----
  // Copies `pieces` device -> host in one batch and waits. IoError when a
  // copy failed (counted in Stats().device_copy_errors).
  Status CopyToHost(std::span<const CopyPiece> pieces);
  // Counts saved blocks by the way their device segments crossed.
  void CountSaved(uint64_t direct, uint64_t staged) {
    path_.CountBlocks(direct, staged, 0);
  }
  // Counts blocks the GPU tier wrote from device memory, device to device,
  // and a copy of theirs that failed.
  void CountSavedInDevice(uint64_t saved, bool copy_failed) {
    path_.CountSavedInDevice(saved);
    if (copy_failed) path_.CountCopyError();
  }

 private:
  // Where a block's device segments come from on a load.
  enum class Source : uint8_t { kStaging = 0, kHostSlot = 1, kDeviceSlot = 2 };
  // Layer `layer`'s pieces of blocks 0..served-1: from host memory (H2D)
  // and from GPU-tier slots (D2D).
  void LayerPieces(size_t served, uint32_t layer,
                   const std::function<bool(size_t, size_t)>& needed,
                   std::vector<CopyPiece>& h2d, std::vector<CopyPiece>& d2d,
                   std::vector<DecodePiece>& decodes) const;
  // Enqueues layer `layer`'s copies and records their event.
  Result<CopyEvent> EnqueueLayer(CopyStream& stream, size_t served, uint32_t layer,
                                 const std::function<bool(size_t, size_t)>& needed);
  void CountDelivered(size_t served);

  DevicePath& path_;
  const std::span<const Segment> engine_;
  const size_t per_block_;
  const uint32_t parts_per_layer_;
  const uint32_t layers_;
  TransferHandle::State* const state_;
  TransferHandle::State* const layer_state_;
  std::mutex mu_;
  EngineAllocation staging_;   // guarded by mu_
  std::vector<Segment> host_;  // guarded by mu_: engine_ with staging for device ones
  // Per engine segment: where its bytes come from on a load (slot or staging).
  std::vector<const std::byte*> sources_;
  std::vector<Source> from_;               // per block
  std::vector<const BlockCodec*> codecs_;  // per block from a device slot
  size_t delivered_ = 0;
  BlockOutcome shortfall_ = BlockOutcome::kMissing;
};

}  // namespace kvtier::internal
