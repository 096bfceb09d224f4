// An NVMe capacity the tier cannot index or the disk cannot hold is a clear
// InvalidArgument naming options.nvme.capacity_bytes, checked before any
// byte is preallocated; a failed Open leaves no file it created behind and
// never removes or resizes a file that was there.
#include <catch2/catch.hpp>

#include <filesystem>

#include "backends/nvme/cache_file.h"
#include "tests/loop_mount.h"
#include "tests/nvme_support.h"

namespace kvtier {
namespace {

using testing::ChainOf;
using testing::LoadChecked;
using testing::LoopMount;
using testing::NvmeOptions;
using testing::NvmeStore;
using testing::SaveChain;
using testing::TempDir;
namespace fs = std::filesystem;

constexpr uint64_t kMiB = uint64_t{1} << 20;

void CheckCapacityError(const Status& s, const std::string& needle) {
  INFO(s.ToString());
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().find("options.nvme.capacity_bytes") != std::string::npos);
  CHECK(s.message().find(needle) != std::string::npos);
}

TEST_CASE("a capacity of 2^63 bytes is InvalidArgument, not cut to what the tier indexes",
          "[nvme][bad-input][disk-space]") {
  TempDir dir;
  Options o = NvmeOptions(dir.path(), 2, 8);
  o.nvme.capacity_bytes = uint64_t{1} << 63;
  CheckCapacityError(NvmeStore(o).status, "can index");
  CHECK_FALSE(fs::exists(dir.path() / internal::kCacheFileName));
  CHECK_FALSE(fs::exists(dir.path() / "kvtier-manifest"));
}

TEST_CASE("a capacity beyond the filesystem's free space fails Open and leaves no file",
          "[nvme][bad-input][disk-space]") {
  LoopMount disk(256 * kMiB);
  if (!disk.ok()) KVTIER_SKIP("no small ext4 filesystem: " + disk.why());
  const fs::path dir = disk.path();
  const uint64_t free_bytes = fs::space(dir).available;
  // Fits the disk, but not with the manifest's reserve beside it.
  Options o = NvmeOptions(dir, 4, 8);
  o.nvme.capacity_bytes =
      (free_bytes - internal::kManifestReserveBytes / 2) / 4096 * 4096;
  CheckCapacityError(NvmeStore(o).status, "bytes free");
  CHECK_FALSE(fs::exists(dir / internal::kCacheFileName));
  CHECK_FALSE(fs::exists(dir / "kvtier-manifest"));
  CHECK(fs::space(dir).available >= free_bytes - kMiB);  // nothing preallocated

  // A capacity that leaves the reserve opens, and its blocks round-trip.
  o.nvme.capacity_bytes = 16 * kMiB;
  std::vector<BlockHash> chain;
  {
    NvmeStore s(o);
    REQUIRE(s.status.ok());
    chain = ChainOf(*s.store, 1, 3);
    SaveChain(*s.store, chain);
    s.store->Flush();
    const StoreStats st = s.store->Stats();
    INFO("io errors " << st.tier(Tier::kNvme).io_errors << ", dropped "
                      << st.nvme.copy_down_dropped << ", host blocks "
                      << st.tier(Tier::kHost).blocks << ", inserts "
                      << st.tier(Tier::kNvme).inserts << ", rejected "
                      << st.tier(Tier::kNvme).rejected << " save_new " << st.save_new_blocks);
    REQUIRE(st.tier(Tier::kNvme).blocks == 3);
  }
  // Asking that file to grow past the free space fails, and the file that
  // was there keeps its size and its blocks.
  Options big = o;
  big.nvme.capacity_bytes = (free_bytes + 64 * kMiB) / 4096 * 4096;
  CheckCapacityError(NvmeStore(big).status, "bytes free");
  CHECK(fs::file_size(dir / internal::kCacheFileName) == 16 * kMiB);
  NvmeStore again(o);
  REQUIRE(again.status.ok());
  INFO("recovered " << again.store->Stats().nvme.recovered_blocks << ", dropped "
                    << again.store->Stats().nvme.recovery_dropped);
  CHECK(LoadChecked(*again.store, chain) == 3);
}

TEST_CASE("an Open that fails after creating cache files removes them, not older ones",
          "[nvme][bad-input][disk-space]") {
  TempDir a, b, c;
  Options o = NvmeOptions(a.path(), 2, 8);
  o.nvme.directories = {a.path().string(), b.path().string(),
                        (c.path() / "missing").string()};
  {
    NvmeStore s(o);
    INFO(s.status.ToString());
    CHECK(s.status.message().find("directories[2]") != std::string::npos);
  }
  CHECK_FALSE(fs::exists(a.path() / internal::kCacheFileName));
  CHECK_FALSE(fs::exists(b.path() / internal::kCacheFileName));
  CHECK_FALSE(fs::exists(a.path() / "kvtier-manifest"));

  // b's file was there before (another store's): kept as it was.
  Options only_b = NvmeOptions(b.path(), 2, 8);
  REQUIRE(NvmeStore(only_b).status.ok());
  const auto before = fs::last_write_time(b.path() / internal::kCacheFileName);
  CHECK_FALSE(NvmeStore(o).status.ok());
  REQUIRE(fs::exists(b.path() / internal::kCacheFileName));
  CHECK(fs::file_size(b.path() / internal::kCacheFileName) == 8 * 4096);
  CHECK(fs::last_write_time(b.path() / internal::kCacheFileName) == before);
  CHECK_FALSE(fs::exists(a.path() / internal::kCacheFileName));
}

}  // namespace
}  // namespace kvtier
