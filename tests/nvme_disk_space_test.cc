// An NVMe capacity the tier cannot index or the disk cannot hold is a clear
// InvalidArgument naming options.nvme.capacity_bytes, checked before any
// byte is preallocated; a failed Open leaves no file it created behind and
// never removes or resizes a file that was there.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <chrono>
#include <filesystem>
#include <thread>

#include "backends/nvme/cache_file.h"
#include "backends/nvme/manifest.h"
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
      (free_bytes - internal::ManifestReserveBytes(4) / 2) / 4096 * 4096;
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
                      << st.tier(Tier::kNvme).rejected << " save_new "
                      << st.save_new_blocks);
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

// Bytes the files under `dir` take on disk (allocated blocks, so a
// preallocated log counts in full).
uint64_t DiskBytesUnder(const fs::path& dir) {
  uint64_t bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    struct stat st {};
    if (lstat(e.path().c_str(), &st) == 0)
      bytes += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return bytes;
}

TEST_CASE("a manifest churned many times over stays within the reserve Open keeps free",
          "[nvme][disk-space]") {
  // 2,000 slots, each rewritten 500 times: a million puts and deletes.
  // RocksDB's defaults preallocate a 72 MB log, let the logs reach 512 MB
  // before a flush and keep 64 MB info logs; bounded, the manifest peaks
  // far below its reserve of 80 MiB + 512 bytes a slot.
  constexpr uint32_t kSlots = 2000;
  constexpr int kRounds = 500;
  TempDir dir;
  bool wiped = false;
  auto m = internal::Manifest::Open(dir.path().string(), "dir", "id=1\n", false, &wiped);
  REQUIRE(m.ok());
  uint64_t seq = 1, peak = 0;
  std::vector<internal::ManifestEntry> put;
  std::vector<internal::ManifestKey> gone;
  for (int round = 0; round < kRounds; ++round) {
    for (uint32_t first = 0; first < kSlots; first += 250) {
      put.clear(), gone.clear();
      for (uint32_t slot = first; slot < first + 250; ++slot) {
        internal::ManifestEntry e;
        e.hash = BlockHash{seq, slot};
        e.slot = slot;
        e.stored_bytes = 4096;
        e.seq = seq++;
        if (round > 0) gone.push_back(internal::ManifestKey{slot, e.seq - kSlots});
        put.push_back(e);
      }
      REQUIRE((*m)->Delete(gone).ok());
      REQUIRE((*m)->Put(put).ok());
    }
    if (round % 10 == 0) peak = std::max(peak, DiskBytesUnder(dir.path()));
  }
  m->reset();
  peak = std::max(peak, DiskBytesUnder(dir.path()));
  INFO("peak " << peak << " bytes, reserve " << internal::ManifestReserveBytes(kSlots));
  CHECK(peak <= internal::ManifestReserveBytes(kSlots) / 2);
}

TEST_CASE("a disk another process fills stops the manifest's writes, not the process",
          "[nvme][disk-space]") {
  LoopMount disk(256 * kMiB);
  if (!disk.ok()) KVTIER_SKIP("no small ext4 filesystem: " + disk.why());
  const fs::path dir = disk.path();
  Options o = NvmeOptions(dir, 4, 64);
  std::vector<std::vector<BlockHash>> chains;
  NvmeStore s(o);
  REQUIRE(s.status.ok());
  auto save = [&](uint32_t seed) {
    chains.push_back(ChainOf(*s.store, seed, 4));
    REQUIRE(SaveChain(*s.store, chains.back()).stored == 4);
    s.store->Flush();
  };
  save(1);
  // Something else takes all but 4 MiB of the filesystem.
  const fs::path filler = disk.path() / "filler";
  {
    const int fd = open(filler.c_str(), O_CREAT | O_WRONLY, 0600);
    REQUIRE(fd >= 0);
    const uint64_t take = fs::space(dir).available - 4 * kMiB;
    CHECK(posix_fallocate(fd, 0, static_cast<off_t>(take)) == 0);
    close(fd);
  }
  for (uint32_t seed = 2; seed < 40; ++seed) save(seed);  // from host, always
  const StoreStats full = s.store->Stats();
  CHECK(full.nvme.full_events > 0);
  CHECK(full.nvme.copy_down_dropped > 0);
  // Space back: after the 1 s back-off the tier takes blocks again.
  fs::remove(filler);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const uint64_t inserts = s.store->Stats().tier(Tier::kNvme).inserts;
  for (uint32_t seed = 40; seed < 50; ++seed) save(seed);
  CHECK(s.store->Stats().tier(Tier::kNvme).inserts > inserts);
  // Every block the store offers loads with its own bytes.
  for (const auto& chain : chains) CHECK(LoadChecked(*s.store, chain) != SIZE_MAX);
}

}  // namespace
}  // namespace kvtier
