// kvtier-bench's nvme-tier target: the NVMe tier alone, no Store. Loads keep
// `inflight` batches in flight from each engine thread (SubmitReadBatch: a
// Load submits its batch and returns the blocks of the one it submitted
// `inflight` calls earlier), so it measures the tier's pipelined reads the
// way an engine on the asynchronous API would drive them. Every block is
// still verified (manifest record, header digest, checksums). One ring of
// --qd, so the device queue is as deep as fio's at the same --qd.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>

#include "backends/nvme/checksum_secret.h"
#include "backends/nvme/nvme_tier.h"
#include "bench/kvtier_bench/target.h"
#include "lib/sliding_window.h"
#include "lib/stored_block.h"

namespace kvtier::bench {
namespace {

BlockHash HashOf(uint64_t id, size_t i) { return BlockHash{id * 4099 + i + 1, ~id}; }

// One batch slot of a thread's pipeline: its buffers and requests.
struct InFlightBatch {
  explicit InFlightBatch(const KvLayout& layout, uint32_t batch)
      : buffers(layout, batch), io(batch) {}
  Buffers buffers;
  std::vector<BlockHash> hashes;
  std::vector<internal::BlockIo> io;
  std::mutex mu;
  std::condition_variable cv;
  bool pending = false;
};

class NvmeTierTarget final : public Target {
 public:
  NvmeTierTarget(const BenchConfig& c, KvLayout layout,
                 std::unique_ptr<internal::NvmeTier> tier)
      : config_(c), layout_(layout), tier_(std::move(tier)) {}
  ~NvmeTierTarget() override { Flush(); }

  const KvLayout& layout() const override { return layout_; }
  uint64_t capacity_blocks() const override { return tier_->slot_count(); }

  bool Save(uint64_t id, Buffers& buf) override {
    std::vector<BlockHash> hashes(config_.batch);
    std::vector<internal::BlockIo> io(config_.batch);
    for (size_t i = 0; i < io.size(); ++i) {
      hashes[i] = HashOf(id, i);
      io[i] = internal::BlockIo{SlotOf(id, i), hashes[i], nullptr, Block(buf, i),
                                Status::Ok(),  {},        {}};
    }
    tier_->WriteBatch(io);
    bool ok = true;
    for (const auto& r : io) ok = ok && r.status.ok();
    if (ok) saved_.fetch_add(io.size(), std::memory_order_relaxed);
    return ok;
  }

  size_t Load(uint64_t id, Buffers& buf) override {
    Pipeline& pipe = PipelineOf(&buf);
    InFlightBatch& b = *pipe.batches[pipe.calls++ % pipe.batches.size()];
    const size_t delivered = Wait(b);
    b.hashes.resize(config_.batch);
    for (size_t i = 0; i < b.io.size(); ++i) {
      b.hashes[i] = HashOf(id, i);
      b.io[i] = internal::BlockIo{
          SlotOf(id, i), b.hashes[i], nullptr, Block(b.buffers, i), Status::Ok(), {}, {}};
    }
    b.pending = true;
    tier_->SubmitReadBatch(b.io, {}, [this, &b] {
      size_t ok = 0;
      for (const auto& r : b.io) ok += r.status.ok() ? 1 : 0;
      loaded_.fetch_add(ok, std::memory_order_relaxed);
      std::lock_guard lock(b.mu);
      b.pending = false;
      b.cv.notify_all();
    });
    return delivered;
  }

  // Loads pipeline inside Load (above); no prefix lookups without a Store.
  std::unique_ptr<PendingLoad> BeginLoad(uint64_t, Buffers&) override { return nullptr; }
  size_t Lookup(uint64_t) override { return 0; }

  void Flush() override {
    std::lock_guard lock(pipes_mu_);
    for (auto& [buf, pipe] : pipes_) {
      for (auto& b : pipe.batches) Wait(*b);
    }
  }

  TargetCounters Counters() const override {
    TargetCounters c;
    c.saved_blocks = saved_.load();
    c.loaded_blocks = loaded_.load();
    c.hits[static_cast<int>(Tier::kNvme)] = c.loaded_blocks;
    c.errors = tier_->io_errors() + tier_->checksum_errors();
    return c;
  }

  std::string Describe() const override {
    char line[200];
    std::snprintf(
        line, sizeof line,
        "nvme tier alone: %u batches in flight per thread, io=%s fixed_buffers=%d "
        "direct=%d",
        config_.inflight, tier_->io_engine(), tier_->fixed_buffers(), tier_->direct_io());
    return line;
  }

 private:
  uint32_t SlotOf(uint64_t id, size_t i) const {
    return static_cast<uint32_t>((id * config_.batch + i) % tier_->slot_count());
  }
  std::span<const Segment> Block(const Buffers& buf, size_t i) const {
    return std::span<const Segment>(buf.segments())
        .subspan(i * layout_.SegmentsPerBlock(), layout_.SegmentsPerBlock());
  }
  // Blocks the batch delivered last time (0 if it never ran), once it is done.
  static size_t Wait(InFlightBatch& b) {
    std::unique_lock lock(b.mu);
    b.cv.wait(lock, [&] { return !b.pending; });
    size_t ok = 0;
    for (const auto& r : b.io) ok += r.status.ok() && r.segments.size() > 0 ? 1 : 0;
    return ok;
  }
  // Per engine thread (its Buffers): the batches it keeps in flight.
  struct Pipeline {
    std::vector<std::unique_ptr<InFlightBatch>> batches;
    uint64_t calls = 0;  // touched only by its thread
  };
  Pipeline& PipelineOf(Buffers* buf) {
    std::lock_guard lock(pipes_mu_);
    Pipeline& pipe = pipes_[buf];
    while (pipe.batches.size() < std::max<uint32_t>(1, config_.inflight)) {
      pipe.batches.push_back(std::make_unique<InFlightBatch>(layout_, config_.batch));
    }
    return pipe;
  }

  const BenchConfig config_;
  const KvLayout layout_;
  std::unique_ptr<internal::NvmeTier> tier_;
  std::mutex pipes_mu_;
  std::map<Buffers*, Pipeline> pipes_;  // guarded by pipes_mu_ (nodes stay put)
  std::atomic<uint64_t> saved_{0}, loaded_{0};
};

}  // namespace

Result<std::unique_ptr<Target>> OpenNvmeTierTarget(const BenchConfig& c) {
  const KvLayout layout = BenchLayout(c.block_bytes);
  internal::NvmeTierConfig t;
  t.directories = {c.dir};
  const internal::FormBytes bytes = internal::StoredBytesByForm(layout, c.codec);
  t.whole_bytes = bytes.whole;
  t.trimmed_bytes = bytes.trimmed;
  t.capacity_bytes = c.capacity_bytes;
  t.queue_depth = c.qd;
  // One ring of --qd: the device never sees more than --qd reads at once,
  // as with fio's iodepth; batches beyond it wait in the ring's queue.
  t.max_queues = 1;
  t.wipe_on_mismatch = true;
  t.codec = internal::BlockCodec::For(c.codec, layout);
  t.identity = "kvtier-bench=nvme-tier\n";
  NvmeTierOptions key;
  key.checksum_key = c.checksum_key;
  key.checksum_key_file = c.checksum_key_file;
  key.create_checksum_key_file = !c.checksum_key_file.empty();
  auto checksum = internal::NvmeChecksumFromOptions(key);
  if (!checksum.ok()) return checksum.status();
  t.checksum = std::move(checksum).value();
  auto tier = internal::NvmeTier::Create(std::move(t));
  if (!tier.ok()) return tier.status();
  return std::unique_ptr<Target>(new NvmeTierTarget(c, layout, std::move(tier).value()));
}

}  // namespace kvtier::bench
