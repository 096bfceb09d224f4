// No I/O under placement's lock: a slow manifest (every RocksDB write
// delayed, as in a write stall) must not slow down Lookups on other
// threads, while evictions on NVMe forget their records.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/nvme_support.h"

namespace kvtier {
namespace {

using testing::ChainOf;
using testing::SaveChain;

TEST_CASE("with manifest writes delayed 200 ms, Lookups keep their usual latency",
          "[nvme][lock]") {
  testing::TempDir dir;
  auto slow = std::make_shared<std::atomic<bool>>(false);
  internal::NvmeHooks hooks;
  hooks.manifest.before_write = [slow] {
    if (slow->load()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  };
  // NVMe holds 16 blocks: every later write-down evicts there and forgets
  // the victim's record.
  testing::NvmeStore s(testing::NvmeOptions(dir.path(), 8, 16), hooks);
  REQUIRE(s.status.ok());
  for (uint32_t c = 0; c < 8; ++c) {
    SaveChain(*s.store, ChainOf(*s.store, 10 + c, 2));
    s.store->Flush();
  }
  const auto probe = ChainOf(*s.store, 17, 2);
  REQUIRE(s.store->Lookup(probe).blocks == 2);

  const auto slowest_lookup = [&](std::chrono::milliseconds span) {
    auto slowest = std::chrono::nanoseconds::zero();
    const auto end = std::chrono::steady_clock::now() + span;
    while (std::chrono::steady_clock::now() < end) {
      const auto t0 = std::chrono::steady_clock::now();
      (void)s.store->Lookup(probe);
      slowest = std::max(slowest, std::chrono::steady_clock::now() - t0);
    }
    return slowest;
  };
  slow->store(true);
  const uint64_t evictions_before = s.store->Stats().tier(Tier::kNvme).evictions;
  std::atomic<bool> saving{true};
  std::thread saver([&] {
    for (uint32_t c = 0; saving.load(); ++c) {
      SaveChain(*s.store, ChainOf(*s.store, 100 + c, 2));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  const auto slowest = slowest_lookup(std::chrono::milliseconds(1500));
  saving.store(false);
  saver.join();
  // The writer was stalled in RocksDB for 200 ms per write meanwhile;
  // Lookups never waited for it (a generous bound for a loaded machine).
  CHECK(s.store->Stats().tier(Tier::kNvme).evictions > evictions_before);
  CHECK(slowest < std::chrono::milliseconds(100));
  slow->store(false);
  s.store->Flush();
}

}  // namespace
}  // namespace kvtier
