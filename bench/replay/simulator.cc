// Simulate: the Store's call sequence on a BlockIndex without bytes.
#include "bench/replay/simulator.h"

#include <vector>

#include "lib/index/block_index.h"

namespace kvtier::replay {
namespace {

using internal::BlockIndex;
using internal::Eviction;
using internal::TierBudget;

constexpr size_t kProgressEvery = 4096;

int Index(Tier t) { return static_cast<int>(t); }

class Simulator {
 public:
  explicit Simulator(const SimConfig& config)
      : index_(Budgets(config), config.policy),
        host_(config.host_blocks > 0),
        nvme_(config.nvme_blocks > 0) {}

  void Request(std::span<const BlockHash> chain, SimResult& r) {
    const internal::PrefixInfo info = index_.LongestPrefix(chain);
    const size_t k = info.blocks;
    r.hit_blocks += k;
    for (int t = 0; t < kNumTiers; ++t) r.tiers[t].hits += info.blocks_per_tier[t];
    index_.TouchChain(chain.first(k), /*hit=*/true);
    if (host_ && nvme_) Promote(chain.first(k), r);
    pending_.clear();
    if (host_) Reserve(Tier::kHost, chain, k, r);
    if (nvme_) Reserve(Tier::kNvme, chain, k, r);
    for (const auto& [tier, block] : pending_) {
      index_.MarkReady(tier, chain[block]);
      ++r.tiers[Index(tier)].inserts;
    }
    index_.TouchChain(chain);
  }

 private:
  static std::array<TierBudget, kNumTiers> Budgets(const SimConfig& c) {
    std::array<TierBudget, kNumTiers> b{};
    b[Index(Tier::kHost)] = TierBudget{c.host_blocks > 0, c.host_blocks};
    b[Index(Tier::kNvme)] = TierBudget{c.nvme_blocks > 0, c.nvme_blocks};
    return b;
  }

  // MakeRoom + AddPending, as StoreImpl::AdmitLocked. Slots are not tracked
  // (no bytes), so every block gets slot 0.
  bool Admit(Tier tier, std::span<const BlockHash> chain, size_t block, SimResult& r) {
    const BlockHash* parent = block > 0 ? &chain[block - 1] : nullptr;
    const std::optional<std::vector<Eviction>> evicted = index_.MakeRoom(tier, 1, parent);
    if (!evicted) return false;
    TierCounts& c = r.tiers[Index(tier)];
    for (const Eviction& e : *evicted) {
      ++c.evictions;
      if (e.orphan) ++c.orphans;
    }
    index_.AddPending(tier, chain[block], parent, 0);
    return true;
  }

  void Reserve(Tier tier, std::span<const BlockHash> chain, size_t first, SimResult& r) {
    for (size_t i = first; i < chain.size(); ++i) {
      if (index_.IsPresent(chain[i], tier)) continue;  // refreshed
      if (!Admit(tier, chain, i, r)) {
        r.tiers[Index(tier)].rejected += chain.size() - i;
        return;
      }
      pending_.push_back({tier, i});
    }
  }

  void Promote(std::span<const BlockHash> prefix, SimResult& r) {
    for (size_t i = 0; i < prefix.size(); ++i) {
      if (index_.IsPresent(prefix[i], Tier::kHost)) continue;
      if (!Admit(Tier::kHost, prefix, i, r)) return;
      index_.MarkReady(Tier::kHost, prefix[i]);
      ++r.tiers[Index(Tier::kHost)].inserts;
      ++r.promotions;
    }
  }

  BlockIndex index_;
  const bool host_;
  const bool nvme_;
  std::vector<std::pair<Tier, size_t>> pending_;
};

}  // namespace

SimResult Simulate(const Trace& trace, const SimConfig& config,
                   const ProgressFn& progress) {
  SimResult r;
  r.requests = trace.requests();
  r.references = trace.references;
  r.input_tokens = trace.total_input_tokens();
  if (config.host_blocks == 0 && config.nvme_blocks == 0) return r;  // no cache: all miss
  Simulator sim(config);
  for (size_t q = 0; q < trace.requests(); ++q) {
    sim.Request(trace.chain(q), r);
    if (progress && (q + 1) % kProgressEvery == 0) progress(q + 1, trace.requests());
  }
  if (progress) progress(trace.requests(), trace.requests());
  r.hit_tokens = r.hit_blocks * trace.block_tokens;
  return r;
}

}  // namespace kvtier::replay
