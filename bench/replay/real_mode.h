// Real mode: replays a trace on a real kvtier::Store through the public API
// (Lookup, Load, Save) with synthetic block contents derived from each
// block's hash, and checks every loaded block's first bytes. Reports the
// store's own counters and throughput.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/replay/report.h"
#include "bench/replay/trace.h"
#include "kvtier/layout.h"
#include "kvtier/options.h"
#include "kvtier/status.h"

namespace kvtier::replay {

// When a real replay waits for the Store's background write-downs
// (kvtier-replay --write-down).
enum class WriteDownWait : uint8_t {
  // "settle": Flush after every request. The simulator models a writer that
  // keeps up, so the two agree exactly, hit for hit and tier by tier.
  kEachRequest = 0,
  // "overlap": as an engine runs, write-downs overlap later requests; a
  // replay that saves faster than the disk writes drops write-downs
  // (counted), so its NVMe hits differ from the simulator's.
  kAtEnd = 1,
};
const char* WriteDownWaitName(WriteDownWait wait);
std::optional<WriteDownWait> ParseWriteDownWait(std::string_view name);

struct RealConfig {
  uint64_t host_blocks = 0;
  uint64_t nvme_bytes = 0;  // 0 = no NVMe tier; passed to Options::nvme
  std::string dir;          // NVMe cache directory
  EvictionPolicy policy = EvictionPolicy::kLru;
  // The layout to store (block_tokens is set from the trace); nullopt =
  // RealLayout's. A layout with layer_windows trims (Options::
  // swa_checkpoint_blocks = checkpoint_blocks).
  std::optional<KvLayout> layout = std::nullopt;
  uint32_t checkpoint_blocks = 0;
  bool record_hits = false;  // fill r.sim.hit_lengths
  WriteDownWait wait = WriteDownWait::kEachRequest;
  // A remote tier below (Options::remote): Redis server or cluster nodes.
  std::vector<std::string> redis = {};
  RemoteKind redis_kind = RemoteKind::kRedis;
  // The NVMe tier's keyed checksum: the secret's file, created if missing
  // (Options::nvme.checksum_key_file); empty = none.
  std::string checksum_key_file = {};
};

// The layout real mode stores: 2 layers, 1 KV head of 16 fp16 dims, so a
// block is 128 bytes per token (64 KiB at 512 tokens): enough to exercise
// the data path, small enough that thousands of blocks fit in DRAM.
uint64_t RealBlockBytes(uint32_t block_tokens);

// A 6-layer layout (1 KV head of 16 fp16 dims each) whose first
// 6 * sliding_share layers have a window of `window_tokens` and the rest
// full attention (Gemma-style 5:1 at 0.8333, all-sliding at 1). nullopt
// when sliding_share is not a multiple of 1/6 (within 0.001).
std::optional<KvLayout> RealTrimLayout(uint32_t window_tokens, double sliding_share);

// The simulator's trimming for `layout` as a real Store of `config` keeps
// it: window, checkpoints, stored sizes of both forms, host alignment.
SimTrim RealSimTrim(const KvLayout& layout, uint32_t checkpoint_blocks);

// Fills r.sim, r.real_gbps and r.real_requests_per_s. NotSupported when the
// store refuses a tier this build lacks (Open's message is kept).
Status RunReal(const Trace& trace, const RealConfig& config, Report& r,
               const ProgressFn& progress = nullptr);

}  // namespace kvtier::replay
