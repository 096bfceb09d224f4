// StoreImpl: construction (the tier stack, placement, mover, threads, and
// indexing what persistent tiers recovered), argument checks, Lookup and
// leases, Stats. The transfers are in store_transfer.cc.
#include "lib/store_impl.h"

#include <chrono>
#include <string>
#include <utility>

#include "lib/codec/block_codec.h"
#include "lib/stored_block.h"

namespace kvtier::internal {
namespace {

std::vector<TierBackend*> StackBackends(const TierBackends& backends) {
  std::vector<TierBackend*> out;
  for (const auto& b : backends) {
    if (b) out.push_back(b.get());
  }
  return out;
}

// Two write-down batches on the device at once: while one writer commits its
// batch and takes the next, the other's writes keep the device queue busy.
constexpr size_t kWriteBatchesInFlight = 2;

std::array<Codec, kNumTiers> CodecsOf(const TierBackends& backends) {
  std::array<Codec, kNumTiers> codecs{};
  for (int t = 0; t < kNumTiers; ++t) {
    if (backends[t]) codecs[t] = backends[t]->codec();
  }
  return codecs;
}

std::optional<size_t> SharedTier(const Placement& placement) {
  for (size_t p = 0; p < placement.tiers().size(); ++p) {
    if (placement.Shared(p)) return p;
  }
  return std::nullopt;
}

}  // namespace

uint64_t BackendGate::PrepareForget(size_t tier, uint32_t slot) {
  return backends_[tier]->PrepareForget(slot).generation;
}

StoreImpl::StoreImpl(const Options& options, TierBackends backends,
                     bool host_memory_locked, std::unique_ptr<DevicePath> device)
    : Store(options.layout,
            PrefixHasher(Namespace{options.model_id, options.layout.Fingerprint(),
                                   options.CodecTag(), options.rank, options.tenant_salt},
                         options.layout.block_tokens)),
      device_(std::move(device)),
      gpu_device_(options.gpu.device),
      backends_(std::move(backends)),
      host_memory_locked_(host_memory_locked),
      segments_per_block_(options.layout.SegmentsPerBlock()),
      segment_bytes_(options.layout.SegmentBytes()),
      window_(options.layout, options.swa_checkpoint_blocks),
      gate_(StackBackends(backends_)),
      placement_(StackOf(options, backends_), options.eviction, window_, &gate_),
      mover_(placement_.tiers(), StackBackends(backends_), options.layout, window_),
      shared_tier_(SharedTier(placement_)),
      shadow_(options.shadow, options.layout, CodecsOf(backends_), Logger::For(options)),
      load_cost_(options.load_cost) {
  for (int t = 0; t < kNumTiers; ++t) {
    if (!backends_[t]) continue;
    stored_block_bytes_[t] =
        StoredBlockBytes(StoredPayloadBytes(options.layout, backends_[t]->codec()));
    if (load_cost_.enabled()) backends_[t]->set_read_observer(&load_cost_);
  }
  IndexRecovered();
  if (placement_.tiers().size() > 1 && !placement_.Shared(1)) {
    const WriteBehind::Shape shape{.capacity = options.nvme.write_queue_blocks,
                                   .batch = options.nvme.queue_depth,
                                   .writers = kWriteBatchesInFlight};
    writer_ = std::make_unique<WriteBehind>(
        shape, [this](std::span<const WriteDownJob> jobs) { RunWriteDowns(jobs); });
  }
  // Its own writer and queue: a slow network must not hold up the disk's
  // write-downs, nor the disk the network's.
  if (shared_tier_) {
    const WriteBehind::Shape shape{.capacity = options.remote.queue_blocks,
                                   .batch = options.remote.batch_blocks,
                                   .writers = 1};
    shared_writer_ = std::make_unique<WriteBehind>(
        shape, [this](std::span<const WriteDownJob> jobs) { RunWriteDowns(jobs); });
  }
  transfers_ = std::make_unique<Executor>(options.transfer_threads);
}

StoreImpl::~StoreImpl() {
  transfers_.reset();
  writer_.reset();
  shared_writer_.reset();
}

// Rebuilds each persistent tier's part of the index from its records,
// oldest write first, each block linked to its parent so eviction order and
// orphan detection work as before the restart (invariants 5, 6).
void StoreImpl::IndexRecovered() {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<TierBackend*> stack = StackBackends(backends_);
  for (size_t p = 0; p < stack.size(); ++p) {
    if (placement_.tiers()[p].traits.persistence != Persistence::kPersistent) continue;
    std::vector<RecoveredEntry> entries;
    for (const RecoveredBlock& b : stack[p]->TakeRecovered()) {
      entries.push_back(RecoveredEntry{b.hash, b.parent, b.has_parent, b.slot, b.form});
    }
    placement_.IndexRecovered(p, entries);
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

Status StoreImpl::CheckSegments(std::span<const Segment> segments, size_t blocks,
                                const char* what, bool sliding_may_be_null) const {
  if (segments_per_block_ != 0 && blocks > SIZE_MAX / segments_per_block_) {
    return InvalidArgument(std::string(what) + ": " + std::to_string(blocks) +
                           " blocks overflow the segment count");
  }
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
    // Named only on failure: Load and Save check every segment of every call.
    const auto where = [&] { return std::string(what) + "[" + std::to_string(i) + "]"; };
    if (s.data == nullptr) {
      if (sliding_may_be_null && window_.IsSliding(i % segments_per_block_)) continue;
      return InvalidArgument(where() + ".data: null" +
                             (window_.IsSliding(i % segments_per_block_)
                                  ? " (a sliding-window segment may be null only in Save)"
                                  : std::string()));
    }
    if (s.bytes != segment_bytes_) {
      return InvalidArgument(where() + ".bytes: " + std::to_string(s.bytes) +
                             ", the layout's segment is " +
                             std::to_string(segment_bytes_) + " bytes");
    }
    if (s.kind == MemoryKind::kDevice) {
      if (s.device != -1 && s.device != gpu_device_) {
        return InvalidArgument(where() + ".device: " + std::to_string(s.device) +
                               ", the store copies with device " +
                               std::to_string(gpu_device_) + " (options.gpu.device)");
      }
      if (Status ready = device_->Ready(); !ready.ok()) {
        return NotSupported(where() + ".kind: device memory: " + ready.message());
      }
    } else if (s.kind != MemoryKind::kHost) {
      return InvalidArgument(where() + ".kind: unknown memory kind " +
                             std::to_string(static_cast<int>(s.kind)));
    }
  }
  return Status::Ok();
}

Status StoreImpl::CheckSave(std::span<const BlockHash> chain,
                            std::span<const Segment> src, size_t first_block) const {
  if (first_block > chain.size()) {
    return InvalidArgument("save.first_block: " + std::to_string(first_block) +
                           " is past the chain's " + std::to_string(chain.size()) +
                           " blocks");
  }
  return CheckSegments(src, chain.size() - first_block, "save.src",
                       /*sliding_may_be_null=*/true);
}

// ---- Lookup and leases ------------------------------------------------------------

LookupResult StoreImpl::ToResult(const PrefixInfo& info) const {
  LookupResult r;
  r.blocks = info.blocks;
  r.tokens = info.blocks * layout().block_tokens;
  r.blocks_per_tier = info.blocks_per_tier;
  return r;
}

SharedRun StoreImpl::AskShared(std::span<const BlockHash> chain, size_t local) const {
  if (!shared_tier_ || local >= chain.size()) return SharedRun{};
  TierBackend* tier =
      backends_[static_cast<int>(placement_.tiers()[*shared_tier_].id)].get();
  const std::vector<bool> held = tier->Present(chain.subspan(local));
  size_t run = 0;
  while (run < held.size() && held[run]) ++run;
  return SharedRun{*shared_tier_, local, run};
}

// Not pinned: a shared tier's blocks may be gone by the load (then a miss).
void StoreImpl::Extend(std::span<const BlockHash> chain, LookupResult& r) const {
  const SharedRun shared = AskShared(chain, r.blocks);
  if (shared.blocks == 0) return;
  r.blocks += shared.blocks;
  r.tokens = r.blocks * layout().block_tokens;
  r.blocks_per_tier[static_cast<int>(placement_.tiers()[shared.tier].id)] +=
      shared.blocks;
}

LookupResult StoreImpl::CostCappedLookup(std::span<const BlockHash> chain) {
  std::vector<Tier> tiers;
  LookupResult r = ToResult(placement_.LookupTiers(chain, &tiers));
  Extend(chain, r);
  if (shared_tier_) {  // the shared tier's run follows the local prefix
    tiers.resize(r.blocks, placement_.tiers()[*shared_tier_].id);
  }
  const size_t k = load_cost_.Offer(tiers, stored_block_bytes_, layout().block_tokens);
  if (k >= r.blocks) return r;
  lookup_capped_.fetch_add(r.blocks - k, std::memory_order_relaxed);
  LookupResult capped = ToResult(PrefixInfo{k, {}});
  for (size_t i = 0; i < k; ++i) ++capped.blocks_per_tier[static_cast<int>(tiers[i])];
  return capped;
}

LookupResult StoreImpl::Lookup(std::span<const BlockHash> chain) {
  LatencyTimer timer(lookup_latency_);
  LookupResult r;
  if (load_cost_.enabled()) {
    r = CostCappedLookup(chain);
  } else {
    r = ToResult(placement_.Lookup(chain));
    Extend(chain, r);
  }
  lookups_.fetch_add(1, std::memory_order_relaxed);
  lookup_blocks_.fetch_add(chain.size(), std::memory_order_relaxed);
  lookup_hit_blocks_.fetch_add(r.blocks, std::memory_order_relaxed);
  return r;
}

Result<LookupResult> StoreImpl::LookupAndLease(std::span<const BlockHash> chain,
                                               uint32_t lease_ms) {
  LatencyTimer timer(lookup_latency_);
  if (lease_ms == 0 || lease_ms > kMaxLeaseMs) {
    return Reject(InvalidArgument("lookup.lease_ms: " + std::to_string(lease_ms) +
                                  ", must be 1.." + std::to_string(kMaxLeaseMs)));
  }
  std::span<const BlockHash> offered = chain;
  if (load_cost_.enabled()) {  // lease only what loading pays for
    offered = chain.first(CostCappedLookup(chain).blocks);
  }
  uint64_t lease = 0;
  const PrefixInfo info = placement_.LookupWithLease(
      offered, LeaseClock::now() + std::chrono::milliseconds(lease_ms), &lease);
  LookupResult r = ToResult(info);
  r.lease = lease;
  Extend(offered, r);  // past the leased (pinned) prefix
  lookups_.fetch_add(1, std::memory_order_relaxed);
  lookup_blocks_.fetch_add(chain.size(), std::memory_order_relaxed);
  lookup_hit_blocks_.fetch_add(r.blocks, std::memory_order_relaxed);
  return r;
}

bool StoreImpl::ReleaseLease(uint64_t lease) { return placement_.ReleaseLease(lease); }

void StoreImpl::Flush() {
  if (writer_) writer_->Drain();
  if (shared_writer_) shared_writer_->Drain();
}

// ---- Stats ---------------------------------------------------------------------

StoreStats StoreImpl::Stats() const {
  StoreStats s;
  placement_.ReportStats(&s);
  for (int t = 0; t < kNumTiers; ++t) {
    const TierBackend* b = backends_[t].get();
    if (b == nullptr) continue;
    TierStats& ts = s.tiers[t];
    ts.name = TierName(static_cast<Tier>(t));
    ts.checksum_errors = b->checksum_errors();
    ts.io_errors = b->io_errors();
    ts.bytes_written = b->bytes_written();
    ts.bytes_read = b->bytes_read();
    ts.codec = b->codec();
    ts.logical_bytes_written = b->logical_bytes_written();
    ts.logical_bytes_read = b->logical_bytes_read();
    b->ReportStats(&s);
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
  s.host_memory_locked = host_memory_locked_;
  s.transfers_started = transfers_started_.load(std::memory_order_relaxed);
  s.transfers_cancelled = transfers_cancelled_.load(std::memory_order_relaxed);
  s.device_copy_errors = device_->copy_errors();
  s.device_blocks_direct = device_->blocks_direct();
  s.device_blocks_staged = device_->blocks_staged();
  s.device_blocks_d2d = device_->blocks_d2d();
  s.device_blocks_d2d_saved = device_->blocks_d2d_saved();
  s.lookup_latency = lookup_latency_.Snapshot();
  s.load_latency = load_latency_.Snapshot();
  s.save_latency = save_latency_.Snapshot();
  s.nvme.recovery_micros += recovery_micros_;  // the tier reported its manifest scan
  s.nvme.copy_down_blocks = placement_.write_downs();
  s.nvme.copy_down_dropped = placement_.write_downs_dropped();
  s.nvme.promotions = placement_.promotions();
  if (shared_tier_) {
    const PlacementCounters c = placement_.counters(*shared_tier_);
    s.remote.write_blocks = c.inserts;
    s.remote.write_dropped = c.write_dropped;
  }
  shadow_.ReportStats(&s);
  s.lookup_capped_blocks = lookup_capped_.load(std::memory_order_relaxed);
  return s;
}

// ---- Shadow verification ----------------------------------------------------------

std::vector<size_t> StoreImpl::ShadowSampled(std::span<const BlockHash> chain) {
  return shadow_.Sampled(chain);
}

Result<ShadowResult> StoreImpl::ShadowVerify(const BlockHash& block,
                                             std::span<const Segment> recomputed) {
  Result<ShadowResult> r = shadow_.Verify(block, recomputed);
  if (!r.ok() && r.status().code() == StatusCode::kInvalidArgument) {
    return Reject(r.status());
  }
  return r;
}

}  // namespace kvtier::internal
