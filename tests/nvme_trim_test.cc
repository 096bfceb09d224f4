// Sliding-window trimming across tiers: trimmed and whole blocks of one chain
// in host and NVMe, restarts, and growth written down to NVMe.
#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "nvme_skip.h"
#include "nvme_support.h"
#include "trim_support.h"

namespace kvtier::testing {
namespace {

// Host holds `host_blocks` whole blocks; NVMe plenty.
Options TrimNvmeOptions(const TempDir& dir, const KvLayout& layout, uint32_t checkpoint,
                        uint64_t host_blocks) {
  Options o = TrimOptions(layout, checkpoint, host_blocks);
  o.nvme.capacity_bytes = 64ull << 20;
  o.nvme.directories = {dir.path().string()};
  return o;
}

// Saves other chains until none of `chain` is left in host.
void PushOutOfHost(Store& store, std::span<const BlockHash> chain) {
  for (uint32_t seed = 100; seed < 140; ++seed) {
    SaveAll(store, TrimChain(store, 12, seed));
    store.Flush();
    const LookupResult r = store.Lookup(chain);
    if (r.blocks_per_tier[static_cast<int>(Tier::kHost)] == 0) return;
  }
  FAIL("the chain stayed in host");
}

// A Gemma-style store (host: 16 whole blocks) whose 12-block chain was
// saved, written down and then pushed out of host: NVMe holds it alone.
struct ChainOnNvme {
  explicit ChainOnNvme(uint32_t checkpoint) {
    auto opened = Store::Open(TrimNvmeOptions(dir, GemmaStyleLayout(), checkpoint, 16));
    REQUIRE(opened.ok());
    store = std::move(opened).value();
    chain = TrimChain(*store, 12);
    SaveAll(*store, chain);
    store->Flush();
    PushOutOfHost(*store, chain);
  }
  TempDir dir;
  std::unique_ptr<Store> store;
  std::vector<BlockHash> chain;
};

TEST_CASE("trimmed and whole blocks of one chain are served from host and NVMe") {
  KVTIER_SKIP_WITHOUT_NVME();
  ChainOnNvme setup(4);
  Store& store = *setup.store;
  const auto& chain = setup.chain;
  REQUIRE(store.Lookup(chain).blocks == 12);
  CHECK(store.Lookup(chain).blocks_per_tier[static_cast<int>(Tier::kNvme)] == 12);
  CheckLoad(store, chain, 12);  // read from NVMe, promoted to host
  const LookupResult after = store.Lookup(chain);
  CHECK(after.blocks == 12);
  CHECK(after.blocks_per_tier[static_cast<int>(Tier::kHost)] > 0);

  // Host evicts chain tails first: the whole tail leaves host, its trimmed
  // head stays, so one prefix is served from both tiers.
  for (uint32_t seed = 200; seed < 240; ++seed) {
    SaveAll(store, TrimChain(store, 4, seed));
    const LookupResult r = store.Lookup(chain);
    if (r.blocks_per_tier[static_cast<int>(Tier::kHost)] > 0 &&
        r.blocks_per_tier[static_cast<int>(Tier::kNvme)] > 0) {
      CHECK(r.blocks == 12);
      CheckLoad(store, chain, 12);
      CheckLoad(store, chain, 8);
      return;
    }
  }
  FAIL("never saw the chain split across host and NVMe");
}

TEST_CASE("trimmed blocks take less NVMe space than whole ones") {
  KVTIER_SKIP_WITHOUT_NVME();
  TempDir trimmed_dir, untrimmed_dir;
  // 4 KiB segments: NVMe slots are 4 KiB-aligned, so the small test layout's
  // trimmed block would round up to a whole slot.
  KvLayout layout = GemmaStyleLayout();
  layout.kv_heads = 8;
  layout.head_dim = 64;
  KvLayout untrimmed_layout = layout;
  untrimmed_layout.layer_windows = {};
  auto trimmed = Store::Open(TrimNvmeOptions(trimmed_dir, layout, 4, 64));
  auto untrimmed = Store::Open(TrimNvmeOptions(untrimmed_dir, untrimmed_layout, 4, 64));
  REQUIRE(trimmed.ok());
  REQUIRE(untrimmed.ok());
  SaveAll(**trimmed, TrimChain(**trimmed, 20));
  SaveAll(**untrimmed, TrimChain(**untrimmed, 20));
  (*trimmed)->Flush();
  (*untrimmed)->Flush();
  const TierStats t = (*trimmed)->Stats().tier(Tier::kNvme);
  const TierStats u = (*untrimmed)->Stats().tier(Tier::kNvme);
  CHECK(t.blocks == 20);
  CHECK(u.blocks == 20);
  INFO("trimmed " << t.used_bytes << " bytes, untrimmed " << u.used_bytes);
  // Ten whole frames of five 12 KiB pages + ten one-page trimmed blocks,
  // against twenty whole slots of 52 KiB.
  CHECK(t.used_bytes == 10 * 5 * 12288 + 10 * 12288);
  CHECK(u.used_bytes == 20 * 53248);
  CHECK(t.bytes_written < u.bytes_written);
}

void CheckRestart(const KvLayout& layout) {
  TempDir dir;
  const Options o = TrimNvmeOptions(dir, layout, 4, 64);
  std::vector<BlockHash> chain;
  {
    auto store = Store::Open(o);
    REQUIRE(store.ok());
    chain = TrimChain(**store, 20);
    SaveAll(**store, chain);
    (*store)->Flush();
  }
  auto store = Store::Open(o);
  REQUIRE(store.ok());
  CHECK((*store)->Stats().nvme.recovered_blocks == 20);
  CHECK(Hit(**store, chain, 20) == 20);
  CHECK(Hit(**store, chain, 14) == 12);
  CHECK(Hit(**store, chain, 3) == 0);
  CheckLoad(**store, chain, 20);
  CheckLoad(**store, chain, 12);
}

TEST_CASE("a restarted store serves trimmed chains at the same points (Gemma-style)") {
  KVTIER_SKIP_WITHOUT_NVME();
  CheckRestart(GemmaStyleLayout());
}

TEST_CASE("a restarted store serves trimmed chains at the same points (Mistral-style)") {
  KVTIER_SKIP_WITHOUT_NVME();
  CheckRestart(MistralStyleLayout());
}

TEST_CASE("growth reaches NVMe: a trimmed NVMe copy is rewritten whole") {
  KVTIER_SKIP_WITHOUT_NVME();
  ChainOnNvme setup(0);
  Store& store = *setup.store;
  const auto& a = setup.chain;
  const std::vector<BlockHash> b(a.begin(), a.begin() + 8);
  CHECK(store.Lookup(b).blocks == 0);
  SaveAll(store, b);  // blocks 6-7 now needed whole
  store.Flush();
  PushOutOfHost(store, b);
  const LookupResult r = store.Lookup(b);
  CHECK(r.blocks == 8);
  CHECK(r.blocks_per_tier[static_cast<int>(Tier::kNvme)] == 8);
  CheckLoad(store, b, 8);
  CHECK(store.Lookup(a).blocks == 12);
}

}  // namespace
}  // namespace kvtier::testing
