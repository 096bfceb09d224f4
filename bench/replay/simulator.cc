// Simulate: the Store's call sequence on a BlockIndex without bytes.
#include "bench/replay/simulator.h"

#include <cmath>
#include <optional>
#include <vector>

#include "lib/placement/placement.h"
#include "lib/sliding_window.h"
#include "lib/tier_geometry.h"

namespace kvtier::replay {
namespace {

using internal::BlockForm;
using internal::Placement;
using internal::Plan;
using internal::SlidingWindow;
using internal::StackTier;
using internal::TierGeometry;
using internal::TierStack;
using internal::WriteDownJob;

constexpr size_t kProgressEvery = 4096;

// A layout whose SlidingWindow has `trim`'s window: one token per block, one
// sliding layer. Only the window arithmetic (SaveForm, NeedForm) is used;
// the bytes come from the SimTrim's sizes.
KvLayout WindowLayout(const SimTrim& trim) {
  KvLayout l;
  l.num_layers = 2;
  l.kv_heads = 1;
  l.head_dim = 1;
  l.block_tokens = 1;
  l.layer_windows = {trim.window_blocks, 0};
  return l;
}

// A tier of `blocks` whole blocks' bytes, cut for both forms; without
// trimming, one page per block.
TierGeometry GeometryOf(const SimTrim& t, uint64_t blocks) {
  if (!t.on()) return TierGeometry::Uniform(static_cast<uint32_t>(blocks), 1);
  const uint64_t slot = (t.whole_bytes + t.align - 1) / t.align * t.align;
  return TierGeometry::For(t.whole_bytes, t.trimmed_bytes, t.align, blocks * slot);
}

// The Store's stack for this configuration: host above NVMe, write-through.
TierStack StackOf(const SimConfig& c) {
  TierStack stack;
  if (c.host_blocks > 0)
    stack.push_back(StackTier{Tier::kHost, GeometryOf(c.trim, c.host_blocks), {}});
  if (c.nvme_blocks > 0) {
    internal::TierTraits nvme;
    nvme.persistence = internal::Persistence::kPersistent;
    nvme.io = internal::IoStyle::kAsync;
    stack.push_back(StackTier{Tier::kNvme, GeometryOf(c.trim, c.nvme_blocks), nvme});
  }
  return stack;
}

std::vector<Status> AllOk(const Plan& plan) {
  return std::vector<Status>(plan.moves.size());
}

class Simulator {
 public:
  explicit Simulator(const SimConfig& config)
      : window_(WindowLayout(config.trim), config.trim.checkpoint_blocks),
        placement_(StackOf(config), config.policy, window_, /*gate=*/nullptr,
                   [this] { return now_s_; }),
        record_hits_(config.record_hits) {}

  // One request of the engine's `context` (the Store's Load and Save carry
  // it), arriving at `time_s` (the trace's clock: placement's).
  void Request(std::span<const BlockHash> chain, const RequestContext& context,
               double time_s, SimResult& r) {
    now_s_ = time_s;
    const internal::PrefixInfo info = placement_.Lookup(chain);
    const size_t k = info.blocks;
    r.hit_blocks += k;
    if (record_hits_) r.hit_lengths.push_back(static_cast<uint32_t>(k));
    std::vector<internal::SlotRelease> releases;
    if (k > 0) {
      const Plan load = placement_.PlanLoad(chain.first(k), 0, MemoryKind::kHost);
      placement_.CommitLoad(load, AllOk(load), &releases, context);
    }
    forms_.resize(chain.size() - k);
    for (size_t i = k; i < chain.size(); ++i)
      forms_[i - k] = window_.SaveForm(i, chain.size());
    SaveResult saved;
    const Plan save = placement_.PlanSave(chain, forms_, k, MemoryKind::kHost, &saved);
    WriteDown(placement_.CommitSave(save, AllOk(save), &saved, &releases, context));
  }

  void Report(SimResult& r) const {
    const TierStack& tiers = placement_.tiers();
    for (size_t p = 0; p < tiers.size(); ++p) {
      const internal::PlacementCounters c = placement_.counters(p);
      TierCounts& t = r.tiers[static_cast<int>(tiers[p].id)];
      t.hits = c.hits;
      t.inserts = c.inserts;
      t.evictions = c.evictions;
      t.placement_evictions = c.placement_evictions;
      t.orphans = c.orphans;
      t.rejected = c.rejected;
      t.inserted_whole = c.inserted_whole;
      t.inserted_trimmed = c.inserted_trimmed;
      t.upgrades = c.upgrades;
    }
    r.promotions = placement_.promotions();
  }

 private:
  // The write-downs owed, as a writer with no delay runs them.
  void WriteDown(std::vector<WriteDownJob> jobs) {
    std::vector<internal::SlotRelease> releases;
    while (!jobs.empty()) {
      const Plan plan = placement_.PlanWriteDown(jobs);
      jobs = placement_.CommitWriteDown(plan, AllOk(plan), &releases);
    }
  }

  const SlidingWindow window_;
  Placement placement_;
  const bool record_hits_;
  double now_s_ = 0;  // the current request's arrival (placement's clock)
  std::vector<BlockForm> forms_;
};

}  // namespace

SimTrim TrimForShare(uint32_t window_tokens, uint32_t block_tokens, double sliding_share,
                     uint32_t checkpoint_blocks) {
  SimTrim t;
  if (window_tokens == 0 || block_tokens == 0) return t;
  t.window_blocks = (window_tokens + block_tokens - 1) / block_tokens;
  t.checkpoint_blocks = checkpoint_blocks;
  t.trimmed_bytes =
      sliding_share >= 1.0
          ? 0
          : static_cast<size_t>(
                std::llround((1.0 - sliding_share) * static_cast<double>(t.whole_bytes)));
  return t;
}

SimResult Simulate(const Trace& trace, const SimConfig& config,
                   const ProgressFn& progress) {
  SimResult r;
  r.requests = trace.requests();
  r.references = trace.references;
  r.input_tokens = trace.total_input_tokens();
  if (config.host_blocks == 0 && config.nvme_blocks == 0) {  // no cache: all miss
    if (config.record_hits) r.hit_lengths.assign(trace.requests(), 0);
    return r;
  }
  Simulator sim(config);
  for (size_t q = 0; q < trace.requests(); ++q) {
    sim.Request(trace.chain(q), trace.ContextOf(q), trace.TimeOf(q), r);
    if (progress && (q + 1) % kProgressEvery == 0) progress(q + 1, trace.requests());
  }
  sim.Report(r);
  if (progress) progress(trace.requests(), trace.requests());
  r.hit_tokens = r.hit_blocks * trace.block_tokens;
  return r;
}

}  // namespace kvtier::replay
