// Every Store call may run concurrently with any other (DESIGN invariant 7).
// Run under ThreadSanitizer too: cmake -DKVTIER_SANITIZE=thread.
#include <catch2/catch.hpp>

#include <atomic>
#include <random>
#include <thread>

#include "kvtier/kvtier.h"
#include "tests/test_support.h"

namespace kvtier {
namespace {

using testing::EngineBuffers;

TEST_CASE("8 threads of mixed Lookup/Load/Save never see a wrong byte",
          "[store][concurrency]") {
  Options o;
  o.layout = testing::SmallLayout(4, 8);
  o.model_id = "concurrency-model@1";
  o.host.capacity_bytes =
      testing::HostBytesFor(o.layout, 60);  // small: constant eviction under load
  o.host.lock_memory = false;
  auto opened = Store::Open(o);
  REQUIRE(opened.ok());
  Store& store = **opened;

  // 24 prompts sharing 3 system prompts, so threads collide on blocks.
  std::vector<std::vector<BlockHash>> chains;
  for (uint32_t p = 0; p < 24; ++p) {
    std::vector<uint32_t> tokens(8 * (4 + p % 9));
    for (size_t i = 0; i < tokens.size(); ++i)
      tokens[i] = i < 24 ? (p % 3) * 1000 + i : p * 7919 + i;
    chains.push_back(store.hasher().Chain(tokens));
  }

  std::atomic<uint64_t> wrong{0}, loaded_blocks{0}, failures{0};
  auto worker = [&](int id) {
    std::mt19937 rng(id);
    for (int op = 0; op < 1500; ++op) {
      const auto& chain = chains[rng() % chains.size()];
      const LookupResult hit = store.Lookup(chain);
      if (rng() % 2 == 0) {
        EngineBuffers dst(store.layout(), chain.size());
        auto r =
            store.Load(std::span(chain).first(hit.blocks), dst.blocks(0, hit.blocks));
        if (!r.ok()) ++failures;
        for (size_t b = 0; r.ok() && b < r->blocks; ++b)
          wrong += !dst.Matches(b, chain[b]);
        if (r.ok()) loaded_blocks += r->blocks;
      } else {
        EngineBuffers src(store.layout(), chain.size());
        src.FillFrom(chain);
        if (!store.Save(chain, src.all()).ok()) ++failures;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) threads.emplace_back(worker, t);
  for (auto& t : threads) t.join();

  CHECK(wrong == 0);
  CHECK(failures == 0);
  CHECK(loaded_blocks > 0);
  const StoreStats s = store.Stats();
  CHECK(s.tier(Tier::kHost).blocks <= 60);
  CHECK(s.tier(Tier::kHost).used_bytes <= s.tier(Tier::kHost).capacity_bytes);
  CHECK(s.tier(Tier::kHost).checksum_errors == 0);
  CHECK(s.tier(Tier::kHost).evictions > 0);
}

}  // namespace
}  // namespace kvtier
