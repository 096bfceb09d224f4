// Erase and Clear with an NVMe tier: durable (a reopened store does not
// bring erased blocks back) and patient (a load moving a block finishes
// before the block goes).
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "tests/nvme_support.h"

namespace kvtier {
namespace {

using testing::ChainOf;
using testing::LoadChecked;
using testing::NvmeOptions;
using testing::NvmeStore;
using testing::SaveChain;
using testing::TempDir;

TEST_CASE("nvme erase: an erased chain stays gone after a restart", "[erase][nvme]") {
  TempDir dir;
  const Options o = NvmeOptions(dir.path().string(), 8, 64);
  std::vector<BlockHash> a, b;
  {
    NvmeStore s(o);
    REQUIRE(s.status.ok());
    a = ChainOf(*s.store, 1, 6);
    b = ChainOf(*s.store, 2, 6);
    SaveChain(*s.store, a);
    s.store->Flush();  // host holds 8: a's blocks reach NVMe before b evicts them
    SaveChain(*s.store, b);
    s.store->Flush();
    REQUIRE(s.store->Lookup(a).blocks == 6);
    Result<EraseResult> erased = s.store->Erase(a);
    REQUIRE(erased.ok());
    CHECK(erased->blocks == 6);
    CHECK(s.store->Lookup(a).blocks == 0);
  }
  NvmeStore reopened(o);
  REQUIRE(reopened.status.ok());
  CHECK(reopened.store->Lookup(a).blocks == 0);
  CHECK(LoadChecked(*reopened.store, b) == 6);
}

TEST_CASE("nvme clear: a reopened store is empty", "[erase][nvme]") {
  TempDir dir;
  const Options o = NvmeOptions(dir.path().string(), 8, 64);
  std::vector<BlockHash> a;
  {
    NvmeStore s(o);
    REQUIRE(s.status.ok());
    a = ChainOf(*s.store, 1, 8);
    SaveChain(*s.store, a);
    s.store->Flush();
    REQUIRE(s.store->Clear().ok());
    CHECK(s.store->Stats().tier(Tier::kNvme).blocks == 0);
  }
  NvmeStore reopened(o);
  REQUIRE(reopened.status.ok());
  CHECK(reopened.store->Stats().nvme.recovered_blocks == 0);
  CHECK(reopened.store->Lookup(a).blocks == 0);
}

TEST_CASE("nvme erase: a load moving the blocks finishes first, byte-exact",
          "[erase][nvme]") {
  TempDir dir;
  NvmeStore s(NvmeOptions(dir.path().string(), 8, 64));
  REQUIRE(s.status.ok());
  const std::vector<BlockHash> a = ChainOf(*s.store, 1, 6);
  SaveChain(*s.store, a);
  s.store->Flush();
  SaveChain(*s.store, ChainOf(*s.store, 2, 8));  // evicts a from host
  s.store->Flush();
  REQUIRE(s.store->Lookup(a).blocks == 6);
  REQUIRE(s.store->Lookup(a).blocks_per_tier[static_cast<int>(Tier::kNvme)] == 6);
  s.faults->delay_us = 100'000;
  testing::EngineBuffers dst(s.store->layout(), a.size());
  const uint64_t ops_before = s.faults->ops.load();
  Result<TransferHandle> load = s.store->BeginLoad(a, dst.all());
  REQUIRE(load.ok());
  // The reads are on the device: the load planned and pinned its blocks.
  while (s.faults->ops.load() == ops_before) std::this_thread::yield();
  const auto start = std::chrono::steady_clock::now();
  Result<EraseResult> erased = s.store->Erase(a);
  const auto waited = std::chrono::steady_clock::now() - start;
  REQUIRE(erased.ok());
  CHECK(erased->blocks == 6);
  CHECK(waited >= std::chrono::milliseconds(50));  // it waited for the reads
  const LoadResult loaded = load->WaitLoad();
  CHECK(loaded.blocks == 6);
  for (size_t i = 0; i < loaded.blocks; ++i) CHECK(dst.Matches(i, a[i]));
  s.faults->delay_us = 0;
  CHECK(s.store->Lookup(a).blocks == 0);
}

}  // namespace
}  // namespace kvtier
