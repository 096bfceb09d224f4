// A sick disk under the NVMe tier (FaultyIoQueue over real io_uring): every
// injected fault is a miss and a counter, never a crash, a hang or a wrong
// byte, and the engine's calls keep working (DESIGN invariants 1 and 3).
#include <catch2/catch.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <memory>

#include "tests/nvme_support.h"

namespace kvtier {
namespace {

using testing::ChainOf;
using testing::FaultyIoQueue;
using testing::IoFaults;
using testing::LoadChecked;
using testing::NvmeOptions;
using testing::NvmeStore;
using testing::SaveChain;
using testing::TempDir;

// A chain of `n` blocks written to NVMe, then a store reopened over it with
// an empty host tier, so every Load reads the disk.
struct OnDisk {
  explicit OnDisk(size_t n) : options(NvmeOptions(dir.path(), 16, 64)) {
    NvmeStore s(options);
    chain = ChainOf(*s.store, 9, n);
    SaveChain(*s.store, chain);
  }
  TempDir dir;
  Options options;
  std::vector<BlockHash> chain;
};

TEST_CASE("an EIO on an NVMe read is a miss and an io error, then the block is gone",
          "[nvme][fault]") {
  OnDisk disk(4);
  NvmeStore s(disk.options);
  s.faults->fail_reads = 1;  // the first block's read fails
  CHECK(LoadChecked(*s.store, disk.chain) == 0);
  StoreStats st = s.store->Stats();
  CHECK(st.tier(Tier::kNvme).io_errors == 1);
  CHECK(st.tier(Tier::kNvme).blocks == 3);  // the failed slot was dropped
  CHECK(s.store->Lookup(disk.chain).blocks == 0);
  // The store keeps working.
  const auto fresh = ChainOf(*s.store, 77, 2);
  SaveChain(*s.store, fresh);
  CHECK(LoadChecked(*s.store, fresh) == 2);
}

TEST_CASE("an EIO in the middle of a batched load ends the prefix there",
          "[nvme][fault]") {
  OnDisk disk(6);
  NvmeStore s(disk.options);
  // Load the first three alone (promoting them to host), so the next load's
  // NVMe batch starts at block 3, whose read then fails.
  CHECK(LoadChecked(*s.store, std::span(disk.chain).first(3)) == 3);
  s.faults->fail_reads = 1;
  const size_t got = LoadChecked(*s.store, disk.chain);  // 0..2 from host now
  CHECK(got == 3);
  CHECK(s.store->Stats().tier(Tier::kNvme).io_errors == 1);
}

// Arms `faults` to fail the `nth` read prepared through any queue of the
// tier (1-based), so the reads before it in the same batch succeed.
class FailNthRead final : public internal::IoQueue {
 public:
  FailNthRead(std::unique_ptr<internal::IoQueue> inner, std::shared_ptr<IoFaults> faults,
              std::shared_ptr<std::atomic<int>> reads, int nth)
      : inner_(std::move(inner)),
        faults_(std::move(faults)),
        reads_(std::move(reads)),
        nth_(nth) {}
  const char* engine() const override { return inner_->engine(); }
  uint32_t depth() const override { return inner_->depth(); }
  bool RegisterBuffers(std::span<const std::span<std::byte>> buffers) override {
    return inner_->RegisterBuffers(buffers);
  }
  void Prepare(const internal::IoOp& op) override {
    if (!op.write && reads_->fetch_add(1) + 1 == nth_) faults_->fail_reads = 1;
    inner_->Prepare(op);
  }
  void PrepareNop(uint64_t tag) override { inner_->PrepareNop(tag); }
  Status Submit() override { return inner_->Submit(); }
  Result<internal::IoCompletion> WaitOne() override { return inner_->WaitOne(); }

 private:
  std::unique_ptr<internal::IoQueue> inner_;
  std::shared_ptr<IoFaults> faults_;
  std::shared_ptr<std::atomic<int>> reads_;
  int nth_;
};

TEST_CASE("an EIO on a read after a successful one in the same batch ends the prefix",
          "[nvme][fault]") {
  OnDisk disk(4);
  auto faults = std::make_shared<IoFaults>();
  auto reads = std::make_shared<std::atomic<int>>(0);
  internal::NvmeHooks hooks;
  hooks.wrap_queue = [faults, reads](std::unique_ptr<internal::IoQueue> q) {
    return std::make_unique<FailNthRead>(FaultyIoQueue::Wrapper(faults)(std::move(q)),
                                         faults, reads, 2);
  };
  NvmeStore s(disk.options, hooks);
  REQUIRE(s.status.ok());
  const uint64_t submits = faults->submits.load();
  CHECK(LoadChecked(*s.store, disk.chain) == 1);  // block 0 read, block 1 failed
  CHECK(faults->submits.load() == submits + 1);   // both in one batch
  CHECK(faults->injected.load() == 1);
  const StoreStats st = s.store->Stats();
  CHECK(st.tier(Tier::kNvme).io_errors == 1);
  CHECK(st.tier(Tier::kNvme).hits == 1);
  CHECK(st.tier(Tier::kNvme).blocks == 3);  // the failed slot was dropped
  CHECK(s.store->Lookup(disk.chain).blocks == 1);
}

TEST_CASE("short transfers are continued and EAGAIN retried: bytes stay exact",
          "[nvme][fault]") {
  TempDir dir;
  // 16 layers: 4 KiB payloads, 8 KiB slots, so a transfer can be cut short.
  const Options o = NvmeOptions(dir.path(), 16, 64, testing::SmallLayout(16));
  std::vector<BlockHash> chain;
  {
    NvmeStore s(o);
    s.faults->short_ops = 1000;
    s.faults->eagain_ops = 5;
    chain = ChainOf(*s.store, 10, 8);
    SaveChain(*s.store, chain);
    s.store->Flush();
    CHECK(s.store->Stats().tier(Tier::kNvme).blocks == 8);
    CHECK(s.faults->injected.load() > 8);
  }
  NvmeStore s(o);
  s.faults->short_ops = 1000;
  s.faults->eagain_ops = 5;
  CHECK(LoadChecked(*s.store, chain) == 8);
  CHECK(s.faults->injected.load() >= 8 + 5);  // every read cut short, 5 EAGAINs
  const StoreStats st = s.store->Stats();
  CHECK(st.tier(Tier::kNvme).io_errors == 0);
  CHECK(st.tier(Tier::kNvme).checksum_errors == 0);
}

TEST_CASE("a full disk (ENOSPC) stops NVMe admission without failing Save",
          "[nvme][fault]") {
  TempDir dir;
  NvmeStore s(NvmeOptions(dir.path(), 4, 64));
  s.faults->write_errno = ENOSPC;
  s.faults->fail_writes = 1000;
  for (uint32_t c = 0; c < 6; ++c) {
    const auto chain = ChainOf(*s.store, 300 + c, 2);
    auto r = SaveChain(*s.store, chain);
    CHECK(r.stored + r.refreshed == 2);  // host took them: Save succeeded
    s.store->Flush();
    CHECK(LoadChecked(*s.store, chain) == 2);
  }
  const StoreStats st = s.store->Stats();
  CHECK(st.nvme.full_events >= 1);
  CHECK(st.tier(Tier::kNvme).blocks == 0);
  CHECK(st.nvme.copy_down_dropped > 0);
  // After the first ENOSPC the tier refuses for a while: far fewer writes
  // reached the device than blocks were offered.
  CHECK(st.tier(Tier::kNvme).io_errors < 12);
}

TEST_CASE("an EIO on an NVMe write drops that copy and counts it", "[nvme][fault]") {
  TempDir dir;
  NvmeStore s(NvmeOptions(dir.path(), 8, 64));
  s.faults->fail_writes = 1;
  const auto chain = ChainOf(*s.store, 11, 3);
  SaveChain(*s.store, chain);
  s.store->Flush();
  const StoreStats st = s.store->Stats();
  CHECK(st.tier(Tier::kNvme).io_errors == 1);
  CHECK(st.nvme.copy_down_dropped == 1);
  CHECK(st.tier(Tier::kNvme).blocks == 2);
  CHECK(LoadChecked(*s.store, chain) == 3);  // host still has all three
}

TEST_CASE("slow NVMe I/O delays calls but never hangs or corrupts them",
          "[nvme][fault]") {
  OnDisk disk(4);
  NvmeStore s(disk.options);
  s.faults->delay_us = 20'000;
  const uint64_t ops = s.faults->ops.load();
  const auto start = std::chrono::steady_clock::now();
  CHECK(LoadChecked(*s.store, disk.chain) == 4);
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(s.faults->ops.load() >= ops + 4);        // the reads went through the slow queue
  CHECK(took >= std::chrono::milliseconds(20));  // and waited there
  CHECK(took < std::chrono::seconds(5));
  const auto fresh = ChainOf(*s.store, 12, 2);
  SaveChain(*s.store, fresh);
  s.store->Flush();
  CHECK(LoadChecked(*s.store, fresh) == 2);
}

}  // namespace
}  // namespace kvtier
