// NvmeTier: creation, the queue pool, and batched slot I/O (recovery:
// nvme_recovery.cc).
#include "backends/nvme/nvme_tier.h"

#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "backends/nvme/io_runner.h"
#include "lib/stored_block.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#define XXH_INLINE_ALL
#include <xxhash.h>
#pragma GCC diagnostic pop

namespace kvtier::internal {
namespace {

struct FreeDeleter {
  void operator()(std::byte* p) const { std::free(p); }
};

uint64_t HeaderDigest(std::span<const std::byte> slot) {
  return XXH3_64bits(slot.data(), kStoredHeaderBytes);
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// After ENOSPC the tier refuses new blocks this long before trying again.
constexpr int64_t kFullBackoffNs = 1'000'000'000;

// O_DIRECT moves whole 4 KiB units: a stored block's I/O length.
uint32_t IoBytes(size_t stored_bytes) {
  return static_cast<uint32_t>((stored_bytes + kSlotAlign - 1) / kSlotAlign * kSlotAlign);
}

// Identity lines of the geometry: a directory cut otherwise is not read.
std::string GeometryIdentity(const TierGeometry& g) {
  return "page_bytes=" + std::to_string(g.page_bytes) +
         "\npages_per_frame=" + std::to_string(g.pages_per_frame) +
         "\nwhole_bytes=" + std::to_string(g.whole_bytes) +
         "\ntrimmed_bytes=" + std::to_string(g.trimmed_bytes) + "\n";
}

}  // namespace

struct NvmeTier::Context {
  std::unique_ptr<IoQueue> queue;
  std::unique_ptr<std::byte, FreeDeleter> memory;
  std::vector<std::span<std::byte>> buffers;
  StagingBuffers staging;
};

TierGeometry NvmeGeometry(const NvmeTierConfig& config) {
  return TierGeometry::For(config.whole_bytes, config.trimmed_bytes, kSlotAlign,
                           config.capacity_bytes);
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
        file_frames * geometry.frame_bytes(), config.allow_buffered_io, config.open_file);
    if (!f.ok()) return f.status();
    files.push_back(std::move(f).value());
  }
  config.identity += GeometryIdentity(geometry);
  bool wiped = false;
  Result<std::unique_ptr<Manifest>> manifest =
      Manifest::Open(config.directories[0], "options.nvme.directories[0]",
                     config.identity, config.wipe_on_mismatch, &wiped);
  if (!manifest.ok()) return manifest.status();
  auto tier = std::unique_ptr<NvmeTier>(new NvmeTier(
      std::move(config), geometry, std::move(files), std::move(manifest).value()));
  tier->wiped_ = wiped;
  if (Status s = tier->Recover(); !s.ok()) return s;
  tier->LogOpened();
  // One queue now: it fails Open early and tells Stats which engine runs.
  Result<std::unique_ptr<Context>> ctx = tier->MakeContext();
  if (!ctx.ok()) return ctx.status();
  {
    std::lock_guard lock(tier->pool_mu_);
    ++tier->live_contexts_;
  }
  tier->Release(std::move(ctx).value(), false);
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

NvmeTier::~NvmeTier() = default;

void NvmeTier::LogOpened() const {
  if (wiped_) {
    config_.log.Warning("nvme tier: " + config_.directories[0] +
                        " held another namespace or layout; wiped (wipe_on_mismatch)");
  }
  if (!direct_io_) {
    config_.log.Warning("nvme tier: O_DIRECT refused; using the page cache "
                        "(allow_buffered_io): reads may be served from DRAM twice");
  }
  config_.log.Info("nvme tier: recovered " + std::to_string(recovered_count_) +
                   " blocks from the manifest, dropped " +
                   std::to_string(recovery_dropped_) + ", in " +
                   std::to_string(recovery_micros_) + " us");
}

std::vector<RecoveredBlock> NvmeTier::TakeRecovered() { return std::move(recovered_); }

void NvmeTier::Forget(uint32_t slot) {
  SlotRecord& rec = records_[slot];
  if (!rec.valid) return;
  // On failure the record stays valid, so the entry is deleted again
  // before the slot is next overwritten (ForgetOverwritten).
  if (manifest_->Delete({&rec.hash, 1}).ok()) {
    rec.valid = false;
  } else {
    manifest_errors_.fetch_add(1, std::memory_order_relaxed);
  }
}

// ---- queue pool ---------------------------------------------------------------

Result<std::unique_ptr<NvmeTier::Context>> NvmeTier::MakeContext() {
  auto ctx = std::make_unique<Context>();
  Result<std::unique_ptr<IoQueue>> q = config_.make_queue(config_.queue_depth);
  if (q.ok()) {
    ctx->queue = std::move(q).value();
  } else {
    // io_uring refused (sysctl, seccomp, old kernel): correct but serial I/O.
    if (std::strcmp(io_engine_.load(), "io_uring") == 0) {
      config_.log.Warning("nvme tier: " + q.status().message() +
                          "; falling back to pread/pwrite (serial I/O)");
    }
    ctx->queue = MakePosixQueue(config_.queue_depth);
  }
  if (config_.wrap_queue) ctx->queue = config_.wrap_queue(std::move(ctx->queue));
  io_engine_ = ctx->queue->engine();
  // A buffer holds the largest block a slot may: a frame.
  const size_t buffer_bytes = geometry().frame_bytes();
  const size_t bytes = size_t{config_.queue_depth} * buffer_bytes;
  ctx->memory.reset(static_cast<std::byte*>(std::aligned_alloc(kSlotAlign, bytes)));
  if (!ctx->memory) {
    return ResourceExhausted("nvme tier: " + std::to_string(bytes) +
                             " bytes of staging buffers");
  }
  std::memset(ctx->memory.get(), 0, bytes);
  for (uint32_t i = 0; i < config_.queue_depth; ++i) {
    ctx->buffers.emplace_back(ctx->memory.get() + i * buffer_bytes, buffer_bytes);
  }
  // Refused beyond RLIMIT_MEMLOCK (8 MiB here without CAP_IPC_LOCK): plain
  // reads and writes of the same buffers then, which measure no slower.
  const bool fixed = ctx->queue->RegisterBuffers(ctx->buffers);
  if (!fixed && !fixed_refusal_logged_.exchange(true)) {
    config_.log.Info("nvme tier: registering " + std::to_string(bytes) +
                     " bytes of staging buffers refused (RLIMIT_MEMLOCK); plain "
                     "reads and writes of the same buffers instead");
  }
  fixed_buffers_ = fixed;
  ctx->staging = StagingBuffers{ctx->buffers, fixed};
  return ctx;
}

Result<std::unique_ptr<NvmeTier::Context>> NvmeTier::Acquire() {
  {
    std::unique_lock lock(pool_mu_);
    pool_changed_.wait(
        lock, [this] { return !idle_.empty() || live_contexts_ < config_.max_queues; });
    if (!idle_.empty()) {
      std::unique_ptr<Context> ctx = std::move(idle_.back());
      idle_.pop_back();
      return ctx;
    }
    ++live_contexts_;
  }
  Result<std::unique_ptr<Context>> ctx = MakeContext();
  if (!ctx.ok()) {
    {
      std::lock_guard lock(pool_mu_);
      --live_contexts_;
    }
    pool_changed_.notify_one();
  }
  return ctx;
}

void NvmeTier::Release(std::unique_ptr<Context> ctx, bool broken) {
  if (broken) ctx.reset();  // waits for anything still in flight
  {
    std::lock_guard lock(pool_mu_);
    if (broken) {
      --live_contexts_;
    } else {
      idle_.push_back(std::move(ctx));
    }
  }
  pool_changed_.notify_one();
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

// ---- I/O ----------------------------------------------------------------------

Status NvmeTier::WriteImpl(uint32_t slot, const BlockHash& hash,
                           std::span<const Segment> src) {
  BlockIo r{slot, hash, nullptr, src, Status::Ok(), {}};
  WriteBatchImpl({&r, 1});
  return r.status;
}

Status NvmeTier::ReadImpl(uint32_t slot, const BlockHash& hash,
                          std::span<const Segment> dst) {
  BlockIo r{slot, hash, nullptr, dst, Status::Ok(), {}};
  ReadBatchImpl({&r, 1}, {});
  return r.status;
}

// Before a slot is overwritten, its old block leaves the manifest: a kill
// mid-write then leaves no entry pointing at a torn slot.
Status NvmeTier::ForgetOverwritten(std::span<BlockIo> requests) {
  std::vector<BlockHash> old;
  for (const BlockIo& r : requests) {
    if (r.status.ok() && records_[r.slot].valid) old.push_back(records_[r.slot].hash);
  }
  Status s = manifest_->Delete(old);
  if (!s.ok()) {
    manifest_errors_.fetch_add(1, std::memory_order_relaxed);
    return s;
  }
  for (const BlockIo& r : requests) {
    if (r.status.ok()) records_[r.slot].valid = false;
  }
  return Status::Ok();
}

size_t NvmeTier::StoredBytesOf(const BlockIo& r) const {
  if (geometry().IsSlotless(r.slot)) return 0;
  if (!r.stored.empty()) return r.stored.size();
  return StoredBlockBytes(StoredPayloadBytes(block_codec(), r.segments));
}

Status NvmeTier::CheckRecord(const BlockIo& r) const {
  const SlotRecord& rec = records_[r.slot];
  if (rec.valid && rec.hash == r.hash) return Status::Ok();
  return Corruption("nvme slot " + std::to_string(r.slot) +
                    ": the manifest does not list block " + r.hash.ToHex() + " there");
}

void NvmeTier::WriteBatchImpl(std::span<BlockIo> requests) {
  if (Status s = ForgetOverwritten(requests); !s.ok()) {
    for (BlockIo& r : requests) {
      if (r.status.ok()) r.status = s;
    }
    return;
  }
  std::vector<size_t> stored(requests.size()), device;
  std::vector<uint64_t> digests(requests.size());  // 0 for slotless ids
  for (size_t i = 0; i < requests.size(); ++i) {
    const BlockIo& r = requests[i];
    if (!r.status.ok()) continue;
    stored[i] = StoredBytesOf(r);
    if (!geometry().IsSlotless(r.slot)) device.push_back(i);
  }
  if (!device.empty()) WriteDevice(requests, device, stored, digests);
  RecordWritten(requests, stored, digests);
}

void NvmeTier::WriteDevice(std::span<BlockIo> requests, std::span<const size_t> device,
                           std::span<const size_t> stored, std::span<uint64_t> digests) {
  Result<std::unique_ptr<Context>> ctx = Acquire();
  if (!ctx.ok()) {
    for (size_t i : device) requests[i].status = ctx.status();
    return;
  }
  const IoStart start = [&](size_t j, std::span<std::byte> buf) -> Result<IoTarget> {
    const size_t i = device[j];
    BlockIo& r = requests[i];
    if (!r.stored.empty()) {
      // Made by WriteStoredBlock in the tier above (same codec); checked
      // by ReadStoredBlock when read back.
      std::memcpy(buf.data(), r.stored.data(), r.stored.size());
    } else {
      // The one place this tier produces a slot's bytes.
      WriteStoredBlock(r.hash, block_codec(), r.segments, buf);
    }
    digests[i] = HeaderDigest(buf);
    return IoTarget{true, FdOf(r.slot), OffsetOf(r.slot), IoBytes(stored[i])};
  };
  const IoFinish finish = [&](size_t j, std::span<std::byte>, const Status& io) {
    requests[device[j]].status = io;
  };
  const Status run = RunIo(*(*ctx)->queue, (*ctx)->staging, device.size(), start, finish);
  Release(std::move(ctx).value(), !run.ok());
}

void NvmeTier::RecordWritten(std::span<BlockIo> requests, std::span<const size_t> stored,
                             std::span<const uint64_t> digests) {
  std::vector<ManifestEntry> entries;
  for (size_t i = 0; i < requests.size(); ++i) {
    const BlockIo& r = requests[i];
    NoteFull(r.status);
    if (!r.status.ok()) continue;
    ManifestEntry e;
    e.hash = r.hash;
    if (r.parent != nullptr) e.parent = *r.parent, e.has_parent = true;
    e.slot = r.slot;
    e.codec = static_cast<uint8_t>(codec());
    e.stored_bytes = stored[i];
    e.header_digest = digests[i];
    e.namespace_id = config_.namespace_id;
    e.seq = seq_.fetch_add(1, std::memory_order_relaxed);
    entries.push_back(e);
  }
  // Only now, with every byte on the device, do the blocks enter the manifest.
  const Status put = manifest_->Put(entries);
  if (!put.ok()) manifest_errors_.fetch_add(1, std::memory_order_relaxed);
  for (size_t i = 0; i < requests.size(); ++i) {
    BlockIo& r = requests[i];
    if (!r.status.ok()) continue;
    if (!put.ok()) {
      r.status = put;
    } else {
      records_[r.slot] = SlotRecord{r.hash, digests[i], true};
    }
  }
}

void NvmeTier::ReadBatchImpl(std::span<BlockIo> requests, const ReadDone& on_done) {
  // Failed on entry and slotless requests finish here; the rest go to disk.
  std::vector<size_t> device;
  for (size_t i = 0; i < requests.size(); ++i) {
    BlockIo& r = requests[i];
    if (r.status.ok() && !geometry().IsSlotless(r.slot)) {
      device.push_back(i);
      continue;
    }
    if (r.status.ok()) r.status = CheckRecord(r);  // no bytes: the entry is all
    if (on_done) on_done(i);
  }
  if (device.empty()) return;
  Result<std::unique_ptr<Context>> ctx = Acquire();
  if (!ctx.ok()) {
    for (size_t i : device) {
      requests[i].status = ctx.status();
      if (on_done) on_done(i);
    }
    return;
  }
  std::vector<uint32_t> lens(device.size());
  const IoStart start = [&](size_t j, std::span<std::byte>) -> Result<IoTarget> {
    const BlockIo& r = requests[device[j]];
    if (Status s = CheckRecord(r); !s.ok()) return s;
    lens[j] = IoBytes(StoredBytesOf(r));
    return IoTarget{false, FdOf(r.slot), OffsetOf(r.slot), lens[j]};
  };
  const IoFinish finish = [&](size_t j, std::span<std::byte> buf, const Status& io) {
    const size_t i = device[j];
    BlockIo& r = requests[i];
    if (!io.ok()) {
      r.status = io;
    } else if (HeaderDigest(buf) != records_[r.slot].digest) {
      r.status = Corruption("nvme slot " + std::to_string(r.slot) +
                            ": header differs from the one the manifest recorded");
    } else {
      // The one place this tier checks and decodes a slot's bytes.
      r.status = ReadStoredBlock(r.hash, block_codec(), buf.first(lens[j]), r.segments);
    }
    if (on_done) on_done(i);
  };
  const Status run = RunIo(*(*ctx)->queue, (*ctx)->staging, device.size(), start, finish);
  Release(std::move(ctx).value(), !run.ok());
}

}  // namespace kvtier::internal
