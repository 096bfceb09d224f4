// Simulate: the Store's call sequence on a BlockIndex without bytes.
#include "bench/replay/simulator.h"

#include <cmath>
#include <optional>
#include <vector>

#include "lib/index/admission.h"
#include "lib/index/block_index.h"
#include "lib/index/page_space.h"
#include "lib/sliding_window.h"
#include "lib/tier_geometry.h"

namespace kvtier::replay {
namespace {

using internal::Admission;
using internal::BlockForm;
using internal::BlockIndex;
using internal::Covers;
using internal::Eviction;
using internal::PageSpace;
using internal::PromotedForm;
using internal::SlidingWindow;
using internal::TierBudget;
using internal::TierGeometry;

constexpr size_t kProgressEvery = 4096;

int Index(Tier t) { return static_cast<int>(t); }

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

using Copy = internal::CopyNeed;

class Simulator {
 public:
  explicit Simulator(const SimConfig& config)
      : trim_(config.trim),
        geometry_{Geometry(config, 0), Geometry(config, config.host_blocks),
                  Geometry(config, config.nvme_blocks)},
        window_(WindowLayout(config.trim), config.trim.checkpoint_blocks),
        index_(Budgets(config), config.policy, config.trim.window_blocks),
        host_(config.host_blocks > 0),
        nvme_(config.nvme_blocks > 0),
        record_hits_(config.record_hits),
        nvme_refresh_(config.nvme_refresh || config.trim.on()) {
    if (!trim_.on()) return;
    for (int t = 0; t < kNumTiers; ++t) spaces_[t].emplace(geometry_[t]);
  }

  void Request(std::span<const BlockHash> chain, SimResult& r) {
    const internal::PrefixInfo info = index_.LongestPrefix(chain);
    const size_t k = info.blocks;
    r.hit_blocks += k;
    if (record_hits_) r.hit_lengths.push_back(static_cast<uint32_t>(k));
    for (int t = 0; t < kNumTiers; ++t) r.tiers[t].hits += info.blocks_per_tier[t];
    index_.TouchChain(chain.first(k), /*hit=*/true);
    if (host_ && nvme_) Promote(chain.first(k), r);
    pending_.clear();
    if (host_) Reserve(Tier::kHost, chain, k, r);
    if (nvme_) Reserve(Tier::kNvme, chain, k, r);
    for (const Pending& p : pending_) {
      index_.MarkReady(p.tier, chain[p.block]);
      Count(r.tiers[Index(p.tier)], p.form, p.upgrade);
    }
    index_.TouchChain(chain);
  }

 private:
  struct Pending {
    Tier tier;
    size_t block;
    BlockForm form;
    bool upgrade;
  };

  // A tier of `blocks` whole blocks' bytes, cut for both forms. Without
  // trimming the geometry is not used (the index counts blocks).
  static TierGeometry Geometry(const SimConfig& c, uint64_t blocks) {
    const SimTrim& t = c.trim;
    if (!t.on() || blocks == 0) return {};
    const uint64_t slot = (t.whole_bytes + t.align - 1) / t.align * t.align;
    return TierGeometry::For(t.whole_bytes, t.trimmed_bytes, t.align, blocks * slot);
  }

  std::array<TierBudget, kNumTiers> Budgets(const SimConfig& c) const {
    std::array<TierBudget, kNumTiers> b{};
    const uint64_t blocks[kNumTiers] = {0, c.host_blocks, c.nvme_blocks};
    for (int t = 0; t < kNumTiers; ++t) {
      // As the Store: a tier's units are its pages (slot_count()).
      const uint64_t units = trim_.on() ? geometry_[t].pages() : blocks[t];
      b[t] = TierBudget{blocks[t] > 0, units};
    }
    return b;
  }

  static void Count(TierCounts& c, BlockForm form, bool upgrade) {
    ++c.inserts;
    if (form == BlockForm::kWhole) ++c.inserted_whole;
    if (form == BlockForm::kTrimmed) ++c.inserted_trimmed;
    if (upgrade) ++c.upgrades;
  }

  // StoreImpl::HostCopyNeeded. `refresh_anywhere` (Save, not promotion):
  // a block NVMe covers is not written to host again (SimConfig::
  // nvme_refresh; else the original two-tier rule: host presence only).
  Copy HostNeeds(const BlockHash& h, BlockForm form, bool refresh_anywhere) const {
    if (refresh_anywhere && nvme_refresh_ && index_.IsPresent(h, Tier::kNvme) &&
        Covers(index_.FormIn(h, Tier::kNvme), form)) {
      return Copy::kHave;
    }
    return internal::CopyNeeded(index_, Tier::kHost, h, form);
  }

  // StoreImpl::AdmitToNvmeLocked: new, upgraded (host's copy is whole and
  // NVMe's trimmed), or left as it is.
  Copy NvmeNeeds(const BlockHash& h, BlockForm form) const {
    return internal::CopyNeeded(index_, Tier::kNvme, h, form);
  }

  // A slot for block `block` in `tier`: StoreImpl::AdmitLocked/UpgradeLocked.
  // Without trimming, MakeRoom + AddPending in slot 0 (slots need no
  // tracking when every block takes one).
  bool Place(Tier tier, std::span<const BlockHash> chain, size_t block, BlockForm form,
             bool upgrade, SimResult& r) {
    const BlockHash* parent = block > 0 ? &chain[block - 1] : nullptr;
    TierCounts& c = r.tiers[Index(tier)];
    const auto count = [&c](const std::vector<Eviction>& evicted) {
      for (const Eviction& e : evicted) {
        ++c.evictions;
        if (e.orphan) ++c.orphans;
      }
    };
    if (!trim_.on()) {
      const std::optional<std::vector<Eviction>> evicted =
          index_.MakeRoom(tier, 1, parent);
      if (!evicted) return false;
      count(*evicted);
      index_.AddPending(tier, chain[block], parent, 0);
      return true;
    }
    PageSpace& space = *spaces_[Index(tier)];
    const Admission a =
        upgrade ? internal::Upgrade(index_, space, tier, chain[block], parent)
                : internal::Admit(index_, space, tier, chain[block], parent, form);
    count(a.evicted);
    c.placement_evictions += a.placement_evictions;
    return a.slot.has_value();
  }

  // ReserveSlots for a Save of chain[first..): the first block that cannot
  // be placed ends the tier's save (later ones would be dead weight).
  void Reserve(Tier tier, std::span<const BlockHash> chain, size_t first, SimResult& r) {
    for (size_t i = first; i < chain.size(); ++i) {
      const BlockForm form = window_.SaveForm(i, chain.size());
      const Copy copy = tier == Tier::kHost ? HostNeeds(chain[i], form, true)
                                            : NvmeNeeds(chain[i], form);
      if (copy == Copy::kHave) continue;  // refreshed
      const bool upgrade = copy == Copy::kUpgrade;
      if (!Place(tier, chain, i, upgrade ? BlockForm::kWhole : form, upgrade, r)) {
        r.tiers[Index(tier)].rejected += chain.size() - i;
        return;
      }
      pending_.push_back({tier, i, upgrade ? BlockForm::kWhole : form, upgrade});
    }
  }

  // Each hit block served from NVMe (host lacks it in the form the prefix
  // needs) is copied to host in the form the read delivered.
  void Promote(std::span<const BlockHash> prefix, SimResult& r) {
    const Tier host = Tier::kHost;
    for (size_t i = 0; i < prefix.size(); ++i) {
      const BlockForm need = window_.NeedForm(i, prefix.size());
      if (index_.FastestReadyTier(prefix[i], need) != Tier::kNvme) continue;
      const BlockForm form = PromotedForm(index_.FormIn(prefix[i], Tier::kNvme), need);
      const Copy copy = HostNeeds(prefix[i], form, /*refresh_anywhere=*/false);
      if (copy == Copy::kHave) continue;
      const bool upgrade = copy == Copy::kUpgrade;
      const BlockForm kept = upgrade ? BlockForm::kWhole : form;
      if (!Place(host, prefix, i, kept, upgrade, r)) return;
      index_.MarkReady(host, prefix[i]);
      Count(r.tiers[Index(host)], kept, upgrade);
      ++r.promotions;
    }
  }

  const SimTrim trim_;
  const std::array<TierGeometry, kNumTiers> geometry_;
  const SlidingWindow window_;
  BlockIndex index_;
  std::array<std::optional<PageSpace>, kNumTiers> spaces_;
  const bool host_;
  const bool nvme_;
  const bool record_hits_;
  const bool nvme_refresh_;
  std::vector<Pending> pending_;
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
    sim.Request(trace.chain(q), r);
    if (progress && (q + 1) % kProgressEvery == 0) progress(q + 1, trace.requests());
  }
  if (progress) progress(trace.requests(), trace.requests());
  r.hit_tokens = r.hit_blocks * trace.block_tokens;
  return r;
}

}  // namespace kvtier::replay
