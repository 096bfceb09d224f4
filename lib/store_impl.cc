// StoreImpl: Lookup, Load and Save over the index and the tier backends.
// See store_impl.h for the data flow and the invariant each step keeps.
#include "lib/store_impl.h"

#include <string>
#include <utility>

namespace kvtier::internal {
namespace {

std::array<TierBudget, kNumTiers> BudgetsOf(const TierBackends& backends) {
  std::array<TierBudget, kNumTiers> budgets{};
  for (int t = 0; t < kNumTiers; ++t) {
    if (backends[t]) budgets[t] = TierBudget{true, backends[t]->slot_count()};
  }
  return budgets;
}

// The tier new blocks are saved into: the fastest one that takes host memory.
// (The GPU tier, once built, takes device segments.)
Tier SaveTier() { return Tier::kHost; }

}  // namespace

StoreImpl::StoreImpl(const Options& options, TierBackends backends,
                     bool host_memory_locked)
    : Store(options.layout,
            PrefixHasher(Namespace{options.model_id, options.layout.Fingerprint(),
                                   options.CodecTag(), options.rank, options.tenant_salt},
                         options.layout.block_tokens)),
      backends_(std::move(backends)),
      host_memory_locked_(host_memory_locked),
      segments_per_block_(options.layout.SegmentsPerBlock()),
      segment_bytes_(options.layout.SegmentBytes()),
      index_(BudgetsOf(backends_), options.eviction) {
  MutexLock lock(&mu_);
  for (int t = 0; t < kNumTiers; ++t) {
    if (backends_[t]) slots_[t].emplace(backends_[t]->slot_count());
  }
}

Status StoreImpl::Reject(Status status) {
  invalid_calls_.fetch_add(1, std::memory_order_relaxed);
  return status;
}

Status StoreImpl::CheckSegments(std::span<const Segment> segments, size_t blocks,
                                const char* what) const {
  const size_t want = blocks * segments_per_block_;
  if (segments.size() != want) {
    return InvalidArgument(std::string(what) + ": " + std::to_string(segments.size()) +
                           " segments for " + std::to_string(blocks) +
                           " blocks; the layout needs " +
                           std::to_string(segments_per_block_) + " per block (" +
                           std::to_string(want) + ")");
  }
  for (size_t i = 0; i < segments.size(); ++i) {
    const Segment& s = segments[i];
    const std::string where = std::string(what) + "[" + std::to_string(i) + "]";
    if (s.data == nullptr) return InvalidArgument(where + ".data: null");
    if (s.bytes != segment_bytes_) {
      return InvalidArgument(where + ".bytes: " + std::to_string(s.bytes) +
                             ", the layout's segment is " +
                             std::to_string(segment_bytes_) + " bytes");
    }
    if (s.kind == MemoryKind::kDevice) {
      return NotSupported(where +
                          ".kind: device memory needs the GPU tier, which "
                          "this build does not have");
    }
  }
  return Status::Ok();
}

// ---- Lookup -----------------------------------------------------------------

LookupResult StoreImpl::Lookup(std::span<const BlockHash> chain) {
  PrefixInfo info;
  {
    ReaderMutexLock lock(&mu_);
    info = index_.LongestPrefix(chain);
  }
  lookups_.fetch_add(1, std::memory_order_relaxed);
  lookup_blocks_.fetch_add(chain.size(), std::memory_order_relaxed);
  lookup_hit_blocks_.fetch_add(info.blocks, std::memory_order_relaxed);
  LookupResult r;
  r.blocks = info.blocks;
  r.tokens = info.blocks * layout().block_tokens;
  r.blocks_per_tier = info.blocks_per_tier;
  return r;
}

// ---- Load -------------------------------------------------------------------

Result<LoadResult> StoreImpl::Load(std::span<const BlockHash> chain,
                                   std::span<const Segment> dst) {
  if (Status s = CheckSegments(dst, chain.size(), "load.dst"); !s.ok()) {
    return Reject(std::move(s));
  }
  loads_.fetch_add(1, std::memory_order_relaxed);
  load_blocks_.fetch_add(chain.size(), std::memory_order_relaxed);

  const std::vector<SlotWork> pinned = PinPrefix(chain);
  Status failure;
  const size_t loaded = ReadPinned(chain, dst, pinned, &failure);
  FinishLoad(chain, pinned, loaded, failure);

  load_hit_blocks_.fetch_add(loaded, std::memory_order_relaxed);
  return LoadResult{loaded};
}

std::vector<StoreImpl::SlotWork> StoreImpl::PinPrefix(std::span<const BlockHash> chain) {
  std::vector<SlotWork> pinned;
  MutexLock lock(&mu_);
  for (size_t i = 0; i < chain.size(); ++i) {
    const std::optional<Tier> tier = index_.FastestReadyTier(chain[i]);
    if (!tier) break;
    index_.Pin(chain[i], *tier);
    pinned.push_back(SlotWork{i, *tier, index_.SlotOf(chain[i], *tier)});
  }
  return pinned;
}

size_t StoreImpl::ReadPinned(std::span<const BlockHash> chain,
                             std::span<const Segment> dst,
                             const std::vector<SlotWork>& pinned, Status* failure) {
  for (const SlotWork& w : pinned) {
    Status s = backend(w.tier)->Read(
        w.slot, chain[w.block],
        dst.subspan(w.block * segments_per_block_, segments_per_block_));
    if (!s.ok()) {
      *failure = std::move(s);
      return w.block;
    }
  }
  return pinned.size();
}

void StoreImpl::FinishLoad(std::span<const BlockHash> chain,
                           const std::vector<SlotWork>& pinned, size_t loaded,
                           const Status& failure) {
  MutexLock lock(&mu_);
  for (const SlotWork& w : pinned) index_.Unpin(chain[w.block], w.tier);
  for (size_t i = 0; i < loaded; ++i) {
    ++tier_counters_[static_cast<int>(pinned[i].tier)].hits;
  }
  if (loaded < pinned.size()) {
    // The slot failed verification or I/O: it can never serve this block,
    // so drop it (unless another reader still holds it; the last one drops).
    const SlotWork& bad = pinned[loaded];
    const BlockHash& h = chain[bad.block];
    if (!index_.IsPinned(h, bad.tier))
      FreeSlotLocked(bad.tier, index_.Remove(bad.tier, h));
  }
  index_.TouchChain(chain.first(loaded), /*hit=*/true);
}

// ---- Save -------------------------------------------------------------------

Result<SaveResult> StoreImpl::Save(std::span<const BlockHash> chain,
                                   std::span<const Segment> src, size_t first_block) {
  if (first_block > chain.size()) {
    return Reject(InvalidArgument("save.first_block: " + std::to_string(first_block) +
                                  " is past the chain's " + std::to_string(chain.size()) +
                                  " blocks"));
  }
  if (Status s = CheckSegments(src, chain.size() - first_block, "save.src"); !s.ok()) {
    return Reject(std::move(s));
  }
  saves_.fetch_add(1, std::memory_order_relaxed);
  save_blocks_.fetch_add(chain.size() - first_block, std::memory_order_relaxed);

  SaveResult result;
  const std::vector<SlotWork> work = ReserveSlots(chain, first_block, &result);
  std::vector<Status> written;
  written.reserve(work.size());
  for (const SlotWork& w : work) {
    const size_t src_block = w.block - first_block;
    written.push_back(backend(w.tier)->Write(
        w.slot, chain[w.block],
        src.subspan(src_block * segments_per_block_, segments_per_block_)));
  }
  FinishSave(chain, work, written, &result);

  save_new_.fetch_add(result.stored, std::memory_order_relaxed);
  save_refreshed_.fetch_add(result.refreshed, std::memory_order_relaxed);
  return result;
}

std::vector<StoreImpl::SlotWork> StoreImpl::ReserveSlots(std::span<const BlockHash> chain,
                                                         size_t first_block,
                                                         SaveResult* result) {
  const Tier tier = SaveTier();
  std::vector<SlotWork> work;
  MutexLock lock(&mu_);
  for (size_t i = first_block; i < chain.size(); ++i) {
    if (index_.IsPresent(chain[i], tier)) {
      ++result->refreshed;
      continue;
    }
    const std::optional<uint32_t> slot = AdmitLocked(tier, chain, i);
    if (!slot) {
      // Later blocks would have no parent in the store: dead weight.
      result->skipped += chain.size() - i;
      tier_counters_[static_cast<int>(tier)].rejected += chain.size() - i;
      break;
    }
    work.push_back(SlotWork{i, tier, *slot});
  }
  return work;
}

std::optional<uint32_t> StoreImpl::AdmitLocked(Tier tier,
                                               std::span<const BlockHash> chain,
                                               size_t block) {
  std::optional<std::vector<Eviction>> evicted = index_.MakeRoom(tier, 1);
  if (!evicted) return std::nullopt;
  TierCounters& c = tier_counters_[static_cast<int>(tier)];
  for (const Eviction& e : *evicted) {
    FreeSlotLocked(tier, e.slot);
    ++c.evictions;
    if (e.orphan) ++c.orphans;
  }
  const std::optional<uint32_t> slot = slots_[static_cast<int>(tier)]->Allocate();
  assert(slot && "index capacity and slot count disagree");
  const BlockHash* parent = block > 0 ? &chain[block - 1] : nullptr;
  index_.AddPending(tier, chain[block], parent, *slot);
  return slot;
}

void StoreImpl::FreeSlotLocked(Tier tier, uint32_t slot) {
  slots_[static_cast<int>(tier)]->Free(slot);
}

void StoreImpl::FinishSave(std::span<const BlockHash> chain,
                           const std::vector<SlotWork>& work,
                           const std::vector<Status>& written, SaveResult* result) {
  MutexLock lock(&mu_);
  for (size_t k = 0; k < work.size(); ++k) {
    const SlotWork& w = work[k];
    if (written[k].ok()) {
      index_.MarkReady(w.tier, chain[w.block]);
      ++tier_counters_[static_cast<int>(w.tier)].inserts;
      ++result->stored;
    } else {
      // Best effort: a failed write is a block we do not have (invariant 3).
      FreeSlotLocked(w.tier, index_.Remove(w.tier, chain[w.block]));
      ++result->skipped;
    }
  }
  index_.TouchChain(chain);
}

// ---- Stats ------------------------------------------------------------------

StoreStats StoreImpl::Stats() const {
  StoreStats s;
  {
    ReaderMutexLock lock(&mu_);
    for (int t = 0; t < kNumTiers; ++t) {
      const TierBackend* b = backends_[t].get();
      if (b == nullptr) continue;
      const Tier tier = static_cast<Tier>(t);
      TierStats& ts = s.tiers[t];
      const TierCounters& c = tier_counters_[t];
      ts.enabled = true;
      ts.slot_bytes = b->slot_bytes();
      ts.capacity_bytes = uint64_t{b->slot_count()} * b->slot_bytes();
      ts.used_bytes = index_.used_units(tier) * b->slot_bytes();
      ts.blocks = index_.blocks_in(tier);
      ts.hits = c.hits;
      ts.inserts = c.inserts;
      ts.evictions = c.evictions;
      ts.orphans_dropped = c.orphans;
      ts.rejected = c.rejected;
      ts.checksum_errors = b->checksum_errors();
      ts.io_errors = b->io_errors();
      ts.bytes_written = b->bytes_written();
      ts.bytes_read = b->bytes_read();
      ts.codec = b->codec();
      ts.logical_bytes_written = b->logical_bytes_written();
      ts.logical_bytes_read = b->logical_bytes_read();
    }
  }
  s.lookups = lookups_.load(std::memory_order_relaxed);
  s.lookup_blocks = lookup_blocks_.load(std::memory_order_relaxed);
  s.lookup_hit_blocks = lookup_hit_blocks_.load(std::memory_order_relaxed);
  s.loads = loads_.load(std::memory_order_relaxed);
  s.load_blocks = load_blocks_.load(std::memory_order_relaxed);
  s.load_hit_blocks = load_hit_blocks_.load(std::memory_order_relaxed);
  s.saves = saves_.load(std::memory_order_relaxed);
  s.save_blocks = save_blocks_.load(std::memory_order_relaxed);
  s.save_new_blocks = save_new_.load(std::memory_order_relaxed);
  s.save_refreshed_blocks = save_refreshed_.load(std::memory_order_relaxed);
  s.invalid_calls = invalid_calls_.load(std::memory_order_relaxed);
  s.host_memory_locked = host_memory_locked_;
  return s;
}

}  // namespace kvtier::internal
