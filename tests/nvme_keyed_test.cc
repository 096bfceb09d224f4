// The NVMe tier's keyed checksum (options.nvme.checksum_key): a block
// planted by someone who can write the directory but lacks the key is a
// miss, never the planted bytes; a keyed store's own blocks load byte-exact
// across reopen; another key sees only misses; the directory's identity says
// its blocks are keyed, so a keyless store and a keyed one never share it.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <rocksdb/db.h>
#include <unistd.h>

#include <filesystem>
#include <vector>

#include "backends/common/keyed_checksum.h"
#include "backends/nvme/cache_file.h"
#include "backends/nvme/manifest.h"
#include "tests/nvme_support.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define XXH_INLINE_ALL
#include <xxhash.h>
#pragma GCC diagnostic pop

namespace kvtier {
namespace {

using testing::ChainOf;
using testing::EngineBuffers;
using testing::LoadChecked;
using testing::NvmeOptions;
using testing::NvmeStore;
using testing::SaveChain;
using testing::TempDir;
namespace fs = std::filesystem;

constexpr char kKey[] = "nvme-test-secret-0123456789";
constexpr size_t kPage = 4096;  // a SmallLayout block (576 bytes) and its tag

Options Keyed(const fs::path& dir, const std::string& key = kKey) {
  Options o = NvmeOptions(dir, 4, 64);
  o.nvme.checksum_key = key;
  return o;
}

std::string StoredIdentity(const fs::path& dir) {
  rocksdb::DB* raw = nullptr;
  rocksdb::Options ro;
  const std::string path = (dir / "kvtier-manifest").string();
  REQUIRE(rocksdb::DB::OpenForReadOnly(ro, path, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string identity;
  REQUIRE(db->Get(rocksdb::ReadOptions(), "meta", &identity).ok());
  return identity;
}

std::vector<std::byte> ReadSlot(const fs::path& dir, uint32_t slot) {
  std::vector<std::byte> bytes(kPage);
  const int fd = open((dir / internal::kCacheFileName).c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  REQUIRE(pread(fd, bytes.data(), kPage, off_t{slot} * kPage) == ssize_t(kPage));
  close(fd);
  return bytes;
}

// What a writer of the directory without the key can do: put a well-formed
// stored block for `target` (every XXH3 checksum valid, the old slot's tag
// left in place) holding the content of `content_of` into `target`'s slot,
// and give its manifest entry the new header's digest. Returns false when
// the manifest does not list `target`.
bool PlantBlock(const fs::path& dir, const KvLayout& layout, const BlockHash& target,
                const BlockHash& content_of) {
  bool wiped = false;
  auto manifest = internal::Manifest::Open(dir.string(), "planter", StoredIdentity(dir),
                                           false, &wiped);
  REQUIRE(manifest.ok());
  uint64_t malformed = 0;
  auto entries = (*manifest)->LoadAll(&malformed);
  REQUIRE(entries.ok());
  for (internal::ManifestEntry e : *entries) {
    if (!(e.hash == target)) continue;
    std::vector<std::byte> slot = ReadSlot(dir, e.slot);
    EngineBuffers planted(layout, 1);
    planted.FillFrom({&content_of, 1});
    internal::WriteStoredBlock(target, internal::BlockCodec::For(Codec::kRaw, layout),
                               planted.all(), slot);
    const int fd = open((dir / internal::kCacheFileName).c_str(), O_WRONLY);
    REQUIRE(fd >= 0);
    REQUIRE(pwrite(fd, slot.data(), e.stored_bytes, off_t{e.slot} * kPage) ==
            ssize_t(e.stored_bytes));
    REQUIRE(fsync(fd) == 0);
    close(fd);
    e.header_digest = XXH3_64bits(slot.data(), internal::kStoredHeaderBytes);
    REQUIRE((*manifest)->Put({&e, 1}).ok());
    return true;
  }
  return false;
}

// Saves a 2-block chain and a second one whose first block's content is
// then planted into the first chain's first slot; returns both chains.
std::pair<std::vector<BlockHash>, std::vector<BlockHash>> SaveAndPlant(const Options& o) {
  std::vector<BlockHash> chain, other;
  {
    NvmeStore s(o);
    REQUIRE(s.status.ok());
    chain = ChainOf(*s.store, 1, 2);
    other = ChainOf(*s.store, 2, 2);
    SaveChain(*s.store, chain);
  }
  REQUIRE(PlantBlock(o.nvme.directories[0], o.layout, chain[0], other[0]));
  return {chain, other};
}

TEST_CASE(
    "without a key, a planted block with valid checksums loads (the gap a key closes)",
    "[nvme][keyed]") {
  TempDir dir;
  const Options o = NvmeOptions(dir.path(), 4, 64);
  const auto [chain, other] = SaveAndPlant(o);
  NvmeStore s(o);
  REQUIRE(s.status.ok());
  EngineBuffers dst(o.layout, 1);
  auto r = s.store->Load(std::span(chain).first(1), dst.all());
  REQUIRE(r.ok());
  CHECK(r->blocks == 1);
  CHECK(dst.Matches(0, other[0]));  // the planted bytes: what the key prevents
}

TEST_CASE(
    "with a key, a planted block with valid checksums is a miss counted in "
    "checksum_errors",
    "[nvme][keyed]") {
  TempDir dir;
  const Options o = Keyed(dir.path());
  const auto [chain, other] = SaveAndPlant(o);
  NvmeStore s(o);
  REQUIRE(s.status.ok());
  CHECK(s.store->Lookup(chain).blocks == 2);  // the manifest lists it
  EngineBuffers dst(o.layout, 1);
  auto r = s.store->Load(std::span(chain).first(1), dst.all());
  REQUIRE(r.ok());
  CHECK(r->blocks == 0);
  CHECK_FALSE(dst.Matches(0, other[0]));
  CHECK(s.store->Stats().tier(Tier::kNvme).checksum_errors == 1);
  // Dropped: the store stays usable and saves the block again.
  CHECK(s.store->Lookup(chain).blocks == 0);
  SaveChain(*s.store, chain);
  CHECK(LoadChecked(*s.store, chain) == 2);
}

TEST_CASE("a keyed store's blocks load byte-exact across reopen, each slot tagged",
          "[nvme][keyed]") {
  TempDir dir;
  const Options o = Keyed(dir.path());
  std::vector<BlockHash> chain;
  {
    NvmeStore s(o);
    REQUIRE(s.status.ok());
    chain = ChainOf(*s.store, 3, 4);
    SaveChain(*s.store, chain);
  }
  // The tag after the stored block is HMAC-SHA256 under the key.
  auto key = internal::KeyedChecksum::Create(kKey, "test");
  REQUIRE(key.ok());
  const size_t stored = internal::StoredBlockBytes(o.layout.BlockBytes());
  size_t tagged = 0;
  for (uint32_t slot = 0; slot < 4; ++slot) {
    const std::vector<std::byte> bytes = ReadSlot(dir.path(), slot);
    const auto block = std::span(bytes).first(stored);
    tagged += key->Verify("kvtier-nvme-slot", block,
                          std::span(bytes).subspan(stored, key->kTagBytes));
  }
  CHECK(tagged == 4);

  NvmeStore s(o);
  REQUIRE(s.status.ok());
  CHECK(s.store->Stats().nvme.recovered_blocks == 4);
  CHECK(LoadChecked(*s.store, chain) == 4);
  const StoreStats st = s.store->Stats();
  CHECK(st.tier(Tier::kNvme).hits == 4);
  CHECK(st.tier(Tier::kNvme).checksum_errors == 0);
}

TEST_CASE("under another key every block of a keyed directory is a miss, never its bytes",
          "[nvme][keyed]") {
  TempDir dir;
  std::vector<BlockHash> chain;
  {
    NvmeStore s(Keyed(dir.path()));
    REQUIRE(s.status.ok());
    chain = ChainOf(*s.store, 4, 3);
    SaveChain(*s.store, chain);
  }
  NvmeStore s(Keyed(dir.path(), "another-secret-of-the-store-42"));
  REQUIRE(s.status.ok());
  for (size_t i = 0; i < chain.size(); ++i) {
    CHECK(LoadChecked(*s.store, std::span(chain).subspan(i, 1)) == 0);
  }
  CHECK(s.store->Stats().tier(Tier::kNvme).checksum_errors == 3);
  CHECK(s.store->Stats().tier(Tier::kNvme).hits == 0);
}

TEST_CASE(
    "a keyless store refuses a keyed directory and a keyed store a keyless one, "
    "naming block_checksum",
    "[nvme][keyed]") {
  TempDir keyed_dir, plain_dir;
  REQUIRE(NvmeStore(Keyed(keyed_dir.path())).status.ok());
  REQUIRE(NvmeStore(NvmeOptions(plain_dir.path(), 4, 64)).status.ok());

  Status s = NvmeStore(NvmeOptions(keyed_dir.path(), 4, 64)).status;
  INFO(s.ToString());
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().find("block_checksum is 'hmac-sha256', this store has '(none)'") !=
        std::string::npos);
  s = NvmeStore(Keyed(plain_dir.path())).status;
  INFO(s.ToString());
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().find("block_checksum is '(none)', this store has 'hmac-sha256'") !=
        std::string::npos);

  // wipe_on_mismatch: the directory is taken over, empty.
  Options wipe = NvmeOptions(keyed_dir.path(), 4, 64);
  wipe.nvme.wipe_on_mismatch = true;
  NvmeStore taken(wipe);
  REQUIRE(taken.status.ok());
  CHECK(taken.store->Stats().nvme.wiped_at_open);
}

TEST_CASE("a short inline key is refused naming options.nvme.checksum_key",
          "[nvme][keyed]") {
  TempDir dir;
  const Status s = NvmeStore(Keyed(dir.path(), "short")).status;
  INFO(s.ToString());
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().find("options.nvme.checksum_key: 5 bytes") != std::string::npos);
  CHECK_FALSE(fs::exists(dir.path() / internal::kCacheFileName));
}

}  // namespace
}  // namespace kvtier
