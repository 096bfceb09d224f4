// NvmeTier slot I/O: read and write batches as jobs on the shared rings,
// the manifest around writes, and the checks around reads.
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "backends/nvme/nvme_tier.h"
#include "lib/stored_block.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#define XXH_INLINE_ALL
#include <xxhash.h>
#pragma GCC diagnostic pop

namespace kvtier::internal {
namespace {

uint64_t HeaderDigest(std::span<const std::byte> slot) {
  return XXH3_64bits(slot.data(), kStoredHeaderBytes);
}

// O_DIRECT moves whole 4 KiB units: the I/O length of a stored block and
// the `tag_bytes` after it.
uint32_t IoBytes(size_t stored_bytes, size_t tag_bytes) {
  const size_t n = stored_bytes + tag_bytes;
  return static_cast<uint32_t>((n + kSlotAlign - 1) / kSlotAlign * kSlotAlign);
}

// The name a slot's keyed tag is computed under: keeps an NVMe slot's tag
// apart from a remote value's (named by its Redis key) under a shared secret.
constexpr std::string_view kTagName = "kvtier-nvme-slot";

// Counts down to zero; Wait returns once it got there. Notifies under the
// lock, so the waiter may destroy it as soon as Wait returns.
class Countdown {
 public:
  explicit Countdown(size_t n) : left_(n) {}
  void Done() {
    std::lock_guard lock(mu_);
    if (--left_ == 0) zero_.notify_all();
  }
  void Wait() {
    std::unique_lock lock(mu_);
    zero_.wait(lock, [this] { return left_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable zero_;
  size_t left_;
};

}  // namespace

// ---- reads --------------------------------------------------------------------

// One read batch on the rings. Owns itself: deleted after on_batch_done's
// turn, when its last job (or the submitter's guard) is done.
class NvmeTier::ReadJobs final : public RingClient {
 public:
  ReadJobs(NvmeTier& tier, std::span<BlockIo> requests, ReadDone on_done,
           BatchDone on_batch_done)
      : tier_(tier),
        requests_(requests),
        on_done_(std::move(on_done)),
        on_batch_done_(std::move(on_batch_done)) {}

  // Finishes what needs no device on this thread, submits the rest.
  void Start() {
    std::vector<RingJob> jobs;
    for (size_t i = 0; i < requests_.size(); ++i) {
      BlockIo& r = requests_[i];
      if (r.status.ok()) r.status = tier_.CheckRecord(r);
      if (!r.status.ok() || tier_.geometry().IsSlotless(r.slot)) {
        if (on_done_) on_done_(i);  // failed on entry, or no bytes: the entry is all
        continue;
      }
      const size_t stored = tier_.StoredBytesOf(r);
      const uint32_t len = IoBytes(stored, TagBytes(tier_.config_));
      device_.push_back(i);
      stored_.push_back(stored);
      jobs.push_back(
          RingJob{this, jobs.size(),
                  IoTarget{false, tier_.FdOf(r.slot), tier_.OffsetOf(r.slot), len},
                  DmaTarget(r, len)});
    }
    left_.store(jobs.size() + 1, std::memory_order_relaxed);  // + this guard
    tier_.SubmitJobs(jobs);
    Release();
  }

  void Fill(size_t, std::span<std::byte>) override {}

  void Done(size_t job, std::span<std::byte> buf, const Status& io) override {
    const size_t i = device_[job];
    BlockIo& r = requests_[i];
    r.status = tier_.FinishRead(r, buf, stored_[job], io);
    if (on_done_) on_done_(i);
    Release();
  }

 private:
  // stored_out itself when the device can DMA into it.
  static std::span<std::byte> DmaTarget(const BlockIo& r, uint32_t len) {
    const auto addr = reinterpret_cast<uintptr_t>(r.stored_out.data());
    if (r.stored_out.size() < len || addr % kSlotAlign != 0) return {};
    return r.stored_out.first(len);
  }

  void Release() {
    if (left_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    BatchDone done = std::move(on_batch_done_);
    delete this;
    if (done) done();
  }

  NvmeTier& tier_;
  const std::span<BlockIo> requests_;
  const ReadDone on_done_;
  BatchDone on_batch_done_;
  std::vector<size_t> device_;  // job -> request
  std::vector<size_t> stored_;  // job -> stored block bytes
  std::atomic<size_t> left_{1};
};

void NvmeTier::SubmitReadBatchImpl(std::span<BlockIo> requests, ReadDone on_done,
                                   BatchDone on_batch_done) {
  (new ReadJobs(*this, requests, std::move(on_done), std::move(on_batch_done)))->Start();
}

void NvmeTier::ReadBatchImpl(std::span<BlockIo> requests, const ReadDone& on_done) {
  Countdown finished(1);
  SubmitReadBatchImpl(requests, on_done, [&finished] { finished.Done(); });
  finished.Wait();
}

Status NvmeTier::ReadImpl(uint32_t slot, const BlockHash& hash,
                          std::span<const Segment> dst) {
  BlockIo r{slot, hash, nullptr, dst, Status::Ok(), {}, {}};
  ReadBatchImpl({&r, 1}, {});
  return r.status;
}

Status NvmeTier::CheckRecord(const BlockIo& r) const {
  const SlotRecord& rec = records_[r.slot];
  if (rec.seq.load(std::memory_order_acquire) != 0 && rec.hash == r.hash) {
    return Status::Ok();
  }
  return Corruption("nvme slot " + std::to_string(r.slot) +
                    ": the manifest does not list block " + r.hash.ToHex() + " there");
}

Status NvmeTier::FinishRead(BlockIo& r, std::span<const std::byte> buf, size_t stored,
                            const Status& io) const {
  if (!io.ok()) return io;
  if (HeaderDigest(buf) != records_[r.slot].digest) {
    return Corruption("nvme slot " + std::to_string(r.slot) +
                      ": header differs from the one the manifest recorded");
  }
  if (Status s = CheckTag(r.slot, buf, stored); !s.ok()) return s;
  // The one place this tier checks and decodes a slot's bytes.
  Status s = ReadStoredBlock(r.hash, block_codec(), buf, r.segments);
  if (s.ok() && !r.stored_out.empty() && r.stored_out.data() != buf.data()) {
    std::memcpy(r.stored_out.data(), buf.data(), stored);
  }
  return s;
}

void NvmeTier::TagSlot(std::span<std::byte> buf, size_t stored) const {
  if (!config_.checksum) return;
  const KeyedChecksum::Tag tag = config_.checksum->Compute(kTagName, buf.first(stored));
  std::memcpy(buf.data() + stored, tag.data(), tag.size());
}

Status NvmeTier::CheckTag(uint32_t slot, std::span<const std::byte> buf,
                          size_t stored) const {
  if (!config_.checksum ||
      config_.checksum->Verify(kTagName, buf.first(stored),
                               buf.subspan(stored, KeyedChecksum::kTagBytes))) {
    return Status::Ok();
  }
  return Corruption("nvme slot " + std::to_string(slot) +
                    ": keyed checksum fails (the block was written without this "
                    "store's checksum key, under another key, or forged)");
}

// ---- writes -------------------------------------------------------------------

// One write batch on the rings; the caller waits for it.
class NvmeTier::WriteJobs final : public RingClient {
 public:
  WriteJobs(NvmeTier& tier, std::span<BlockIo> requests, std::span<const size_t> device,
            std::span<const size_t> stored, std::span<uint64_t> digests)
      : tier_(tier),
        requests_(requests),
        device_(device),
        stored_(stored),
        digests_(digests),
        finished_(device.size()) {}

  void Run() {
    std::vector<RingJob> jobs;
    for (size_t j = 0; j < device_.size(); ++j) {
      const size_t i = device_[j];
      const BlockIo& r = requests_[i];
      const size_t tag = TagBytes(tier_.config_);
      const uint32_t len = IoBytes(stored_[i], tag);
      // A keyed slot carries its tag after the block, which Fill writes into
      // staging; an unkeyed one may go from the source slot itself. Fill runs
      // for staged jobs only, so a block written from its own slot has its
      // header digest taken here, where the bytes already are.
      const std::span<std::byte> own =
          tag == 0 ? DmaSource(r, len) : std::span<std::byte>{};
      if (!own.empty()) digests_[i] = HeaderDigest(r.stored);
      jobs.push_back(RingJob{
          this, j, IoTarget{true, tier_.FdOf(r.slot), tier_.OffsetOf(r.slot), len}, own});
    }
    tier_.SubmitJobs(jobs);
    finished_.Wait();
  }

  void Fill(size_t job, std::span<std::byte> buf) override {
    const size_t i = device_[job];
    const BlockIo& r = requests_[i];
    if (!r.stored.empty()) {
      // Made by WriteStoredBlock in the tier above (same codec); checked
      // by ReadStoredBlock when read back.
      std::memcpy(buf.data(), r.stored.data(), r.stored.size());
    } else {
      // The one place this tier produces a slot's bytes.
      WriteStoredBlock(r.hash, tier_.block_codec(), r.segments, buf);
    }
    digests_[i] = HeaderDigest(buf);
    tier_.TagSlot(buf, stored_[i]);
    tier_.staged_writes_.fetch_add(1, std::memory_order_relaxed);
  }

  void Done(size_t job, std::span<std::byte>, const Status& io) override {
    requests_[device_[job]].status = io;
    finished_.Done();
  }

 private:
  // The source slot itself when the device can DMA the stored block from it
  // (the ring only reads a write's buffer, hence the const_cast); empty:
  // staging, filled by Fill.
  static std::span<std::byte> DmaSource(const BlockIo& r, uint32_t len) {
    if (r.stored.empty() || r.stored_slot.data() != r.stored.data()) return {};
    const auto addr = reinterpret_cast<uintptr_t>(r.stored_slot.data());
    if (r.stored_slot.size() < len || addr % kSlotAlign != 0) return {};
    return {const_cast<std::byte*>(r.stored_slot.data()), len};
  }

  NvmeTier& tier_;
  const std::span<BlockIo> requests_;
  const std::span<const size_t> device_;
  const std::span<const size_t> stored_;
  const std::span<uint64_t> digests_;
  Countdown finished_;
};

Status NvmeTier::WriteImpl(uint32_t slot, const BlockHash& hash,
                           std::span<const Segment> src) {
  BlockIo r{slot, hash, nullptr, src, Status::Ok(), {}, {}};
  WriteBatchImpl({&r, 1});
  return r.status;
}

// Before a slot is overwritten, its old block leaves the manifest: a kill
// mid-write then leaves no entry pointing at a torn slot.
Status NvmeTier::ForgetOverwritten(std::span<BlockIo> requests) {
  std::vector<ManifestKey> old;
  for (const BlockIo& r : requests) {
    if (!r.status.ok()) continue;
    const uint64_t seq = records_[r.slot].seq.load(std::memory_order_acquire);
    if (seq != 0) old.push_back(ManifestKey{r.slot, seq});
  }
  Status s = manifest_->Delete(old);
  if (!s.ok()) {
    manifest_errors_.fetch_add(1, std::memory_order_relaxed);
    return s;
  }
  for (const BlockIo& r : requests) {
    if (r.status.ok()) records_[r.slot].seq.store(0, std::memory_order_release);
  }
  return Status::Ok();
}

size_t NvmeTier::StoredBytesOf(const BlockIo& r) const {
  if (geometry().IsSlotless(r.slot)) return 0;
  if (!r.stored.empty()) return r.stored.size();
  return StoredBlockBytes(StoredPayloadBytes(block_codec(), r.segments));
}

void NvmeTier::WriteBatchImpl(std::span<BlockIo> requests) {
  if (Status s = ForgetOverwritten(requests); !s.ok()) {
    NoteFull(s);  // a manifest that keeps its disk's last space
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
  if (!device.empty()) WriteJobs(*this, requests, device, stored, digests).Run();
  RecordWritten(requests, stored, digests);
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
  if (!put.ok()) {
    manifest_errors_.fetch_add(1, std::memory_order_relaxed);
    NoteFull(put);  // a manifest that keeps its disk's last space
  }
  size_t next_entry = 0;  // entries[] in request order
  for (size_t i = 0; i < requests.size(); ++i) {
    BlockIo& r = requests[i];
    if (!r.status.ok()) continue;
    if (!put.ok()) {
      r.status = put;
    } else {
      SlotRecord& rec = records_[r.slot];
      rec.hash = r.hash;
      rec.digest = digests[i];
      rec.seq.store(entries[next_entry].seq, std::memory_order_release);
    }
    ++next_entry;
  }
}

}  // namespace kvtier::internal
