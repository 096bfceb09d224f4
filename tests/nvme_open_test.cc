// Opening a store with an NVMe tier: every bad directory or size is a clear
// error naming the problem; another namespace is refused or wiped; io_uring
// refused falls back to pread/pwrite; a damaged slot is a counted miss.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

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

void CheckError(const Status& s, StatusCode code, const std::string& needle) {
  INFO(s.ToString());
  CHECK(s.code() == code);
  CHECK(s.message().find(needle) != std::string::npos);
}

TEST_CASE("a missing, file or unwritable NVMe directory is a clear Open error",
          "[nvme][bad-input]") {
  TempDir dir;
  CheckError(Store::Open(NvmeOptions((dir.path() / "nope").string(), 2, 8)).status(),
             StatusCode::kInvalidArgument, "does not exist");
  const auto file = dir.path() / "a-file";
  std::ofstream(file) << "x";
  CheckError(Store::Open(NvmeOptions(file.string(), 2, 8)).status(),
             StatusCode::kInvalidArgument, "is a file, not a directory");
  Options none = NvmeOptions(dir.path(), 2, 8);
  none.nvme.directories.clear();
  CheckError(Store::Open(none).status(), StatusCode::kInvalidArgument,
             "options.nvme.directories");
  // Root ignores directory modes; sysfs refuses new files to everyone.
  if (!std::filesystem::is_directory("/sys")) KVTIER_SKIP("no /sys");
  CheckError(Store::Open(NvmeOptions("/sys", 2, 8)).status(),
             StatusCode::kInvalidArgument, "not writable");
}

TEST_CASE("NVMe capacity smaller than one slot is a clear Open error",
          "[nvme][bad-input]") {
  TempDir dir;
  Options o = NvmeOptions(dir.path(), 2, 1);
  o.nvme.capacity_bytes = 4095;
  CheckError(Store::Open(o).status(), StatusCode::kInvalidArgument,
             "options.nvme.capacity_bytes");
}

TEST_CASE("a filesystem that refuses O_DIRECT fails Open unless buffered I/O is allowed",
          "[nvme][bad-input]") {
  TempDir dir;
  internal::NvmeHooks hooks;
  hooks.open_file = [](const std::string& path, int flags) {
    if (flags & O_DIRECT) {
      errno = EINVAL;  // what open(2) says on a filesystem without O_DIRECT
      return -1;
    }
    return internal::OpenFile(path, flags);
  };
  Options o = NvmeOptions(dir.path(), 2, 8);
  NvmeStore refused(o, hooks);
  CheckError(refused.status, StatusCode::kInvalidArgument, "refuses O_DIRECT");
  CheckError(refused.status, StatusCode::kInvalidArgument, "allow_buffered_io");
  o.nvme.allow_buffered_io = true;
  NvmeStore buffered(o, hooks);
  REQUIRE(buffered.status.ok());
  CHECK_FALSE(buffered.store->Stats().nvme.direct_io);
  const auto chain = ChainOf(*buffered.store, 1, 2);
  SaveChain(*buffered.store, chain);
  buffered.store->Flush();
  CHECK(buffered.store->Stats().tier(Tier::kNvme).blocks == 2);
}

TEST_CASE("where io_uring cannot be set up the tier falls back to pread/pwrite",
          "[nvme]") {
  TempDir dir;
  internal::NvmeHooks hooks;
  hooks.make_queue = [](uint32_t) -> Result<std::unique_ptr<internal::IoQueue>> {
    return Unavailable("io_uring_queue_init: EPERM (io_uring_disabled)");
  };
  const Options o = NvmeOptions(dir.path(), 8, 32);
  std::vector<BlockHash> chain;
  {
    NvmeStore s(o, hooks);
    REQUIRE(s.status.ok());
    CHECK_FALSE(s.store->Stats().nvme.io_uring);
    CHECK(s.store->Stats().nvme.direct_io);
    chain = ChainOf(*s.store, 2, 4);
    SaveChain(*s.store, chain);
  }
  NvmeStore s(o, hooks);
  CHECK_FALSE(s.store->Stats().nvme.io_uring);
  CHECK(LoadChecked(*s.store, chain) == 4);
}

TEST_CASE("a directory written with another namespace is refused, or wiped if allowed",
          "[nvme][bad-input]") {
  TempDir dir;
  Options o = NvmeOptions(dir.path(), 4, 32);
  {
    NvmeStore s(o);
    REQUIRE(s.status.ok());
    SaveChain(*s.store, ChainOf(*s.store, 3, 3));
  }
  Options other = o;
  other.model_id = "another-model@2";
  NvmeStore refused(other);
  CheckError(refused.status, StatusCode::kInvalidArgument, "model_id");
  CheckError(refused.status, StatusCode::kInvalidArgument, "wipe_on_mismatch");
  Options layout = o;
  layout.layout.head_dim = 16;
  CheckError(NvmeStore(layout).status, StatusCode::kInvalidArgument, "layout");

  other.nvme.wipe_on_mismatch = true;
  NvmeStore wiped(other);
  REQUIRE(wiped.status.ok());
  const StoreStats st = wiped.store->Stats();
  CHECK(st.nvme.wiped_at_open);
  CHECK(st.nvme.recovered_blocks == 0);
  CHECK(st.tier(Tier::kNvme).blocks == 0);
}

TEST_CASE("a slot damaged on disk reads as a miss, is dropped and counted", "[nvme]") {
  TempDir dir;
  const Options o = NvmeOptions(dir.path(), 4, 8);
  std::vector<BlockHash> chain;
  {
    NvmeStore s(o);
    chain = ChainOf(*s.store, 4, 1);
    SaveChain(*s.store, chain);
  }
  {
    // One flipped payload byte in every slot (only one holds a block).
    const int fd = open((dir.path() / internal::kCacheFileName).c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    for (off_t slot = 0; slot < 8; ++slot) {
      char c = 0;
      REQUIRE(pread(fd, &c, 1, slot * 4096 + 100) == 1);
      c = static_cast<char>(c ^ 0x5A);
      REQUIRE(pwrite(fd, &c, 1, slot * 4096 + 100) == 1);
    }
    fsync(fd);
    close(fd);
  }
  NvmeStore s(o);
  CHECK(s.store->Stats().nvme.recovered_blocks == 1);
  CHECK(s.store->Lookup(chain).blocks == 1);
  CHECK(LoadChecked(*s.store, chain) == 0);
  const StoreStats st = s.store->Stats();
  CHECK(st.tier(Tier::kNvme).checksum_errors == 1);
  CHECK(st.tier(Tier::kNvme).blocks == 0);
  CHECK(s.store->Lookup(chain).blocks == 0);
}

}  // namespace
}  // namespace kvtier
