// GpuTier: slots in device memory, written and read through pinned staging
// on the tier's streams (see the header).
#include "backends/gpu/gpu_tier.h"

#include <string>

#include "lib/stored_block.h"

namespace kvtier::internal {
namespace {

constexpr size_t kStagingKept = 8;

}  // namespace

Result<std::unique_ptr<GpuTier>> GpuTier::Create(const GpuTierConfig& config,
                                                 CopyEngine* engine) {
  const TierGeometry geometry = TierGeometry::For(config.slot_bytes, config.trimmed_bytes,
                                                  kSlotAlign, config.capacity_bytes);
  if (geometry.frames == 0) {
    return InvalidArgument(
        "options.gpu.capacity_bytes: " + std::to_string(config.capacity_bytes) +
        " bytes is smaller than one slot of " + std::to_string(geometry.frame_bytes()) +
        " bytes");
  }
  Result<EngineAllocation> arena = engine->AllocateDevice(geometry.capacity_bytes());
  if (!arena.ok()) {
    return Status(arena.status().code(),
                  "options.gpu.capacity_bytes: " + arena.status().message());
  }
  return std::unique_ptr<GpuTier>(
      new GpuTier(std::move(arena).value(), geometry, config, engine));
}

GpuTier::GpuTier(EngineAllocation arena, const TierGeometry& geometry,
                 const GpuTierConfig& config, CopyEngine* engine)
    : TierBackend(Tier::kGpu, geometry, config.codec),
      engine_(engine),
      arena_(std::move(arena)),
      streams_(engine) {
  set_logger(config.log);
}

Result<EngineAllocation> GpuTier::TakeStaging() {
  {
    std::lock_guard lock(mu_);
    if (!staging_.empty()) {
      EngineAllocation b = std::move(staging_.back());
      staging_.pop_back();
      return b;
    }
  }
  return engine_->AllocatePinned(geometry().frame_bytes());
}

void GpuTier::ReturnStaging(EngineAllocation buffer) {
  std::lock_guard lock(mu_);
  if (staging_.size() < kStagingKept) staging_.push_back(std::move(buffer));
}

Status GpuTier::Copy(CopyDirection direction, const void* src, void* dst, size_t bytes) {
  Result<StreamPool::Lease> stream = streams_.Take();
  if (!stream.ok()) return stream.status();
  const CopyPiece piece{src, dst, bytes};
  Status s = (*stream)->Enqueue(direction, &piece, 1);
  if (s.ok()) {
    Result<CopyEvent> e = (*stream)->Record();
    s = e.ok() ? (*stream)->Wait(*e) : e.status();
  }
  if (!s.ok()) {
    stream->Discard();
    return IoError("tier gpu: " + s.message());
  }
  return s;
}

Status GpuTier::WriteImpl(uint32_t slot, const BlockHash& hash,
                          std::span<const Segment> src) {
  Result<EngineAllocation> staging = TakeStaging();
  if (!staging.ok()) return staging.status();
  const size_t bytes = StoredBlockBytes(StoredPayloadBytes(block_codec(), src));
  const std::span<std::byte> out(staging->data(), bytes);
  WriteStoredBlock(hash, block_codec(), src, out);
  Status s = Copy(CopyDirection::kHostToDevice, out.data(), SlotAddress(slot), bytes);
  ReturnStaging(std::move(staging).value());
  return s;
}

Status GpuTier::CopyOut(uint32_t slot, std::span<std::byte> out) {
  return Copy(CopyDirection::kDeviceToHost, SlotAddress(slot), out.data(), out.size());
}

Status GpuTier::ReadImpl(uint32_t slot, const BlockHash& hash,
                         std::span<const Segment> dst) {
  Result<EngineAllocation> staging = TakeStaging();
  if (!staging.ok()) return staging.status();
  const size_t bytes = StoredBlockBytes(StoredPayloadBytes(block_codec(), dst));
  const std::span<std::byte> in(staging->data(), bytes);
  Status s = CopyOut(slot, in);
  if (s.ok()) s = ReadStoredBlock(hash, block_codec(), in, dst);
  ReturnStaging(std::move(staging).value());
  return s;
}

Result<std::span<const std::byte>> GpuTier::OpenInDeviceImpl(
    uint32_t slot, const BlockHash& hash, std::span<const Segment> dst) {
  Result<EngineAllocation> staging = TakeStaging();
  if (!staging.ok()) return staging.status();
  const std::span<std::byte> header(staging->data(), kStoredHeaderBytes);
  Status s = CopyOut(slot, header);
  const size_t room = geometry().RoomAt(slot);
  if (s.ok()) s = CheckStoredHeader(hash, block_codec(), header, room, dst);
  ReturnStaging(std::move(staging).value());
  if (!s.ok()) return s;
  return std::span<const std::byte>(SlotAddress(slot), room);
}

// A read with stored_out (a write-down to a host slot) copies the stored
// block straight there and verifies it in place: one DMA, no CPU copy.
void GpuTier::ReadBatchImpl(std::span<BlockIo> requests, const ReadDone& on_done) {
  for (size_t i = 0; i < requests.size(); ++i) {
    BlockIo& r = requests[i];
    if (r.status.ok() && !geometry().IsSlotless(r.slot)) {
      if (r.stored_out.empty()) {
        r.status = ReadImpl(r.slot, r.hash, r.segments);
      } else {
        const size_t bytes =
            StoredBlockBytes(StoredPayloadBytes(block_codec(), r.segments));
        const std::span<std::byte> out = r.stored_out.first(bytes);
        r.status = CopyOut(r.slot, out);
        if (r.status.ok())
          r.status = ReadStoredBlock(r.hash, block_codec(), out, r.segments);
      }
    }
    if (on_done) on_done(i);
  }
}

}  // namespace kvtier::internal
