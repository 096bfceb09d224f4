// TierBackend: one place that holds stored blocks in fixed-size slots. Tiers
// do not know about each other or about the index; the Store decides which
// slot holds what and moves blocks between tiers.
//
// A thin non-virtual front checks arguments and counts; each backend
// implements the small *Impl hooks (CacheLib Navy's Device pattern).
//
// Thread safety: Write and Read of *different* slots may run concurrently;
// the caller (the Store, through BlockIndex pending/pinned states) guarantees
// that a slot is never written while it is read or written elsewhere.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

#include "kvtier/hash.h"
#include "kvtier/options.h"
#include "kvtier/status.h"
#include "kvtier/store.h"
#include "lib/codec/block_codec.h"

namespace kvtier::internal {

class TierBackend {
 public:
  // `codec` is how this tier stores blocks (BlockCodec::For(options.<tier>.codec,
  // layout)); slots must hold StoredBlockBytes(StoredPayloadBytes(layout, codec)).
  TierBackend(Tier tier, uint32_t slot_count, size_t slot_bytes, BlockCodec codec)
      : tier_(tier), slot_count_(slot_count), slot_bytes_(slot_bytes), codec_(codec) {}
  virtual ~TierBackend() = default;
  TierBackend(const TierBackend&) = delete;
  TierBackend& operator=(const TierBackend&) = delete;

  Tier tier() const { return tier_; }
  uint32_t slot_count() const { return slot_count_; }
  size_t slot_bytes() const { return slot_bytes_; }
  Codec codec() const { return codec_.codec(); }
  const BlockCodec& block_codec() const { return codec_; }

  // Encodes the block `hash` from `src` (one block's segments) with this
  // tier's codec into `slot`. InvalidArgument when a segment is not whole
  // codec groups or the stored block outgrows a slot; IoError/
  // ResourceExhausted when the device fails; the slot is then garbage and
  // must not be read.
  Status Write(uint32_t slot, const BlockHash& hash, std::span<const Segment> src);
  // Verifies `slot` holds `hash` under this tier's codec (header +
  // checksum) and decodes it into `dst`. Corruption or IoError on any
  // failure; `dst` is then unspecified.
  Status Read(uint32_t slot, const BlockHash& hash, std::span<const Segment> dst);

  uint64_t checksum_errors() const { return checksum_errors_.load(std::memory_order_relaxed); }
  uint64_t io_errors() const { return io_errors_.load(std::memory_order_relaxed); }
  uint64_t bytes_written() const { return bytes_written_.load(std::memory_order_relaxed); }
  uint64_t bytes_read() const { return bytes_read_.load(std::memory_order_relaxed); }
  // Engine bytes of the blocks written / read: before the codec on write,
  // after it on read (bytes_written/read count the stored bytes).
  uint64_t logical_bytes_written() const {
    return logical_bytes_written_.load(std::memory_order_relaxed);
  }
  uint64_t logical_bytes_read() const {
    return logical_bytes_read_.load(std::memory_order_relaxed);
  }

 protected:
  virtual Status WriteImpl(uint32_t slot, const BlockHash& hash,
                           std::span<const Segment> src) = 0;
  virtual Status ReadImpl(uint32_t slot, const BlockHash& hash,
                          std::span<const Segment> dst) = 0;

 private:
  const Tier tier_;
  const uint32_t slot_count_;
  const size_t slot_bytes_;
  const BlockCodec codec_;
  std::atomic<uint64_t> checksum_errors_{0};
  std::atomic<uint64_t> io_errors_{0};
  std::atomic<uint64_t> bytes_written_{0};
  std::atomic<uint64_t> bytes_read_{0};
  std::atomic<uint64_t> logical_bytes_written_{0};
  std::atomic<uint64_t> logical_bytes_read_{0};
};

// A tier whose slots are directly addressable memory (host arena, the test
// fake, later a GPU stand-in). Write/Read are WriteStoredBlock/ReadStoredBlock
// over SlotMemory().
class MemoryTierBackend : public TierBackend {
 public:
  using TierBackend::TierBackend;

 protected:
  virtual std::span<std::byte> SlotMemory(uint32_t slot) = 0;
  Status WriteImpl(uint32_t slot, const BlockHash& hash,
                   std::span<const Segment> src) override;
  Status ReadImpl(uint32_t slot, const BlockHash& hash,
                  std::span<const Segment> dst) override;
};

}  // namespace kvtier::internal
