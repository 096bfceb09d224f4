// Open compares each cache file's size with the tier's: entries whose bytes
// a truncated, deleted or recreated file no longer holds are dropped at Open
// (not reported, then failed one checksum at a time); a file grown by a
// larger capacity keeps its blocks; a smaller capacity cuts the file and
// keeps the blocks that still fit.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

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
namespace fs = std::filesystem;

std::vector<std::string> g_log;
void Capture(const char* m) { g_log.emplace_back(m); }

// Saves a 6-block chain into an 8-slot tier and closes it.
std::vector<BlockHash> SaveSix(const Options& o) {
  NvmeStore s(o);
  REQUIRE(s.status.ok());
  const auto chain = ChainOf(*s.store, 5, 6);
  SaveChain(*s.store, chain);
  s.store->Flush();
  REQUIRE(s.store->Stats().tier(Tier::kNvme).blocks == 6);
  return chain;
}

void CheckNothingServed(const Options& o, const std::vector<BlockHash>& chain) {
  g_log.clear();
  NvmeStore s(o);
  REQUIRE(s.status.ok());
  const StoreStats st = s.store->Stats();
  CHECK(st.nvme.recovered_blocks == 0);
  CHECK(st.nvme.recovery_dropped == 6);
  CHECK(s.store->Lookup(chain).blocks == 0);
  CHECK(LoadChecked(*s.store, chain) == 0);
  CHECK(s.store->Stats().tier(Tier::kNvme).checksum_errors == 0);
  REQUIRE(g_log.size() == 1);
  CHECK(g_log[0].find(internal::kCacheFileName) != std::string::npos);
}

Options EightSlots(const fs::path& dir) {
  Options o = NvmeOptions(dir, 8, 8);
  o.log = Capture;
  return o;
}

TEST_CASE("a truncated cache file's blocks are dropped at Open, not failed one by one",
          "[nvme][resized]") {
  TempDir dir;
  const Options o = EightSlots(dir.path());
  const auto chain = SaveSix(o);
  fs::resize_file(dir.path() / internal::kCacheFileName, 0);
  CheckNothingServed(o, chain);
}

TEST_CASE("a deleted cache file's blocks are dropped at Open", "[nvme][resized]") {
  TempDir dir;
  const Options o = EightSlots(dir.path());
  const auto chain = SaveSix(o);
  fs::remove(dir.path() / internal::kCacheFileName);
  CheckNothingServed(o, chain);
}

TEST_CASE("a cache file cut short keeps the blocks it still holds", "[nvme][resized]") {
  TempDir dir;
  const Options o = EightSlots(dir.path());
  const auto chain = SaveSix(o);
  fs::resize_file(dir.path() / internal::kCacheFileName, 3 * 4096);
  NvmeStore s(o);
  REQUIRE(s.status.ok());
  const StoreStats st = s.store->Stats();
  CHECK(st.nvme.recovered_blocks + st.nvme.recovery_dropped == 6);
  CHECK(st.nvme.recovered_blocks <= 3);
  const size_t served = LoadChecked(*s.store, chain);
  CHECK(served != SIZE_MAX);
  CHECK(s.store->Stats().tier(Tier::kNvme).checksum_errors == 0);
}

TEST_CASE("a larger capacity grows the cache file and keeps its blocks",
          "[nvme][resized]") {
  TempDir dir;
  const Options o = EightSlots(dir.path());
  const auto chain = SaveSix(o);
  Options bigger = o;
  bigger.nvme.capacity_bytes = 16 * 4096;
  NvmeStore s(bigger);
  REQUIRE(s.status.ok());
  CHECK(fs::file_size(dir.path() / internal::kCacheFileName) == 16 * 4096);
  CHECK(s.store->Stats().nvme.recovered_blocks == 6);
  CHECK(LoadChecked(*s.store, chain) == 6);
}

TEST_CASE("a smaller capacity cuts the cache file and keeps the blocks that fit",
          "[nvme][resized]") {
  TempDir dir;
  const Options o = EightSlots(dir.path());
  const auto chain = SaveSix(o);
  Options smaller = o;
  smaller.nvme.capacity_bytes = 4 * 4096;
  NvmeStore s(smaller);
  REQUIRE(s.status.ok());
  CHECK(fs::file_size(dir.path() / internal::kCacheFileName) == 4 * 4096);
  const StoreStats st = s.store->Stats();
  CHECK(st.nvme.recovered_blocks <= 4);
  CHECK(st.nvme.recovered_blocks + st.nvme.recovery_dropped == 6);
  CHECK(LoadChecked(*s.store, chain) != SIZE_MAX);
  CHECK(s.store->Stats().tier(Tier::kNvme).checksum_errors == 0);
}

}  // namespace
}  // namespace kvtier
