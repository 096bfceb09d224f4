// NvmeTier: the NVMe tier. Its bytes are cut by a TierGeometry
// (lib/tier_geometry.h): frames of pages, a whole block per frame, a trimmed
// one (sliding-window layers dropped) per page, pages 4 KiB aligned. Frames
// are striped over one preallocated cache file per directory (frame f lives
// in file f % n at (f / n) * frame_bytes, page p at (p % ppf) * page_bytes
// inside its frame), moved by O_DIRECT I/O of the stored block's size rounded up to
// 4 KiB through SharedRings (io_uring with registered staging buffers;
// pread/pwrite where io_uring cannot be set up), and indexed persistently by
// a RocksDB Manifest. A layout without sliding layers has one page per
// frame: a slot per block, striped as s % n.
//
// Every batch of every thread goes to the least loaded ring, so the device
// queue stays full across calls: a ring's reaper thread starts queued jobs
// as others complete. A ring is added (up to max_queues) when every ring has
// queue_depth jobs; one is made at Create. Reads finish on the reaper
// thread: it checks and decodes the block (ReadStoredBlock) from the staging
// buffer, or from the read's stored_out when that is 4 KiB aligned (the DMA
// lands there: one CPU copy in all), then runs on_done (so on_done must not
// wait for this tier's I/O: it would hold up the reaper). SubmitReadBatch
// returns at once; ReadBatch is submit-and-wait. Writes are submit-and-wait
// too (their manifest update ends the call), staged and encoded as each
// job starts.
//
// Write: delete the manifest entry of the block the slot held, encode the
// block into a staging buffer (WriteStoredBlock), tag it when keyed, write
// it, then put the new entry (DESIGN invariant 6). Read: check the slot's
// manifest record, read, compare the header's digest with the manifest,
// check the keyed tag, ReadStoredBlock (hash and checksums) into the
// engine's segments (invariant 1). A slotless id (a
// block whose layers all slide, trimmed to nothing) moves no bytes: only
// its manifest entry (stored_bytes 0) is written and checked (the front
// sends single Writes/Reads of slotless ids through the batch hooks too).
//
// Forget runs after the Store's lock (PrepareForget under it reads one
// in-memory word). Each slot keeps the seq of the write that put its current
// manifest entry (its generation; 0 = none); a ticket carries it, and Forget
// deletes exactly the entry (slot, generation), keyed so in the manifest.
// A write of the slot since PrepareForget deleted that entry itself (before
// touching the slot) and put one under a new seq, so a late Forget deletes
// nothing that exists, whatever hash the new entry names. A crash between
// eviction and the late delete leaves the old entry: either the slot was not
// rewritten and still holds exactly that block (recovery serves it, as it
// would have before the eviction), or a rewrite already deleted it. The same
// hash may then have a newer entry in another slot: recovery keeps the newer.
//
// Recovery verifies entries at open only by their manifest record (slot in
// range and right for the stored size, namespace, codec, no two on
// overlapping slots and no two of one hash: the newer wins): reading every slot would
// cost one disk read per block (minutes for a large cache). A slot's bytes are verified
// on its first read, like every read; one that fails is a miss and is dropped and counted
// (checksum_errors).
//
// Memory: 32 bytes per id (page or slotless id: manifest record), plus
// queue_depth staging buffers of frame_bytes and one reaper thread per ring.
//
// Thread safety: as TierBackend; Forget from any thread at any time.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backends/common/keyed_checksum.h"
#include "backends/nvme/cache_file.h"
#include "backends/nvme/io_queue.h"
#include "backends/nvme/manifest.h"
#include "backends/nvme/shared_ring.h"
#include "kvtier/options.h"
#include "lib/codec/block_codec.h"
#include "lib/tier_backend.h"
#include "lib/tier_geometry.h"

namespace kvtier::internal {

struct NvmeTierConfig {
  std::vector<std::string> directories;
  uint64_t capacity_bytes = 0;
  // Stored bytes (header included) of a whole block and of a trimmed one
  // (StoredBytesByForm): the geometry is cut for them. trimmed == whole for
  // a layout without sliding layers; 0 when every layer slides.
  size_t whole_bytes = 0;
  size_t trimmed_bytes = 0;
  uint32_t queue_depth = 16;
  uint32_t max_queues = 4;  // rings (each queue_depth deep, one reaper thread)
  bool allow_buffered_io = false;
  bool wipe_on_mismatch = false;
  BlockCodec codec;  // what WriteStoredBlock encodes a block with
  // none: slots hold the stored block alone. Else each slot holds the
  // stored block, then its tag (KeyedChecksum::kTagBytes) under this key,
  // checked before the block is: the geometry leaves room for it, the
  // identity says so ("block_checksum=hmac-sha256").
  std::optional<KeyedChecksum> checksum;
  // "key=value" lines: namespace, layout. Create adds the geometry's.
  std::string identity;
  uint64_t namespace_id = 0;  // stored in every entry
  Logger log;                 // fallbacks, recovery results, ENOSPC
  // Test seam: e.g. a delay before every manifest write.
  ManifestHooks manifest_hooks;
  // The seam: how queues are made (default io_uring), and a wrapper tests
  // use to inject faults into every queue.
  IoQueueFactory make_queue = MakeUringQueue;
  std::function<std::unique_ptr<IoQueue>(std::unique_ptr<IoQueue>)> wrap_queue;
  FileOpener open_file = OpenFile;
};

// Bytes a slot of `config` holds after the stored block: the keyed tag, or 0.
size_t TagBytes(const NvmeTierConfig& config);

// The geometry of a tier of `config` (frames == 0 when no whole block fits).
// Its whole_bytes and trimmed_bytes are the stored blocks' (as the config's);
// pages and frames are cut with room for TagBytes after them.
TierGeometry NvmeGeometry(const NvmeTierConfig& config);

class NvmeTier final : public TierBackend {
 public:
  static Result<std::unique_ptr<NvmeTier>> Create(NvmeTierConfig config);
  ~NvmeTier() override;

  std::vector<RecoveredBlock> TakeRecovered() override;
  ForgetTicket PrepareForget(uint32_t slot) override;
  void Forget(std::span<const ForgetTicket> tickets) override;
  using TierBackend::Forget;

  // What Stats reports.
  const char* io_engine() const { return io_engine_.load(); }  // or "pread/pwrite"
  bool fixed_buffers() const { return fixed_buffers_.load(); }
  bool direct_io() const { return direct_io_; }
  bool wiped() const { return wiped_; }
  uint64_t recovered() const { return recovered_count_; }
  uint64_t recovery_dropped() const { return recovery_dropped_; }
  uint64_t manifest_errors() const {
    return manifest_errors_.load(std::memory_order_relaxed);
  }
  // False for a while after the device reported ENOSPC: the store stops
  // admitting blocks to this tier, then tries again.
  bool Accepting() const override;
  void ReportStats(StoreStats* stats) const override;
  uint64_t full_events() const { return full_events_.load(std::memory_order_relaxed); }

 protected:
  Status WriteImpl(uint32_t slot, const BlockHash& hash,
                   std::span<const Segment> src) override;
  Status ReadImpl(uint32_t slot, const BlockHash& hash,
                  std::span<const Segment> dst) override;
  void WriteBatchImpl(std::span<BlockIo> requests) override;
  void ReadBatchImpl(std::span<BlockIo> requests, const ReadDone& on_done) override;
  void SubmitReadBatchImpl(std::span<BlockIo> requests, ReadDone on_done,
                           BatchDone on_batch_done) override;

 private:
  struct SlotRecord {  // what the manifest says the slot holds
    BlockHash hash;
    uint64_t digest = 0;
    // The seq of the slot's manifest entry, 0 = none. Atomic: a late Forget
    // clears it (if unchanged) while the slot's new owner may write it.
    std::atomic<uint64_t> seq{0};
  };
  class ReadJobs;   // a read batch on the rings (nvme_io.cc)
  class WriteJobs;  // a write batch on the rings (nvme_io.cc)

  NvmeTier(NvmeTierConfig config, const TierGeometry& geometry,
           std::vector<CacheFile> files, std::unique_ptr<Manifest> manifest);
  Status Recover();
  // The form an entry's stored size names if that form may sit at its
  // slot, else nullopt (the entry cannot be right).
  std::optional<BlockForm> RecoveredForm(const ManifestEntry& e) const;
  std::vector<std::optional<BlockForm>> KeptForms(
      std::span<const ManifestEntry> entries) const;
  Result<std::unique_ptr<SharedRing>> MakeRing();
  // The least loaded ring; a new one when all are full (up to max_queues);
  // a broken one is set aside and replaced.
  Result<SharedRing*> PickRing();
  // Hands `jobs` to a ring; without one they fail at once.
  void SubmitJobs(std::span<const RingJob> jobs);
  int FdOf(uint32_t slot) const;
  uint64_t OffsetOf(uint32_t slot) const;
  void NoteFull(const Status& s);
  // Logs what Open found: recovery results, a wipe, no O_DIRECT.
  void LogOpened() const;
  Status ForgetOverwritten(std::span<BlockIo> requests);
  // Bytes request `r` stores (header included; 0 for a slotless id).
  size_t StoredBytesOf(const BlockIo& r) const;
  // OK when the manifest record of `r`'s slot names `r`'s block.
  Status CheckRecord(const BlockIo& r) const;
  // The status of read `r` whose transfer ended with `io`, its bytes in
  // `buf`: checked against the manifest, decoded into r.segments, copied to
  // r.stored_out unless they were read there.
  Status FinishRead(BlockIo& r, std::span<const std::byte> buf, size_t stored,
                    const Status& io) const;
  // Writes the keyed tag of the `stored` bytes of `buf` after them (keyed
  // tiers only). REQUIRES: buf.size() >= stored + TagBytes(config_).
  void TagSlot(std::span<std::byte> buf, size_t stored) const;
  // Corruption unless the tier is keyless or the tag after the `stored`
  // bytes of `buf` (slot `slot`'s) is theirs under the key.
  Status CheckTag(uint32_t slot, std::span<const std::byte> buf, size_t stored) const;
  // Puts the manifest entries of the requests that succeeded.
  void RecordWritten(std::span<BlockIo> requests, std::span<const size_t> stored,
                     std::span<const uint64_t> digests);

  const NvmeTierConfig config_;
  const std::vector<CacheFile> files_;
  const std::unique_ptr<Manifest> manifest_;
  // Per id (pages, then slotless ids); an id is only touched by the one call
  // the Store let use it, except `seq`, which Forget may clear at any time.
  std::vector<SlotRecord> records_;
  std::vector<RecoveredBlock> recovered_;
  std::atomic<uint64_t> seq_{1};

  std::mutex rings_mu_;
  std::vector<std::unique_ptr<SharedRing>> rings_;  // guarded by rings_mu_
  // Broken rings, kept until the tier goes (a submitter may still hold one).
  std::vector<std::unique_ptr<SharedRing>> broken_rings_;  // guarded by rings_mu_

  std::atomic<const char*> io_engine_{"io_uring"};  // set by each new queue
  std::atomic<bool> fixed_buffers_{false};
  std::atomic<bool> fixed_refusal_logged_{false};
  RateLimitedLog full_log_{1, 10'000};  // one ENOSPC message per 10 s
  bool direct_io_ = true;
  bool wiped_ = false;
  uint64_t recovered_count_ = 0;
  uint64_t recovery_dropped_ = 0;
  uint64_t recovery_micros_ = 0;  // manifest scan and checks at Create
  std::atomic<uint64_t> manifest_errors_{0};
  std::atomic<uint64_t> staged_writes_{0};
  std::atomic<uint64_t> full_events_{0};
  std::atomic<int64_t> full_until_ns_{0};
};

}  // namespace kvtier::internal
