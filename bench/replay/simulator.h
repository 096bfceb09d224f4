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
// The two-tier model (write-through, promote on NVMe hit) is kept simple:
// the Store's write-back demotions and asynchronous copy-downs are not
// modelled.
//
// Sliding-window trimming (SimTrim, lib/sliding_window.h): each tier is a
// PageSpace of TierGeometry::For(whole, trimmed) and blocks go in through
// Admit/Upgrade (lib/index/admission.h) in the form Save keeps them
// (SlidingWindow::SaveForm), with StoreImpl::HostCopyNeeded's refresh and
// upgrade rules, promotions in PromotedForm (lib/index/block_form.h) and NVMe copies
// upgraded as AdmitToNvmeLocked does. With trimming off the simulator runs
// the code it always ran (MakeRoom(1) + AddPending, no PageSpace).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include "bench/replay/trace.h"
#include "kvtier/options.h"

namespace kvtier::replay {

// Sliding-window trimming as the Store does it. Sizes are stored bytes of
// one block (any unit: the geometry only compares them); a tier of N blocks
// holds N * RoundUp(whole_bytes, align) bytes, cut by TierGeometry::For.
struct SimTrim {
  uint32_t window_blocks = 0;      // 0 = no sliding layers: no trimming
  uint32_t checkpoint_blocks = 0;  // Options::swa_checkpoint_blocks
  size_t whole_bytes = 1 << 20;
  size_t trimmed_bytes = 0;  // 0 = every layer slides (slotless trimmed blocks)
  size_t align = 1;

  bool on() const { return window_blocks > 0; }
};

// kvtier-replay's abstract geometry for `sliding_share` of a block's bytes in
// sliding-window layers: a whole block of 1 MiB, a trimmed one of
// round((1 - share) * 1 MiB) (0 when share == 1), align 1.
SimTrim TrimForShare(uint32_t window_tokens, uint32_t block_tokens, double sliding_share,
                     uint32_t checkpoint_blocks);

struct SimConfig {
  uint64_t host_blocks = 0;  // 0 = no host tier
  uint64_t nvme_blocks = 0;  // 0 = no NVMe tier
  EvictionPolicy policy = EvictionPolicy::kLru;
  SimTrim trim = {};
  bool record_hits = false;  // fill SimResult::hit_lengths
  // Two tiers: Save skips writing host a block NVMe already covers, as
  // StoreImpl::HostCopyNeeded does. Always on with trimming; off by default
  // otherwise, to keep the original two-tier model's figures. (The
  // untrimmed run a trimmed report compares with turns it on, so the two
  // differ by trimming alone.)
  bool nvme_refresh = false;
};

struct TierCounts {
  uint64_t hits = 0;       // hit blocks served by this tier (the fastest holding them)
  uint64_t inserts = 0;    // blocks written (saves and promotions)
  uint64_t evictions = 0;  // blocks evicted, orphans included
  uint64_t placement_evictions = 0;  // of those: only because no free frame (trimming)
  uint64_t orphans = 0;              // evicted blocks whose ancestor had left every tier
  uint64_t rejected = 0;             // blocks a save could not admit (all pinned/pending)
  // Trimming (inserts = whole + trimmed; an upgrade is a whole insert).
  uint64_t inserted_whole = 0;
  uint64_t inserted_trimmed = 0;
  uint64_t upgrades = 0;  // trimmed copies rewritten whole in place (growth)
};

struct SimResult {
  uint64_t requests = 0;
  uint64_t references = 0;  // block references (hit-rate denominator)
  uint64_t hit_blocks = 0;
  uint64_t input_tokens = 0;  // hit-rate_tokens denominator
  uint64_t hit_tokens = 0;    // hit_blocks * block_tokens: hits are full blocks
  uint64_t promotions = 0;    // NVMe -> host
  std::array<TierCounts, kNumTiers> tiers{};
  std::vector<uint32_t> hit_lengths;  // per request, when SimConfig::record_hits
};

// Called every few thousand requests with (requests done, total).
using ProgressFn = std::function<void(size_t done, size_t total)>;

SimResult Simulate(const Trace& trace, const SimConfig& config,
                   const ProgressFn& progress = nullptr);

}  // namespace kvtier::replay
