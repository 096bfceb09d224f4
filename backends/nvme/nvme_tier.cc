// NvmeTier: creation, the rings, forgetting and stats (slot I/O:
// nvme_io.cc; recovery: nvme_recovery.cc).
#include "backends/nvme/nvme_tier.h"

#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "lib/stored_block.h"

namespace kvtier::internal {
namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// After ENOSPC the tier refuses new blocks this long before trying again.
constexpr int64_t kFullBackoffNs = 1'000'000'000;

// Identity lines of the geometry: a directory cut otherwise is not read.
std::string GeometryIdentity(const TierGeometry& g) {
  return "page_bytes=" + std::to_string(g.page_bytes) +
         "\npages_per_frame=" + std::to_string(g.pages_per_frame) +
         "\nwhole_bytes=" + std::to_string(g.whole_bytes) +
         "\ntrimmed_bytes=" + std::to_string(g.trimmed_bytes) + "\n";
}

}  // namespace

size_t TagBytes(const NvmeTierConfig& config) {
  return config.checksum ? KeyedChecksum::kTagBytes : 0;
}

TierGeometry NvmeGeometry(const NvmeTierConfig& config) {
  const size_t tag = TagBytes(config);
  const size_t trimmed = config.trimmed_bytes == 0 ? 0 : config.trimmed_bytes + tag;
  TierGeometry g = TierGeometry::For(config.whole_bytes + tag, trimmed, kSlotAlign,
                                     config.capacity_bytes);
  g.whole_bytes = config.whole_bytes;
  g.trimmed_bytes = config.trimmed_bytes;
  return g;
}

Result<std::unique_ptr<NvmeTier>> NvmeTier::Create(NvmeTierConfig config) {
  if (config.whole_bytes == 0 || config.trimmed_bytes > config.whole_bytes) {
    return InvalidArgument("nvme tier: stored block sizes whole " +
                           std::to_string(config.whole_bytes) + ", trimmed " +
                           std::to_string(config.trimmed_bytes) +
                           " bytes; need 0 < whole, trimmed <= whole");
  }
  const TierGeometry geometry = NvmeGeometry(config);
  if (geometry.frames == 0) {
    return InvalidArgument(
        "options.nvme.capacity_bytes: " + std::to_string(config.capacity_bytes) +
        " bytes hold no slot; one block needs " + std::to_string(geometry.frame_bytes()) +
        " bytes");
  }
  if (config.queue_depth == 0 || config.queue_depth > 4096) {
    return InvalidArgument("options.nvme.queue_depth: " +
                           std::to_string(config.queue_depth) + ", must be 1..4096");
  }
  const size_t n = config.directories.size();
  std::vector<CacheFile> files;
  for (size_t d = 0; d < n; ++d) {
    // Frames f with f % n == d.
    const uint64_t file_frames = (uint64_t{geometry.frames} + n - 1 - d) / n;
    Result<CacheFile> f = CacheFile::Open(
        config.directories[d], "options.nvme.directories[" + std::to_string(d) + "]",
        file_frames * geometry.frame_bytes(), ManifestReserveBytes(geometry.frames),
        config.allow_buffered_io, config.open_file);
    if (!f.ok()) return f.status();
    files.push_back(std::move(f).value());
  }
  config.identity += GeometryIdentity(geometry);
  if (config.checksum) config.identity += "block_checksum=hmac-sha256\n";
  bool wiped = false;
  Result<std::unique_ptr<Manifest>> manifest = Manifest::Open(
      config.directories[0], "options.nvme.directories[0]", config.identity,
      config.wipe_on_mismatch, &wiped, config.manifest_hooks);
  if (!manifest.ok()) return manifest.status();
  auto tier = std::unique_ptr<NvmeTier>(new NvmeTier(
      std::move(config), geometry, std::move(files), std::move(manifest).value()));
  tier->wiped_ = wiped;
  if (Status s = tier->Recover(); !s.ok()) return s;
  tier->LogOpened();
  // One ring now: it fails Open early and tells Stats which engine runs.
  Result<std::unique_ptr<SharedRing>> ring = tier->MakeRing();
  if (!ring.ok()) return ring.status();
  tier->rings_.push_back(std::move(ring).value());
  return tier;
}

NvmeTier::NvmeTier(NvmeTierConfig config, const TierGeometry& geometry,
                   std::vector<CacheFile> files, std::unique_ptr<Manifest> manifest)
    : TierBackend(Tier::kNvme, geometry, config.codec),
      config_(std::move(config)),
      files_(std::move(files)),
      manifest_(std::move(manifest)),
      records_(geometry.id_count()) {
  for (const CacheFile& f : files_) direct_io_ = direct_io_ && f.direct();
  set_logger(config_.log);
}

NvmeTier::~NvmeTier() {
  // Each ring waits for its jobs, whose clients use this tier; outside the
  // lock, as a job's callback may still submit (PickRing).
  std::vector<std::unique_ptr<SharedRing>> rings, broken;
  {
    std::lock_guard lock(rings_mu_);
    rings.swap(rings_);
    broken.swap(broken_rings_);
  }
  rings.clear();
  broken.clear();
}

void NvmeTier::LogOpened() const {
  if (wiped_) {
    config_.log.Warning("nvme tier: " + config_.directories[0] +
                        " held another namespace or layout, or a damaged manifest; "
                        "wiped (wipe_on_mismatch)");
  }
  if (!direct_io_) {
    config_.log.Warning(
        "nvme tier: O_DIRECT refused; using the page cache "
        "(allow_buffered_io): reads may be served from DRAM twice");
  }
  config_.log.Info("nvme tier: recovered " + std::to_string(recovered_count_) +
                   " blocks from the manifest, dropped " +
                   std::to_string(recovery_dropped_) + ", in " +
                   std::to_string(recovery_micros_) + " us");
}

std::vector<RecoveredBlock> NvmeTier::TakeRecovered() { return std::move(recovered_); }

TierBackend::ForgetTicket NvmeTier::PrepareForget(uint32_t slot) {
  return ForgetTicket{slot, records_[slot].seq.load(std::memory_order_acquire)};
}

void NvmeTier::Forget(std::span<const ForgetTicket> tickets) {
  std::vector<ManifestKey> keys;
  for (const ForgetTicket& t : tickets) {
    if (t.generation != 0) keys.push_back(ManifestKey{t.slot, t.generation});
  }
  if (keys.empty()) return;
  // On failure the slot's seq stays, so the entry is deleted again before
  // the slot is next overwritten (ForgetOverwritten).
  if (!manifest_->Delete(keys).ok()) {
    manifest_errors_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  for (const ManifestKey& k : keys) {
    // Only if no write replaced the entry meanwhile (then seq is newer).
    uint64_t expected = k.seq;
    records_[k.slot].seq.compare_exchange_strong(expected, 0, std::memory_order_acq_rel);
  }
}

// ---- rings ---------------------------------------------------------------------

Result<std::unique_ptr<SharedRing>> NvmeTier::MakeRing() {
  std::unique_ptr<IoQueue> queue;
  Result<std::unique_ptr<IoQueue>> q = config_.make_queue(config_.queue_depth);
  if (q.ok()) {
    queue = std::move(q).value();
  } else {
    // io_uring refused (sysctl, seccomp, old kernel): correct but serial I/O.
    if (std::strcmp(io_engine_.load(), "io_uring") == 0) {
      config_.log.Warning("nvme tier: " + q.status().message() +
                          "; falling back to pread/pwrite (serial I/O)");
    }
    queue = MakePosixQueue(config_.queue_depth);
  }
  if (config_.wrap_queue) queue = config_.wrap_queue(std::move(queue));
  io_engine_ = queue->engine();
  // A buffer holds the largest block a slot may: a frame.
  Result<std::unique_ptr<SharedRing>> ring =
      SharedRing::Start(std::move(queue), geometry().frame_bytes());
  if (ring.ok()) fixed_buffers_ = (*ring)->fixed_buffers();
  return ring;
}

Result<SharedRing*> NvmeTier::PickRing() {
  std::lock_guard lock(rings_mu_);
  for (auto& ring : rings_) {
    if (ring->broken()) broken_rings_.push_back(std::move(ring));
  }
  std::erase(rings_, nullptr);
  SharedRing* best = nullptr;
  size_t best_load = SIZE_MAX;
  for (const auto& ring : rings_) {
    const size_t load = ring->load();
    if (load < best_load) best = ring.get(), best_load = load;
  }
  if (best != nullptr &&
      (best_load < best->depth() || rings_.size() >= config_.max_queues)) {
    return best;
  }
  Result<std::unique_ptr<SharedRing>> ring = MakeRing();
  if (!ring.ok()) {
    if (best != nullptr) return best;
    return ring.status();
  }
  rings_.push_back(std::move(ring).value());
  return rings_.back().get();
}

void NvmeTier::SubmitJobs(std::span<const RingJob> jobs) {
  if (jobs.empty()) return;
  Result<SharedRing*> ring = PickRing();
  if (!ring.ok()) {
    for (const RingJob& j : jobs) j.client->Done(j.job, {}, ring.status());
    return;
  }
  (*ring)->Submit(jobs);
}

int NvmeTier::FdOf(uint32_t slot) const {
  const uint32_t frame = slot / geometry().pages_per_frame;
  return files_[frame % files_.size()].fd();
}

uint64_t NvmeTier::OffsetOf(uint32_t slot) const {
  const TierGeometry& g = geometry();
  const uint32_t frame = slot / g.pages_per_frame;
  return uint64_t{frame / files_.size()} * g.frame_bytes() +
         uint64_t{slot % g.pages_per_frame} * g.page_bytes;
}

bool NvmeTier::Accepting() const {
  return NowNs() >= full_until_ns_.load(std::memory_order_relaxed);
}

void NvmeTier::ReportStats(StoreStats* stats) const {
  TierBackend::ReportStats(stats);
  NvmeStats& n = stats->nvme;
  n.io_uring = std::strcmp(io_engine_.load(), "io_uring") == 0;
  n.fixed_buffers = fixed_buffers_;
  n.direct_io = direct_io_;
  n.wiped_at_open = wiped_;
  n.recovered_blocks = recovered_count_;
  n.recovery_dropped = recovery_dropped_;
  n.recovery_micros = recovery_micros_;  // the Store adds its index rebuild
  n.full_events = full_events();
  n.manifest_errors = manifest_errors();
  n.staged_writes = staged_writes_.load(std::memory_order_relaxed);
}

void NvmeTier::NoteFull(const Status& s) {
  if (s.code() != StatusCode::kResourceExhausted) return;
  const uint64_t events = full_events_.fetch_add(1, std::memory_order_relaxed) + 1;
  full_until_ns_.store(NowNs() + kFullBackoffNs, std::memory_order_relaxed);
  full_log_.Log(config_.log, LogLevel::kWarning,
                "nvme tier: device full (" + s.message() + "); new blocks refused for " +
                    std::to_string(kFullBackoffNs / 1'000'000) + " ms (" +
                    std::to_string(events) + " full events so far)");
}

}  // namespace kvtier::internal
