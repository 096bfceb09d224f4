// A cache directory others can write, or files others placed there, are
// refused with an error naming the path and what to fix; links are never
// followed; a cache file is locked, so two tiers never share one; odd files
// at the cache path and a manifest kvtier did not write get precise errors.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <rocksdb/db.h>
#include <sys/stat.h>
#include <unistd.h>

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
namespace fs = std::filesystem;

constexpr uid_t kNobody = 65534;

void CheckError(const Status& s, StatusCode code, const std::string& needle) {
  INFO(s.ToString());
  CHECK(s.code() == code);
  CHECK(s.message().find(needle) != std::string::npos);
}

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_CASE("a cache file that is a symbolic link is refused and its target untouched",
          "[nvme][hostile]") {
  TempDir dir;
  const fs::path victim = dir.path() / "victim";
  std::ofstream(victim) << "precious";
  chmod(victim.c_str(), 0644);
  fs::create_symlink(victim, dir.path() / internal::kCacheFileName);
  CheckError(NvmeStore(NvmeOptions(dir.path(), 2, 8)).status,
             StatusCode::kInvalidArgument, "is a symbolic link");
  CHECK(Slurp(victim) == "precious");
  CHECK((fs::status(victim).permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
         fs::perms::others_read));
  // A dangling link is no better: nothing is created through it.
  fs::remove(dir.path() / internal::kCacheFileName);
  fs::create_symlink(dir.path() / "elsewhere", dir.path() / internal::kCacheFileName);
  CheckError(NvmeStore(NvmeOptions(dir.path(), 2, 8)).status,
             StatusCode::kInvalidArgument, "is a symbolic link");
  CHECK_FALSE(fs::exists(dir.path() / "elsewhere"));
}

TEST_CASE("every file the tier opens is opened with O_NOFOLLOW and O_CLOEXEC",
          "[nvme][hostile]") {
  TempDir dir;
  int opens = 0, bad = 0;
  internal::NvmeHooks hooks;
  hooks.open_file = [&](const std::string& path, int flags) {
    ++opens;
    if ((flags & O_NOFOLLOW) == 0 || (flags & O_CLOEXEC) == 0) ++bad;
    return internal::OpenFile(path, flags);
  };
  NvmeStore s(NvmeOptions(dir.path(), 2, 8), hooks);
  REQUIRE(s.status.ok());
  CHECK(opens >= 1);
  CHECK(bad == 0);
}

TEST_CASE("a directory writable by group or others is refused with what to fix",
          "[nvme][hostile]") {
  TempDir dir;
  chmod(dir.path().c_str(), 0777);
  const Status s = NvmeStore(NvmeOptions(dir.path(), 2, 8)).status;
  CheckError(s, StatusCode::kInvalidArgument, "options.nvme.directories[0]");
  CheckError(s, StatusCode::kInvalidArgument, "mode 0777");
  CheckError(s, StatusCode::kInvalidArgument, "chmod go-w");
  CHECK_FALSE(fs::exists(dir.path() / internal::kCacheFileName));
  chmod(dir.path().c_str(), 0755);
  CHECK(NvmeStore(NvmeOptions(dir.path(), 2, 8)).status.ok());
}

TEST_CASE("a directory or cache file owned by another user is refused and left as it was",
          "[nvme][hostile]") {
  if (geteuid() != 0) KVTIER_SKIP("giving a file to another user needs root");
  TempDir dir;
  const fs::path sub = dir.path() / "theirs";
  fs::create_directory(sub);
  REQUIRE(chown(sub.c_str(), kNobody, kNobody) == 0);
  CheckError(NvmeStore(NvmeOptions(sub, 2, 8)).status, StatusCode::kInvalidArgument,
             "is owned by uid 65534");
  CHECK_FALSE(fs::exists(sub / internal::kCacheFileName));

  // A cache file another user placed in our directory: refused, not adopted.
  const fs::path planted = dir.path() / internal::kCacheFileName;
  std::ofstream(planted) << "planted";
  REQUIRE(chown(planted.c_str(), kNobody, kNobody) == 0);
  chmod(planted.c_str(), 0644);
  CheckError(NvmeStore(NvmeOptions(dir.path(), 2, 8)).status,
             StatusCode::kInvalidArgument, "cache file");
  struct stat st {};
  REQUIRE(stat(planted.c_str(), &st) == 0);
  CHECK(st.st_uid == kNobody);
  CHECK((st.st_mode & 0777) == 0644);
  CHECK(Slurp(planted) == "planted");
}

TEST_CASE("a manifest directory that is a link is refused", "[nvme][hostile]") {
  TempDir dir, elsewhere;
  fs::create_directory_symlink(elsewhere.path(), dir.path() / "kvtier-manifest");
  CheckError(NvmeStore(NvmeOptions(dir.path(), 2, 8)).status,
             StatusCode::kInvalidArgument, "a symbolic link");
  CHECK(fs::is_empty(elsewhere.path()));
}

TEST_CASE("the same directory listed twice is refused, naming both entries",
          "[nvme][hostile][same-file]") {
  TempDir dir;
  Options o = NvmeOptions(dir.path(), 2, 8);
  o.nvme.directories = {dir.path().string(), (dir.path() / ".").string()};
  const Status s = NvmeStore(o).status;
  CheckError(s, StatusCode::kInvalidArgument, "directories[1]");
  CheckError(s, StatusCode::kInvalidArgument, "same directory as directories[0]");
  CHECK_FALSE(fs::exists(dir.path() / internal::kCacheFileName));
}

TEST_CASE("a second store on a directory in use fails Open and the first keeps its blocks",
          "[nvme][hostile][same-file]") {
  TempDir dir;
  Options first = NvmeOptions(dir.path(), 4, 8);
  NvmeStore a(first);
  REQUIRE(a.status.ok());
  const auto chain = ChainOf(*a.store, 1, 3);
  SaveChain(*a.store, chain);
  a.store->Flush();
  Options other = first;
  other.model_id = "another-model@1";
  other.nvme.wipe_on_mismatch = true;  // would wipe a's blocks if it got that far
  CheckError(NvmeStore(other).status, StatusCode::kUnavailable,
             "in use by another store");
  CHECK(fs::exists(dir.path() / internal::kCacheFileName));
  a.store->Flush();
  // a still serves its blocks, NVMe's copies untouched.
  CHECK(a.store->Stats().tier(Tier::kNvme).blocks == 3);
  CHECK(LoadChecked(*a.store, chain) == 3);
  CHECK(a.store->Stats().tier(Tier::kNvme).checksum_errors == 0);
  a.store.reset();
  CHECK(NvmeStore(first).status.ok());  // the lock went with the store
}

TEST_CASE("a cache file this process may not write is named, not its directory",
          "[nvme][bad-input]") {
  TempDir dir;
  REQUIRE(NvmeStore(NvmeOptions(dir.path(), 2, 8)).status.ok());
  // Root may write a 0400 file anyway: the opener plays a non-root open(2).
  internal::NvmeHooks hooks;
  hooks.open_file = [](const std::string& path, int flags) {
    if ((flags & O_CREAT) == 0) {
      errno = EACCES;
      return -1;
    }
    return internal::OpenFile(path, flags);
  };
  const Status s = NvmeStore(NvmeOptions(dir.path(), 2, 8), hooks).status;
  CheckError(s, StatusCode::kInvalidArgument, "cache file");
  CheckError(s, StatusCode::kInvalidArgument, "is not writable");
  CheckError(s, StatusCode::kInvalidArgument, "chmod u+w");
  CHECK(s.message().find("directory '") == std::string::npos);
  CHECK(fs::exists(dir.path() / internal::kCacheFileName));  // not ours to remove
}

TEST_CASE("a FIFO at the cache path is named as a FIFO", "[nvme][bad-input]") {
  TempDir dir;
  REQUIRE(mkfifo((dir.path() / internal::kCacheFileName).c_str(), 0600) == 0);
  const Status s = NvmeStore(NvmeOptions(dir.path(), 2, 8)).status;
  CheckError(s, StatusCode::kInvalidArgument, "is a FIFO, not a regular file");
  CHECK(s.message().find("O_DIRECT") == std::string::npos);
}

TEST_CASE("a manifest identity kvtier did not write is reported as such",
          "[nvme][bad-input]") {
  TempDir dir;
  REQUIRE(NvmeStore(NvmeOptions(dir.path(), 2, 8)).status.ok());
  {
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::Options(),
                              (dir.path() / "kvtier-manifest").string(), &raw)
                .ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    REQUIRE(db->Put(rocksdb::WriteOptions(), "meta", "\x01garbage\xff").ok());
  }
  const Status s = NvmeStore(NvmeOptions(dir.path(), 2, 8)).status;
  CheckError(s, StatusCode::kInvalidArgument, "not one kvtier writes");
  CHECK(s.message().find("(none)") == std::string::npos);
}

}  // namespace
}  // namespace kvtier
