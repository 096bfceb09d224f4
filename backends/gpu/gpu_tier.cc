// GpuTier: slots in device memory, written and read through pinned staging
// on the tier's streams, or written device to device with the checksum
// deferred (see the header).
#include "backends/gpu/gpu_tier.h"

#include <algorithm>
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
      streams_(engine),
      notes_(geometry.pages()) {
  set_logger(config.log);
}

void GpuTier::Note(uint32_t slot, Checksum checksum) {
  std::lock_guard lock(notes_mu_);
  notes_[slot] = SlotNote{0, checksum};
}

// The first copy out of a deferred block computes the checksum over what it
// copied (outside the lock: concurrent readers of the slot may both do it;
// the first to note it wins, and the other's copy is checked against it).
void GpuTier::Seal(uint32_t slot, std::span<std::byte> out) {
  SlotNote note;
  {
    std::lock_guard lock(notes_mu_);
    note = notes_[slot];
  }
  if (note.checksum == Checksum::kInHeader) return;
  if (note.checksum == Checksum::kDeferred) {
    const std::optional<uint64_t> sum = HashStoredPayload(out);
    if (!sum) return;  // a damaged header: ReadStoredBlock says so
    std::lock_guard lock(notes_mu_);
    SlotNote& n = notes_[slot];
    if (n.checksum == Checksum::kDeferred) n = SlotNote{*sum, Checksum::kRemembered};
    note = n;
  }
  if (note.checksum == Checksum::kRemembered) SetStoredPayloadSum(out, note.sum);
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
  if (!src.empty() && src[0].kind == MemoryKind::kDevice) {
    BlockIo io{slot, hash, nullptr, src, Status::Ok(), {}};
    const size_t only = 0;
    WriteFromDevice({&io, 1}, {&only, 1});
    return io.status;
  }
  Result<EngineAllocation> staging = TakeStaging();
  if (!staging.ok()) return staging.status();
  const size_t bytes = StoredBlockBytes(StoredPayloadBytes(block_codec(), src));
  const std::span<std::byte> out(staging->data(), bytes);
  WriteStoredBlock(hash, block_codec(), src, out);
  Note(slot, Checksum::kInHeader);
  Status s = Copy(CopyDirection::kHostToDevice, out.data(), SlotAddress(slot), bytes);
  ReturnStaging(std::move(staging).value());
  return s;
}

Status GpuTier::CopyOut(uint32_t slot, std::span<std::byte> out) {
  Status s =
      Copy(CopyDirection::kDeviceToHost, SlotAddress(slot), out.data(), out.size());
  if (s.ok()) Seal(slot, out);
  return s;
}

void GpuTier::WriteBatchImpl(std::span<BlockIo> requests) {
  std::vector<size_t> from_device;
  for (size_t k = 0; k < requests.size(); ++k) {
    BlockIo& r = requests[k];
    if (!r.status.ok() || geometry().IsSlotless(r.slot)) continue;
    if (r.stored.empty() && !r.segments.empty() &&
        r.segments[0].kind == MemoryKind::kDevice) {
      from_device.push_back(k);
    } else {
      r.status = r.stored.empty()
                     ? WriteImpl(r.slot, r.hash, r.segments)
                     : NotSupported("tier gpu: verbatim stored-block writes");
    }
  }
  if (!from_device.empty()) WriteFromDevice(requests, from_device);
}

void GpuTier::WriteFromDevice(std::span<BlockIo> requests,
                              std::span<const size_t> which) {
  Result<EngineAllocation> staging = TakeStaging();
  if (!staging.ok()) {
    for (const size_t k : which) requests[k].status = staging.status();
    return;
  }
  // A frame holds at least a header: one block per chunk at the least.
  const size_t per_chunk = std::max<size_t>(1, staging->size() / kStoredHeaderBytes);
  for (size_t first = 0; first < which.size(); first += per_chunk) {
    const std::span<const size_t> chunk =
        which.subspan(first, std::min(per_chunk, which.size() - first));
    const Status s = WriteChunkFromDevice(requests, chunk, staging->data());
    for (const size_t k : chunk) requests[k].status = s;
  }
  ReturnStaging(std::move(staging).value());
}

Status GpuTier::WriteChunkFromDevice(std::span<const BlockIo> requests,
                                     std::span<const size_t> chunk, std::byte* headers) {
  const BlockCodec& codec = block_codec();
  std::vector<CopyPiece> payloads, header_pieces;
  std::vector<EncodePiece> encodes;
  for (size_t i = 0; i < chunk.size(); ++i) {
    const BlockIo& r = requests[chunk[i]];
    std::byte* const slot = SlotAddress(r.slot);
    std::byte* const header = headers + i * kStoredHeaderBytes;
    WriteStoredHeader(r.hash, codec, r.segments, {header, kStoredHeaderBytes});
    header_pieces.push_back(CopyPiece{header, slot, kStoredHeaderBytes});
    std::byte* at = slot + kStoredHeaderBytes;
    for (const Segment& seg : r.segments) {
      if (codec.raw()) {
        payloads.push_back(CopyPiece{seg.data, at, seg.bytes});
      } else {
        const size_t groups = seg.bytes / codec.GroupBytes();
        auto* codes = reinterpret_cast<uint8_t*>(at);
        encodes.push_back(EncodePiece{codec.codec(), codec.dtype(), codec.group_values(),
                                      groups, seg.data, codes,
                                      codes + groups * codec.group_values()});
      }
      at += codec.StoredBytes(seg.bytes);
    }
    Note(r.slot, Checksum::kDeferred);
  }
  Result<StreamPool::Lease> stream = streams_.Take();
  if (!stream.ok()) return stream.status();
  // Payloads first: a failed copy breaks the stream before any header of
  // the chunk lands (the slots are garbage either way: not indexed).
  Status s = Status::Ok();
  if (!payloads.empty()) {
    s = (*stream)->Enqueue(CopyDirection::kDeviceToDevice, payloads.data(),
                           payloads.size());
  }
  if (s.ok() && !encodes.empty())
    s = (*stream)->EnqueueEncode(encodes.data(), encodes.size());
  if (s.ok()) {
    s = (*stream)->Enqueue(CopyDirection::kHostToDevice, header_pieces.data(),
                           header_pieces.size());
  }
  if (s.ok()) {
    Result<CopyEvent> e = (*stream)->Record();
    s = e.ok() ? (*stream)->Wait(*e) : e.status();
  }
  if (!s.ok()) {
    stream->Discard();
    return IoError("tier gpu: a save from device memory: " + s.message());
  }
  return s;
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
  // The header alone, as it is in HBM (a deferred checksum stays 0 there).
  Status s =
      Copy(CopyDirection::kDeviceToHost, SlotAddress(slot), header.data(), header.size());
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
