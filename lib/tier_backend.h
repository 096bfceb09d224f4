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
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
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
  // Reads only (ignored by writes): also deliver the verified stored block
  // verbatim here (header + payload): the promotion target, a host slot of
  // the same codec (MemoryTierBackend::WritableStoredBytes). At least the
  // stored block's size. NVMe DMAs straight into it when it is 4 KiB aligned
  // and holds the 4 KiB-rounded transfer, and decodes `segments` from there:
  // one CPU copy in all; else it reads into staging and copies. Its content
  // is the block only when `status` is OK: after a failure it is garbage.
  std::span<std::byte> stored_out = {};
  // Writes only, with `stored`: the source slot's whole memory, which
  // `stored` begins (the bytes past the block are the slot's own, pinned with
  // it). NVMe DMAs the 4 KiB-rounded transfer straight from it when it is
  // 4 KiB aligned and long enough, instead of copying into staging.
  std::span<const std::byte> stored_slot = {};
};

// A block a persistent tier found at open (the NVMe manifest), oldest first.
struct RecoveredBlock {
  BlockHash hash;
  BlockHash parent;
  bool has_parent = false;
  uint32_t slot = 0;
  BlockForm form = BlockForm::kWhole;  // from the stored block's size
};

class ReadObserver;  // lib/cost/load_cost_model.h

using ReadDone = std::function<void(size_t request)>;
using BatchDone = std::function<void()>;

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

  // Starts `requests` and returns without waiting for the device (a tier without a device
  // queue may finish them before returning). on_done(i), if set, runs once per request as
  // soon as it has its status (on a tier thread or the caller's); on_batch_done() runs
  // once, after every on_done. `requests` and what they point at stay valid until
  // on_batch_done. Statuses, checks and counting as ReadBatch/WriteBatch (counted before
  // on_batch_done). NVMe: the requests of every caller share the device queue
  // (backends/nvme/shared_ring.h).
  void SubmitReadBatch(std::span<BlockIo> requests, ReadDone on_done,
                       BatchDone on_batch_done);
  void SubmitWriteBatch(std::span<BlockIo> requests, ReadDone on_done,
                        BatchDone on_batch_done);

  // False while the tier refuses new blocks (a full device); the Store then
  // skips admitting to it. Cheap.
  virtual bool Accepting() const { return true; }
  // The Store no longer keeps a block in a slot (evicted or dropped): a
  // persistent tier forgets it, so a restart does not bring it back. In two
  // steps, so that no I/O runs under the Store's lock.
  //
  // Names the block a slot held when the Store let it go. Made under the
  // Store's lock (PrepareForget: in memory, O(1), no I/O), used after it.
  struct ForgetTicket {
    uint32_t slot = 0;
    uint64_t generation = 0;
  };
  virtual ForgetTicket PrepareForget(uint32_t slot) { return ForgetTicket{slot, 0}; }
  // After the lock, from any thread, possibly late: after the slot was given to another
  // block and even written again. A persistent tier removes the record the ticket names,
  // unless the slot was written since PrepareForget (that write already replaced it):
  // a late Forget never erases a newer entry, whatever block the newer entry names
  // (the same hash written back into the same slot included).
  virtual void Forget(std::span<const ForgetTicket> tickets) {}
  // Both steps at once (NVMe: one RocksDB delete on the caller's thread).
  // Kept for the Store until it forgets after its lock.
  void Forget(uint32_t slot) {
    const ForgetTicket ticket = PrepareForget(slot);
    Forget(std::span<const ForgetTicket>(&ticket, 1));
  }
  // The stored block in `slot` as bytes, for copying it verbatim to another
  // tier; empty when the tier's slots are not addressable memory.
  // REQUIRES: the slot is pinned or owned by the caller.
  virtual std::span<const std::byte> StoredBytes(uint32_t slot) { return {}; }
  // The slot's memory, for a read from another tier to land in verbatim
  // (BlockIo::stored_out); empty when the tier's slots are not addressable
  // memory. See MemoryTierBackend.
  virtual std::span<std::byte> WritableStoredBytes(uint32_t slot) { return {}; }
  // A tier whose slots are device memory (GPU): checks that `slot` holds
  // `hash` for `dst`'s segments by its header alone (copied to the host)
  // and returns the stored block's device memory (header + payload), for
  // the payload to be copied device to device without a host round trip.
  // The payload is not verified. Checked and counted as Read (a header
  // mismatch is a counted Corruption). NotSupported for other tiers.
  Result<std::span<const std::byte>> OpenInDevice(uint32_t slot, const BlockHash& hash,
                                                  std::span<const Segment> dst);
  virtual bool SlotsInDevice() const { return false; }
  // Adds this tier's own figures to `stats`: its read and write latency
  // histograms; an override (NVMe: engine, recovery) calls this one too.
  virtual void ReportStats(StoreStats* stats) const;

  // Where checksum and I/O failures are reported (rate-limited); stderr
  // at KVTIER_LOG's level until set. Call before the tier is shared.
  void set_logger(const Logger& logger) { logger_ = logger; }
  // Where each completed read (a Read, or a batch) reports the stored bytes
  // it read and verified and the time it took (the Store's load-cost model,
  // options.load_cost); null = nobody. Borrowed; call before the tier is
  // shared.
  void set_read_observer(ReadObserver* observer) { read_observer_ = observer; }

  // A shared tier (Authority::kShared) is not in the index, so Lookup and
  // Load ask it: which of `hashes` it holds now, in one batch. A failure is
  // "not held". Default: none.
  virtual std::vector<bool> Present(std::span<const BlockHash> hashes) {
    return std::vector<bool>(hashes.size());
  }

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
  // OpenInDevice's hook, for a non-slotless slot.
  virtual Result<std::span<const std::byte>> OpenInDeviceImpl(
      uint32_t slot, const BlockHash& hash, std::span<const Segment> dst) {
    return NotSupported("slots are not device memory");
  }
  // Batch hooks: handle every request whose status is OK on entry (the
  // front already failed the malformed ones). Defaults loop over *Impl.
  virtual void WriteBatchImpl(std::span<BlockIo> requests);
  virtual void ReadBatchImpl(std::span<BlockIo> requests, const ReadDone& on_done);
  // Asynchronous hooks, as the batch hooks. Defaults run the synchronous
  // hook, then the callbacks, on the caller's thread.
  virtual void SubmitReadBatchImpl(std::span<BlockIo> requests, ReadDone on_done,
                                   BatchDone on_batch_done);
  virtual void SubmitWriteBatchImpl(std::span<BlockIo> requests, ReadDone on_done,
                                    BatchDone on_batch_done);

 private:
  struct BatchCounts;  // what the front counts when a batch finishes
  std::shared_ptr<BatchCounts> CheckReads(std::span<BlockIo> requests);
  std::shared_ptr<BatchCounts> CheckWrites(std::span<BlockIo> requests);
  void CountBatch(std::span<const BlockIo> requests, const BatchCounts& counts,
                  bool write);
  void DeliverStored(BlockIo& r);
  using Clock = std::chrono::steady_clock;
  void ObserveReads(std::span<const BlockIo> requests, const BatchCounts& counts,
                    Clock::time_point start) const;

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
  ReadObserver* read_observer_ = nullptr;
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
  // The slot's memory, to be filled with a stored block verbatim (a read's
  // BlockIo::stored_out: a promotion from a slower tier of the same codec).
  // Empty for a slotless id. REQUIRES: the slot is pending (reserved for a
  // write) or otherwise owned by the caller, so nobody reads it meanwhile;
  // it holds a block only once the read that filled it succeeded.
  std::span<std::byte> WritableStoredBytes(uint32_t slot) override {
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
