// Real mode: replays a trace on a real kvtier::Store through the public API
// (Lookup, Load, Save) with synthetic block contents derived from each
// block's hash, and checks every loaded block's first bytes. Reports the
// store's own counters and throughput.
#pragma once

#include <cstdint>
#include <string>

#include "bench/replay/report.h"
#include "bench/replay/trace.h"
#include "kvtier/status.h"

namespace kvtier::replay {

struct RealConfig {
  uint64_t host_blocks = 0;
  uint64_t nvme_bytes = 0;  // 0 = no NVMe tier; passed to Options::nvme
  std::string dir;          // NVMe cache directory
  EvictionPolicy policy = EvictionPolicy::kLru;
};

// The layout real mode stores: 2 layers, 1 KV head of 16 fp16 dims, so a
// block is 128 bytes per token (64 KiB at 512 tokens): enough to exercise
// the data path, small enough that thousands of blocks fit in DRAM.
uint64_t RealBlockBytes(uint32_t block_tokens);

// Fills r.sim, r.real_gbps and r.real_requests_per_s. NotSupported when the
// store refuses a tier this build lacks (Open's message is kept).
Status RunReal(const Trace& trace, const RealConfig& config, Report& r,
               const ProgressFn& progress = nullptr);

}  // namespace kvtier::replay
