// The NVMe tier's secret file (options.nvme.checksum_key_file): created 0600
// when asked to and reused across reopen; a link, another user's file, one
// others may read or write, a missing, empty or oversized one, or two
// sources at once are refused at Open with a Status naming the field, the
// path and what to fix, and no cache file is left behind.
#include <catch2/catch.hpp>

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

struct KeyFileSetup {
  TempDir cache, secrets;
  fs::path file = secrets.path() / "nvme.key";
  Options Make(bool create = false) const {
    Options o = NvmeOptions(cache.path(), 4, 64);
    o.nvme.checksum_key_file = file.string();
    o.nvme.create_checksum_key_file = create;
    return o;
  }
  void Write(const std::string& bytes, mode_t mode) const {
    std::ofstream(file, std::ios::binary) << bytes;
    REQUIRE(chmod(file.c_str(), mode) == 0);
  }
};

// The Open fails with InvalidArgument whose message holds every needle,
// and leaves no cache file.
void CheckRefused(const KeyFileSetup& k, const Options& o,
                  std::initializer_list<std::string> needles) {
  const Status s = NvmeStore(o).status;
  INFO(s.ToString());
  CHECK(s.code() == StatusCode::kInvalidArgument);
  for (const std::string& n : needles) CHECK(s.message().find(n) != std::string::npos);
  CHECK_FALSE(fs::exists(k.cache.path() / internal::kCacheFileName));
}

TEST_CASE("a created secret file is 0600, 32 bytes, and keys the blocks across reopen",
          "[nvme][keyed][key-file]") {
  KeyFileSetup k;
  std::vector<BlockHash> chain;
  {
    NvmeStore s(k.Make(/*create=*/true));
    REQUIRE(s.status.ok());
    chain = ChainOf(*s.store, 5, 4);
    SaveChain(*s.store, chain);
  }
  struct stat st {};
  REQUIRE(lstat(k.file.c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(st.st_size == 32);
  // Reopened with the file (not created again): the same key, every block.
  NvmeStore s(k.Make());
  REQUIRE(s.status.ok());
  CHECK(LoadChecked(*s.store, chain) == 4);
  CHECK(s.store->Stats().tier(Tier::kNvme).checksum_errors == 0);
  // Another file's secret is another key: misses (the chain is read as
  // one batch, so each of its blocks fails and is counted).
  s.store.reset();
  k.Write("another secret of sixteen+ bytes", 0600);
  NvmeStore other(k.Make());
  REQUIRE(other.status.ok());
  CHECK(LoadChecked(*other.store, chain) == 0);
  CHECK(other.store->Stats().tier(Tier::kNvme).checksum_errors == 4);
}

TEST_CASE("a missing secret file is refused unless it is to be created",
          "[nvme][keyed][key-file]") {
  KeyFileSetup k;
  CheckRefused(
      k, k.Make(),
      {"options.nvme.checksum_key_file", "does not exist", "create_checksum_key_file"});
  CHECK_FALSE(fs::exists(k.file));
}

TEST_CASE(
    "a secret file that is a symbolic link is refused, and nothing is made through it",
    "[nvme][keyed][key-file]") {
  KeyFileSetup k;
  const fs::path target = k.secrets.path() / "real.key";
  std::ofstream(target) << "a perfectly good secret, 0600";
  REQUIRE(chmod(target.c_str(), 0600) == 0);
  fs::create_symlink(target, k.file);
  CheckRefused(k, k.Make(), {"options.nvme.checksum_key_file", "symbolic link"});
  // Dangling, with create: the link is not followed to make its target.
  fs::remove(k.file);
  const fs::path elsewhere = k.secrets.path() / "elsewhere.key";
  fs::create_symlink(elsewhere, k.file);
  const Status s = NvmeStore(k.Make(/*create=*/true)).status;
  INFO(s.ToString());
  CHECK_FALSE(s.ok());
  CHECK(s.message().find("options.nvme.checksum_key_file") != std::string::npos);
  CHECK_FALSE(fs::exists(elsewhere));
}

TEST_CASE("a secret file group or others may read or write is refused with what to fix",
          "[nvme][keyed][key-file]") {
  KeyFileSetup k;
  for (const mode_t mode : {0640, 0604, 0620, 0602, 0660}) {
    k.Write("sixteen or more secret bytes", mode);
    char octal[24];
    std::snprintf(octal, sizeof octal, "mode %04o", static_cast<unsigned>(mode));
    CheckRefused(k, k.Make(), {"options.nvme.checksum_key_file", octal, "chmod 600"});
  }
  k.Write("sixteen or more secret bytes", 0400);  // read-only for the owner: fine
  CHECK(NvmeStore(k.Make()).status.ok());
}

TEST_CASE("a secret file owned by another user is refused", "[nvme][keyed][key-file]") {
  if (geteuid() != 0) KVTIER_SKIP("giving a file to another user needs root");
  KeyFileSetup k;
  k.Write("sixteen or more secret bytes", 0600);
  REQUIRE(chown(k.file.c_str(), kNobody, kNobody) == 0);
  CheckRefused(k, k.Make(), {"options.nvme.checksum_key_file", "owned by uid 65534"});
}

TEST_CASE("a secret file of the wrong size or type is refused naming its size or type",
          "[nvme][keyed][key-file]") {
  KeyFileSetup k;
  k.Write("", 0600);
  CheckRefused(k, k.Make(), {"options.nvme.checksum_key_file", "holds 0 bytes"});
  k.Write("fifteen bytes!!", 0600);
  CheckRefused(k, k.Make(), {"holds 15 bytes", "16 to 4096"});
  k.Write(std::string(4097, 'k'), 0600);
  CheckRefused(k, k.Make(), {"holds 4097 bytes"});
  fs::remove(k.file);
  fs::create_directory(k.file);
  chmod(k.file.c_str(), 0700);
  CheckRefused(k, k.Make(), {"options.nvme.checksum_key_file", "a directory"});
  fs::remove(k.file);
  REQUIRE(mkfifo(k.file.c_str(), 0600) == 0);
  CheckRefused(k, k.Make(), {"options.nvme.checksum_key_file", "a FIFO"});
}

TEST_CASE("two sources of the secret, or create without a file, are refused",
          "[nvme][keyed][key-file]") {
  KeyFileSetup k;
  k.Write("sixteen or more secret bytes", 0600);
  Options both = k.Make();
  both.nvme.checksum_key = "an inline secret too, 16+";
  CheckRefused(k, both, {"options.nvme.checksum_key_file", "options.nvme.checksum_key"});
  Options create_only = NvmeOptions(k.cache.path(), 4, 64);
  create_only.nvme.create_checksum_key_file = true;
  CheckRefused(k, create_only, {"options.nvme.create_checksum_key_file"});
}

}  // namespace
}  // namespace kvtier
