// Mover: executes plans (lib/placement/plan.h) over the tiers' backends,
// without placement's lock. One place for the data path: verification and
// codecs happen in the backends (lib/stored_block.h), staging and the order
// of copies here.
//
//   save      engine -> tier: each block's kept segments, one WriteBatch
//             per tier
//   load      tier -> engine, then promotions (engine -> tier: what the read
//             delivered, written into the reserved slot as soon as the read
//             is verified). Device tiers (IoStyle::kAsync) read in one
//             batch per tier; memory tiers block by block, or layer by
//             layer: every block verified first, then every block's layer 0,
//             then layer 1, ... (LoadOrder::kByLayer)
//   copy-down, prefetch
//             tier -> tier: the stored block verbatim when both tiers have
//             the same codec and form and the source is memory; else
//             decoded into staging and encoded again
//
// Engine memory with device segments (EngineMemory::device): a load reads
// each block either in place in a registered raw host slot (verified there,
// nothing written) or into pinned staging, then the transfer copies the
// served blocks' device segments in, layer by layer, before Run returns
// (the slots stay pinned until then); a save copies device segments out
// straight into raw host slots, or into staging for any other tier, then
// writes as from host memory (lib/move/device_transfer.h); into the GPU
// tier, device segments are handed to the tier, which copies (or encodes)
// them device to device (backends/gpu/gpu_tier.h).
//
// Progress goes to a TransferHandle::State when given (per layer, per block,
// cancellation between blocks and layers).
//
// Thread safety: thread-safe; plans may run concurrently (placement's pins
// keep their slots apart).
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "kvtier/layout.h"
#include "kvtier/status.h"
#include "kvtier/store.h"
#include "kvtier/transfer.h"
#include "lib/placement/plan.h"
#include "lib/placement/tier_stack.h"
#include "lib/sliding_window.h"
#include "lib/tier_backend.h"

namespace kvtier::internal {

// How a load orders its copies into the engine's memory.
enum class LoadOrder : uint8_t {
  kByBlock = 0,  // one pass per block: verify while copying (cheapest)
  kByLayer = 1,  // verify every block, then copy layer by layer (an extra
                 // read of each block, so layer l is usable early)
};

class DeviceTransfer;

// The engine's memory a plan reads or writes: chain block b's segments are
// segments[(b - first_block) * SegmentsPerBlock() ...], block-major.
struct EngineMemory {
  std::span<const Segment> segments;
  size_t first_block = 0;
  // Set when `segments` include device memory: how those cross the device
  // boundary (borrowed for the Run). Null: all host memory.
  DeviceTransfer* device = nullptr;
};

class Mover {
 public:
  // `backends[p]` is the backend at stack position p (borrowed; outlives
  // the mover).
  Mover(const TierStack& tiers, std::vector<TierBackend*> backends,
        const KvLayout& layout, const SlidingWindow& window);

  // Executes every move of `plan`; returns a status per move. `state`
  // (may be null) gets the progress, indexed by chain block minus
  // engine.first_block; a move not started when it was cancelled gets
  // Cancelled.
  std::vector<Status> Run(const Plan& plan, EngineMemory engine, LoadOrder order,
                          TransferHandle::State* state) const;

  // Forgets the persistent records of slots placement released.
  void Forget(std::span<const SlotRelease> releases) const;

 private:
  std::span<const Segment> EngineBlock(EngineMemory engine, size_t block) const;
  // The host memory block `block` is read into or written from: the
  // engine's segments, with device ones staged (EngineMemory::device).
  Result<std::span<const Segment>> HostBlock(EngineMemory engine, size_t block) const;
  // Whether a copy of `form` stores engine segment `segment` (as Kept).
  bool Stored(BlockForm form, size_t segment) const {
    return form == BlockForm::kWhole || !window_.IsSliding(segment);
  }
  // Save with device segments: copies them out of the device (straight into
  // raw host slots, else into staging) and points `io`'s segments at the
  // host copies; a failed copy fails its blocks' requests. A block whose
  // kept segments are all device memory and whose tier's slots are too (the
  // GPU tier) keeps its device segments: the tier copies them device to
  // device; in_device[j] says so.
  void CopyOutOfDevice(const Plan& plan, EngineMemory engine, size_t tier,
                       std::span<const size_t> moves, std::span<BlockIo> io,
                       std::vector<std::vector<Segment>>& kept,
                       std::vector<bool>& in_device) const;
  static bool SavedInDevice(const TierBackend& to, std::span<const Segment> kept);
  // Counts the blocks written device to device (and a failed copy among them).
  void CountSavedInDevice(DeviceTransfer& device, std::span<const BlockIo> io,
                          const std::vector<bool>& in_device) const;
  void RunSave(const Plan& plan, EngineMemory engine, TransferHandle::State* state,
               std::vector<Status>& results) const;
  void RunLoad(const Plan& plan, EngineMemory engine, LoadOrder order,
               TransferHandle::State* state, std::vector<Status>& results) const;
  void RunTierToTier(const Plan& plan, std::vector<Status>& results) const;

  // Load helpers (mover_load.cc), over one load's shared context.
  struct LoadRun;
  void ReadDevice(LoadRun& run, std::span<const size_t> reads) const;
  void ReadMemoryByBlock(LoadRun& run, std::span<const size_t> reads) const;
  void ReadMemoryByLayer(LoadRun& run, std::span<const size_t> reads) const;
  // Memory tiers into engine memory with device segments: each block in
  // place from its slot when it can be (DirectFromSlot), else staged.
  void ReadMemoryForDevice(LoadRun& run, std::span<const size_t> reads) const;
  bool DirectFromSlot(const LoadRun& run, size_t move) const;
  Status ReadInSlot(LoadRun& run, size_t move) const;
  // A GPU-tier block whose every stored segment goes to device memory:
  // header checked on the host, payload copied (raw) or decoded (8-bit)
  // device to device.
  bool DirectInDevice(const LoadRun& run, size_t move) const;
  Status OpenInDevice(LoadRun& run, size_t move) const;
  // The source of each stored segment of a block stored under `codec`
  // whose stored form begins at `stored` (header first): the stored
  // segments, concatenated.
  void PayloadSources(const std::byte* stored, const BlockCodec& codec, BlockForm form,
                      std::span<const Segment> block,
                      std::vector<const std::byte*>& sources) const;
  Status ReadStaged(LoadRun& run, size_t move) const;
  // Leading blocks of the load whose reads succeeded.
  size_t ServedPrefix(const LoadRun& run) const;
  // After read `move`: records its outcome and promotes a good block.
  void FinishRead(LoadRun& run, size_t move) const;
  std::span<std::byte> Landing(LoadRun& run, size_t move) const;

  TierBackend* backend(size_t tier) const { return backends_[tier]; }

  const TierStack tiers_;
  const std::vector<TierBackend*> backends_;
  const size_t segments_per_block_;
  const size_t segment_bytes_;
  const uint32_t parts_per_layer_;
  const uint32_t layers_;
  const SlidingWindow window_;
};

}  // namespace kvtier::internal
