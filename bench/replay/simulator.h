// Simulate: replays a trace on the store's own BlockIndex with metadata-only
// tiers (no bytes), calling it in the order StoreImpl does, so the hit rate
// is the one a Store of that shape would give.
//
// Per request (StoreImpl's Lookup -> Load -> Save):
//   1. LongestPrefix(chain)         k blocks hit; block i hits only if
//                                    0..i are ready (prefix semantics)
//   2. TouchChain(chain[0..k), hit)  as FinishLoad does after a Load
//   3. two tiers: each hit block only on NVMe is promoted to host (MakeRoom
//      + AddPending + MarkReady); the first one that cannot be admitted
//      ends the promotion
//   4. Save(chain, first_block = k): per save tier (host, then NVMe when
//      enabled: write-through) each missed block not yet present is
//      admitted with MakeRoom + AddPending (ReserveSlots); the first block
//      that cannot be admitted ends that tier's save (later ones would be
//      dead weight); then MarkReady for all and TouchChain(chain)
//      (FinishSave).
// The NVMe tier is being built on another branch; this two-tier model
// (write-through, promote on NVMe hit) is what it is planned to do, and is
// kept deliberately simple.
#pragma once

#include <array>
#include <cstdint>
#include <functional>

#include "bench/replay/trace.h"
#include "kvtier/options.h"

namespace kvtier::replay {

struct SimConfig {
  uint64_t host_blocks = 0;  // 0 = no host tier
  uint64_t nvme_blocks = 0;  // 0 = no NVMe tier
  EvictionPolicy policy = EvictionPolicy::kLru;
};

struct TierCounts {
  uint64_t hits = 0;       // hit blocks served by this tier (the fastest holding them)
  uint64_t inserts = 0;    // blocks written (saves and promotions)
  uint64_t evictions = 0;  // blocks evicted, orphans included
  uint64_t orphans = 0;    // evicted blocks whose ancestor had left every tier
  uint64_t rejected = 0;   // blocks a save could not admit (all pinned/pending)
};

struct SimResult {
  uint64_t requests = 0;
  uint64_t references = 0;  // block references (hit-rate denominator)
  uint64_t hit_blocks = 0;
  uint64_t input_tokens = 0;  // hit-rate_tokens denominator
  uint64_t hit_tokens = 0;    // hit_blocks * block_tokens: hits are full blocks
  uint64_t promotions = 0;    // NVMe -> host
  std::array<TierCounts, kNumTiers> tiers{};
};

// Called every few thousand requests with (requests done, total).
using ProgressFn = std::function<void(size_t done, size_t total)>;

SimResult Simulate(const Trace& trace, const SimConfig& config,
                   const ProgressFn& progress = nullptr);

}  // namespace kvtier::replay
