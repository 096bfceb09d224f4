// Sliding-window trimming under pressure: a corrupt block moves the served
// prefix; random saves and loads through a small host tier stay byte-exact
// and within capacity.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "backends/testing/memory_tier.h"
#include "lib/store_impl.h"
#include "lib/stored_block.h"
#include "tests/nvme_skip.h"
#include "trim_support.h"

namespace kvtier::testing {
namespace {

TEST_CASE("a corrupt block in the window moves a trimmed load back to a checkpoint") {
  Options o = TrimOptions(GemmaStyleLayout(), 4);
  constexpr uint32_t kSlots = 32;
  auto owner = std::make_unique<MemoryTier>(
      kSlots, internal::StoredBlockBytes(o.layout.BlockBytes()));
  MemoryTier* tier = owner.get();
  internal::TierBackends backends;
  backends[static_cast<int>(Tier::kHost)] = std::move(owner);
  auto opened = internal::OpenStoreWithTiers(o, std::move(backends));
  REQUIRE(opened.ok());
  Store& store = **opened;
  const auto chain = TrimChain(store, 12);
  EngineBuffers src(o.layout, 12);
  src.FillFrom(chain);
  REQUIRE(store.Save(chain, src.all()).ok());
  REQUIRE(store.Lookup(chain).blocks == 12);
  for (uint32_t s = 0; s < kSlots; ++s) {  // corrupt block 10's payload
    BlockHash stored;
    std::memcpy(&stored, tier->SlotBytes(s).data() + 16, sizeof(stored));
    if (stored == chain[10]) tier->CorruptSlot(s, 64 + 5);
  }

  EngineBuffers dst(o.layout, 12);
  FillSentinel(dst);
  auto r = store.Load(chain, dst.all());
  REQUIRE(r.ok());
  // Block 10 failed; the prefix before it that can be served ends at the
  // checkpoint 8, whose window (blocks 6-7) is then written whole.
  CHECK(r->blocks == 8);
  const SegmentCheck check(o.layout, dst);
  for (size_t b = 0; b < 8; ++b) {
    for (size_t s = 0; s < o.layout.SegmentsPerBlock(); ++s) {
      const bool sliding = s < 10;
      INFO("block " << b << " segment " << s);
      if (!sliding || b >= 6) CHECK(check.Matches(b, s, chain[b]));
    }
  }
  CHECK(store.Stats().tier(Tier::kHost).checksum_errors == 1);
  CHECK(store.Lookup(chain).blocks == 8);
}

// Every block a Load serves is checked segment by segment against what was
// saved under its hash; the host tier never holds more than its capacity.
void Churn(const KvLayout& layout, uint32_t checkpoint, uint64_t host_blocks) {
  auto opened = Store::Open(TrimOptions(layout, checkpoint, host_blocks));
  REQUIRE(opened.ok());
  Store& store = **opened;
  std::mt19937 rng(7);
  const size_t per_block = layout.SegmentsPerBlock();
  for (int op = 0; op < 400; ++op) {
    const uint32_t seed = 1 + rng() % 6;
    const size_t blocks = 1 + rng() % 24;
    const size_t diverge = rng() % 24;
    const auto chain = TrimChain(store, blocks, seed, diverge);
    const LookupResult hit = store.Lookup(chain);
    EngineBuffers dst(layout, hit.blocks);
    FillSentinel(dst);
    auto loaded = store.Load(std::span(chain).first(hit.blocks), dst.all());
    REQUIRE(loaded.ok());
    const SegmentCheck check(layout, dst);
    const size_t k = loaded->blocks;
    for (size_t b = 0; b < k; ++b) {
      for (size_t s = 0; s < per_block; ++s) {
        const bool sliding = layout.WindowOf(static_cast<uint32_t>(s / 2)) > 0;
        if (!sliding || b + 2 >= k) REQUIRE(check.Matches(b, s, chain[b]));
      }
    }
    EngineBuffers src(layout, blocks - k);
    src.FillFrom(std::span(chain).subspan(k));
    REQUIRE(store.Save(chain, src.all(), k).ok());
    const TierStats host = store.Stats().tier(Tier::kHost);
    REQUIRE(host.used_bytes <= host.capacity_bytes);
  }
  const StoreStats s = store.Stats();
  CHECK(s.tier(Tier::kHost).evictions > 0);
  CHECK(s.save_trimmed_blocks > 0);
  CHECK(s.lookup_hit_blocks > 0);
}

TEST_CASE("random trimmed saves and loads under eviction stay byte-exact (Gemma-style)") {
  Churn(GemmaStyleLayout(), 4, 24);
  Churn(GemmaStyleLayout(), 0, 24);
}

TEST_CASE(
    "random trimmed saves and loads under eviction stay byte-exact (Mistral-style)") {
  Churn(MistralStyleLayout(), 4, 12);
  Churn(MistralStyleLayout(), 0, 12);
}

// Four engine threads share prefixes, so saves upgrade blocks other threads
// are loading and evict blocks others just saved (host + NVMe, write-through).
TEST_CASE("concurrent trimmed saves and loads through host and NVMe stay byte-exact") {
  KVTIER_SKIP_WITHOUT_NVME();
  TempDir dir;
  Options o = TrimOptions(GemmaStyleLayout(), 4, 24);
  o.nvme.capacity_bytes = 8ull << 20;
  o.nvme.directories = {dir.path().string()};
  auto opened = Store::Open(o);
  REQUIRE(opened.ok());
  Store& store = **opened;
  const KvLayout& layout = o.layout;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(100 + t);
      for (int op = 0; op < 150; ++op) {
        const auto chain = TrimChain(store, 1 + rng() % 20, 1 + rng() % 3, rng() % 20);
        const size_t want = store.Lookup(chain).blocks;
        EngineBuffers dst(layout, want);
        auto loaded = store.Load(std::span(chain).first(want), dst.all());
        const size_t k = loaded.ok() ? loaded->blocks : 0;
        const SegmentCheck check(layout, dst);
        for (size_t b = 0; b < k; ++b) {
          // The global layer always; sliding layers in the window.
          for (size_t s = b + 2 >= k ? 0 : 10; s < layout.SegmentsPerBlock(); ++s) {
            if (!check.Matches(b, s, chain[b])) wrong.fetch_add(1);
          }
        }
        EngineBuffers src(layout, chain.size() - k);
        src.FillFrom(std::span(chain).subspan(k));
        if (!store.Save(chain, src.all(), k).ok()) wrong.fetch_add(1);
        // Two threads wait for their write-downs: without it, on a loaded
        // machine the other saves evicted nearly every host copy before its
        // write-down (3,520 dropped, 34 written: no NVMe hit at all).
        if (t < 2) store.Flush();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  store.Flush();
  CHECK(wrong.load() == 0);
  const StoreStats s = store.Stats();
  CHECK(s.tier(Tier::kHost).used_bytes <= s.tier(Tier::kHost).capacity_bytes);
  CHECK(s.tier(Tier::kNvme).used_bytes <= s.tier(Tier::kNvme).capacity_bytes);
  CHECK(s.tier(Tier::kHost).evictions > 0);
  // Host (24 blocks) evicts: some loads were served by NVMe.
  INFO("copy-downs " << s.nvme.copy_down_blocks << ", dropped "
                     << s.nvme.copy_down_dropped << ", nvme used "
                     << s.tier(Tier::kNvme).used_bytes << ", host evictions "
                     << s.tier(Tier::kHost).evictions << ", promotions "
                     << s.nvme.promotions);
  CHECK(s.tier(Tier::kNvme).hits > 0);
}

}  // namespace
}  // namespace kvtier::testing
