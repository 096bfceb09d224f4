// GpuTier: the HBM tier, the fastest of the stack. One arena of device
// memory, allocated once at Open through the copy seam and freed when the
// store goes away, cut into slots as the host tier is (TierGeometry).
//
// A slot holds the stored block format (lib/stored_block.h) as every tier
// does. It is written from a host copy: the block is encoded and
// checksummed in a pinned staging buffer, then copied in (H2D); and read
// by copying it out (D2H) into staging, or straight into the slot of a
// host tier it is being written down to (BlockIo::stored_out), and
// verified there before anything is decoded or served. So every block
// that leaves HBM is verified on the host, and HBM holds only blocks
// whose checksum was computed on the host.
//
// A load into the engine's device memory skips the host: OpenInDevice
// checks the block's header on the host (a 64-byte D2H copy: the slot holds
// this block, in this codec and geometry, under an intact header) and the
// payload is copied device to device (lib/move/device_transfer.h). Such a
// hit does not re-verify the payload checksum: the payload was checksummed
// on the host when it entered HBM and is verified whenever it leaves HBM
// for the host (a write-down, a load into host memory).
//
// Thread safety: as TierBackend (concurrent Write/Read of different
// slots); each call leases its own stream and staging buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "backends/gpu/copy_engine.h"
#include "lib/tier_backend.h"

namespace kvtier::internal {

struct GpuTierConfig {
  uint64_t capacity_bytes = 0;  // options.gpu.capacity_bytes
  size_t slot_bytes = 0;        // a whole stored block
  size_t trimmed_bytes = 0;     // a trimmed one (0: no bytes)
  BlockCodec codec;
  Logger log;
};

class GpuTier final : public TierBackend {
 public:
  // Slots are 256-byte aligned (the device's copy granularity).
  static constexpr size_t kSlotAlign = 256;
  // InvalidArgument naming options.gpu.capacity_bytes when it holds no
  // slot; the engine's error when device memory is refused.
  static Result<std::unique_ptr<GpuTier>> Create(const GpuTierConfig& config,
                                                 CopyEngine* engine);
  // The arena (device memory): for tests that look at what a slot holds.
  std::byte* arena() const { return arena_.data(); }
  bool SlotsInDevice() const override { return true; }

 protected:
  // The header copied out (D2H, 64 bytes) and checked on the host; the
  // payload stays in HBM.
  Result<std::span<const std::byte>> OpenInDeviceImpl(
      uint32_t slot, const BlockHash& hash, std::span<const Segment> dst) override;
  Status WriteImpl(uint32_t slot, const BlockHash& hash,
                   std::span<const Segment> src) override;
  Status ReadImpl(uint32_t slot, const BlockHash& hash,
                  std::span<const Segment> dst) override;
  void ReadBatchImpl(std::span<BlockIo> requests, const ReadDone& on_done) override;

 private:
  GpuTier(EngineAllocation arena, const TierGeometry& geometry,
          const GpuTierConfig& config, CopyEngine* engine);
  // Copies the stored block of `slot` (`bytes` of it) into `out`, host memory.
  Status CopyOut(uint32_t slot, std::span<std::byte> out);
  Status Copy(CopyDirection direction, const void* src, void* dst, size_t bytes);
  Result<EngineAllocation> TakeStaging();
  void ReturnStaging(EngineAllocation buffer);
  std::byte* SlotAddress(uint32_t slot) const {
    return arena_.data() + size_t{slot} * slot_bytes();
  }

  CopyEngine* const engine_;  // borrowed; outlives the tier (DevicePath)
  EngineAllocation arena_;
  StreamPool streams_;
  std::mutex mu_;
  std::vector<EngineAllocation> staging_;  // guarded by mu_: free frame-sized buffers
};

}  // namespace kvtier::internal
