// GpuTier: the HBM tier, the fastest of the stack. One arena of device
// memory, allocated once at Open through the copy seam and freed when the
// store goes away, cut into slots as the host tier is (TierGeometry).
//
// A slot holds the stored block format (lib/stored_block.h) as every tier
// does. It is written one of two ways:
//   from host memory   the block is encoded and checksummed in a pinned
//                      staging buffer, then copied in (H2D);
//   from device memory (a Save of the engine's device segments: a write
//                      whose segments are all MemoryKind::kDevice) the
//                      payload is copied device to device (raw) or encoded
//                      on the device (8-bit, CopyStream::EnqueueEncode)
//                      straight into the slot, then the 64-byte header,
//                      made on the host, is copied in (H2D); a batch of
//                      blocks is one stream, one event. No host copy of the
//                      payload exists, so its checksum is deferred: the
//                      header in HBM carries 0 and the tier notes the slot.
// It is read by copying it out (D2H) into staging, or straight into the
// slot of a host tier it is being written down to (BlockIo::stored_out),
// and verified there (ReadStoredBlock) before anything is decoded, served
// or written further down. For a deferred slot the host copy's header gets
// the payload checksum first: the first copy out computes it over what it
// copied and the tier remembers it; every later copy out gets the
// remembered one, so bytes that change in HBM after the first copy out are
// caught as for any block. So every block that leaves HBM carries a
// checksum computed on the host, over a host copy.
//
// A load into the engine's device memory skips the host: OpenInDevice
// checks the block's header on the host (a 64-byte D2H copy: the slot holds
// this block, in this codec and geometry, under an intact header) and the
// payload is copied device to device (lib/move/device_transfer.h). Such a
// hit does not verify the payload.
//
// What is verified for a block that stays in HBM, then: its header, at
// every D2D load; its payload is guarded by HBM's ECC only. A payload
// damaged in HBM is caught when the block leaves for the host (Corruption, a
// counted miss) if the block was written from the host, or written device
// to device and copied out since (write-through copies it down right after
// the save). Bytes of a block written device to device that change before
// its first copy out are checksummed as they are and travel down as the
// block: the checksum vouches for the host copy on, not for HBM before it.
//
// The notes are in host memory only (16 bytes per slot): HBM contents do
// not outlive the process.
// Every write of a slot sets or clears its note, and a slot is only read
// after a write of it, so an evicted slot's stale note is never consulted
// (nor cleared on eviction: a late Forget could clear a newer write's).
//
// Thread safety: as TierBackend (concurrent Write/Read of different
// slots; concurrent reads of one slot); each call leases its own stream and
// staging buffer; the notes are under a mutex.
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
  // From host memory through staging; from device memory as one request
  // of WriteBatchImpl.
  Status WriteImpl(uint32_t slot, const BlockHash& hash,
                   std::span<const Segment> src) override;
  // Requests from device memory go device to device, in one batch (see
  // above); the others through WriteImpl.
  void WriteBatchImpl(std::span<BlockIo> requests) override;
  Status ReadImpl(uint32_t slot, const BlockHash& hash,
                  std::span<const Segment> dst) override;
  void ReadBatchImpl(std::span<BlockIo> requests, const ReadDone& on_done) override;

 private:
  GpuTier(EngineAllocation arena, const TierGeometry& geometry,
          const GpuTierConfig& config, CopyEngine* engine);
  // Copies the stored block of `slot` into `out` (host memory, the stored
  // block's size) and gives a deferred block its payload checksum there.
  Status CopyOut(uint32_t slot, std::span<std::byte> out);
  // Where a slot's payload checksum is.
  enum class Checksum : uint8_t {
    kInHeader = 0,    // written from the host: in the header, in HBM too
    kDeferred = 1,    // written device to device, not copied out since
    kRemembered = 2,  // ... copied out since: SlotNote::sum
  };
  struct SlotNote {
    uint64_t sum = 0;
    Checksum checksum = Checksum::kInHeader;
  };
  void Note(uint32_t slot, Checksum checksum);
  // Puts the payload checksum into `out`, a deferred block's host copy.
  void Seal(uint32_t slot, std::span<std::byte> out);
  // Writes requests[k] for each k of `which` (segments in device memory).
  void WriteFromDevice(std::span<BlockIo> requests, std::span<const size_t> which);
  // One stream's worth: the payloads, then the headers (made in `headers`,
  // pinned, kStoredHeaderBytes per block), one event.
  Status WriteChunkFromDevice(std::span<const BlockIo> requests,
                              std::span<const size_t> chunk, std::byte* headers);
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
  std::mutex notes_mu_;
  std::vector<SlotNote> notes_;  // guarded by notes_mu_; per slot id (page)
};

}  // namespace kvtier::internal
