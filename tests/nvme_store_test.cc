// The NVMe tier under a Store: real files, real io_uring with O_DIRECT, real
// RocksDB. Persistence, hierarchy (write-through, write-back, promotion,
// batched loads, Prefetch) and capacity.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>

#include "backends/nvme/cache_file.h"
#include "tests/nvme_support.h"

namespace kvtier {
namespace {

using testing::ChainOf;
using testing::LoadChecked;
using testing::NvmeOptions;
using testing::NvmeStore;
using testing::SaveChain;
using testing::TempDir;

TEST_CASE("blocks evicted from host load byte-exact from NVMe", "[nvme]") {
  TempDir dir;
  NvmeStore s(NvmeOptions(dir.path(), 2, 64));
  REQUIRE(s.status.ok());
  const auto chain = ChainOf(*s.store, 1, 8);
  CHECK(SaveChain(*s.store, chain).stored == 2);  // host holds 2; Save ends there
  s.store->Flush();
  // Write-through copied both down; save the rest chain-by-chain prefix.
  for (size_t n = 3; n <= 8; ++n) {
    SaveChain(*s.store, std::span(chain).first(n));
    s.store->Flush();
  }
  const StoreStats st = s.store->Stats();
  CHECK(st.nvme.io_uring);
  CHECK(st.nvme.direct_io);
  CHECK(st.tier(Tier::kNvme).blocks == 8);
  CHECK(st.nvme.copy_down_blocks == 8);
  CHECK(s.store->Lookup(chain).blocks == 8);
  CHECK(LoadChecked(*s.store, chain) == 8);
  CHECK(s.store->Stats().tier(Tier::kNvme).hits >= 6);
}

TEST_CASE(
    "write-downs of 64 KiB blocks go to the device from the host slot, small ones staged",
    "[nvme]") {
  // Host slots are 4 KiB-aligned 4 KiB multiples for blocks of 64 KiB and
  // more (same codec as NVMe), and the device DMAs from them; smaller
  // blocks have 64-byte slots and are copied into staging first.
  for (const uint32_t tokens : {512u, 4u}) {
    TempDir dir;
    Options o = NvmeOptions(dir.path(), 2, 0, testing::SmallLayout(2, tokens));
    o.nvme.capacity_bytes = 16 * (o.layout.BlockBytes() + 8192);
    NvmeStore s(o);
    REQUIRE(s.status.ok());
    const auto chain = ChainOf(*s.store, 1, 6);
    for (size_t n = 1; n <= chain.size(); ++n) {
      SaveChain(*s.store, std::span(chain).first(n));
      s.store->Flush();
    }
    const StoreStats st = s.store->Stats();
    INFO("block bytes " << o.layout.BlockBytes());
    CHECK(st.nvme.copy_down_blocks == 6);
    CHECK(st.nvme.staged_writes == (tokens == 512 ? 0 : 6));
    CHECK(LoadChecked(*s.store, chain) == 6);
  }
}

TEST_CASE("a reopened store finds every block NVMe acknowledged", "[nvme]") {
  TempDir dir;
  const Options o = NvmeOptions(dir.path(), 4, 64);
  std::vector<BlockHash> chain;
  {
    NvmeStore s(o);
    REQUIRE(s.status.ok());
    chain = ChainOf(*s.store, 2, 4);
    SaveChain(*s.store, chain);
  }  // the destructor flushes the write-through queue
  NvmeStore s(o);
  REQUIRE(s.status.ok());
  const StoreStats st = s.store->Stats();
  CHECK(st.nvme.recovered_blocks == 4);
  CHECK(st.nvme.recovery_dropped == 0);
  const LookupResult hit = s.store->Lookup(chain);
  CHECK(hit.blocks == 4);
  CHECK(hit.blocks_per_tier[static_cast<int>(Tier::kNvme)] == 4);
  CHECK(LoadChecked(*s.store, chain) == 4);
}

TEST_CASE("a Load of NVMe-only blocks is one batched submission", "[nvme]") {
  TempDir dir;
  const Options o = NvmeOptions(dir.path(), 8, 64);
  std::vector<BlockHash> chain;
  {
    NvmeStore s(o);
    chain = ChainOf(*s.store, 3, 8);
    SaveChain(*s.store, chain);
  }
  NvmeStore s(o);  // host empty: all 8 blocks only on NVMe
  REQUIRE(s.status.ok());
  const uint64_t before = s.faults->submits.load();
  CHECK(LoadChecked(*s.store, chain) == 8);
  CHECK(s.faults->submits.load() - before == 1);
  CHECK(s.store->Stats().tier(Tier::kNvme).hits == 8);
}

TEST_CASE("a hit on NVMe is promoted to host and keeps its NVMe copy", "[nvme]") {
  TempDir dir;
  const Options o = NvmeOptions(dir.path(), 8, 64);
  std::vector<BlockHash> chain;
  {
    NvmeStore s(o);
    chain = ChainOf(*s.store, 4, 3);
    SaveChain(*s.store, chain);
  }
  NvmeStore s(o);
  CHECK(LoadChecked(*s.store, chain) == 3);
  StoreStats st = s.store->Stats();
  CHECK(st.nvme.promotions == 3);
  CHECK(st.tier(Tier::kHost).blocks == 3);
  CHECK(st.tier(Tier::kNvme).blocks == 3);
  CHECK(s.store->Lookup(chain).blocks_per_tier[static_cast<int>(Tier::kHost)] == 3);
  CHECK(LoadChecked(*s.store, chain) == 3);
  CHECK(s.store->Stats().tier(Tier::kHost).hits == 3);
}

TEST_CASE("Prefetch moves NVMe-only blocks to host and its handle completes", "[nvme]") {
  TempDir dir;
  const Options o = NvmeOptions(dir.path(), 8, 64);
  std::vector<BlockHash> chain;
  {
    NvmeStore s(o);
    chain = ChainOf(*s.store, 5, 5);
    SaveChain(*s.store, chain);
  }
  NvmeStore s(o);
  PrefetchHandle h = s.store->Prefetch(chain);
  CHECK(h.Wait() == 5);
  CHECK(h.Done());
  CHECK(s.store->Lookup(chain).blocks_per_tier[static_cast<int>(Tier::kHost)] == 5);
  CHECK(LoadChecked(*s.store, chain) == 5);
  CHECK(s.store->Stats().tier(Tier::kNvme).hits == 0);
  // Nothing left to move: done with 0.
  CHECK(s.store->Prefetch(chain).Wait() == 0);
}

TEST_CASE("write-back writes blocks down only ahead of host's evictions", "[nvme]") {
  TempDir dir;
  Options o = NvmeOptions(dir.path(), 16, 64);
  o.nvme.write_policy = WritePolicy::kWriteBack;
  NvmeStore s(o);
  REQUIRE(s.status.ok());
  const auto a = ChainOf(*s.store, 6, 2);
  SaveChain(*s.store, a);
  s.store->Flush();
  CHECK(s.store->Stats().tier(Tier::kNvme).blocks == 0);  // host has room
  // Fill host: once its free room falls under the reserve, its coldest
  // blocks (a's first) are written down before they are evicted.
  for (uint32_t c = 0; c < 8; ++c) {
    SaveChain(*s.store, ChainOf(*s.store, 300 + c, 2));
    s.store->Flush();
  }
  const StoreStats st = s.store->Stats();
  CHECK(st.tier(Tier::kHost).evictions > 0);
  CHECK(st.nvme.copy_down_blocks > 0);
  CHECK(st.nvme.copy_down_blocks < 18);  // not every block: only the coldest
  CHECK(st.nvme.copy_down_dropped == 0);
  CHECK(st.tier(Tier::kNvme).blocks == st.nvme.copy_down_blocks);
  CHECK(s.store->Lookup(a).blocks_per_tier[static_cast<int>(Tier::kNvme)] == 2);
  CHECK(LoadChecked(*s.store, a) == 2);
}

TEST_CASE("the NVMe tier never holds more than its capacity", "[nvme]") {
  TempDir dir;
  const Options o = NvmeOptions(dir.path(), 4, 16);
  NvmeStore s(o);
  REQUIRE(s.status.ok());
  for (uint32_t c = 0; c < 20; ++c) {
    const auto chain = ChainOf(*s.store, 100 + c, 3);
    SaveChain(*s.store, chain);
    s.store->Flush();
    const TierStats nv = s.store->Stats().tier(Tier::kNvme);
    REQUIRE(nv.used_bytes <= nv.capacity_bytes);
    REQUIRE(nv.blocks <= 16);
  }
  const StoreStats st = s.store->Stats();
  CHECK(st.tier(Tier::kNvme).evictions > 0);
  CHECK(st.tier(Tier::kNvme).capacity_bytes == 16 * 4096);
  CHECK(std::filesystem::file_size(dir.path() / internal::kCacheFileName) == 16 * 4096);
  // The latest chains still load exactly.
  CHECK(LoadChecked(*s.store, ChainOf(*s.store, 119, 3)) == 3);
}

TEST_CASE("blocks stripe over several directories and survive a restart", "[nvme]") {
  TempDir a, b;
  Options o = NvmeOptions(a.path(), 2, 32);
  o.nvme.directories = {a.path(), b.path()};
  std::vector<BlockHash> chain;
  {
    NvmeStore s(o);
    REQUIRE(s.status.ok());
    chain = ChainOf(*s.store, 8, 2);
    // Each save written down before the next evicts it from the 2-block
    // host tier (an evicted block's pending write-down is dropped).
    for (size_t n = 1; n <= 2; ++n) {
      SaveChain(*s.store, std::span(chain).first(n));
      s.store->Flush();
    }
    for (uint32_t c = 0; c < 4; ++c) {
      SaveChain(*s.store, ChainOf(*s.store, 200 + c, 2));
      s.store->Flush();
    }
  }
  CHECK(std::filesystem::file_size(a.path() / internal::kCacheFileName) == 16 * 4096);
  CHECK(std::filesystem::file_size(b.path() / internal::kCacheFileName) == 16 * 4096);
  NvmeStore s(o);
  CHECK(LoadChecked(*s.store, chain) == 2);
}

TEST_CASE("cache files are created mode 0600", "[nvme]") {
  TempDir dir;
  NvmeStore s(NvmeOptions(dir.path(), 2, 8));
  REQUIRE(s.status.ok());
  struct stat st {};
  REQUIRE(stat((dir.path() / internal::kCacheFileName).c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(stat((dir.path() / "kvtier-manifest").c_str(), &st) == 0);
  CHECK((st.st_mode & 0077) == 0);
}

}  // namespace
}  // namespace kvtier

namespace kvtier {
namespace {

TEST_CASE("a restart recovers exactly the blocks NVMe held, after evictions and re-saves",
          "[nvme]") {
  testing::TempDir dir;
  const Options o = testing::NvmeOptions(dir.path(), 2, 6);
  uint64_t held = 0;
  std::vector<std::vector<BlockHash>> chains;
  {
    testing::NvmeStore s(o);
    REQUIRE(s.status.ok());
    for (uint32_t round = 0; round < 4; ++round) {
      for (uint32_t c = 0; c < 5; ++c) {  // 5 chains of 2 > 6 slots: evictions
        chains.push_back(testing::ChainOf(*s.store, 500 + c, 2));
        testing::SaveChain(*s.store, chains.back());
        s.store->Flush();
      }
    }
    const StoreStats st = s.store->Stats();
    CHECK(st.tier(Tier::kNvme).evictions > 0);
    held = st.tier(Tier::kNvme).blocks;
  }
  testing::NvmeStore s(o);
  const StoreStats st = s.store->Stats();
  CHECK(st.nvme.recovered_blocks == held);
  CHECK(st.nvme.recovery_dropped == 0);
  CHECK(st.tier(Tier::kNvme).blocks == held);
  size_t loaded = 0;
  for (uint32_t c = 0; c < 5; ++c) {
    const size_t n =
        testing::LoadChecked(*s.store, testing::ChainOf(*s.store, 500 + c, 2));
    REQUIRE(n != SIZE_MAX);
    loaded += n;
  }
  CHECK(s.store->Stats().tier(Tier::kNvme).checksum_errors == 0);
  CHECK(loaded >= held - 1);  // a held tail whose parent was evicted is an orphan
}

}  // namespace
}  // namespace kvtier
