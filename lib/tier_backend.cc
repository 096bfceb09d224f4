// TierBackend's checking and counting front, and the memory-slot backend
// every addressable tier (host arena, test fake) shares.
#include "lib/tier_backend.h"

#include <string>

#include "lib/stored_block.h"

namespace kvtier::internal {
namespace {

const char* TierName(Tier t) {
  switch (t) {
    case Tier::kGpu:
      return "gpu";
    case Tier::kHost:
      return "host";
    case Tier::kNvme:
      return "nvme";
  }
  return "unknown";
}

const char* CodecName(Codec c) {
  switch (c) {
    case Codec::kRaw:
      return "raw";
    case Codec::kInt8:
      return "int8";
    case Codec::kFp8:
      return "fp8";
  }
  return "unknown";
}

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

// Checks one request against this tier and sums the segments' bytes into
// *payload. Bad arguments are the caller's bug; nothing is counted for them.
Status CheckRequest(const TierBackend& tier, uint32_t slot,
                    std::span<const Segment> segments, size_t* payload) {
  if (slot >= tier.slot_count()) {
    return InvalidArgument(Where(tier) + "slot " + std::to_string(slot) +
                           " out of range (slot_count " +
                           std::to_string(tier.slot_count()) + ")");
  }
  size_t total = 0;
  for (size_t i = 0; i < segments.size(); ++i) {
    const Segment& seg = segments[i];
    if (seg.kind == MemoryKind::kDevice) {
      return NotSupported(Where(tier) + "segment " + std::to_string(i) +
                          ": segment memory kind device needs the GPU tier");
    }
    if (seg.kind != MemoryKind::kHost) {
      return InvalidArgument(Where(tier) + "segment " + std::to_string(i) +
                             ": unknown memory kind " +
                             std::to_string(static_cast<int>(seg.kind)));
    }
    if (seg.data == nullptr && seg.bytes != 0) {
      return InvalidArgument(Where(tier) + "segment " + std::to_string(i) +
                             ": null data");
    }
    total += seg.bytes;
  }
  if (StoredBlockBytes(total) > tier.slot_bytes()) {
    return InvalidArgument(
        Where(tier) + "segments of " + std::to_string(total) +
        " bytes make a stored block of " + std::to_string(StoredBlockBytes(total)) +
        " bytes, larger than a slot (" + std::to_string(tier.slot_bytes()) + " bytes)");
  }
  *payload = total;
  return Status::Ok();
}

}  // namespace

Status TierBackend::Write(uint32_t slot, const BlockHash& hash,
                          std::span<const Segment> src) {
  size_t payload = 0;
  if (Status s = CheckRequest(*this, slot, src, &payload); !s.ok()) return s;
  Status s = WriteImpl(slot, hash, src);
  if (s.ok()) {
    bytes_written_.fetch_add(StoredBlockBytes(payload), std::memory_order_relaxed);
  } else {
    CountFailure(s, checksum_errors_, io_errors_);
  }
  return s;
}

Status TierBackend::Read(uint32_t slot, const BlockHash& hash,
                         std::span<const Segment> dst) {
  size_t payload = 0;
  if (Status s = CheckRequest(*this, slot, dst, &payload); !s.ok()) return s;
  Status s = ReadImpl(slot, hash, dst);
  if (s.ok()) {
    bytes_read_.fetch_add(StoredBlockBytes(payload), std::memory_order_relaxed);
  } else {
    CountFailure(s, checksum_errors_, io_errors_);
  }
  return s;
}

void TierBackend::Count(const Status& s, size_t payload, bool write) {
  if (s.ok()) {
    (write ? bytes_written_ : bytes_read_)
        .fetch_add(StoredBlockBytes(payload), std::memory_order_relaxed);
  } else {
    CountFailure(s, checksum_errors_, io_errors_);
  }
}

// A verbatim stored block must fit a slot; its payload is what follows the header.
Status CheckStored(const TierBackend& tier, uint32_t slot,
                   std::span<const std::byte> stored, size_t* payload) {
  if (slot >= tier.slot_count()) {
    return InvalidArgument(Where(tier) + "slot " + std::to_string(slot) +
                           " out of range");
  }
  if (stored.size() < kStoredHeaderBytes || stored.size() > tier.slot_bytes()) {
    return InvalidArgument(
        Where(tier) + "stored block of " + std::to_string(stored.size()) +
        " bytes does not fit a slot of " + std::to_string(tier.slot_bytes()));
  }
  *payload = stored.size() - kStoredHeaderBytes;
  return Status::Ok();
}

void TierBackend::WriteBatch(std::span<BlockIo> requests) {
  std::vector<size_t> payload(requests.size());
  std::vector<bool> checked(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    BlockIo& r = requests[i];
    if (!r.status.ok()) continue;  // the caller already failed it
    r.status = r.stored.empty() ? CheckRequest(*this, r.slot, r.segments, &payload[i])
                                : CheckStored(*this, r.slot, r.stored, &payload[i]);
    checked[i] = r.status.ok();
  }
  WriteBatchImpl(requests);
  for (size_t i = 0; i < requests.size(); ++i) {
    if (checked[i]) Count(requests[i].status, payload[i], /*write=*/true);
  }
}

void TierBackend::ReadBatch(std::span<BlockIo> requests, const ReadDone& on_done) {
  std::vector<size_t> payload(requests.size());
  std::vector<bool> checked(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    BlockIo& r = requests[i];
    if (!r.status.ok()) continue;
    r.status = CheckRequest(*this, r.slot, r.segments, &payload[i]);
    checked[i] = r.status.ok();
  }
  ReadBatchImpl(requests, on_done);
  for (size_t i = 0; i < requests.size(); ++i) {
    if (checked[i]) Count(requests[i].status, payload[i], /*write=*/false);
  }
}

void TierBackend::WriteBatchImpl(std::span<BlockIo> requests) {
  for (BlockIo& r : requests) {
    if (!r.status.ok()) continue;
    r.status = r.stored.empty()
                   ? WriteImpl(r.slot, r.hash, r.segments)
                   : NotSupported(Where(*this) + "verbatim stored-block writes");
  }
}

void TierBackend::ReadBatchImpl(std::span<BlockIo> requests, const ReadDone& on_done) {
  for (size_t i = 0; i < requests.size(); ++i) {
    BlockIo& r = requests[i];
    if (r.status.ok()) r.status = ReadImpl(r.slot, r.hash, r.segments);
    if (on_done) on_done(i);
  }
}

Status MemoryTierBackend::WriteImpl(uint32_t slot, const BlockHash& hash,
                                    std::span<const Segment> src) {
  if (codec() != Codec::kRaw) {
    return NotSupported(std::string("codec ") + CodecName(codec()) + " is not built yet");
  }
  WriteStoredBlock(hash, codec(), src, SlotMemory(slot));
  return Status::Ok();
}

Status MemoryTierBackend::ReadImpl(uint32_t slot, const BlockHash& hash,
                                   std::span<const Segment> dst) {
  return ReadStoredBlock(hash, codec(), SlotMemory(slot), dst);
}

}  // namespace kvtier::internal
