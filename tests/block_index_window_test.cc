// BlockIndex with sliding-window forms: the windowed longest prefix, its
// per-tier counts, and Reform (growth in place).
#include <catch2/catch.hpp>

#include "block_index_support.h"
#include "lib/index/admission.h"
#include "lib/index/page_space.h"

namespace kvtier::internal::testing {
namespace {

void AddReady(BlockIndex& index, Tier tier, std::span<const BlockHash> chain, size_t i,
              BlockForm form, uint32_t slot) {
  index.AddPending(tier, chain[i], i > 0 ? &chain[i - 1] : nullptr, slot, 1, form);
  index.MarkReady(tier, chain[i]);
}

TEST_CASE("a windowed prefix ends only where its window is whole") {
  BlockIndex index(Budgets(0, 64, 0), EvictionPolicy::kLru, /*window_blocks=*/2);
  const auto chain = Chain(1, 10);
  // Whole: 2-3 (window before 4) and 8-9 (before 10); the rest trimmed.
  for (size_t i = 0; i < 10; ++i) {
    const bool whole = i == 2 || i == 3 || i == 8 || i == 9;
    AddReady(index, kHost, chain, i, whole ? BlockForm::kWhole : BlockForm::kTrimmed,
             static_cast<uint32_t>(i));
  }
  CHECK(index.LongestPrefix(chain).blocks == 10);
  CHECK(index.LongestPrefix(std::span(chain).first(9)).blocks == 4);
  CHECK(index.LongestPrefix(std::span(chain).first(4)).blocks == 4);
  CHECK(index.LongestPrefix(std::span(chain).first(3)).blocks == 0);
  CHECK(index.LongestPrefix(std::span(chain).first(1)).blocks == 0);
  // Without the tail, the last servable end is 4.
  index.Remove(kHost, chain[9]);
  CHECK(index.LongestPrefix(chain).blocks == 4);
}

TEST_CASE("a windowed prefix counts its window at the fastest whole copy") {
  BlockIndex index(Budgets(0, 64, 64), EvictionPolicy::kLru, 2);
  const auto chain = Chain(2, 6);
  for (size_t i = 0; i < 6; ++i) {
    AddReady(index, kHost, chain, i, BlockForm::kTrimmed, static_cast<uint32_t>(i));
  }
  // NVMe holds the last two whole: they are served from there, the rest
  // from host.
  AddReady(index, kNvme, chain, 4, BlockForm::kWhole, 0);
  AddReady(index, kNvme, chain, 5, BlockForm::kWhole, 1);
  const PrefixInfo info = index.LongestPrefix(chain);
  CHECK(info.blocks == 6);
  CHECK(info.blocks_per_tier[static_cast<int>(kHost)] == 4);
  CHECK(info.blocks_per_tier[static_cast<int>(kNvme)] == 2);
  CHECK(index.FastestReadyTier(chain[5]) == kHost);
  CHECK(index.FastestReadyTier(chain[5], BlockForm::kWhole) == kNvme);
  CHECK(index.FormIn(chain[5], kHost) == BlockForm::kTrimmed);
}

TEST_CASE("reform makes a trimmed copy whole in place, children kept") {
  BlockIndex index(Budgets(0, 16, 0), EvictionPolicy::kLru, 2);
  const auto chain = Chain(3, 4);
  for (size_t i = 0; i < 4; ++i) {
    AddReady(index, kHost, chain, i, i < 2 ? BlockForm::kTrimmed : BlockForm::kWhole,
             static_cast<uint32_t>(i));
  }
  CHECK(index.LongestPrefix(std::span(chain).first(2)).blocks == 0);
  index.Reform(kHost, chain[1], 9, 4, BlockForm::kWhole);
  CHECK_FALSE(index.IsReady(chain[1], kHost));  // pending while rewritten
  CHECK(index.used_units(kHost) == 3 + 4);
  index.MarkReady(kHost, chain[1]);
  index.Reform(kHost, chain[0], 10, 4, BlockForm::kWhole);
  index.MarkReady(kHost, chain[0]);
  CHECK(index.LongestPrefix(std::span(chain).first(2)).blocks == 2);
  CHECK(index.SlotOf(chain[1], kHost) == 9);
  CHECK(index.LongestPrefix(chain).blocks == 4);  // the children never left
}

TEST_CASE(
    "a whole block in a tier of scattered trimmed ones evicts until a frame frees") {
  // Two frames of four pages; eight one-block trimmed chains fill them.
  PageSpace space(TierGeometry::For(4 * 100, 100, 1, 2 * 400));
  BlockIndex index(Budgets(0, space.geometry().pages(), 0), EvictionPolicy::kLru, 2);
  std::vector<BlockHash> blocks;
  for (uint64_t n = 0; n < 8; ++n) {
    blocks.push_back(Hash(500 + n));
    const Admission a =
        Admit(index, space, kHost, blocks.back(), nullptr, BlockForm::kTrimmed);
    REQUIRE(a.slot);
    CHECK(*a.slot / 4 == n / 4);  // frame 0 first, then frame 1
    index.MarkReady(kHost, blocks.back());
  }
  // Recency alternates frames: 0, 4, 1, 5, 2, 6, 3, 7 (coldest first).
  for (size_t k : {0, 4, 1, 5, 2, 6, 3, 7}) index.TouchChain({&blocks[k], 1});
  const Admission a = Admit(index, space, kHost, Hash(999), nullptr, BlockForm::kWhole);
  REQUIRE(a.slot);
  CHECK(*a.slot == 0);
  // Four units were enough by count (0, 4, 1, 5) but left no free frame;
  // 2, 6 and 3 went too before frame 0 was empty.
  REQUIRE(a.evicted.size() == 7);
  CHECK(a.placement_evictions == 3);
  CHECK(a.evicted.back().hash == blocks[3]);
  CHECK(index.IsReady(blocks[7], kHost));
  CHECK(index.used_units(kHost) == 4 + 1);
}

}  // namespace
}  // namespace kvtier::internal::testing
