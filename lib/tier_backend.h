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
#include <functional>
#include <span>
#include <vector>

#include "kvtier/hash.h"
#include "kvtier/options.h"
#include "kvtier/stats.h"
#include "kvtier/status.h"
#include "kvtier/store.h"
#include "lib/codec/block_codec.h"
#include "lib/index/block_form.h"
#include "lib/log.h"
#include "lib/metrics/latency_recorder.h"
#include "lib/tier_geometry.h"

namespace kvtier::internal {

// One block of a batched transfer (RocksDB-style: submit many, a status
// each). `parent` is the previous block of its chain, for tiers that persist
// the chain (NVMe manifest); nullptr for a chain's first block or unknown.
struct BlockIo {
  uint32_t slot = 0;
  BlockHash hash;
  const BlockHash* parent = nullptr;
  std::span<const Segment> segments;  // src for writes, dst for reads
  Status status;                      // in: not OK = skip it; out: its result
  // Writes only: a stored block as another tier of the same codec holds it
  // (header + payload, made by WriteStoredBlock), written verbatim instead
  // of encoding `segments`; it is verified when read back, like any slot.
  std::span<const std::byte> stored = {};
};

// A block a persistent tier found at open (the NVMe manifest), oldest first.
struct RecoveredBlock {
  BlockHash hash;
  BlockHash parent;
  bool has_parent = false;
  uint32_t slot = 0;
  BlockForm form = BlockForm::kWhole;  // from the stored block's size
};

using ReadDone = std::function<void(size_t request)>;

class TierBackend {
 public:
  // `codec` is how this tier stores blocks (BlockCodec::For(options.<tier>.codec,
  // layout)); `geometry` how its bytes are cut into slots (lib/tier_geometry.h):
  // a whole block fits a frame, a trimmed one a page. Slot ids are page
  // numbers; ids past the pages are slotless (no bytes: Write and Read of
  // no segments succeed without touching anything).
  TierBackend(Tier tier, const TierGeometry& geometry, BlockCodec codec)
      : tier_(tier), geometry_(geometry), codec_(codec) {}
  // One slot per block, no size classes.
  TierBackend(Tier tier, uint32_t slot_count, size_t slot_bytes, BlockCodec codec)
      : TierBackend(tier, TierGeometry::Uniform(slot_count, slot_bytes), codec) {}
  virtual ~TierBackend() = default;
  TierBackend(const TierBackend&) = delete;
  TierBackend& operator=(const TierBackend&) = delete;

  Tier tier() const { return tier_; }
  const TierGeometry& geometry() const { return geometry_; }
  uint32_t slot_count() const { return geometry_.pages(); }  // pages
  size_t slot_bytes() const { return geometry_.page_bytes; }
  Codec codec() const { return codec_.codec(); }
  const BlockCodec& block_codec() const { return codec_; }

  // Encodes the block `hash` from `src` (the segments one copy keeps, in
  // order) with this tier's codec into `slot`. InvalidArgument when a segment is not
  // whole codec groups or the stored block outgrows a slot; IoError/ ResourceExhausted
  // when the device fails; the slot is then garbage and must not be read.
  Status Write(uint32_t slot, const BlockHash& hash, std::span<const Segment> src);
  // Verifies `slot` holds `hash` under this tier's codec (header +
  // checksum) and decodes it into `dst` (segments with null data are
  // verified, not written). Corruption or IoError on any failure; `dst` is
  // then unspecified.
  Status Read(uint32_t slot, const BlockHash& hash, std::span<const Segment> dst);
  // Batched Write/Read: every request gets its own status, as from
  // Write/Read; requests whose status is not OK on entry are left alone. A tier with a
  // device queue (NVMe) submits them together; others loop. Requests must name distinct
  // slots.
  void WriteBatch(std::span<BlockIo> requests);
  // `on_done(i)`, if given, runs as soon as request i has its status, while
  // later requests may still be on the device: work on a finished block
  // (promoting it) overlaps the I/O of the others.
  void ReadBatch(std::span<BlockIo> requests, const ReadDone& on_done = {});

  // False while the tier refuses new blocks (a full device); the Store then
  // skips admitting to it. Cheap.
  virtual bool Accepting() const { return true; }
  // The Store no longer keeps a block in `slot` (evicted or dropped): a
  // persistent tier forgets it, so a restart does not bring it back and a
  // later write elsewhere of the same block is not undone. Called under the
  // Store's lock; cheap (NVMe: one RocksDB delete).
  virtual void Forget(uint32_t slot) {}
  // The stored block in `slot` as bytes, for copying it verbatim to another
  // tier; empty when the tier's slots are not addressable memory.
  // REQUIRES: the slot is pinned or owned by the caller.
  virtual std::span<const std::byte> StoredBytes(uint32_t slot) { return {}; }
  // Adds this tier's own figures to `stats`: its read and write latency
  // histograms; an override (NVMe: engine, recovery) calls this one too.
  virtual void ReportStats(StoreStats* stats) const;

  // Where checksum and I/O failures are reported (rate-limited); stderr
  // at KVTIER_LOG's level until set. Call before the tier is shared.
  void set_logger(const Logger& logger) { logger_ = logger; }

  // Blocks found at open, for the Store to index; empty after the first call.
  virtual std::vector<RecoveredBlock> TakeRecovered() { return {}; }

  uint64_t checksum_errors() const {
    return checksum_errors_.load(std::memory_order_relaxed);
  }
  uint64_t io_errors() const { return io_errors_.load(std::memory_order_relaxed); }
  uint64_t bytes_written() const {
    return bytes_written_.load(std::memory_order_relaxed);
  }
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
  // Batch hooks: handle every request whose status is OK on entry (the
  // front already failed the malformed ones). Defaults loop over *Impl.
  virtual void WriteBatchImpl(std::span<BlockIo> requests);
  virtual void ReadBatchImpl(std::span<BlockIo> requests, const ReadDone& on_done);

 private:
  // Counts one finished request of `logical` engine bytes and `stored`
  // stored-block bytes (header included).
  void Count(const Status& s, size_t logical, size_t stored, bool write);

  const Tier tier_;
  const TierGeometry geometry_;
  const BlockCodec codec_;
  std::atomic<uint64_t> checksum_errors_{0};
  std::atomic<uint64_t> io_errors_{0};
  std::atomic<uint64_t> bytes_written_{0};
  std::atomic<uint64_t> bytes_read_{0};
  std::atomic<uint64_t> logical_bytes_written_{0};
  std::atomic<uint64_t> logical_bytes_read_{0};
  // One sample per Read/Write call or batch, checks included.
  LatencyRecorder read_latency_;
  LatencyRecorder write_latency_;
  Logger logger_;
  RateLimitedLog failure_log_;  // a failing device would log once per block
};

// A tier whose slots are directly addressable memory (host arena, the test
// fake, later a GPU stand-in). Write/Read are WriteStoredBlock/ReadStoredBlock
// over SlotMemory().
class MemoryTierBackend : public TierBackend {
 public:
  using TierBackend::TierBackend;
  std::span<const std::byte> StoredBytes(uint32_t slot) override {
    return SlotMemory(slot);
  }

 protected:
  virtual std::span<std::byte> SlotMemory(uint32_t slot) = 0;
  Status WriteImpl(uint32_t slot, const BlockHash& hash,
                   std::span<const Segment> src) override;
  Status ReadImpl(uint32_t slot, const BlockHash& hash,
                  std::span<const Segment> dst) override;
};

}  // namespace kvtier::internal
