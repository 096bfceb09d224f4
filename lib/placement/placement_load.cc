// Placement for loads and prefetches: pin the servable prefix (or take a
// lookup's lease), reserve promotion slots in the engine's tier, then commit
// what the mover delivered.
#include <algorithm>
#include <cassert>

#include "lib/placement/placement.h"

namespace kvtier::internal {

// The longest servable prefix P (Lookup's answer), each block pinned at the
// fastest tier holding it in the form P needs: whole in P's window, any
// form before it. One tier -> engine move per block, in chain order.
std::vector<Move> Placement::PinPrefix(std::span<const BlockHash> chain) {
  std::vector<Move> moves;
  const size_t prefix =
      window_.trims() ? index_.LongestPrefix(chain).blocks : chain.size();
  moves.reserve(window_.trims() ? prefix : 0);
  for (size_t i = 0; i < prefix; ++i) {
    const BlockForm need = window_.NeedForm(i, prefix);
    const std::optional<size_t> tier = FastestReady(chain[i], need);
    if (!tier) {
      assert(!window_.trims() && "LongestPrefix counted a block no tier serves");
      break;
    }
    const Tier id = IdAt(*tier);
    index_.Pin(chain[i], id);
    moves.push_back(Move{static_cast<uint32_t>(i), index_.FormIn(chain[i], id),
                         window_.trims() ? need : BlockForm::kWhole,
                         Endpoint::InTier(*tier, index_.SlotOf(chain[i], id)),
                         Endpoint::Engine()});
  }
  return moves;
}

// The lease's pinned prefix, if the lease is live and `chain` starts with
// it; else its pins are given back and nothing is returned.
std::vector<Move> Placement::TakeLease(uint64_t lease, std::span<const BlockHash> chain) {
  std::optional<Lease> l = leases_.Take(lease);
  if (!l) return {};
  // A shorter chain needs another window (other forms): plan afresh.
  bool usable = chain.size() >= l->blocks.size();
  for (size_t i = 0; usable && i < l->blocks.size(); ++i) {
    usable = l->blocks[i].hash == chain[i];
  }
  if (!usable) {
    ReleaseLeasePins(*l);
    return {};
  }
  leases_used_.fetch_add(1, std::memory_order_relaxed);
  std::vector<Move> moves;
  moves.reserve(l->blocks.size());
  for (size_t i = 0; i < l->blocks.size(); ++i) {
    const LeasedBlock& b = l->blocks[i];
    moves.push_back(Move{static_cast<uint32_t>(i), b.form, b.need,
                         Endpoint::InTier(b.tier, b.slot), Endpoint::Engine()});
  }
  return moves;
}

Plan Placement::PlanLoad(std::span<const BlockHash> chain, uint64_t lease,
                         MemoryKind kind, SharedRun shared) {
  Plan plan;
  plan.kind = PlanKind::kLoad;
  plan.chain.assign(chain.begin(), chain.end());
  MutexLock lock(&mu_);
  TellTime();
  ExpireLeasesLocked();
  if (lease != 0) {
    plan.moves = TakeLease(lease, chain);
    if (!plan.moves.empty()) plan.lease = lease;
  }
  if (plan.lease == 0) plan.moves = PinPrefix(chain);
  // A shared tier's blocks extend the prefix only where it ends: the index
  // may have changed since the tier was asked.
  const size_t pinned = plan.moves.size();
  if (pinned >= shared.first && pinned < shared.first + shared.blocks) {
    assert(Shared(shared.tier) && !window_.trims());
    for (size_t i = pinned; i < std::min(chain.size(), shared.first + shared.blocks);
         ++i) {
      plan.moves.push_back(Move{static_cast<uint32_t>(i), BlockForm::kWhole,
                                BlockForm::kWhole, Endpoint::InTier(shared.tier, 0),
                                Endpoint::Engine()});
    }
  }
  // A block read from a slower tier than the engine's is promoted (its
  // slower copy stays): slots reserved now, written from what the read
  // delivers, so it lands while later reads are still on the device.
  const size_t engine = EngineTier(kind);
  std::vector<size_t> blocks;
  std::vector<BlockForm> forms;
  for (const Move& m : plan.moves) {
    if (m.from.tier <= engine) continue;
    blocks.push_back(m.block);
    forms.push_back(PromotedForm(m.form, m.need));
  }
  if (!blocks.empty()) {
    SaveResult ignored;
    Reserve(engine, chain, blocks, forms, /*refresh_below=*/false, plan, &ignored);
  }
  return plan;
}

void Placement::UnpinSources(const Plan& plan, size_t reads) {
  for (size_t k = 0; k < reads; ++k) {
    const Move& m = plan.moves[k];
    if (Shared(m.from.tier)) continue;  // never pinned: not indexed
    index_.Unpin(plan.chain[m.block], IdAt(m.from.tier));
  }
}

LoadCommit Placement::CommitLoad(const Plan& plan, std::span<const Status> results,
                                 std::vector<SlotRelease>* releases,
                                 const RequestContext& context) {
  size_t reads = 0;
  while (reads < plan.moves.size() && plan.moves[reads].to.engine()) ++reads;
  LoadCommit c;
  while (c.loaded < reads && results[c.loaded].ok()) ++c.loaded;
  c.partial = c.loaded < reads;
  const bool count_hits = !c.partial || !window_.trims();
  MutexLock lock(&mu_);
  TellTime();
  UnpinSources(plan, reads);
  for (size_t k = 0; count_hits && k < c.loaded; ++k) {
    ++counters_[plan.moves[k].from.tier].hits;
  }
  if (c.partial && results[c.loaded].code() != StatusCode::kCancelled) {
    // The slot failed verification or I/O: it can never serve this block,
    // so drop it (unless another reader still holds it; the last one drops).
    // A cancelled read says nothing about the slot: the block stays.
    // A shared tier's bad block is its own business: a miss, counted there.
    const Move& bad = plan.moves[c.loaded];
    const BlockHash& h = plan.chain[bad.block];
    if (!Shared(bad.from.tier) && !index_.IsPinned(h, IdAt(bad.from.tier))) {
      DropLocked(bad.from.tier, h, *releases);
    }
  }
  index_.TouchChain(std::span(plan.chain).first(c.loaded), /*hit=*/true, context);
  if (reads < plan.moves.size()) {
    std::vector<size_t> promotions;
    for (size_t k = reads; k < plan.moves.size(); ++k) promotions.push_back(k);
    c.promoted = Publish(plan, promotions, results, *releases);
    index_.TouchChain(plan.chain);
    promotions_.fetch_add(c.promoted, std::memory_order_relaxed);
  }
  return c;
}

Plan Placement::PlanPrefetch(std::span<const BlockHash> chain, MemoryKind kind) {
  Plan plan;
  plan.kind = PlanKind::kPrefetch;
  plan.chain.assign(chain.begin(), chain.end());
  MutexLock lock(&mu_);
  TellTime();
  ExpireLeasesLocked();
  const size_t engine = EngineTier(kind);
  std::vector<Move> pinned = PinPrefix(chain);
  // Only blocks slower tiers hold move up; their sources stay pinned until
  // the commit, the others are let go now.
  std::vector<size_t> blocks;
  std::vector<BlockForm> forms;
  std::vector<Move> sources;
  for (const Move& m : pinned) {
    if (m.from.tier <= engine) {
      index_.Unpin(chain[m.block], IdAt(m.from.tier));
      continue;
    }
    blocks.push_back(m.block);
    forms.push_back(PromotedForm(m.form, m.need));
    sources.push_back(m);
  }
  SaveResult ignored;
  Reserve(engine, chain, blocks, forms, /*refresh_below=*/false, plan, &ignored);
  // Reserve made engine -> tier moves; a prefetch reads from the source.
  std::vector<Move> reserved = std::move(plan.moves);
  plan.moves.clear();
  size_t s = 0;
  for (const Move& r : reserved) {
    while (sources[s].block != r.block) {
      index_.Unpin(chain[sources[s].block], IdAt(sources[s].from.tier));
      ++s;
    }
    Move m = sources[s++];
    m.to = r.to;
    plan.moves.push_back(m);
  }
  for (; s < sources.size(); ++s) {
    index_.Unpin(chain[sources[s].block], IdAt(sources[s].from.tier));
  }
  return plan;
}

size_t Placement::CommitPrefetch(const Plan& plan, std::span<const Status> results,
                                 std::vector<SlotRelease>* releases) {
  MutexLock lock(&mu_);
  std::vector<size_t> all;
  for (size_t k = 0; k < plan.moves.size(); ++k) {
    const Move& m = plan.moves[k];
    const BlockHash& h = plan.chain[m.block];
    index_.Unpin(h, IdAt(m.from.tier));
    all.push_back(k);
    // A source that failed its read can never serve the block.
    if (!results[k].ok() && results[k].code() != StatusCode::kCancelled &&
        !index_.IsPinned(h, IdAt(m.from.tier)) &&
        index_.IsPresent(h, IdAt(m.from.tier))) {
      DropLocked(m.from.tier, h, *releases);
    }
  }
  const size_t moved = Publish(plan, all, results, *releases);
  if (!all.empty()) index_.TouchChain(plan.chain);
  promotions_.fetch_add(moved, std::memory_order_relaxed);
  return moved;
}

}  // namespace kvtier::internal
