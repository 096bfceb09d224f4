// NvmeTier: the NVMe tier. Its bytes are cut by a TierGeometry
// (lib/tier_geometry.h): frames of pages, a whole block per frame, a trimmed
// one (sliding-window layers dropped) per page, pages 4 KiB aligned. Frames
// are striped over one preallocated cache file per directory (frame f lives
// in file f % n at (f / n) * frame_bytes, page p at (p % ppf) * page_bytes
// inside its frame), moved by O_DIRECT I/O of the stored block's size rounded up to
// 4 KiB through a pool of IoQueues (io_uring with registered staging
// buffers; pread/pwrite where io_uring cannot be set up), and indexed
// persistently by a RocksDB Manifest. A layout without sliding layers has
// one page per frame: a slot per block, striped as s % n.
//
// Write: delete the manifest entry of the block the slot held, encode the
// block into a staging buffer (WriteStoredBlock), write it, then put the new
// entry (DESIGN invariant 6). Read: check the slot's manifest record, read,
// compare the header's digest with the manifest, ReadStoredBlock (hash and
// checksums) into the engine's segments (invariant 1). A slotless id (a
// block whose layers all slide, trimmed to nothing) moves no bytes: only
// its manifest entry (stored_bytes 0) is written and checked (the front
// sends single Writes/Reads of slotless ids through the batch hooks too).
//
// Recovery verifies entries at open only by their manifest record (slot in
// range and right for the stored size, namespace, codec, no two on
// overlapping slots: the newer wins): reading every slot would cost one disk
// read per block (minutes for a large cache). A slot's bytes are verified on
// its first read, like every read; one that fails is a miss and is dropped
// and counted (checksum_errors).
//
// Memory: 32 bytes per id (page or slotless id: manifest record), plus
// queue_depth staging buffers of frame_bytes per queue, allocated once per
// queue.
//
// Thread safety: as TierBackend. Up to max_queues batches run in parallel.
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

#include "backends/nvme/cache_file.h"
#include "backends/nvme/io_queue.h"
#include "backends/nvme/manifest.h"
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
  uint32_t max_queues = 4;  // batches in flight at once (engine threads + writer)
  bool allow_buffered_io = false;
  bool wipe_on_mismatch = false;
  BlockCodec codec;  // what WriteStoredBlock encodes a block with
  // "key=value" lines: namespace, layout. Create adds the geometry's.
  std::string identity;
  uint64_t namespace_id = 0;  // stored in every entry
  Logger log;  // fallbacks, recovery results, ENOSPC
  // The seam: how queues are made (default io_uring), and a wrapper tests
  // use to inject faults into every queue.
  IoQueueFactory make_queue = MakeUringQueue;
  std::function<std::unique_ptr<IoQueue>(std::unique_ptr<IoQueue>)> wrap_queue;
  FileOpener open_file = OpenFile;
};

// The geometry of a tier of `config` (frames == 0 when no whole block fits).
TierGeometry NvmeGeometry(const NvmeTierConfig& config);

class NvmeTier final : public TierBackend {
 public:
  static Result<std::unique_ptr<NvmeTier>> Create(NvmeTierConfig config);
  ~NvmeTier() override;

  std::vector<RecoveredBlock> TakeRecovered() override;
  void Forget(uint32_t slot) override;

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

 private:
  struct SlotRecord {  // what the manifest says the slot holds
    BlockHash hash;
    uint64_t digest = 0;
    bool valid = false;
  };
  struct Context;  // one queue and its staging buffers

  NvmeTier(NvmeTierConfig config, const TierGeometry& geometry,
           std::vector<CacheFile> files, std::unique_ptr<Manifest> manifest);
  Status Recover();
  // The form an entry's stored size names if that form may sit at its
  // slot, else nullopt (the entry cannot be right).
  std::optional<BlockForm> RecoveredForm(const ManifestEntry& e) const;
  std::vector<std::optional<BlockForm>> KeptForms(
      std::span<const ManifestEntry> entries) const;
  Result<std::unique_ptr<Context>> MakeContext();
  Result<std::unique_ptr<Context>> Acquire();
  void Release(std::unique_ptr<Context> ctx, bool broken);
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
  // Writes requests[device[j]] (stored[i] bytes each) and fills digests[i].
  void WriteDevice(std::span<BlockIo> requests, std::span<const size_t> device,
                   std::span<const size_t> stored, std::span<uint64_t> digests);
  // Puts the manifest entries of the requests that succeeded.
  void RecordWritten(std::span<BlockIo> requests, std::span<const size_t> stored,
                     std::span<const uint64_t> digests);

  const NvmeTierConfig config_;
  const std::vector<CacheFile> files_;
  const std::unique_ptr<Manifest> manifest_;
  // Per id (pages, then slotless ids); an id is only touched by the one call
  // the Store let use it.
  std::vector<SlotRecord> records_;
  std::vector<RecoveredBlock> recovered_;
  std::atomic<uint64_t> seq_{1};

  // std::mutex: see lib/write_behind.h on why not internal::Mutex::Await.
  std::mutex pool_mu_;
  std::condition_variable pool_changed_;
  std::vector<std::unique_ptr<Context>> idle_;  // guarded by pool_mu_
  uint32_t live_contexts_ = 0;                  // guarded by pool_mu_

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
  std::atomic<uint64_t> full_events_{0};
  std::atomic<int64_t> full_until_ns_{0};
};

}  // namespace kvtier::internal
