// NvmeTier: the NVMe tier. Slots of one stored block each (lib/stored_block.h,
// rounded up to 4 KiB), striped over one preallocated cache file per
// directory (slot s lives in file s % n at (s / n) * slot_bytes), moved by
// O_DIRECT I/O through a pool of IoQueues (io_uring with registered staging
// buffers; pread/pwrite where io_uring cannot be set up), and indexed
// persistently by a RocksDB Manifest.
//
// Write: delete the manifest entry of the block the slot held, encode the
// block into a staging buffer (WriteStoredBlock), write it, then put the new
// entry (DESIGN invariant 6). Read: check the slot's manifest record, read,
// compare the header's digest with the manifest, ReadStoredBlock (hash and
// checksums) into the engine's segments (invariant 1).
//
// Recovery verifies entries at open only by their manifest record (slot in
// range, namespace, codec, size, no two on one slot): reading every slot
// would cost one disk read per block (minutes for a large cache). A slot's
// bytes are verified on its first read, like every read; one that fails is a
// miss and is dropped and counted (checksum_errors).
//
// Memory: 32 bytes per slot (manifest record), plus queue_depth staging
// buffers of slot_bytes per queue, allocated once per queue.
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
#include <string>
#include <vector>

#include "backends/nvme/cache_file.h"
#include "backends/nvme/io_queue.h"
#include "backends/nvme/manifest.h"
#include "kvtier/options.h"
#include "lib/codec/block_codec.h"
#include "lib/tier_backend.h"

namespace kvtier::internal {

struct NvmeTierConfig {
  std::vector<std::string> directories;
  uint64_t capacity_bytes = 0;
  size_t payload_bytes = 0;  // one block after the codec, before the header
  uint32_t queue_depth = 16;
  uint32_t max_queues = 4;  // batches in flight at once (engine threads + writer)
  bool allow_buffered_io = false;
  bool wipe_on_mismatch = false;
  BlockCodec codec;           // what WriteStoredBlock encodes a block with
  std::string identity;       // "key=value" lines: namespace, layout, geometry
  uint64_t namespace_id = 0;  // stored in every entry
  void (*log)(const char*) = nullptr;
  // The seam: how queues are made (default io_uring), and a wrapper tests
  // use to inject faults into every queue.
  IoQueueFactory make_queue = MakeUringQueue;
  std::function<std::unique_ptr<IoQueue>(std::unique_ptr<IoQueue>)> wrap_queue;
  FileOpener open_file = OpenFile;
};

// Slot size for a payload: StoredBlockBytes rounded up to 4 KiB.
size_t NvmeSlotBytes(size_t payload_bytes);

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

  NvmeTier(NvmeTierConfig config, uint32_t slot_count, size_t slot_bytes,
           std::vector<CacheFile> files, std::unique_ptr<Manifest> manifest);
  Status Recover();
  Result<std::unique_ptr<Context>> MakeContext();
  Result<std::unique_ptr<Context>> Acquire();
  void Release(std::unique_ptr<Context> ctx, bool broken);
  int FdOf(uint32_t slot) const;
  uint64_t OffsetOf(uint32_t slot) const;
  void NoteFull(const Status& s);
  Status ForgetOverwritten(std::span<BlockIo> requests);

  const NvmeTierConfig config_;
  const std::vector<CacheFile> files_;
  const std::unique_ptr<Manifest> manifest_;
  // Per slot; a slot is only touched by the one call the Store let use it.
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
