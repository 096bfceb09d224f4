// 8-bit codecs across the host and NVMe tiers: a block that went down to
// NVMe and came back up (verbatim when both tiers share a codec, decoded and
// re-encoded when they do not) loads exactly as the same block would from a
// store that only ever held it in an int8 host tier.
#include <catch2/catch.hpp>

#include <cstring>

#include "tests/nvme_skip.h"
#include "tests/nvme_support.h"

namespace kvtier {
namespace {

using testing::EngineBuffers;

constexpr size_t kChains = 4;
constexpr size_t kChainBlocks = 3;

// What an int8 tier gives back for each block: loads from a host-only store
// large enough to hold everything.
std::vector<std::vector<unsigned char>> Int8Reference(
    const std::vector<std::vector<BlockHash>>& chains, const KvLayout& layout) {
  Options o;
  o.layout = layout;
  o.model_id = "nvme-model@1";
  o.host.capacity_bytes = 1 << 20;
  o.host.lock_memory = false;
  o.host.codec = Codec::kInt8;
  auto store = std::move(Store::Open(o)).value();
  std::vector<std::vector<unsigned char>> out;
  for (const auto& chain : chains) {
    EngineBuffers src(layout, chain.size()), dst(layout, chain.size());
    src.FillFrom(chain);
    REQUIRE(store->Save(chain, src.all()).ok());
    REQUIRE(store->Load(chain, dst.all())->blocks == chain.size());
    const auto segs = dst.all();
    std::vector<unsigned char> bytes;
    for (const Segment& s : segs) {
      const auto* p = static_cast<const unsigned char*>(s.data);
      bytes.insert(bytes.end(), p, p + s.bytes);
    }
    out.push_back(std::move(bytes));
  }
  return out;
}

// Saves every chain into a store whose host tier holds only a few blocks,
// so most of them live on NVMe only, then loads each chain twice (from NVMe,
// then from host after promotion) and compares with the reference. With
// `prefetch`, each chain is first prefetched from NVMe to host (decode,
// re-encode) and then loaded from host only.
void CheckAgainstReference(Codec host_codec, Codec nvme_codec, bool prefetch = false) {
  KVTIER_SKIP_WITHOUT_NVME();
  testing::TempDir dir;
  Options o = testing::NvmeOptions(dir.path().string(), /*host_blocks=*/4,
                                   /*nvme_blocks=*/64);
  o.host.codec = host_codec;
  o.nvme.codec = nvme_codec;
  testing::NvmeStore s(o);
  REQUIRE(s.status.ok());
  Store& store = *s.store;

  std::vector<std::vector<BlockHash>> chains;
  for (uint32_t c = 0; c < kChains; ++c)
    chains.push_back(testing::ChainOf(store, c + 1, kChainBlocks));
  // The reference hashes the same tokens in its own namespace (another
  // codec tag), so it gets the chains' contents, not their hashes: fill
  // from the NVMe store's hashes and compare bytes.
  const auto reference = Int8Reference(chains, o.layout);

  for (const auto& chain : chains) {
    REQUIRE(testing::SaveChain(store, chain).stored == kChainBlocks);
    store.Flush();  // copy-downs done: no host block is pinned by one
  }
  CHECK(store.Stats().tier(Tier::kNvme).blocks == kChains * kChainBlocks);
  CHECK(store.Stats().tier(Tier::kHost).blocks < kChains * kChainBlocks);
  // Blocks the NVMe tier encodes itself go through staging.
  if (host_codec != nvme_codec) {
    CHECK(store.Stats().nvme.staged_writes == kChains * kChainBlocks);
  }

  // A block's expected bytes: the int8 round trip once it has been through
  // an int8 tier (NVMe, or an int8 host), the original while only raw tiers
  // held it.
  std::vector<std::vector<bool>> via_int8(
      kChains, std::vector<bool>(kChainBlocks, host_codec != Codec::kRaw));
  const size_t block_bytes = store.layout().BlockBytes();
  size_t prefetched = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t c = 0; c < kChains; ++c) {
      for (size_t b = 0; b < kChainBlocks; ++b) {
        const auto before = store.Lookup(std::span(chains[c]).first(b));
        const auto after = store.Lookup(std::span(chains[c]).first(b + 1));
        const int nvme = static_cast<int>(Tier::kNvme);
        if (after.blocks_per_tier[nvme] > before.blocks_per_tier[nvme])
          via_int8[c][b] = true;
      }
      const uint64_t nvme_hits_before = store.Stats().tier(Tier::kNvme).hits;
      if (prefetch) {
        // Prefetch decodes the NVMe blocks (and re-encodes them for an int8
        // host): every one moves up, and the Load reads only host.
        const size_t nvme_only =
            store.Lookup(chains[c]).blocks_per_tier[static_cast<int>(Tier::kNvme)];
        CHECK(store.Prefetch(chains[c]).Wait() == nvme_only);
        prefetched += nvme_only;
      }
      EngineBuffers dst(store.layout(), kChainBlocks),
          original(store.layout(), kChainBlocks);
      original.FillFrom(chains[c]);
      auto r = store.Load(chains[c], dst.all());
      REQUIRE(r.ok());
      REQUIRE(r->blocks == kChainBlocks);
      if (prefetch) CHECK(store.Stats().tier(Tier::kNvme).hits == nvme_hits_before);
      for (size_t b = 0; b < kChainBlocks; ++b) {
        std::vector<unsigned char> got, want;
        for (const Segment& seg : dst.blocks(b, 1)) {
          const auto* p = static_cast<const unsigned char*>(seg.data);
          got.insert(got.end(), p, p + seg.bytes);
        }
        if (via_int8[c][b]) {
          want.assign(reference[c].begin() + b * block_bytes,
                      reference[c].begin() + (b + 1) * block_bytes);
        } else {
          CHECK(original.Matches(b, chains[c][b]));
          for (const Segment& seg : original.blocks(b, 1)) {
            const auto* p = static_cast<const unsigned char*>(seg.data);
            want.insert(want.end(), p, p + seg.bytes);
          }
        }
        INFO("pass " << pass << ", chain " << c << ", block " << b << ", via int8 "
                     << via_int8[c][b]);
        CHECK(got == want);
      }
    }
  }
  const StoreStats stats = store.Stats();
  if (prefetch) {
    CHECK(prefetched >= kChains * kChainBlocks - 4);  // all but what host held
    CHECK(stats.nvme.promotions >= prefetched);
  } else {
    CHECK(stats.tier(Tier::kNvme).hits > 0);
  }
  CHECK(stats.tier(Tier::kNvme).checksum_errors == 0);
  CHECK(stats.tier(Tier::kNvme).bytes_written <
        stats.tier(Tier::kNvme).logical_bytes_written);
}

TEST_CASE("int8 host and int8 NVMe: blocks read back from NVMe decode as from host",
          "[nvme][codec]") {
  CheckAgainstReference(Codec::kInt8, Codec::kInt8);
}

TEST_CASE("raw host over int8 NVMe: blocks are encoded on the way down, decoded up",
          "[nvme][codec]") {
  CheckAgainstReference(Codec::kRaw, Codec::kInt8);
}

TEST_CASE("8-bit blocks prefetched from NVMe load as the ones read directly",
          "[nvme][codec]") {
  const Codec host = GENERATE(Codec::kInt8, Codec::kRaw);
  CheckAgainstReference(host, Codec::kInt8, /*prefetch=*/true);
}

}  // namespace
}  // namespace kvtier
