// What kvtier-bench drives: a real Store (one tier or all) or the naive
// RocksDB block store, behind one small interface so the workload code and
// its accounting are the same for both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kvtier/kvtier.h"

namespace kvtier::bench {

enum class TierChoice { kHost, kNvme, kAll, kRocksDb, kNvmeTier, kRemote };
enum class Op { kSave, kLoad, kMixed, kLookup, kRecover };

// --redis-tls-*: the remote tier over TLS (RemoteTierOptions::tls_*).
struct RedisTlsFlags {
  std::string ca_file, cert_file, key_file, server_name;
  bool Any() const {
    return !ca_file.empty() || !cert_file.empty() || !key_file.empty() ||
           !server_name.empty();
  }
};

struct BenchConfig {
  TierChoice tier = TierChoice::kNvme;
  Op op = Op::kLoad;
  std::string dir;  // NVMe (or RocksDB) directory
  size_t block_bytes = 256 << 10;
  uint64_t capacity_bytes = 0;  // of the tier asked for (host: host; else NVMe)
  uint64_t blocks = 0;          // --blocks: the tier must hold this many (0: bytes rule)
  uint32_t qd = 16;             // NVMe queue depth (fio's iodepth)
  uint32_t threads = 1;         // engine threads calling the Store at once
  uint32_t batch = 16;          // blocks per Save/Load call (one chain)
  uint32_t read_pct = 50;       // mixed: share of calls that are Loads
  // Loads each engine thread keeps in flight (Store: BeginLoad; nvme-tier:
  // batches submitted to the tier).
  uint32_t inflight = 1;
  uint32_t save_threads = 0;  // lookup: threads saving new chains meanwhile
  double seconds = 10;
  Codec codec = Codec::kRaw;
  bool progress = true;
  // --tier remote: the Redis server or cluster nodes ("host:port").
  std::vector<std::string> redis;
  RemoteKind redis_kind = RemoteKind::kRedis;
  // The keyed checksum of the remote or NVMe tier (empty: none), or (NVMe)
  // the file holding it, created if missing.
  std::string checksum_key;
  std::string checksum_key_file;
  RedisTlsFlags redis_tls;  // the remote tier over TLS (off unless ca_file)
  // --config: a JSON file of Store options (kvtier/config.h) applied over
  // the options the flags chose; empty = none.
  std::string config_file;
};

// Engine buffers for one chain of `blocks` blocks, page-aligned like an
// engine's tensors, block-major and contiguous (block i at i * block bytes).
class Buffers {
 public:
  Buffers(const KvLayout& layout, size_t blocks);
  const std::vector<Segment>& segments() const { return segments_; }
  std::byte* block(size_t i) { return memory_.get() + i * block_bytes_; }

 private:
  struct Free {
    void operator()(std::byte* p) const;
  };
  size_t block_bytes_;
  std::unique_ptr<std::byte, Free> memory_;
  std::vector<Segment> segments_;
};

// Counters a run reads before and after the timed part (deltas are reported).
struct TargetCounters {
  uint64_t saved_blocks = 0;   // blocks that reached the tier asked for
  uint64_t loaded_blocks = 0;  // blocks delivered by Loads
  uint64_t hits[kNumTiers] = {};
  uint64_t dropped = 0;  // NVMe copy-down drops (queue or tier full); remote write drops
  uint64_t errors = 0;   // I/O and checksum errors, all tiers
  uint64_t recovered_blocks = 0;  // NVMe index entries rebuilt at Open
  uint64_t recovery_micros = 0;   // time Open spent rebuilding them
};

// A load started by Target::BeginLoad.
class PendingLoad {
 public:
  virtual ~PendingLoad() = default;
  // Waits for it; returns the blocks delivered.
  virtual size_t Wait() = 0;
};

// Thread-safe: threads call Save and Load at once, each with its own Buffers.
class Target {
 public:
  virtual ~Target() = default;
  virtual const KvLayout& layout() const = 0;
  // Blocks the tier asked for holds when full (fill targets 90% of it).
  virtual uint64_t capacity_blocks() const = 0;
  // Saves chain `id` (`batch` blocks) from `buf`; false on an error.
  virtual bool Save(uint64_t id, Buffers& buf) = 0;
  // Loads chain `id` into `buf`; returns the blocks delivered.
  virtual size_t Load(uint64_t id, Buffers& buf) = 0;
  // Starts loading chain `id` into `buf` (borrowed until Wait returns);
  // nullptr when the target has no asynchronous loads.
  virtual std::unique_ptr<PendingLoad> BeginLoad(uint64_t id, Buffers& buf) = 0;
  // How many leading blocks of chain `id` are cached (0: the target cannot say).
  virtual size_t Lookup(uint64_t id) = 0;
  // Waits until every saved block is on the tier asked for.
  virtual void Flush() = 0;
  virtual TargetCounters Counters() const = 0;
  virtual std::string Describe() const = 0;  // one line: engine facts (io_uring, ...)
};

// The layout kvtier-bench uses: 32 layers x K,V of fp16, 16 tokens, one KV
// head, head_dim chosen so a block is `block_bytes` (a multiple of 2 KiB).
KvLayout BenchLayout(size_t block_bytes);

// The Store, sized so the tier asked for serves the Loads: for nvme the host
// tier holds only a few chains per thread.
Result<std::unique_ptr<Target>> OpenStoreTarget(const BenchConfig& c);

// The NVMe tier alone, Loads pipelined `inflight` deep (tier_target.cc).
Result<std::unique_ptr<Target>> OpenNvmeTierTarget(const BenchConfig& c);

// The naive RocksDB block store (rocksdb_baseline.cc): one value per block.
Result<std::unique_ptr<Target>> OpenRocksDbTarget(const BenchConfig& c);

}  // namespace kvtier::bench
