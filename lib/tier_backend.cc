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
Status CheckRequest(const TierBackend& tier, uint32_t slot,
                    std::span<const Segment> segments, size_t* logical,
                    size_t* stored_bytes) {
  const BlockCodec& codec = tier.block_codec();
  if (slot >= tier.slot_count()) {
    return InvalidArgument(Where(tier) + "slot " + std::to_string(slot) +
                           " out of range (slot_count " +
                           std::to_string(tier.slot_count()) + ")");
  }
  size_t total = 0, stored = 0;
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
    if (!codec.raw() && seg.bytes % codec.GroupBytes() != 0) {
      return InvalidArgument(Where(tier) + "segment " + std::to_string(i) + ": " +
                             std::to_string(seg.bytes) + " bytes is not whole " +
                             CodecName(codec.codec()) + " groups of " +
                             std::to_string(codec.GroupBytes()) + " bytes");
    }
    total += seg.bytes;
    stored += codec.StoredBytes(seg.bytes);
  }
  if (StoredBlockBytes(stored) > tier.slot_bytes()) {
    return InvalidArgument(
        Where(tier) + "segments of " + std::to_string(total) +
        " bytes make a stored block of " + std::to_string(StoredBlockBytes(stored)) +
        " bytes, larger than a slot (" + std::to_string(tier.slot_bytes()) + " bytes)");
  }
  *logical = total;
  *stored_bytes = StoredBlockBytes(stored);
  return Status::Ok();
}

}  // namespace

Status TierBackend::Write(uint32_t slot, const BlockHash& hash,
                          std::span<const Segment> src) {
  size_t logical = 0, stored = 0;
  if (Status s = CheckRequest(*this, slot, src, &logical, &stored); !s.ok()) return s;
  Status s = WriteImpl(slot, hash, src);
  if (s.ok()) {
    bytes_written_.fetch_add(stored, std::memory_order_relaxed);
    logical_bytes_written_.fetch_add(logical, std::memory_order_relaxed);
  } else {
    CountFailure(s, checksum_errors_, io_errors_);
  }
  return s;
}

Status TierBackend::Read(uint32_t slot, const BlockHash& hash,
                         std::span<const Segment> dst) {
  size_t logical = 0, stored = 0;
  if (Status s = CheckRequest(*this, slot, dst, &logical, &stored); !s.ok()) return s;
  Status s = ReadImpl(slot, hash, dst);
  if (s.ok()) {
    bytes_read_.fetch_add(stored, std::memory_order_relaxed);
    logical_bytes_read_.fetch_add(logical, std::memory_order_relaxed);
  } else {
    CountFailure(s, checksum_errors_, io_errors_);
  }
  return s;
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
