// A damaged NVMe manifest (RocksDB files deleted or corrupted): Open says
// Corruption naming the directory and what to do, and with
// options.nvme.wipe_on_mismatch it starts the tier empty and works.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "tests/nvme_support.h"

namespace kvtier {
namespace {

namespace fs = std::filesystem;
using testing::ChainOf;
using testing::LoadChecked;
using testing::NvmeOptions;
using testing::NvmeStore;
using testing::SaveChain;
using testing::TempDir;

// A store over `dir` that saved and wrote down one chain, then closed.
std::vector<BlockHash> Populate(const Options& o) {
  NvmeStore s(o);
  REQUIRE(s.status.ok());
  const std::vector<BlockHash> chain = ChainOf(*s.store, 1, 6);
  SaveChain(*s.store, chain);
  s.store->Flush();
  return chain;
}

fs::path ManifestDir(const TempDir& dir) { return dir.path() / "kvtier-manifest"; }

// The first file of the manifest directory whose name starts with `prefix`.
fs::path FileStartingWith(const fs::path& dir, const std::string& prefix) {
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().rfind(prefix, 0) == 0) return e.path();
  }
  return {};
}

void Truncate(const fs::path& p) { fs::resize_file(p, 0); }

void Scribble(const fs::path& p) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(0);
  const std::string junk(4096, '\xA5');
  f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
}

struct Damage {
  const char* name;
  std::function<void(const fs::path&)> apply;
};

TEST_CASE("nvme: a damaged manifest is Corruption naming it, and wipe_on_mismatch heals",
          "[nvme][hardening]") {
  const Damage damages[] = {
      {"CURRENT deleted", [](const fs::path& m) { fs::remove(m / "CURRENT"); }},
      {"MANIFEST deleted",
       [](const fs::path& m) { fs::remove(FileStartingWith(m, "MANIFEST-")); }},
      {"CURRENT scribbled", [](const fs::path& m) { Scribble(m / "CURRENT"); }},
      {"MANIFEST truncated",
       [](const fs::path& m) { Truncate(FileStartingWith(m, "MANIFEST-")); }},
  };
  for (const Damage& d : damages) {
    INFO(d.name);
    TempDir dir;
    Options o = NvmeOptions(dir.path().string(), 8, 64);
    const std::vector<BlockHash> chain = Populate(o);
    d.apply(ManifestDir(dir));

    NvmeStore refused(o);
    INFO(refused.status.ToString());
    CHECK(refused.status.code() == StatusCode::kCorruption);
    CHECK(refused.status.message().find("kvtier-manifest") != std::string::npos);
    CHECK(refused.status.message().find("wipe_on_mismatch") != std::string::npos);

    o.nvme.wipe_on_mismatch = true;
    NvmeStore healed(o);
    INFO(healed.status.ToString());
    REQUIRE(healed.status.ok());
    CHECK(healed.store->Stats().nvme.wiped_at_open);
    CHECK(healed.store->Lookup(chain).blocks == 0);
    SaveChain(*healed.store, chain);
    healed.store->Flush();
    CHECK(LoadChecked(*healed.store, chain) == 6);
  }
}

TEST_CASE("nvme: a manifest directory a kill left before any data opens as new",
          "[nvme][hardening]") {
  // What a kill -9 during the very first Open leaves: RocksDB's lock and an
  // empty log, no CURRENT, no data.
  TempDir dir;
  fs::create_directories(ManifestDir(dir));
  std::ofstream(ManifestDir(dir) / "LOCK").flush();
  std::ofstream(ManifestDir(dir) / "000003.log").flush();
  fs::permissions(ManifestDir(dir), fs::perms::owner_all, fs::perm_options::replace);
  NvmeStore s(NvmeOptions(dir.path().string(), 8, 64));
  INFO(s.status.ToString());
  REQUIRE(s.status.ok());
  const std::vector<BlockHash> chain = ChainOf(*s.store, 1, 4);
  SaveChain(*s.store, chain);
  s.store->Flush();
  CHECK(LoadChecked(*s.store, chain) == 4);
}

}  // namespace
}  // namespace kvtier
