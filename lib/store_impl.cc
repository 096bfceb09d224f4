// StoreImpl: construction (and indexing what the NVMe tier recovered),
// Lookup, Stats and the Prefetch handle. Load, Save and the moves between
// tiers are in store_load.cc, store_save.cc and store_copy_down.cc.
#include "lib/store_impl.h"

#include "lib/codec/block_codec.h"

#include <chrono>
#include <string>
#include <utility>

#include "lib/stored_block.h"

namespace kvtier::internal {
namespace {

std::array<TierBudget, kNumTiers> BudgetsOf(const TierBackends& backends) {
  std::array<TierBudget, kNumTiers> budgets{};
  for (int t = 0; t < kNumTiers; ++t) {
    if (backends[t]) budgets[t] = TierBudget{true, backends[t]->slot_count()};
  }
  return budgets;
}

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
      block_bytes_(options.layout.BlockBytes()),
      window_(options.layout, options.swa_checkpoint_blocks),
      write_policy_(options.nvme.write_policy),
      nvme_batch_(std::max<uint32_t>(1, options.nvme.queue_depth)),
      index_(BudgetsOf(backends_), options.eviction, window_.window_blocks()) {
  {
    MutexLock lock(&mu_);
    for (int t = 0; t < kNumTiers; ++t) {
      if (backends_[t]) space_[t].emplace(backends_[t]->geometry());
    }
  }
  IndexRecovered();
  if (backend(Tier::kNvme) != nullptr && backend(Tier::kHost) != nullptr) {
    writer_ = std::make_unique<WriteBehind>(
        std::max<uint32_t>(1, options.nvme.write_queue_blocks), nvme_batch_,
        [this](std::span<const CopyDownJob> jobs) { CopyDown(jobs); });
  }
}

StoreImpl::~StoreImpl() { writer_.reset(); }

// Rebuilds the NVMe tier's part of the index from its manifest, oldest
// write first, each block linked to its parent so eviction order and orphan
// detection work as before the restart (invariants 5, 6).
void StoreImpl::IndexRecovered() {
  TierBackend* nvme = backend(Tier::kNvme);
  if (nvme == nullptr) return;
  const auto start = std::chrono::steady_clock::now();
  const std::vector<RecoveredBlock> blocks = nvme->TakeRecovered();
  MutexLock lock(&mu_);
  PageSpace& space = *space_[static_cast<int>(Tier::kNvme)];
  for (const RecoveredBlock& b : blocks) {
    // The tier checked its entries; a claim that still fails (overlap) or a
    // block seen twice is left out rather than trusted.
    if (index_.IsPresent(b.hash, Tier::kNvme) || !space.Claim(b.slot, b.form)) continue;
    const bool linked = b.has_parent && b.parent != b.hash;
    index_.AddPending(Tier::kNvme, b.hash, linked ? &b.parent : nullptr, b.slot,
                      space.geometry().UnitsOf(b.form), b.form);
    index_.MarkReady(Tier::kNvme, b.hash);
  }
  recovery_micros_ =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - start)
                                .count());
}

Status StoreImpl::Reject(Status status) {
  invalid_calls_.fetch_add(1, std::memory_order_relaxed);
  return status;
}

std::vector<Segment> StoreImpl::StagingSegments(std::byte* buffer, size_t blocks) const {
  std::vector<Segment> segs(blocks * segments_per_block_);
  for (size_t i = 0; i < segs.size(); ++i) {
    segs[i] = Segment{buffer + i * segment_bytes_, segment_bytes_};
  }
  return segs;
}

Status StoreImpl::CheckSegments(std::span<const Segment> segments, size_t blocks,
                                const char* what, bool sliding_may_be_null) const {
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
    if (s.data == nullptr) {
      if (sliding_may_be_null && window_.IsSliding(i % segments_per_block_)) continue;
      return InvalidArgument(where + ".data: null" +
                             (window_.IsSliding(i % segments_per_block_)
                                  ? " (a sliding-window segment may be null only in Save)"
                                  : std::string()));
    }
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

void StoreImpl::Flush() {
  if (writer_) writer_->Drain();
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
      ts.placement_evictions = c.placement_evictions;
      ts.orphans_dropped = c.orphans;
      ts.rejected = c.rejected;
      ts.checksum_errors = b->checksum_errors();
      ts.io_errors = b->io_errors();
      ts.bytes_written = b->bytes_written();
      ts.bytes_read = b->bytes_read();
      ts.codec = b->codec();
      ts.logical_bytes_written = b->logical_bytes_written();
      ts.logical_bytes_read = b->logical_bytes_read();
      b->ReportStats(&s);
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
  s.save_trimmed_blocks = save_trimmed_.load(std::memory_order_relaxed);
  s.trim_bytes_saved = trim_bytes_saved_.load(std::memory_order_relaxed);
  s.save_upgraded_blocks = save_upgraded_.load(std::memory_order_relaxed);
  s.host_memory_locked = host_memory_locked_;
  s.nvme.recovery_micros += recovery_micros_;  // the tier reported its manifest scan
  s.nvme.copy_down_blocks = copy_down_.load(std::memory_order_relaxed);
  s.nvme.copy_down_dropped = copy_down_dropped_.load(std::memory_order_relaxed);
  s.nvme.promotions = promotions_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace kvtier::internal
