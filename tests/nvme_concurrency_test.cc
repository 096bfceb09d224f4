// Engine threads saving and loading concurrently over host + NVMe, with
// write-through copy-down and promotion running underneath (DESIGN
// invariants 1 and 7). Run under ThreadSanitizer too.
#include <catch2/catch.hpp>

#include <atomic>
#include <random>
#include <thread>

#include "tests/nvme_skip.h"
#include "tests/nvme_support.h"

namespace kvtier {
namespace {

TEST_CASE("4 threads of Save and Load over host and NVMe never see a wrong byte",
          "[nvme][concurrency]") {
  KVTIER_SKIP_WITHOUT_NVME();
  testing::TempDir dir;
  testing::NvmeStore s(testing::NvmeOptions(dir.path(), /*host_blocks=*/12,
                                            /*nvme_blocks=*/96));
  REQUIRE(s.status.ok());
  Store& store = *s.store;
  std::vector<std::vector<BlockHash>> chains;
  for (uint32_t c = 0; c < 16; ++c) chains.push_back(testing::ChainOf(store, c + 1, 3));
  // Every chain on NVMe first (48 blocks; host keeps the last 12), so loads
  // of the others are served from NVMe whatever the threads' timing; the
  // threads then save over them while write-downs and promotions run.
  for (const auto& chain : chains) {
    (void)testing::SaveChain(store, chain);
    store.Flush();
  }

  std::atomic<uint64_t> wrong{0}, loaded{0};
  auto worker = [&](int id) {
    std::mt19937 rng(id);
    for (int op = 0; op < 150; ++op) {
      const auto& chain = chains[rng() % chains.size()];
      if (rng() % 2 == 0) {
        (void)testing::SaveChain(store, chain);
      } else {
        const size_t n = testing::LoadChecked(store, chain);
        if (n == SIZE_MAX) {
          ++wrong;
        } else {
          loaded += n;
        }
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(worker, t);
  for (auto& t : threads) t.join();
  store.Flush();

  CHECK(wrong == 0);
  CHECK(loaded > 0);
  const StoreStats st = store.Stats();
  CHECK(st.tier(Tier::kNvme).blocks > 0);
  // 48 blocks over a 12-block host tier, all on NVMe first: loads were
  // served from NVMe too.
  CHECK(st.tier(Tier::kNvme).hits > 0);
  CHECK(st.tier(Tier::kNvme).used_bytes <= st.tier(Tier::kNvme).capacity_bytes);
  CHECK(st.tier(Tier::kHost).used_bytes <= st.tier(Tier::kHost).capacity_bytes);
  CHECK(st.tier(Tier::kNvme).checksum_errors == 0);
  CHECK(st.tier(Tier::kHost).checksum_errors == 0);
}

}  // namespace
}  // namespace kvtier
