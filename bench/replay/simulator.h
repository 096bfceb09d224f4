// Simulate: replays a trace on the store's own Placement (index, page
// spaces, eviction order; lib/placement/placement.h) with no bytes and no
// mover: every move succeeds at once. Per request, what StoreImpl does:
//   1. Lookup(chain): k blocks hit; block i hits only if 0..i are servable
//   2. Load(chain[0..k)): PlanLoad pins them and reserves promotion slots
//      in host for blocks only NVMe holds; CommitLoad (touch as a hit)
//   3. Save(chain, first_block = k): PlanSave (refresh what any tier
//      covers, admit the rest to host, evicting in policy order; the first
//      block not admitted ends the save); CommitSave
//   4. write-through to NVMe: the write-downs the commit owed, run at once
//      (PlanWriteDown, CommitWriteDown) — the Store runs them on its
//      background writer, so a real replay can differ while a write-down is
//      in flight.
// Sliding-window trimming (SimTrim, lib/sliding_window.h): each tier's
// geometry is cut for both forms and Save keeps blocks in
// SlidingWindow::SaveForm, exactly as the Store; without trimming a tier is
// one page per block. No rule is written here: placement has them all.
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
