// TierBackend's checking and counting front, and the memory-slot backend
// every addressable tier (host arena, test fake) shares.
#include "lib/tier_backend.h"

#include <cstring>
#include <string>

#include "lib/cost/load_cost_model.h"
#include "lib/stored_block.h"

namespace kvtier::internal {
namespace {

void CountFailure(const Status& s, std::atomic<uint64_t>& checksum_errors,
                  std::atomic<uint64_t>& io_errors) {
  if (s.code() == StatusCode::kCorruption) {
    checksum_errors.fetch_add(1, std::memory_order_relaxed);
  } else if (s.code() == StatusCode::kIoError ||
             s.code() == StatusCode::kResourceExhausted) {
    // A device that is full (ENOSPC) failed the write as surely as EIO did.
    io_errors.fetch_add(1, std::memory_order_relaxed);
  }
}

std::string Where(const TierBackend& tier) {
  return std::string("tier ") + TierName(tier.tier()) + ": ";
}

// Checks one request against this tier and sums the segments' engine bytes
// into *logical and the stored block's bytes (header included) into
// *stored_bytes. Bad arguments are the caller's bug; nothing is counted for
// them.
Status CheckSlot(const TierBackend& tier, uint32_t slot) {
  const TierGeometry& g = tier.geometry();
  if (slot >= g.id_count()) {
    return InvalidArgument(Where(tier) + "slot " + std::to_string(slot) +
                           " out of range (" + std::to_string(g.pages()) + " pages, " +
                           std::to_string(g.slotless) + " slotless ids)");
  }
  return Status::Ok();
}

// A slotless id holds no bytes: only a block with nothing to store fits.
Status CheckFits(const TierBackend& tier, uint32_t slot, size_t logical, size_t stored) {
  const TierGeometry& g = tier.geometry();
  if (g.IsSlotless(slot)) {
    if (logical == 0) return Status::Ok();
    return InvalidArgument(Where(tier) + "slot " + std::to_string(slot) +
                           " is slotless (no bytes) but the block has " +
                           std::to_string(logical) + " bytes");
  }
  if (stored > g.RoomAt(slot)) {
    return InvalidArgument(Where(tier) + "a stored block of " + std::to_string(stored) +
                           " bytes does not fit slot " + std::to_string(slot) + " (" +
                           std::to_string(g.RoomAt(slot)) + " bytes to its frame's end)");
  }
  return Status::Ok();
}

Status CheckRequest(const TierBackend& tier, uint32_t slot,
                    std::span<const Segment> segments, bool read, size_t* logical,
                    size_t* stored_bytes) {
  const BlockCodec& codec = tier.block_codec();
  if (Status s = CheckSlot(tier, slot); !s.ok()) return s;
  size_t total = 0, stored = 0;
  // A tier whose slots are device memory is written from device memory too
  // (every segment of the block, or none).
  const bool device_write = !read && tier.SlotsInDevice() && !segments.empty() &&
                            segments[0].kind == MemoryKind::kDevice;
  for (size_t i = 0; i < segments.size(); ++i) {
    const Segment& seg = segments[i];
    if (seg.kind == MemoryKind::kDevice && !device_write) {
      return NotSupported(Where(tier) + "segment " + std::to_string(i) +
                          ": segment memory kind device needs the GPU tier");
    }
    if (device_write && seg.kind != MemoryKind::kDevice) {
      return InvalidArgument(Where(tier) + "segment " + std::to_string(i) +
                             ": host memory in a block written from device memory");
    }
    if (seg.kind != MemoryKind::kHost && seg.kind != MemoryKind::kDevice) {
      return InvalidArgument(Where(tier) + "segment " + std::to_string(i) +
                             ": unknown memory kind " +
                             std::to_string(static_cast<int>(seg.kind)));
    }
    if (seg.data == nullptr && seg.bytes != 0 && !read) {
      return InvalidArgument(Where(tier) + "segment " + std::to_string(i) +
                             ": null data");
    }
    if (!codec.raw() && seg.bytes % codec.GroupBytes() != 0) {
      return InvalidArgument(Where(tier) + "segment " + std::to_string(i) + ": " +
                             std::to_string(seg.bytes) + " bytes is not whole " +
                             CodecName(codec.codec()) + " groups of " +
                             std::to_string(codec.GroupBytes()) + " bytes");
    }
    total += seg.bytes;
    stored += codec.StoredBytes(seg.bytes);
  }
  const size_t stored_block =
      tier.geometry().IsSlotless(slot) ? 0 : StoredBlockBytes(stored);
  if (Status s = CheckFits(tier, slot, total, stored_block); !s.ok()) return s;
  *logical = total;
  *stored_bytes = stored_block;
  return Status::Ok();
}

}  // namespace

Status TierBackend::Write(uint32_t slot, const BlockHash& hash,
                          std::span<const Segment> src) {
  LatencyTimer timer(write_latency_);
  size_t logical = 0, stored = 0;
  if (Status s = CheckRequest(*this, slot, src, false, &logical, &stored); !s.ok()) {
    return s;
  }
  if (geometry_.IsSlotless(slot)) {
    // No bytes, but a persistent tier still records the block: the batch
    // hook is where tiers handle slotless ids (the default skips them).
    BlockIo io{slot, hash, nullptr, src, Status::Ok(), {}};
    WriteBatchImpl({&io, 1});
    return io.status;
  }
  Status s = WriteImpl(slot, hash, src);
  Count(s, logical, stored, /*write=*/true);
  return s;
}

Status TierBackend::Read(uint32_t slot, const BlockHash& hash,
                         std::span<const Segment> dst) {
  LatencyTimer timer(read_latency_);
  size_t logical = 0, stored = 0;
  if (Status s = CheckRequest(*this, slot, dst, true, &logical, &stored); !s.ok()) {
    return s;
  }
  if (geometry_.IsSlotless(slot)) {
    BlockIo io{slot, hash, nullptr, dst, Status::Ok(), {}};
    ReadBatchImpl({&io, 1}, {});
    return io.status;
  }
  const Clock::time_point start = Clock::now();
  Status s = ReadImpl(slot, hash, dst);
  Count(s, logical, stored, /*write=*/false);
  if (s.ok() && read_observer_ != nullptr) {
    read_observer_->Observe(tier_, stored,
                            std::chrono::duration<double>(Clock::now() - start).count());
  }
  return s;
}

void TierBackend::ReportStats(StoreStats* stats) const {
  TierStats& t = stats->tiers[static_cast<int>(tier_)];
  t.read_latency = read_latency_.Snapshot();
  t.write_latency = write_latency_.Snapshot();
}

Result<std::span<const std::byte>> TierBackend::OpenInDevice(
    uint32_t slot, const BlockHash& hash, std::span<const Segment> dst) {
  LatencyTimer timer(read_latency_);
  size_t logical = 0, stored = 0;
  if (Status s = CheckRequest(*this, slot, dst, true, &logical, &stored); !s.ok()) {
    return s;
  }
  if (geometry_.IsSlotless(slot)) return NotSupported("a slotless block has no bytes");
  Result<std::span<const std::byte>> r = OpenInDeviceImpl(slot, hash, dst);
  Count(r.status(), logical, stored, /*write=*/false);
  return r;
}

void TierBackend::Count(const Status& s, size_t logical, size_t stored, bool write) {
  if (s.ok()) {
    (write ? bytes_written_ : bytes_read_).fetch_add(stored, std::memory_order_relaxed);
    (write ? logical_bytes_written_ : logical_bytes_read_)
        .fetch_add(logical, std::memory_order_relaxed);
  } else if (s.code() != StatusCode::kNotFound) {  // a shared tier's gone block: a miss
    CountFailure(s, checksum_errors_, io_errors_);
    failure_log_.Log(logger_, LogLevel::kWarning,
                     Where(*this) + (write ? "write failed: " : "read failed: ") +
                         s.ToString() + " (served as a miss)");
  }
}

namespace {

// A verbatim stored block must fit a slot; it was made by this tier's codec.
Status CheckStored(const TierBackend& tier, uint32_t slot,
                   std::span<const std::byte> stored, size_t* logical,
                   size_t* stored_bytes) {
  if (Status s = CheckSlot(tier, slot); !s.ok()) return s;
  if (stored.size() < kStoredHeaderBytes) {
    return InvalidArgument(Where(tier) + "stored block of " +
                           std::to_string(stored.size()) + " bytes has no header");
  }
  *stored_bytes = stored.size();
  *logical = tier.block_codec().EngineBytes(stored.size() - kStoredHeaderBytes);
  return CheckFits(tier, slot, *logical, *stored_bytes);
}

}  // namespace

struct TierBackend::BatchCounts {
  explicit BatchCounts(size_t n) : logical(n), stored(n), checked(n) {}
  std::vector<size_t> logical, stored;
  std::vector<bool> checked;
};

std::shared_ptr<TierBackend::BatchCounts> TierBackend::CheckWrites(
    std::span<BlockIo> requests) {
  auto c = std::make_shared<BatchCounts>(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    BlockIo& r = requests[i];
    if (!r.status.ok()) continue;  // the caller already failed it
    r.status = r.stored.empty()
                   ? CheckRequest(*this, r.slot, r.segments, false, &c->logical[i],
                                  &c->stored[i])
                   : CheckStored(*this, r.slot, r.stored, &c->logical[i], &c->stored[i]);
    c->checked[i] = r.status.ok();
  }
  return c;
}

std::shared_ptr<TierBackend::BatchCounts> TierBackend::CheckReads(
    std::span<BlockIo> requests) {
  auto c = std::make_shared<BatchCounts>(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    BlockIo& r = requests[i];
    if (!r.status.ok()) continue;
    r.status =
        CheckRequest(*this, r.slot, r.segments, true, &c->logical[i], &c->stored[i]);
    if (r.status.ok() && !r.stored_out.empty() && r.stored_out.size() < c->stored[i]) {
      r.status = InvalidArgument(Where(*this) + "stored_out of " +
                                 std::to_string(r.stored_out.size()) +
                                 " bytes cannot hold the stored block of " +
                                 std::to_string(c->stored[i]) + " bytes");
    }
    c->checked[i] = r.status.ok();
  }
  return c;
}

void TierBackend::CountBatch(std::span<const BlockIo> requests, const BatchCounts& c,
                             bool write) {
  for (size_t i = 0; i < requests.size(); ++i) {
    if (c.checked[i]) Count(requests[i].status, c.logical[i], c.stored[i], write);
  }
}

void TierBackend::ObserveReads(std::span<const BlockIo> requests, const BatchCounts& c,
                               Clock::time_point start) const {
  if (read_observer_ == nullptr) return;
  uint64_t bytes = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    if (c.checked[i] && requests[i].status.ok()) bytes += c.stored[i];
  }
  read_observer_->Observe(tier_, bytes,
                          std::chrono::duration<double>(Clock::now() - start).count());
}

void TierBackend::WriteBatch(std::span<BlockIo> requests) {
  LatencyTimer timer(write_latency_);
  const std::shared_ptr<BatchCounts> c = CheckWrites(requests);
  WriteBatchImpl(requests);
  CountBatch(requests, *c, /*write=*/true);
}

void TierBackend::ReadBatch(std::span<BlockIo> requests, const ReadDone& on_done) {
  LatencyTimer timer(read_latency_);
  const Clock::time_point start = Clock::now();
  const std::shared_ptr<BatchCounts> c = CheckReads(requests);
  ReadBatchImpl(requests, on_done);
  CountBatch(requests, *c, /*write=*/false);
  ObserveReads(requests, *c, start);
}

void TierBackend::SubmitWriteBatch(std::span<BlockIo> requests, ReadDone on_done,
                                   BatchDone on_batch_done) {
  std::shared_ptr<BatchCounts> c = CheckWrites(requests);
  SubmitWriteBatchImpl(requests, std::move(on_done),
                       [this, requests, c, done = std::move(on_batch_done)] {
                         CountBatch(requests, *c, /*write=*/true);
                         if (done) done();
                       });
}

void TierBackend::SubmitReadBatch(std::span<BlockIo> requests, ReadDone on_done,
                                  BatchDone on_batch_done) {
  const Clock::time_point start = Clock::now();
  std::shared_ptr<BatchCounts> c = CheckReads(requests);
  SubmitReadBatchImpl(requests, std::move(on_done),
                      [this, requests, c, start, done = std::move(on_batch_done)] {
                        CountBatch(requests, *c, /*write=*/false);
                        ObserveReads(requests, *c, start);
                        if (done) done();
                      });
}

void TierBackend::SubmitWriteBatchImpl(std::span<BlockIo> requests, ReadDone on_done,
                                       BatchDone on_batch_done) {
  WriteBatchImpl(requests);
  for (size_t i = 0; on_done && i < requests.size(); ++i) on_done(i);
  on_batch_done();
}

void TierBackend::SubmitReadBatchImpl(std::span<BlockIo> requests, ReadDone on_done,
                                      BatchDone on_batch_done) {
  ReadBatchImpl(requests, on_done);
  on_batch_done();
}

void TierBackend::WriteBatchImpl(std::span<BlockIo> requests) {
  for (BlockIo& r : requests) {
    if (!r.status.ok() || geometry_.IsSlotless(r.slot)) continue;
    r.status = r.stored.empty()
                   ? WriteImpl(r.slot, r.hash, r.segments)
                   : NotSupported(Where(*this) + "verbatim stored-block writes");
  }
}

// A verified block's stored bytes, verbatim, for a read's stored_out.
void TierBackend::DeliverStored(BlockIo& r) {
  const std::span<const std::byte> slot = StoredBytes(r.slot);
  const size_t bytes = StoredBlockBytes(StoredPayloadBytes(codec_, r.segments));
  if (slot.size() < bytes) {
    r.status = NotSupported(Where(*this) + "stored_out: slots are not memory");
    return;
  }
  std::memcpy(r.stored_out.data(), slot.data(), bytes);
}

void TierBackend::ReadBatchImpl(std::span<BlockIo> requests, const ReadDone& on_done) {
  for (size_t i = 0; i < requests.size(); ++i) {
    BlockIo& r = requests[i];
    if (r.status.ok() && !geometry_.IsSlotless(r.slot)) {
      r.status = ReadImpl(r.slot, r.hash, r.segments);
      if (r.status.ok() && !r.stored_out.empty()) DeliverStored(r);
    }
    if (on_done) on_done(i);
  }
}

Status MemoryTierBackend::WriteImpl(uint32_t slot, const BlockHash& hash,
                                    std::span<const Segment> src) {
  WriteStoredBlock(hash, block_codec(), src, SlotMemory(slot));
  return Status::Ok();
}

Status MemoryTierBackend::ReadImpl(uint32_t slot, const BlockHash& hash,
                                   std::span<const Segment> dst) {
  return ReadStoredBlock(hash, block_codec(), SlotMemory(slot), dst);
}

}  // namespace kvtier::internal
