// NVMe reads pipelined across calls: batches from several calls and threads
// share the tier's rings (the device queue holds them together), each
// request finishes on its own, faults hit only the requests they hit, and a
// read may deliver the stored block verbatim into stored_out (DMA'd there
// when aligned). Real files, io_uring and RocksDB; faults from FaultyIoQueue.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "lib/stored_block.h"
#include "tests/nvme_tier_support.h"

namespace kvtier {
namespace {

using internal::BlockIo;
using internal::NvmeTier;
using testing::EngineBuffers;
using testing::NvmeTierSetup;
using testing::TempDir;
using testing::TierHash;
using testing::WriteBlock;

// 8 segments of 2 KiB: 16 KiB blocks, a 20 KiB transfer each.
KvLayout PipelineLayout() { return testing::SmallLayout(4, 64); }

constexpr uint32_t kBlocks = 32;

// A tier with blocks TierHash(0..kBlocks-1) in slots 0..kBlocks-1.
std::unique_ptr<NvmeTier> Filled(const NvmeTierSetup& setup) {
  auto tier = setup.Open();
  for (uint32_t s = 0; s < kBlocks; ++s) {
    REQUIRE(WriteBlock(*tier, setup.layout, s, TierHash(s)).ok());
  }
  return tier;
}

// Reads of `slots` into their own buffers.
struct ReadSet {
  ReadSet(const KvLayout& layout, const std::vector<uint32_t>& slots)
      : buffers(layout, slots.size()), hashes(slots.size()) {
    for (size_t i = 0; i < slots.size(); ++i) {
      hashes[i] = TierHash(slots[i]);
      io.push_back(BlockIo{
          slots[i], hashes[i], nullptr, buffers.blocks(i, 1), Status::Ok(), {}, {}});
    }
  }
  // Requests that are OK but hold wrong bytes.
  size_t WrongBytes() const {
    size_t wrong = 0;
    for (size_t i = 0; i < io.size(); ++i) {
      if (io[i].status.ok() && !buffers.Matches(i, hashes[i])) ++wrong;
    }
    return wrong;
  }
  EngineBuffers buffers;
  std::vector<BlockHash> hashes;
  std::vector<BlockIo> io;
};

// Waits for a SubmitReadBatch to finish.
struct BatchWait {
  void Done() {
    std::lock_guard lock(mu);
    done = true;
    cv.notify_all();
  }
  void Wait() {
    std::unique_lock lock(mu);
    cv.wait(lock, [this] { return done; });
  }
  bool IsDone() {
    std::lock_guard lock(mu);
    return done;
  }
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
};

std::vector<uint32_t> RandomSlots(std::mt19937& rng, size_t n) {
  std::vector<uint32_t> all(kBlocks);
  for (uint32_t s = 0; s < kBlocks; ++s) all[s] = s;
  std::shuffle(all.begin(), all.end(), rng);
  all.resize(n);
  return all;
}

TEST_CASE("batches from several threads share the rings and every byte is exact",
          "[nvme][pipeline]") {
  TempDir dir;
  NvmeTierSetup setup{dir.path().string(), PipelineLayout(), kBlocks};
  setup.max_queues = 2;
  setup.queue_depth = 8;
  auto tier = Filled(setup);
  std::atomic<size_t> wrong{0}, failed{0}, requests{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int round = 0; round < 30; ++round) {
        // Two batches in flight from this thread, one async, one sync.
        ReadSet a(setup.layout, RandomSlots(rng, 1 + rng() % 12));
        ReadSet b(setup.layout, RandomSlots(rng, 1 + rng() % 12));
        BatchWait wait;
        std::atomic<size_t> done_calls{0};
        tier->SubmitReadBatch(
            a.io, [&](size_t) { done_calls.fetch_add(1); }, [&] { wait.Done(); });
        tier->ReadBatch(b.io);
        wait.Wait();
        if (done_calls.load() != a.io.size()) failed.fetch_add(1);
        for (ReadSet* set : {&a, &b}) {
          wrong.fetch_add(set->WrongBytes());
          for (const BlockIo& r : set->io) failed.fetch_add(r.status.ok() ? 0 : 1);
          requests.fetch_add(set->io.size());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(requests.load() > 100);
  CHECK(wrong.load() == 0);
  CHECK(failed.load() == 0);
  CHECK(tier->checksum_errors() == 0);
  CHECK(tier->bytes_read() == requests.load() * internal::StoredBlockBytes(16384));
}

TEST_CASE("a second batch from one thread is on the device before the first finishes",
          "[nvme][pipeline]") {
  TempDir dir;
  NvmeTierSetup setup{dir.path().string(), PipelineLayout(), kBlocks};
  setup.max_queues = 1;
  setup.queue_depth = 16;
  auto tier = Filled(setup);
  setup.faults->delay_us = 100'000;  // every completion is reaped 100 ms late
  const uint64_t ops = setup.faults->ops.load();
  ReadSet a(setup.layout, {0, 1, 2, 3}), b(setup.layout, {4, 5, 6, 7});
  BatchWait wa, wb;
  const auto t0 = std::chrono::steady_clock::now();
  tier->SubmitReadBatch(a.io, {}, [&] { wa.Done(); });
  tier->SubmitReadBatch(b.io, {}, [&] { wb.Done(); });
  // Both returned at once with all eight reads handed to the one ring.
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(50));
  CHECK(setup.faults->ops.load() - ops == 8);
  CHECK_FALSE(wa.IsDone());
  CHECK_FALSE(wb.IsDone());
  wa.Wait();
  wb.Wait();
  setup.faults->delay_us = 0;
  CHECK(a.WrongBytes() + b.WrongBytes() == 0);
  for (const ReadSet* set : {&a, &b}) {
    for (const BlockIo& r : set->io) CHECK(r.status.ok());
  }
}

TEST_CASE("faults mid-batch fail only the requests they hit, other batches in flight",
          "[nvme][pipeline][fault]") {
  TempDir dir;
  NvmeTierSetup setup{dir.path().string(), PipelineLayout(), kBlocks};
  setup.max_queues = 2;
  setup.queue_depth = 4;
  auto tier = Filled(setup);
  std::atomic<size_t> wrong{0}, io_errors{0}, other{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(100 + t);
      while (!go.load()) std::this_thread::yield();
      for (int round = 0; round < 40; ++round) {
        ReadSet set(setup.layout, RandomSlots(rng, 1 + rng() % 10));
        BatchWait wait;
        tier->SubmitReadBatch(set.io, {}, [&] { wait.Done(); });
        wait.Wait();
        wrong.fetch_add(set.WrongBytes());
        for (const BlockIo& r : set.io) {
          if (r.status.code() == StatusCode::kIoError) {
            io_errors.fetch_add(1);
          } else if (!r.status.ok()) {
            other.fetch_add(1);
          }
        }
      }
    });
  }
  // Armed while the threads start: EIO for 5 reads, -EAGAIN first for 7
  // ops, half transfers for 7 (continued from where they stopped).
  setup.faults->fail_reads = 5;
  setup.faults->eagain_ops = 7;
  setup.faults->short_ops = 7;
  go = true;
  for (auto& t : threads) t.join();
  CHECK(setup.faults->fail_reads.load() == 0);
  CHECK(setup.faults->eagain_ops.load() == 0);
  CHECK(setup.faults->short_ops.load() == 0);
  CHECK(io_errors.load() == 5);
  CHECK(other.load() == 0);
  CHECK(wrong.load() == 0);
  CHECK(tier->io_errors() == 5);
  CHECK(tier->checksum_errors() == 0);
}

// Memory for stored_out: 4 KiB aligned plus `misalign` bytes.
struct StoredOut {
  StoredOut(size_t bytes, size_t misalign)
      : memory(static_cast<std::byte*>(std::aligned_alloc(4096, Room(bytes)))) {
    std::memset(memory.get(), 0xEE, Room(bytes));
    span = {memory.get() + misalign, bytes};
  }
  static size_t Room(size_t bytes) { return (bytes + 8191) / 4096 * 4096; }
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::unique_ptr<std::byte, Free> memory;
  std::span<std::byte> span;
};

TEST_CASE("a read delivers the stored block verbatim into stored_out",
          "[nvme][pipeline]") {
  TempDir dir;
  NvmeTierSetup setup{dir.path().string(), PipelineLayout(), kBlocks};
  auto tier = Filled(setup);
  const size_t stored = internal::StoredBlockBytes(16384);
  // What the slot holds: the block as WriteStoredBlock makes it.
  EngineBuffers src(setup.layout, 1);
  const BlockHash h = TierHash(5);
  src.FillFrom({&h, 1});
  std::vector<std::byte> want(stored);
  internal::WriteStoredBlock(h, tier->block_codec(), src.all(), want);

  // Aligned and holding the 4 KiB-rounded transfer: the device writes it.
  // Else (misaligned, or only the stored size): staging, then a copy.
  const size_t misalign = GENERATE(0, 64);
  const size_t room = GENERATE(size_t{20480}, internal::StoredBlockBytes(16384));
  INFO("stored_out +" << misalign << ", " << room << " bytes");
  StoredOut out(room, misalign);
  ReadSet set(setup.layout, {5});
  set.io[0].stored_out = out.span;
  tier->ReadBatch(set.io);
  REQUIRE(set.io[0].status.ok());
  CHECK(set.WrongBytes() == 0);
  CHECK(std::memcmp(out.span.data(), want.data(), stored) == 0);
  const bool direct = misalign == 0 && room == 20480;
  CHECK((setup.faults->last_buf.load() == reinterpret_cast<uintptr_t>(out.span.data())) ==
        direct);
}

TEST_CASE("a corrupt slot read through stored_out is Corruption", "[nvme][pipeline]") {
  TempDir dir;
  NvmeTierSetup setup{dir.path().string(), PipelineLayout(), kBlocks};
  auto tier = Filled(setup);
  // Flip one payload byte of slot 9 behind the tier's back.
  const int fd = ::open((dir.path() / internal::kCacheFileName).c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  const off_t at = static_cast<off_t>(9 * tier->slot_bytes() + 1000);
  unsigned char b = 0;
  REQUIRE(::pread(fd, &b, 1, at) == 1);
  b ^= 0x10;
  REQUIRE(::pwrite(fd, &b, 1, at) == 1);
  ::close(fd);

  StoredOut out(20480, 0);
  ReadSet set(setup.layout, {9, 10});
  set.io[0].stored_out = out.span;
  tier->ReadBatch(set.io);
  CHECK(set.io[0].status.code() == StatusCode::kCorruption);
  CHECK_THAT(set.io[0].status.message(), Catch::Contains("payload checksum mismatch"));
  CHECK(set.io[1].status.ok());
  CHECK(tier->checksum_errors() == 1);
}

TEST_CASE("stored_out smaller than the stored block is InvalidArgument",
          "[nvme][pipeline]") {
  TempDir dir;
  NvmeTierSetup setup{dir.path().string(), PipelineLayout(), kBlocks};
  auto tier = Filled(setup);
  StoredOut out(4096, 0);
  ReadSet set(setup.layout, {1});
  set.io[0].stored_out = out.span;
  tier->ReadBatch(set.io);
  CHECK(set.io[0].status.code() == StatusCode::kInvalidArgument);
  CHECK_THAT(set.io[0].status.message(), Catch::Contains("stored_out of 4096 bytes"));
}

TEST_CASE("SubmitReadBatch calls on_done once per request, then on_batch_done once",
          "[nvme][pipeline]") {
  TempDir dir;
  NvmeTierSetup setup{dir.path().string(), PipelineLayout(), kBlocks};
  auto tier = Filled(setup);
  ReadSet set(setup.layout, {1, 2, 3, 4});
  set.io[1].status = Unavailable("skipped by the caller");
  set.io[2].hash = TierHash(99);  // not what slot 3 holds: fails before the device
  std::vector<std::atomic<int>> calls(set.io.size());
  std::atomic<int> batch_calls{0}, done_before_batch{0};
  BatchWait wait;
  tier->SubmitReadBatch(
      set.io, [&](size_t i) { calls[i].fetch_add(1); },
      [&] {
        for (auto& c : calls) done_before_batch.fetch_add(c.load());
        batch_calls.fetch_add(1);
        wait.Done();
      });
  wait.Wait();
  for (auto& c : calls) CHECK(c.load() == 1);
  CHECK(done_before_batch.load() == 4);
  CHECK(batch_calls.load() == 1);
  CHECK(set.io[0].status.ok());
  CHECK(set.io[1].status.code() == StatusCode::kUnavailable);
  CHECK(set.io[2].status.code() == StatusCode::kCorruption);
  CHECK(set.io[3].status.ok());
  CHECK(set.buffers.Matches(0, set.hashes[0]));
  CHECK(set.buffers.Matches(3, set.hashes[3]));
}

TEST_CASE("SubmitWriteBatch writes, calls back, and the blocks read back",
          "[nvme][pipeline]") {
  TempDir dir;
  NvmeTierSetup setup{dir.path().string(), PipelineLayout(), kBlocks};
  auto tier = setup.Open();
  std::vector<BlockHash> hashes = {TierHash(40), TierHash(41)};
  EngineBuffers src(setup.layout, 2);
  src.FillFrom(hashes);
  std::vector<BlockIo> io = {
      {6, hashes[0], nullptr, src.blocks(0, 1), Status::Ok(), {}, {}},
      {7, hashes[1], nullptr, src.blocks(1, 1), Status::Ok(), {}, {}}};
  std::atomic<int> done_calls{0};
  BatchWait wait;
  tier->SubmitWriteBatch(
      io, [&](size_t) { done_calls.fetch_add(1); }, [&] { wait.Done(); });
  wait.Wait();
  CHECK(done_calls.load() == 2);
  REQUIRE(io[0].status.ok());
  REQUIRE(io[1].status.ok());
  CHECK(tier->bytes_written() == 2 * internal::StoredBlockBytes(16384));
  ReadSet set(setup.layout, {6, 7});
  set.hashes = hashes;
  set.io[0].hash = hashes[0];
  set.io[1].hash = hashes[1];
  tier->ReadBatch(set.io);
  CHECK(set.io[0].status.ok());
  CHECK(set.io[1].status.ok());
  CHECK(set.WrongBytes() == 0);
}

}  // namespace
}  // namespace kvtier
